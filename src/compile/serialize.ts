/**
 * Writes classifier plans into one position-independent TABLE (assembly/layout.ts).
 * Every offset and size comes from layout.ts; nothing here restates a number.
 */
import * as L from '../../assembly/layout.js';
import type { ClassStore } from './bitmap.js';
import type { IntervalDimPlan } from './intervals.js';
import type { AddressDimPlan, TriePlan } from './trie.js';

export type DimPlan = IntervalDimPlan | AddressDimPlan | null;

export interface ClassifierPlan {
  ruleIds: number[];
  accept: boolean[];
  words: number;
  /** Whole bitmaps (SIMD scan) instead of aggregated bit vectors; words is even. */
  dense: boolean;
  dims: DimPlan[]; // indexed by L.DIM_*
  /** Parts (layout.ts, PARTS): each a classifier whose ruleIds are ranks in this one; dims are then all null. */
  parts?: ClassifierPlan[];
}

/** Bytes of the table by structure, for reports and limits. */
export interface TableStats {
  /** The whole table, in bytes. */
  total: number;
  /** The header and classifier directory. */
  header: number;
  /** Rule records (action and id per box). */
  rules: number;
  /** Bitmaps of matching boxes. */
  bitmaps: number;
  /** Summary words of sparse bitmaps. */
  summaries: number;
  /** Address prefix tries. */
  tries: number;
  /** Port, protocol and ICMP interval indexes. */
  intervals: number;
}

/** Whether this platform's typed arrays are little-endian, as the table is (then u32 lists are copied in bulk). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

class Writer {
  buf: Uint8Array;
  view: DataView;
  size = 0;
  /** `capacity`: the expected size, so a big table is not grown (and copied) a dozen times. */
  constructor(capacity = 1 << 12) {
    this.buf = new Uint8Array(Math.max(1 << 12, Math.ceil(capacity / 8) * 8));
    this.view = new DataView(this.buf.buffer);
  }
  /** Reserves `bytes` at the next `align`-aligned offset (8, 16 or 64) and returns that offset. */
  reserve(bytes: number, align = 8): number {
    const at = Math.ceil(this.size / align) * align; // not `& ~(align - 1)`: signed past 2^31
    const end = at + bytes;
    if (end > this.buf.length) {
      let cap = this.buf.length;
      while (cap < end) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf);
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.size = end;
    return at;
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }
  u32s(values: ArrayLike<number>): number {
    const at = this.reserve(values.length * 4);
    if (LITTLE_ENDIAN) new Uint32Array(this.buf.buffer, at, values.length).set(values);
    else for (let i = 0; i < values.length; i++) this.view.setUint32(at + i * 4, values[i]!, true);
    return at;
  }
}

function writeTrie(w: Writer, t: TriePlan, stats: TableStats): number {
  const header = w.reserve(L.TRIE_SIZE);
  const count = t.base0.length;
  const nodes = w.reserve(count * L.NODE_SIZE);
  for (let i = 0; i < count; i++) {
    const at = nodes + i * L.NODE_SIZE;
    w.u32(at + L.NODE_VECTOR_AT, t.vector[2 * i]!);
    w.u32(at + L.NODE_VECTOR_AT + 4, t.vector[2 * i + 1]!);
    w.u32(at + L.NODE_LEAFVEC_AT, t.leafvec[2 * i]!);
    w.u32(at + L.NODE_LEAFVEC_AT + 4, t.leafvec[2 * i + 1]!);
    w.u32(at + L.NODE_BASE1_AT, t.base1[i]!);
    w.u32(at + L.NODE_BASE0_AT, t.base0[i]!);
  }
  const leaves = w.u32s(t.leaves);
  w.u32(header + L.TRIE_NODES_AT, nodes);
  w.u32(header + L.TRIE_LEAVES_AT, leaves);
  w.u32(header + L.TRIE_NODECOUNT_AT, count);
  w.u32(header + L.TRIE_LEAFCOUNT_AT, t.leaves.length);
  w.u32(header + L.TRIE_DIRECTBITS_AT, t.directBits);
  if (t.direct) {
    w.u32(header + L.TRIE_DIRECT_AT, w.u32s(t.direct));
    stats.tries += t.direct.length * 4;
  }
  stats.tries += L.TRIE_SIZE + count * L.NODE_SIZE + t.leaves.length * 4;
  return header;
}

/** Aggregated bit vectors (layout.ts, SUPER and SUMMARY): only non-zero words are stored. */
function writeAggregated(w: Writer, classes: ClassStore, dim: number, stats: TableStats): void {
  // Count the non-zero summary words to size the arrays.
  let summaries = 0;
  for (let cl = 0; cl < classes.count; cl++) {
    let seen = -1;
    classes.forEachWord(cl, (word) => {
      if (word >>> 6 !== seen) {
        seen = word >>> 6;
        summaries++;
      }
    });
  }
  const packed = w.reserve(classes.nonZeroWords * 8);
  const supers = w.reserve(classes.count * L.SUPER_SIZE);
  const sums = w.reserve(summaries * L.SUMMARY_SIZE, L.SUMMARY_SIZE); // indexed in 16-byte units
  let nextWord = packed / 8;
  let nextSum = sums / L.SUMMARY_SIZE;
  const or = (at: number, bit: number) => w.u32(at, (w.view.getUint32(at, true) | (1 << bit)) >>> 0);
  for (let cl = 0; cl < classes.count; cl++) {
    const sup = supers + cl * L.SUPER_SIZE;
    w.u32(sup + L.SUPER_FIRST_AT, nextSum);
    let seen = -1;
    let summary = 0;
    classes.forEachWord(cl, (word, lo, hi) => {
      const s = word >>> 6;
      if (s !== seen) {
        seen = s;
        summary = nextSum++ * L.SUMMARY_SIZE;
        or(sup + (s >= 32 ? 4 : 0), s & 31);
        w.u32(summary + L.SUMMARY_RANK_AT, nextWord);
      }
      const j = word & 63;
      or(summary + (j >= 32 ? 4 : 0), j & 31);
      w.u32(nextWord * 8, lo);
      w.u32(nextWord * 8 + 4, hi);
      nextWord++;
    });
  }
  stats.bitmaps += classes.nonZeroWords * 8;
  stats.summaries += classes.count * L.SUPER_SIZE + summaries * L.SUMMARY_SIZE;
  w.u32(dim + L.DIM_BITMAPS_AT, packed);
  w.u32(dim + L.DIM_SUPERS_AT, supers);
  w.u32(dim + L.DIM_SUMS_AT, sums);
}

/**
 * Flat aggregated bit vectors (layout.ts, FLAT): per class one 64-byte record with its
 * SUPER bits, its (up to four) summary words in place and their ranks; the non-zero
 * words class by class as in writeAggregated.
 */
function writeFlat(w: Writer, classes: ClassStore, dim: number, stats: TableStats): void {
  const packed = w.reserve(classes.nonZeroWords * 8);
  const records = w.reserve(classes.count * L.FLAT_SIZE, L.FLAT_SIZE);
  let nextWord = packed / 8;
  const or = (at: number, bit: number) => w.u32(at, (w.view.getUint32(at, true) | (1 << bit)) >>> 0);
  for (let cl = 0; cl < classes.count; cl++) {
    const rec = records + cl * L.FLAT_SIZE;
    let seen = -1;
    classes.forEachWord(cl, (word, lo, hi) => {
      const s = word >>> 6; // < FLAT_MAX_SUMMARIES: words ≤ FLAT_MAX_WORDS
      if (s !== seen) {
        seen = s;
        or(rec, s);
        w.u32(rec + L.FLAT_RANKS_AT + 4 * s, nextWord);
      }
      const j = word & 63;
      or(rec + L.FLAT_SUMMARIES_AT + 8 * s + (j >= 32 ? 4 : 0), j & 31);
      w.u32(nextWord * 8, lo);
      w.u32(nextWord * 8 + 4, hi);
      nextWord++;
    });
  }
  stats.bitmaps += classes.nonZeroWords * 8;
  stats.summaries += classes.count * L.FLAT_SIZE;
  w.u32(dim + L.DIM_BITMAPS_AT, packed);
  w.u32(dim + L.DIM_SUPERS_AT, records);
  w.u32(dim + L.DIM_SUMS_AT, 0);
}

/** Whole bitmaps, class after class (zero words included). */
function writeDense(w: Writer, classes: ClassStore, words: number, dim: number, stats: TableStats): void {
  const at = w.reserve(classes.count * words * 8);
  for (let cl = 0; cl < classes.count; cl++) {
    classes.forEachWord(cl, (word, lo, hi) => {
      w.u32(at + (cl * words + word) * 8, lo);
      w.u32(at + (cl * words + word) * 8 + 4, hi);
    });
  }
  stats.bitmaps += classes.count * words * 8;
  w.u32(dim + L.DIM_BITMAPS_AT, at);
}

function writeClassifier(w: Writer, c: ClassifierPlan, stats: TableStats): number {
  const at = w.reserve(L.CLS_SIZE);
  const n = c.ruleIds.length;
  w.u32(at + L.CLS_BOXES_AT, n);
  w.u32(at + L.CLS_WORDS_AT, c.words);
  const ruleIds = w.u32s(c.ruleIds);
  const actions = w.reserve(n);
  c.accept.forEach((a, i) => w.buf[actions + i] = a ? 1 : 0);
  w.u32(at + L.CLS_RULEIDS_AT, ruleIds);
  w.u32(at + L.CLS_ACTIONS_AT, actions);
  // Up to FLAT_MAX_WORDS words (and not cut into parts: that record has no dims), the
  // summaries sit in one record with the SUPER bits (layout.ts, FLAT).
  const flat = !c.dense && !c.parts && c.words <= L.FLAT_MAX_WORDS;
  w.u32(at + L.CLS_DENSE_AT, c.dense ? L.CLS_FORM_DENSE : flat ? L.CLS_FORM_FLAT : L.CLS_FORM_AGGREGATED);
  stats.header += L.CLS_SIZE;
  stats.rules += n * 5;
  let mask = 0;
  c.dims.forEach((d, k) => {
    if (!d) return;
    mask |= 1 << k;
    const dim = at + L.CLS_DIMS_AT + k * L.DIM_SIZE;
    w.u32(dim + L.DIM_CLASSES_AT, d.classes.count);
    if (c.dense) {
      writeDense(w, d.classes, c.words, dim, stats);
    } else if (flat) {
      writeFlat(w, d.classes, dim, stats);
    } else {
      writeAggregated(w, d.classes, dim, stats);
    }
    if (d.kind === 'address') {
      w.u32(dim + L.DIM_KIND_AT, L.DIM_KIND_ADDRESS);
      w.u32(dim + L.DIM_TRIE4_AT, writeTrie(w, d.trie4, stats));
      w.u32(dim + L.DIM_TRIE6_AT, writeTrie(w, d.trie6, stats));
      w.u32(dim + L.DIM_ABSENT_AT, d.absent);
    } else if (d.direct) {
      // One u16 class per value of the domain: one load instead of a binary search.
      const table = w.reserve(d.domain * 2);
      for (let i = 0; i < d.bounds.length; i++) {
        const end = i + 1 < d.bounds.length ? d.bounds[i + 1]! : d.domain;
        for (let v = d.bounds[i]!; v < end; v++) w.view.setUint16(table + v * 2, d.classOf[i]!, true);
      }
      w.u32(dim + L.DIM_KIND_AT, L.DIM_KIND_DIRECT);
      w.u32(dim + L.DIM_COUNT_AT, d.domain);
      w.u32(dim + L.DIM_DIRECT_AT, table);
      stats.intervals += d.domain * 2;
    } else {
      w.u32(dim + L.DIM_KIND_AT, L.DIM_KIND_INTERVAL);
      w.u32(dim + L.DIM_COUNT_AT, d.bounds.length);
      w.u32(dim + L.DIM_BOUNDS_AT, w.u32s(d.bounds));
      w.u32(dim + L.DIM_CLASSOF_AT, w.u32s(d.classOf));
      stats.intervals += d.bounds.length * 8;
    }
  });
  w.u32(at + L.CLS_DIMMASK_AT, mask);
  if (c.parts) {
    const list = w.reserve(4 + c.parts.length * 4);
    w.u32(list, c.parts.length);
    stats.header += 4 + c.parts.length * 4;
    c.parts.forEach((p, i) => w.u32(list + 4 + i * 4, writeClassifier(w, p, stats)));
    w.u32(at + L.CLS_PARTS_AT, list);
  }
  return at;
}

/** `sizeHint`: the table's expected bytes (the compile's byte budget so far), to size the buffer once. */
export function serializeTable(classifiers: ClassifierPlan[], chains: number[][], sizeHint = 0): { bytes: Uint8Array; stats: TableStats } {
  const stats: TableStats = { total: 0, header: L.TABLE_HEADER_SIZE, rules: 0, bitmaps: 0, summaries: 0, tries: 0, intervals: 0 };
  const w = new Writer(sizeHint);
  w.reserve(L.TABLE_HEADER_SIZE);
  const directory = w.reserve(classifiers.length * 4);
  stats.header += classifiers.length * 4;
  classifiers.forEach((c, i) => w.u32(directory + i * 4, writeClassifier(w, c, stats)));
  const chainDir = w.u32s([chains.length, ...chains.map(() => 0)]);
  chains.forEach((links, i) => w.u32(chainDir + 4 + i * 4, w.u32s([links.length, ...links])));
  stats.header += (1 + chains.length) * 4 + chains.reduce((n, l) => n + (1 + l.length) * 4, 0);
  const total = Math.ceil(w.size / 8) * 8;
  w.reserve(total - w.size);
  w.u32(L.TABLE_MAGIC_AT, L.TABLE_MAGIC);
  w.u32(L.TABLE_ABI_AT, L.TABLE_ABI);
  w.u32(L.TABLE_BYTES_AT, total);
  w.u32(L.TABLE_CLASSIFIERS_AT, classifiers.length);
  w.u32(L.TABLE_DIRECTORY_AT, directory);
  w.u32(L.TABLE_CHAINS_AT, chainDir);
  stats.total = total;
  return { bytes: w.buf.slice(0, total), stats };
}
