/**
 * Rule bitmaps and their interning. A bitmap has one bit per box (compiled rule) of
 * a classifier, stored as u32 pairs forming the u64 words the WASM reads
 * (little-endian, so u32 2k is the low half of u64 k). Equal bitmaps share one
 * class id: a dimension's classes are its distinct bitmaps.
 */
import { SgfilterError } from '../errors.js';

export class BitmapInterner {
  /** u32 per bitmap (= 2 × u64 words). */
  readonly stride: number;
  private data: Uint32Array;
  count = 0;
  private readonly buckets = new Map<number, number[]>();

  constructor(readonly words: number, private readonly budget: ByteBudget) {
    this.stride = words * 2;
    this.data = new Uint32Array(Math.max(this.stride * 16, 16));
  }

  bitmap(id: number): Uint32Array {
    return this.data.subarray(id * this.stride, (id + 1) * this.stride);
  }

  /** Class id of `bits` (copied when new). */
  intern(bits: Uint32Array): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i]!, 0x01000193);
    const bucket = this.buckets.get(h);
    if (bucket) {
      for (const id of bucket) {
        const off = id * this.stride;
        let same = true;
        for (let i = 0; i < this.stride; i++) {
          if (this.data[off + i] !== bits[i]) {
            same = false;
            break;
          }
        }
        if (same) return id;
      }
    }
    const id = this.count++;
    this.budget.spend(this.stride * 4 + Math.ceil(this.words / 64) * 8, 'rule bitmaps');
    if ((id + 1) * this.stride > this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set(bits, id * this.stride);
    if (bucket) bucket.push(id);
    else this.buckets.set(h, [id]);
    return id;
  }

  /** All bitmaps, back to back (count × stride u32). */
  all(): Uint32Array {
    return this.data.subarray(0, this.count * this.stride);
  }
}

/** Counts table bytes as they are planned and stops at the configured limit. */
export class ByteBudget {
  used = 0;
  constructor(readonly limit: number) {}
  spend(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > this.limit) {
      throw new SgfilterError(
        'TABLE_TOO_LARGE',
        `the compiled table would exceed ${this.limit} bytes (while building ${what}); ` +
          'simplify the policy (fewer overlapping ranges/prefixes) or raise maxTableBytes',
      );
    }
  }
}

export function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! |= 1 << (i & 31);
}
export function clearBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! &= ~(1 << (i & 31));
}
