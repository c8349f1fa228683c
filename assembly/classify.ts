// First-match classification of a run of flows against one CLASSIFIER record.
//
// Each consulted dimension maps a flow's field to an equivalence class (trie,
// interval index or direct table); the class's bitmap says which boxes (compiled
// rules) accept that value. The first box set in the AND of all bitmaps decides.
// Summaries (one bit per non-zero bitmap word) let the scan skip words.
//
// Flows are processed in blocks of BLOCK, dimension by dimension: each inner loop
// runs one kind of lookup over independent flows, so the CPU overlaps their memory
// accesses, and each dimension's descriptor is decoded once per block.
//
// A partitioned classifier (layout.ts, PARTS) is searched part by part, each part
// like a classifier of its own; a part's first box is mapped to its rank in the whole
// classifier, and the lowest rank over the parts is the first match.
import {
  CLS_FORM_DENSE, CLS_FORM_FLAT, FLAT_SIZE, FLAT_SUMMARIES_AT, FLAT_RANKS_AT, SUPER_SIZE,
  CLS_PARTS_AT, CLS_BOXES_AT, CLS_WORDS_AT, CLS_DIMMASK_AT, CLS_DIMS_AT, CLS_DENSE_AT, DIM_BITMAPS_AT, CLS_RULEIDS_AT, CLS_ACTIONS_AT,
  DIM_SIZE, DIM_COUNT, DIM_KIND_AT, DIM_KIND_ADDRESS, DIM_KIND_DIRECT, DIM_DIRECT_AT, DIM_SUPERS_AT, SUPER_FIRST_AT, SUMMARY_SIZE, SUMMARY_RANK_AT,
  DIM_TRIE4_AT, DIM_TRIE6_AT, DIM_ABSENT_AT, DIM_COUNT_AT, DIM_BOUNDS_AT, DIM_CLASSOF_AT,
  TRIE_NODES_AT, TRIE_LEAVES_AT, TRIE_DIRECTBITS_AT, TRIE_DIRECT_AT,
  DIM_LOCAL, DIM_PROTO, DIM_ICMP_CODE, DIM_PORT, DIM_SPORT, DIM_ICMP_TYPE,
  META_REMOTE_V6, META_LOCAL_PRESENT, META_LOCAL_V6, ICMP_CODE_SHIFT, ICMP_FIELD_MASK,
} from "./layout";
import { trieLookup, trieLookup4 } from "./trie";
import { intervalLookup } from "./ports";

export const BLOCK: u32 = 32;
// Per (consulted dimension, flow of the block): absolute address of the class's
// SUPER record (aggregated) or whole bitmap (dense). Static scratch: no allocation.
const CLASS_PTRS: usize = memory.data(DIM_COUNT * BLOCK * 4);
// Per consulted dimension, while one flow is scanned: its SUPER bits and first
// summary index, then for the summary word being scanned its bits and rank.
const SUPER_BITS: usize = memory.data(DIM_COUNT * 8);
const SUPER_FIRST: usize = memory.data(DIM_COUNT * 4);
const SUM_VALUES: usize = memory.data(DIM_COUNT * 8);
const RANK_VALUES: usize = memory.data(DIM_COUNT * 4);

/** Where the batch's arrays are (absolute), read once per call. */
@unmanaged export class Batch {
  meta: usize = 0;
  remote: usize = 0;
  local: usize = 0;
  proto: usize = 0;
  port: usize = 0;
  sport: usize = 0;
  icmp: usize = 0;
  outActions: usize = 0;
  outRules: usize = 0;
  order: usize = 0;
  first: u32 = 0;
}

/** Where the answer of window flow i goes: the caller's index of that flow. */
@inline function destination(b: Batch, i: usize): usize {
  return b.order ? <usize>load<u32>(b.order + (i << 2)) : <usize>b.first + i;
}

@inline function fieldValue(b: Batch, d: u32, i: usize): u32 {
  const at = i << 2;
  if (d == <u32>DIM_PROTO) return load<u32>(b.proto + at);
  if (d == <u32>DIM_PORT) return load<u32>(b.port + at);
  if (d == <u32>DIM_SPORT) return load<u32>(b.sport + at);
  const icmp = load<u32>(b.icmp + at);
  return d == <u32>DIM_ICMP_TYPE ? icmp & ICMP_FIELD_MASK : icmp >> ICMP_CODE_SHIFT;
}

// Per flow of the block: the deciding global rule id (UNDECIDED until a classifier
// of the chain matches) and its action. Written by classifyBlock, read by the caller.
export const UNDECIDED: i32 = -1;
export const BLOCK_RULE: usize = memory.data(BLOCK * 4);
export const BLOCK_ACTION: usize = memory.data(BLOCK);

// Per flow of the block: the lowest rank (box of the whole classifier) found so far
// in the classifier being searched, NO_BOX for none.
const NO_BOX: u32 = 0xffffffff;
const BLOCK_BEST: usize = memory.data(BLOCK * 4);

/**
 * Classifies flows [first, first+count) (count ≤ BLOCK) against classifier `cls`,
 * for the flows of the block still UNDECIDED in BLOCK_RULE: the chain's earlier
 * classifiers have priority. Returns how many flows it decided.
 */
export function classifyBlock(base: usize, cls: usize, b: Batch, first: u32, count: u32): u32 {
  const nBoxes = load<u32>(cls + CLS_BOXES_AT);
  if (nBoxes == 0) return 0;
  for (let k: u32 = 0; k < count; k++) store<u32>(BLOCK_BEST + (<usize>k << 2), NO_BOX);
  const parts = load<u32>(cls + CLS_PARTS_AT);
  if (parts != 0) {
    const list = base + <usize>parts;
    const n = load<u32>(list);
    for (let p: u32 = 0; p < n; p++) {
      const part = base + <usize>load<u32>(list + 4 + (<usize>p << 2));
      searchBlock(base, part, b, first, count, base + <usize>load<u32>(part + CLS_RULEIDS_AT));
    }
  } else {
    searchBlock(base, cls, b, first, count, 0);
  }
  const ruleIds = base + <usize>load<u32>(cls + CLS_RULEIDS_AT);
  const actions = base + <usize>load<u32>(cls + CLS_ACTIONS_AT);
  let decided: u32 = 0;
  for (let k: u32 = 0; k < count; k++) {
    const box = <usize>load<u32>(BLOCK_BEST + (<usize>k << 2));
    if (box == <usize>NO_BOX || load<i32>(BLOCK_RULE + (<usize>k << 2)) != UNDECIDED) continue;
    store<u8>(BLOCK_ACTION + <usize>k, load<u8>(actions + box));
    store<i32>(BLOCK_RULE + (<usize>k << 2), load<i32>(ruleIds + (box << 2)));
    decided++;
  }
  return decided;
}

/**
 * Phase 1 of an address dimension: the record (`records` + class × `recordSize`) of
 * each flow's class, into `out`. Kept out of searchBlock, so the walk's values stay
 * in registers; the IPv4 trie's header is read once per block.
 */
function addressClasses(base: usize, dim: usize, b: Batch, isLocal: bool, records: usize, recordSize: usize, out: usize, first: u32, count: u32): void {
  const addrs = isLocal ? b.local : b.remote;
  const v6Bit: u32 = isLocal ? META_LOCAL_V6 : META_REMOTE_V6;
  // The local address may be absent (a flow without one); the remote never is.
  const presentBit: u32 = isLocal ? META_LOCAL_PRESENT : 0;
  const trie4 = base + <usize>load<u32>(dim + DIM_TRIE4_AT);
  const trie6 = base + <usize>load<u32>(dim + DIM_TRIE6_AT);
  const absent = load<u32>(dim + DIM_ABSENT_AT);
  const nodes4 = base + <usize>load<u32>(trie4 + TRIE_NODES_AT);
  const leaves4 = base + <usize>load<u32>(trie4 + TRIE_LEAVES_AT);
  const directBits4 = load<u32>(trie4 + TRIE_DIRECTBITS_AT);
  const direct4 = base + <usize>load<u32>(trie4 + TRIE_DIRECT_AT);
  for (let k: u32 = 0; k < count; k++) {
    const i = <usize>(first + k);
    const m = load<u32>(b.meta + (i << 2));
    const addr = addrs + (i << 4);
    let c: u32;
    if (presentBit & ~m) c = absent;
    else if (m & v6Bit) {
      const hi = (<u64>load<u32>(addr) << 32) | <u64>load<u32>(addr, 4);
      const lo = (<u64>load<u32>(addr, 8) << 32) | <u64>load<u32>(addr, 12);
      c = trieLookup(base, trie6, hi, lo);
    } else {
      c = trieLookup4(nodes4, leaves4, directBits4, direct4, load<u32>(addr));
    }
    store<u32>(out + (<usize>k << 2), <u32>(records + <usize>c * recordSize));
  }
}

/** Phase 1 of a DIRECT dimension: one u16 class per value of the field. */
function directClasses(table: usize, column: usize, shift: u32, fieldMask: u32, records: usize, recordSize: usize, out: usize, first: u32, count: u32): void {
  for (let k: u32 = 0; k < count; k++) {
    const v = (load<u32>(column + (<usize>(first + k) << 2)) >> shift) & fieldMask;
    store<u32>(out + (<usize>k << 2), <u32>(records + <usize>load<u16>(table + (<usize>v << 1)) * recordSize));
  }
}

/**
 * The first box of classifier (or part) `cls` for each undecided flow of the block,
 * as a rank (`ranks`: the part's u32 rank per box; 0: the box itself), kept in
 * BLOCK_BEST when lower than what is there.
 */
function searchBlock(base: usize, cls: usize, b: Batch, first: u32, count: u32, ranks: usize): void {
  const nBoxes = load<u32>(cls + CLS_BOXES_AT);
  if (nBoxes == 0) return;
  const words = load<u32>(cls + CLS_WORDS_AT);
  const mask = load<u32>(cls + CLS_DIMMASK_AT);
  const form = load<u32>(cls + CLS_DENSE_AT);
  const dense = form == CLS_FORM_DENSE;
  const flat = form == CLS_FORM_FLAT;

  // Phase 1: classes, dimension by dimension.
  let nd: u32 = 0;
  for (let d: u32 = 0; d < <u32>DIM_COUNT; d++) {
    if (!((mask >> d) & 1)) continue;
    const dim = cls + CLS_DIMS_AT + <usize>d * DIM_SIZE;
    const kind = load<u32>(dim + DIM_KIND_AT);
    // Class c's record: its whole bitmap (dense), FLAT record (flat) or SUPER (aggregated).
    const records = base + <usize>load<u32>(dim + (dense ? DIM_BITMAPS_AT : DIM_SUPERS_AT));
    const recordSize: usize = dense ? <usize>words << 3 : flat ? FLAT_SIZE : SUPER_SIZE;
    const slot = <usize>(nd * BLOCK) << 2;
    const out = CLASS_PTRS + slot;
    if (kind == DIM_KIND_ADDRESS) {
      addressClasses(base, dim, b, d == <u32>DIM_LOCAL, records, recordSize, out, first, count);
    } else {
      // The field's column, and how its value sits in the u32 (ICMP: type | code << 16).
      const column = d == <u32>DIM_PROTO ? b.proto : d == <u32>DIM_PORT ? b.port : d == <u32>DIM_SPORT ? b.sport : b.icmp;
      const shift: u32 = d == <u32>DIM_ICMP_CODE ? ICMP_CODE_SHIFT : 0;
      const fieldMask: u32 = d == <u32>DIM_ICMP_TYPE ? ICMP_FIELD_MASK : 0xffffffff;
      if (kind == DIM_KIND_DIRECT) {
        directClasses(base + <usize>load<u32>(dim + DIM_DIRECT_AT), column, shift, fieldMask, records, recordSize, out, first, count);
      } else {
        const bounds = base + <usize>load<u32>(dim + DIM_BOUNDS_AT);
        const classOf = base + <usize>load<u32>(dim + DIM_CLASSOF_AT);
        const n = load<u32>(dim + DIM_COUNT_AT);
        for (let k: u32 = 0; k < count; k++) {
          const v = (load<u32>(column + (<usize>(first + k) << 2)) >> shift) & fieldMask;
          const c = <usize>intervalLookup(bounds, classOf, n, v);
          store<u32>(out + (<usize>k << 2), <u32>(records + c * recordSize));
        }
      }
    }
    nd++;
  }

  if (flat) scanFlat(base, count, nd, ranks);
  else scanBlock(base, count, nd, words, dense, ranks);
}

/** Phase 2 of searchBlock: the first box of the AND, flow by flow. */
function scanBlock(base: usize, count: u32, nd: u32, words: u32, dense: bool, ranks: usize): void {
  // Phase 2: first set bit of the AND, flow by flow.
  for (let k: u32 = 0; k < count; k++) {
    if (load<i32>(BLOCK_RULE + (<usize>k << 2)) != UNDECIDED) continue;
    // An earlier part found a box before every box of this one: nothing here can win.
    if (ranks && load<u32>(ranks) >= load<u32>(BLOCK_BEST + (<usize>k << 2))) continue;
    let box: i32 = -1;
    if (nd == 0) {
      box = 0; // every dimension is a wildcard for every box
    } else if (dense) {
      // Whole bitmaps, two words per SIMD step.
      for (let w: u32 = 0; w < words; w += 2) {
        const off = <usize>w << 3;
        let v = v128.load(<usize>load<u32>(CLASS_PTRS + (<usize>k << 2)) + off);
        for (let j: u32 = 1; j < nd; j++) {
          v = v128.and(v, v128.load(<usize>load<u32>(CLASS_PTRS + ((<usize>(j * BLOCK + k)) << 2)) + off));
        }
        if (v128.any_true(v)) {
          const first = i64x2.extract_lane(v, 0);
          box = first != 0
            ? <i32>((w << 6) + <u32>ctz(first))
            : <i32>(((w + 1) << 6) + <u32>ctz(i64x2.extract_lane(v, 1)));
          break;
        }
      }
    } else if (nd <= 5) {
      const r0 = <usize>load<u32>(CLASS_PTRS + (<usize>k << 2));
      const r1 = nd > 1 ? <usize>load<u32>(CLASS_PTRS + ((<usize>(BLOCK + k)) << 2)) : r0;
      const r2 = nd > 2 ? <usize>load<u32>(CLASS_PTRS + ((<usize>(2 * BLOCK + k)) << 2)) : r0;
      const r3 = nd > 3 ? <usize>load<u32>(CLASS_PTRS + ((<usize>(3 * BLOCK + k)) << 2)) : r0;
      box = nd <= 4
        ? firstBox4(base, r0, r1, r2, r3)
        : firstBox5(base, r0, r1, r2, r3, <usize>load<u32>(CLASS_PTRS + ((<usize>(4 * BLOCK + k)) << 2)));
    } else {
      // Aggregated: AND the SUPERs, then the summary words they agree on, then only
      // the bitmap words non-zero in every dimension.
      let agg0: u64 = ~(<u64>0);
      for (let j: u32 = 0; j < nd; j++) {
        const rec = <usize>load<u32>(CLASS_PTRS + ((<usize>(j * BLOCK + k)) << 2));
        const bits = load<u64>(rec);
        store<u64>(SUPER_BITS + (<usize>j << 3), bits);
        store<u32>(SUPER_FIRST + (<usize>j << 2), load<u32>(rec + SUPER_FIRST_AT));
        agg0 &= bits;
      }
      while (agg0 != 0 && box < 0) {
        const s = <u64>ctz(agg0);
        const belowS = (<u64>1 << s) - 1;
        let agg: u64 = ~(<u64>0);
        for (let j: u32 = 0; j < nd; j++) {
          const index = load<u32>(SUPER_FIRST + (<usize>j << 2)) + <u32>popcnt(load<u64>(SUPER_BITS + (<usize>j << 3)) & belowS);
          const summary = base + <usize>index * SUMMARY_SIZE;
          const bits = load<u64>(summary);
          store<u64>(SUM_VALUES + (<usize>j << 3), bits);
          store<u32>(RANK_VALUES + (<usize>j << 2), load<u32>(summary + SUMMARY_RANK_AT));
          agg &= bits;
        }
        while (agg != 0) {
          const bit = <u64>ctz(agg);
          const below = (<u64>1 << bit) - 1;
          let x: u64 = ~(<u64>0);
          for (let j: u32 = 0; j < nd; j++) {
            const rank = load<u32>(RANK_VALUES + (<usize>j << 2)) + <u32>popcnt(load<u64>(SUM_VALUES + (<usize>j << 3)) & below);
            x &= load<u64>(base + (<usize>rank << 3));
          }
          if (x != 0) {
            box = <i32>((((<u32>s << 6) + <u32>bit) << 6) + <u32>ctz(x));
            break;
          }
          agg &= agg - 1;
        }
        agg0 &= agg0 - 1;
      }
    }
    if (box >= 0) {
      const rank = ranks ? load<u32>(ranks + (<usize>box << 2)) : <u32>box;
      if (rank < load<u32>(BLOCK_BEST + (<usize>k << 2))) store<u32>(BLOCK_BEST + (<usize>k << 2), rank);
    }
  }
}

function firstBox5(base: usize, r0: usize, r1: usize, r2: usize, r3: usize, r4: usize): i32 {
  const b0 = load<u64>(r0);
  const b1 = load<u64>(r1);
  const b2 = load<u64>(r2);
  const b3 = load<u64>(r3);
  const b4 = load<u64>(r4);
  let agg0 = b0 & b1 & b2 & b3 & b4;
  while (agg0 != 0) {
    const belowS = (agg0 & (0 - agg0)) - 1;
    const s0 = base + <usize>(load<u32>(r0 + SUPER_FIRST_AT) + <u32>popcnt(b0 & belowS)) * SUMMARY_SIZE;
    const s1 = base + <usize>(load<u32>(r1 + SUPER_FIRST_AT) + <u32>popcnt(b1 & belowS)) * SUMMARY_SIZE;
    const s2 = base + <usize>(load<u32>(r2 + SUPER_FIRST_AT) + <u32>popcnt(b2 & belowS)) * SUMMARY_SIZE;
    const s3 = base + <usize>(load<u32>(r3 + SUPER_FIRST_AT) + <u32>popcnt(b3 & belowS)) * SUMMARY_SIZE;
    const s4 = base + <usize>(load<u32>(r4 + SUPER_FIRST_AT) + <u32>popcnt(b4 & belowS)) * SUMMARY_SIZE;
    const m0 = load<u64>(s0);
    const m1 = load<u64>(s1);
    const m2 = load<u64>(s2);
    const m3 = load<u64>(s3);
    const m4 = load<u64>(s4);
    let agg = m0 & m1 & m2 & m3 & m4;
    while (agg != 0) {
      const below = (agg & (0 - agg)) - 1;
      const x = load<u64>(base + (<usize>(load<u32>(s0 + SUMMARY_RANK_AT) + <u32>popcnt(m0 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(s1 + SUMMARY_RANK_AT) + <u32>popcnt(m1 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(s2 + SUMMARY_RANK_AT) + <u32>popcnt(m2 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(s3 + SUMMARY_RANK_AT) + <u32>popcnt(m3 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(s4 + SUMMARY_RANK_AT) + <u32>popcnt(m4 & below)) << 3));
      if (x != 0) return <i32>((((<u32>ctz(agg0) << 6) + <u32>ctz(agg)) << 6) + <u32>ctz(x));
      agg &= agg - 1;
    }
    agg0 &= agg0 - 1;
  }
  return -1;
}

function firstBox4(base: usize, r0: usize, r1: usize, r2: usize, r3: usize): i32 {
  const b0 = load<u64>(r0);
  const b1 = load<u64>(r1);
  const b2 = load<u64>(r2);
  const b3 = load<u64>(r3);
  let agg0 = b0 & b1 & b2 & b3;
  while (agg0 != 0) {
    const belowS = (agg0 & (0 - agg0)) - 1;
    const s0 = base + <usize>(load<u32>(r0 + SUPER_FIRST_AT) + <u32>popcnt(b0 & belowS)) * SUMMARY_SIZE;
    const s1 = base + <usize>(load<u32>(r1 + SUPER_FIRST_AT) + <u32>popcnt(b1 & belowS)) * SUMMARY_SIZE;
    const s2 = base + <usize>(load<u32>(r2 + SUPER_FIRST_AT) + <u32>popcnt(b2 & belowS)) * SUMMARY_SIZE;
    const s3 = base + <usize>(load<u32>(r3 + SUPER_FIRST_AT) + <u32>popcnt(b3 & belowS)) * SUMMARY_SIZE;
    const m0 = load<u64>(s0);
    const m1 = load<u64>(s1);
    const m2 = load<u64>(s2);
    const m3 = load<u64>(s3);
    let agg = m0 & m1 & m2 & m3;
    while (agg != 0) {
      const below = (agg & (0 - agg)) - 1;
      const x = load<u64>(base + (<usize>(load<u32>(s0 + SUMMARY_RANK_AT) + <u32>popcnt(m0 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(s1 + SUMMARY_RANK_AT) + <u32>popcnt(m1 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(s2 + SUMMARY_RANK_AT) + <u32>popcnt(m2 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(s3 + SUMMARY_RANK_AT) + <u32>popcnt(m3 & below)) << 3));
      if (x != 0) return <i32>((((<u32>ctz(agg0) << 6) + <u32>ctz(agg)) << 6) + <u32>ctz(x));
      agg &= agg - 1;
    }
    agg0 &= agg0 - 1;
  }
  return -1;
}

/**
 * Phase 2 of a FLAT classifier (layout.ts): per flow, the first box of the AND of its
 * records, kept in BLOCK_BEST as searchBlock says. Up to five dimensions straight-line
 * (firstBoxFlat4/5), more (the ICMP fields) in a loop.
 */
function scanFlat(base: usize, count: u32, nd: u32, ranks: usize): void {
  for (let k: u32 = 0; k < count; k++) {
    if (load<i32>(BLOCK_RULE + (<usize>k << 2)) != UNDECIDED) continue;
    // An earlier part found a box before every box of this one: nothing here can win.
    if (ranks && load<u32>(ranks) >= load<u32>(BLOCK_BEST + (<usize>k << 2))) continue;
    let box: i32 = -1;
    if (nd == 0) {
      box = 0; // every dimension is a wildcard for every box
    } else if (nd <= 5) {
      // Missing dimensions repeat the first record (x & x = x).
      const r0 = <usize>load<u32>(CLASS_PTRS + (<usize>k << 2));
      const r1 = nd > 1 ? <usize>load<u32>(CLASS_PTRS + ((<usize>(BLOCK + k)) << 2)) : r0;
      const r2 = nd > 2 ? <usize>load<u32>(CLASS_PTRS + ((<usize>(2 * BLOCK + k)) << 2)) : r0;
      const r3 = nd > 3 ? <usize>load<u32>(CLASS_PTRS + ((<usize>(3 * BLOCK + k)) << 2)) : r0;
      box = nd <= 4
        ? firstBoxFlat4(base, r0, r1, r2, r3)
        : firstBoxFlat5(base, r0, r1, r2, r3, <usize>load<u32>(CLASS_PTRS + ((<usize>(4 * BLOCK + k)) << 2)));
    } else {
      box = firstBoxFlatN(base, k, nd);
    }
    if (box >= 0) {
      const rank = ranks ? load<u32>(ranks + (<usize>box << 2)) : <u32>box;
      if (rank < load<u32>(BLOCK_BEST + (<usize>k << 2))) store<u32>(BLOCK_BEST + (<usize>k << 2), rank);
    }
  }
}

/**
 * The first box in the AND of five FLAT records (absolute), or -1: the SUPER bits,
 * then the summary words they agree on (in the same records), then only the bitmap
 * words non-zero in all five.
 */
function firstBoxFlat5(base: usize, r0: usize, r1: usize, r2: usize, r3: usize, r4: usize): i32 {
  let agg0 = load<u64>(r0) & load<u64>(r1) & load<u64>(r2) & load<u64>(r3) & load<u64>(r4);
  while (agg0 != 0) {
    const s = <usize>ctz(agg0);
    const sum = <usize>FLAT_SUMMARIES_AT + (s << 3);
    const m0 = load<u64>(r0 + sum);
    const m1 = load<u64>(r1 + sum);
    const m2 = load<u64>(r2 + sum);
    const m3 = load<u64>(r3 + sum);
    const m4 = load<u64>(r4 + sum);
    let agg = m0 & m1 & m2 & m3 & m4;
    const rank = <usize>FLAT_RANKS_AT + (s << 2);
    while (agg != 0) {
      const below = (agg & (0 - agg)) - 1;
      const x = load<u64>(base + (<usize>(load<u32>(r0 + rank) + <u32>popcnt(m0 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(r1 + rank) + <u32>popcnt(m1 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(r2 + rank) + <u32>popcnt(m2 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(r3 + rank) + <u32>popcnt(m3 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(r4 + rank) + <u32>popcnt(m4 & below)) << 3));
      if (x != 0) return <i32>((((<u32>s << 6) + <u32>ctz(agg)) << 6) + <u32>ctz(x));
      agg &= agg - 1;
    }
    agg0 &= agg0 - 1;
  }
  return -1;
}

/** firstBoxFlat5 for four records (acl-like classifiers: four dimensions). */
function firstBoxFlat4(base: usize, r0: usize, r1: usize, r2: usize, r3: usize): i32 {
  let agg0 = load<u64>(r0) & load<u64>(r1) & load<u64>(r2) & load<u64>(r3);
  while (agg0 != 0) {
    const s = <usize>ctz(agg0);
    const sum = <usize>FLAT_SUMMARIES_AT + (s << 3);
    const m0 = load<u64>(r0 + sum);
    const m1 = load<u64>(r1 + sum);
    const m2 = load<u64>(r2 + sum);
    const m3 = load<u64>(r3 + sum);
    let agg = m0 & m1 & m2 & m3;
    const rank = <usize>FLAT_RANKS_AT + (s << 2);
    while (agg != 0) {
      const below = (agg & (0 - agg)) - 1;
      const x = load<u64>(base + (<usize>(load<u32>(r0 + rank) + <u32>popcnt(m0 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(r1 + rank) + <u32>popcnt(m1 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(r2 + rank) + <u32>popcnt(m2 & below)) << 3))
        & load<u64>(base + (<usize>(load<u32>(r3 + rank) + <u32>popcnt(m3 & below)) << 3));
      if (x != 0) return <i32>((((<u32>s << 6) + <u32>ctz(agg)) << 6) + <u32>ctz(x));
      agg &= agg - 1;
    }
    agg0 &= agg0 - 1;
  }
  return -1;
}

/** The first box in the AND of flow k's nd FLAT records (CLASS_PTRS), any nd. */
function firstBoxFlatN(base: usize, k: u32, nd: u32): i32 {
  let agg0: u64 = ~(<u64>0);
  for (let j: u32 = 0; j < nd; j++) agg0 &= load<u64>(<usize>load<u32>(CLASS_PTRS + ((<usize>(j * BLOCK + k)) << 2)));
  while (agg0 != 0) {
    const s = <usize>ctz(agg0);
    const sum = <usize>FLAT_SUMMARIES_AT + (s << 3);
    const rank = <usize>FLAT_RANKS_AT + (s << 2);
    let agg: u64 = ~(<u64>0);
    for (let j: u32 = 0; j < nd; j++) agg &= load<u64>(<usize>load<u32>(CLASS_PTRS + ((<usize>(j * BLOCK + k)) << 2)) + sum);
    while (agg != 0) {
      const below = (agg & (0 - agg)) - 1;
      let x: u64 = ~(<u64>0);
      for (let j: u32 = 0; j < nd; j++) {
        const rec = <usize>load<u32>(CLASS_PTRS + ((<usize>(j * BLOCK + k)) << 2));
        x &= load<u64>(base + (<usize>(load<u32>(rec + rank) + <u32>popcnt(load<u64>(rec + sum) & below)) << 3));
      }
      if (x != 0) return <i32>((((<u32>s << 6) + <u32>ctz(agg)) << 6) + <u32>ctz(x));
      agg &= agg - 1;
    }
    agg0 &= agg0 - 1;
  }
  return -1;
}

/** Writes the block's answers where the caller expects them (UNDECIDED: default drop). */
export function finishBlock(b: Batch, first: u32, count: u32): void {
  for (let k: u32 = 0; k < count; k++) {
    const to = destination(b, <usize>(first + k));
    const rule = load<i32>(BLOCK_RULE + (<usize>k << 2));
    store<u8>(b.outActions + to, rule == UNDECIDED ? 0 : load<u8>(BLOCK_ACTION + <usize>k));
    store<i32>(b.outRules + (to << 2), rule);
    store<i32>(BLOCK_RULE + (<usize>k << 2), UNDECIDED); // ready for the next block
  }
}
