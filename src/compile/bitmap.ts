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
export class Column {
  data: Uint32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Uint32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) this.grow();
    this.data[this.length++] = v;
  }
  private grow(): void {
    const next = new Uint32Array(this.data.length * 2);
    next.set(this.data);
    this.data = next;
  }
  /** The values pushed so far (a view: valid until the next push). */
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * Interned classes of one dimension, each stored as its sorted non-zero words. Kept
 * in typed columns, and found by a chained hash on h1 in typed arrays: a 100,000-rule
 * set makes ~100,000 classes per dimension, and an array or Map entry per class was
 * work for the garbage collector.
 */
export class ClassStore {
  count = 0;
  /** Total non-zero u64 words over all classes. */
  nonZeroWords = 0;
  /** Per non-zero word of each class, in class order: its word index and its two halves. */
  readonly index = new Column();
  readonly lo = new Column();
  readonly hi = new Column();
  /** Per class: where its words start in index/lo/hi (one more entry: the end). */
  readonly start = new Column();
  private readonly h1 = new Column();
  private readonly h2 = new Column();
  private readonly size = new Column();
  /** Per class: the next class in its hash chain (-1: none). */
  private chain = new Int32Array(1024);
  /** Per bucket (h1's low bits): the first class of its chain (-1: none). */
  private heads = new Int32Array(1024).fill(-1);
  /** Scratch for sorting a sparse set's word indexes. */
  private order: Uint32Array;

  constructor(readonly words: number, private readonly budget: ByteBudget) {
    this.start.push(0);
    this.order = new Uint32Array(Math.min(words, 1024));
  }

  /** Class id of the set `a` holds now (a new class when no equal set was seen). */
  intern(a: ActiveSet): number {
    const mask = this.heads.length - 1;
    for (let c = this.heads[a.h1 & mask]!; c >= 0; c = this.chain[c]!) {
      if (this.h1.data[c] === a.h1 && this.h2.data[c] === a.h2 && this.size.data[c] === a.size && this.sameAs(c, a)) return c;
    }
    const c = this.count++;
    const n = a.nonZeroCount;
    if (n * 16 >= this.words) {
      // Dense enough: one pass over the words, already in order, nothing allocated.
      for (let w = 0; w < this.words; w++) if (a.bits[2 * w] || a.bits[2 * w + 1]) this.keep(a, w);
    } else {
      if (this.order.length < n) this.order = new Uint32Array(Math.max(n, this.order.length * 2));
      const order = this.order;
      // Insertion sort: n is below words / 16, and mostly 1 or 2.
      for (let k = 0; k < n; k++) {
        const w = a.nonZero[k]!;
        let j = k;
        while (j > 0 && order[j - 1]! > w) {
          order[j] = order[j - 1]!;
          j--;
        }
        order[j] = w;
      }
      for (let k = 0; k < n; k++) this.keep(a, order[k]!);
    }
    this.start.push(this.index.length);
    this.h1.push(a.h1);
    this.h2.push(a.h2);
    this.size.push(a.size);
    this.nonZeroWords += n;
    // What the table will hold for it: its words, a summary and a rank per 64 words.
    this.budget.spend(n * 8 + Math.ceil(this.words / 64) * 12, 'rule bitmaps');
    if (c === this.chain.length) this.rehash();
    const bucket = a.h1 & (this.heads.length - 1);
    this.chain[c] = this.heads[bucket]!;
    this.heads[bucket] = c;
    return c;
  }

  private keep(a: ActiveSet, w: number): void {
    this.index.push(w);
    this.lo.push(a.bits[2 * w]!);
    this.hi.push(a.bits[2 * w + 1]!);
  }

  /** Twice the buckets (kept equal to the chain capacity: load ≤ 1), chains rebuilt. */
  private rehash(): void {
    const cap = this.chain.length * 2;
    this.chain = new Int32Array(cap);
    this.heads = new Int32Array(cap).fill(-1);
    const mask = cap - 1;
    for (let c = 0; c < this.count - 1; c++) {
      const bucket = this.h1.data[c]! & mask;
      this.chain[c] = this.heads[bucket]!;
      this.heads[bucket] = c;
    }
  }

  private sameAs(c: number, a: ActiveSet): boolean {
    const from = this.start.data[c]!;
    const to = this.start.data[c + 1]!;
    if (to - from !== a.nonZeroCount) return false;
    for (let k = from; k < to; k++) {
      const w = this.index.data[k]!;
      if (this.lo.data[k] !== a.bits[2 * w] || this.hi.data[k] !== a.bits[2 * w + 1]) return false;
    }
    return true;
  }

  /** Calls `fn` for each non-zero word of class c, in increasing word order. */
  forEachWord(c: number, fn: (word: number, lo: number, hi: number) => void): void {
    const to = this.start.data[c + 1]!;
    for (let k = this.start.data[c]!; k < to; k++) fn(this.index.data[k]!, this.lo.data[k]!, this.hi.data[k]!);
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
