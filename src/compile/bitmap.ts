/**
 * Box sets ("classes") at compile time. A class is the set of boxes (compiled
 * rules) that accept one piece of a dimension; the table stores it as a bitmap of
 * u64 words (bit b = box b). Classes are kept sparse here — only their non-zero
 * words — because a 100,000-rule blocklist has ~100,000 classes of one or two
 * non-zero words each, where whole bitmaps would take gigabytes.
 *
 * Builders describe a class by toggling boxes in an ActiveSet (a sweep over
 * interval edges, a walk down the prefix trie); ClassStore.intern maps equal sets
 * to one class id using incrementally maintained hashes, verified word by word.
 */
import { SgfilterError } from '../errors.js';

/** 32-bit mixers (murmur3 finalizer) giving each box two independent hash values. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
const hashA = (id: number) => mix(id + 0x9e3779b9);
const hashB = (id: number) => mix(Math.imul(id + 1, 0x27d4eb2d) ^ 0x165667b1);

/** The set of boxes under construction: dense bits plus what interning needs. */
export class ActiveSet {
  /** Two u32 per u64 word, little-endian halves. */
  readonly bits: Uint32Array;
  private readonly perWord: Uint16Array;
  /**
   * Indexes of the u64 words with at least one bit set, unordered, in the first
   * nonZeroCount entries (swap-remove through `where`: no Set, no allocation).
   */
  readonly nonZero: Int32Array;
  nonZeroCount = 0;
  private readonly where: Int32Array;
  /** XOR and sum of per-box hashes, and the number of boxes: order-free fingerprints. */
  h1 = 0;
  h2 = 0;
  size = 0;

  constructor(readonly words: number) {
    this.bits = new Uint32Array(words * 2);
    this.perWord = new Uint16Array(words);
    this.nonZero = new Int32Array(words);
    this.where = new Int32Array(words);
  }

  has(id: number): boolean {
    return (this.bits[id >>> 5]! & (1 << (id & 31))) !== 0;
  }

  add(id: number): void {
    if (this.has(id)) return;
    this.bits[id >>> 5]! |= 1 << (id & 31);
    const w = id >>> 6;
    if (this.perWord[w]!++ === 0) {
      this.where[w] = this.nonZeroCount;
      this.nonZero[this.nonZeroCount++] = w;
    }
    this.h1 = (this.h1 ^ hashA(id)) >>> 0;
    this.h2 = (this.h2 + hashB(id)) >>> 0;
    this.size++;
  }

  remove(id: number): void {
    if (!this.has(id)) return;
    this.bits[id >>> 5]! &= ~(1 << (id & 31));
    const w = id >>> 6;
    if (--this.perWord[w]! === 0) {
      const last = this.nonZero[--this.nonZeroCount]!;
      const at = this.where[w]!;
      this.nonZero[at] = last;
      this.where[last] = at;
    }
    this.h1 = (this.h1 ^ hashA(id)) >>> 0;
    this.h2 = (this.h2 - hashB(id)) >>> 0;
    this.size--;
  }
}

/** Growable u32 column. */
class Column {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/** Interned classes of one dimension, each stored as its sorted non-zero words. */
export class ClassStore {
  count = 0;
  /** Total non-zero u64 words over all classes. */
  nonZeroWords = 0;
  private readonly index = new Column(); // word index
  private readonly lo = new Column();
  private readonly hi = new Column();
  private readonly start: number[] = [];
  private readonly h2: number[] = [];
  private readonly size: number[] = [];
  private readonly buckets = new Map<number, number[]>();

  constructor(readonly words: number, private readonly budget: ByteBudget) {}

  /** Class id of the set `a` holds now (a new class when no equal set was seen). */
  intern(a: ActiveSet): number {
    const bucket = this.buckets.get(a.h1);
    if (bucket) {
      for (const c of bucket) if (this.h2[c] === a.h2 && this.size[c] === a.size && this.sameAs(c, a)) return c;
    }
    const c = this.count++;
    this.start.push(this.index.length);
    const keep = (w: number) => {
      this.index.push(w);
      this.lo.push(a.bits[2 * w]!);
      this.hi.push(a.bits[2 * w + 1]!);
    };
    const n = a.nonZeroCount;
    if (n * 16 >= this.words) {
      // Dense enough: one pass over the words, already in order, nothing allocated.
      for (let w = 0; w < this.words; w++) if (a.bits[2 * w] || a.bits[2 * w + 1]) keep(w);
    } else {
      for (const w of a.nonZero.slice(0, n).sort()) keep(w); // typed-array sort: numeric
    }
    this.h2.push(a.h2);
    this.size.push(a.size);
    this.nonZeroWords += n;
    // What the table will hold for it: its words, a summary and a rank per 64 words.
    this.budget.spend(n * 8 + Math.ceil(this.words / 64) * 12, 'rule bitmaps');
    if (bucket) bucket.push(c);
    else this.buckets.set(a.h1, [c]);
    return c;
  }

  private sameAs(c: number, a: ActiveSet): boolean {
    const [from, to] = this.range(c);
    if (to - from !== a.nonZeroCount) return false;
    for (let k = from; k < to; k++) {
      const w = this.index.data[k]!;
      if (this.lo.data[k] !== a.bits[2 * w] || this.hi.data[k] !== a.bits[2 * w + 1]) return false;
    }
    return true;
  }

  private range(c: number): [number, number] {
    return [this.start[c]!, c + 1 < this.count ? this.start[c + 1]! : this.index.length];
  }

  /** Calls `fn` for each non-zero word of class c, in increasing word order. */
  forEachWord(c: number, fn: (word: number, lo: number, hi: number) => void): void {
    const [from, to] = this.range(c);
    for (let k = from; k < to; k++) fn(this.index.data[k]!, this.lo.data[k]!, this.hi.data[k]!);
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
