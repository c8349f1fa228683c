// First-match classification of one flow against one CLASSIFIER record.
// Each consulted dimension maps the flow's field to an equivalence class (trie or
// interval index); the class's bitmap says which boxes (compiled rules) accept that
// field value. The first box set in the AND of all bitmaps decides. Summaries (one
// bit per non-zero bitmap word) let the scan skip words that cannot match.
import {
  CLS_BOXES_AT, CLS_WORDS_AT, CLS_SUMWORDS_AT, CLS_DIMMASK_AT, CLS_DIMS_AT,
  DIM_SIZE, DIM_COUNT, DIM_KIND_AT, DIM_KIND_ADDRESS, DIM_BITMAPS_AT, DIM_SUMS_AT,
  DIM_TRIE4_AT, DIM_TRIE6_AT, DIM_ABSENT_AT, DIM_COUNT_AT, DIM_BOUNDS_AT, DIM_CLASSOF_AT,
  DIM_REMOTE, DIM_LOCAL, DIM_PROTO, DIM_PORT, DIM_SPORT, DIM_ICMP_TYPE,
  META_REMOTE_V6, META_LOCAL_PRESENT, META_LOCAL_V6, ICMP_CODE_SHIFT, ICMP_FIELD_MASK,
} from "./layout";
import { trieLookup } from "./trie";
import { intervalLookup } from "./ports";

// Scratch for the per-dimension bitmap and summary pointers (static, no allocation).
const BITMAP_PTRS: usize = memory.data(DIM_COUNT * 4);
const SUM_PTRS: usize = memory.data(DIM_COUNT * 4);


/**
 * Returns the box index of the first matching box, or -1.
 * `remote`/`local` point at 4 u32 words each (word0 most significant).
 */
export function classifyOne(
  base: usize, cls: usize, meta: u32, remote: usize, local: usize,
  proto: u32, port: u32, sport: u32, icmp: u32,
): i32 {
  const nBoxes = load<u32>(cls + CLS_BOXES_AT);
  if (nBoxes == 0) return -1;
  const words = load<u32>(cls + CLS_WORDS_AT);
  const sumWords = load<u32>(cls + CLS_SUMWORDS_AT);
  const mask = load<u32>(cls + CLS_DIMMASK_AT);
  let nd: u32 = 0;
  for (let d: u32 = 0; d < <u32>DIM_COUNT; d++) {
    if (!((mask >> d) & 1)) continue;
    const dim = cls + CLS_DIMS_AT + <usize>d * DIM_SIZE;
    let c: u32;
    if (load<u32>(dim + DIM_KIND_AT) == DIM_KIND_ADDRESS) {
      let addr = remote;
      let v6 = (meta & META_REMOTE_V6) != 0;
      let present = true;
      if (d == <u32>DIM_LOCAL) {
        addr = local;
        v6 = (meta & META_LOCAL_V6) != 0;
        present = (meta & META_LOCAL_PRESENT) != 0;
      }
      if (!present) {
        c = load<u32>(dim + DIM_ABSENT_AT);
      } else if (v6) {
        const hi = (<u64>load<u32>(addr) << 32) | <u64>load<u32>(addr, 4);
        const lo = (<u64>load<u32>(addr, 8) << 32) | <u64>load<u32>(addr, 12);
        c = trieLookup(base, base + <usize>load<u32>(dim + DIM_TRIE6_AT), hi, lo);
      } else {
        c = trieLookup(base, base + <usize>load<u32>(dim + DIM_TRIE4_AT), <u64>load<u32>(addr) << 32, 0);
      }
    } else {
      let value: u32;
      if (d == <u32>DIM_PROTO) value = proto;
      else if (d == <u32>DIM_PORT) value = port;
      else if (d == <u32>DIM_SPORT) value = sport;
      else if (d == <u32>DIM_ICMP_TYPE) value = icmp & ICMP_FIELD_MASK;
      else value = icmp >> ICMP_CODE_SHIFT;
      c = intervalLookup(
        base + <usize>load<u32>(dim + DIM_BOUNDS_AT),
        base + <usize>load<u32>(dim + DIM_CLASSOF_AT),
        load<u32>(dim + DIM_COUNT_AT), value,
      );
    }
    store<u32>(BITMAP_PTRS + (<usize>nd << 2), <u32>(base + <usize>load<u32>(dim + DIM_BITMAPS_AT) + (<usize>c * <usize>words << 3)));
    store<u32>(SUM_PTRS + (<usize>nd << 2), <u32>(base + <usize>load<u32>(dim + DIM_SUMS_AT) + (<usize>c * <usize>sumWords << 3)));
    nd++;
  }
  if (nd == 0) return 0; // every dimension is a wildcard for every box: box 0 matches

  for (let s: u32 = 0; s < sumWords; s++) {
    let agg: u64 = ~(<u64>0);
    for (let k: u32 = 0; k < nd; k++) {
      agg &= load<u64>(<usize>load<u32>(SUM_PTRS + (<usize>k << 2)) + (<usize>s << 3));
    }
    while (agg != 0) {
      const w = (s << 6) + <u32>ctz(agg);
      let x: u64 = ~(<u64>0);
      for (let k: u32 = 0; k < nd; k++) {
        x &= load<u64>(<usize>load<u32>(BITMAP_PTRS + (<usize>k << 2)) + (<usize>w << 3));
      }
      if (x != 0) return <i32>((w << 6) + <u32>ctz(x));
      agg &= agg - 1;
    }
  }
  return -1;
}
