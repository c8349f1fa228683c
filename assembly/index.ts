// sgfilter WASM matcher: lookup only. Everything that builds a table lives in
// TypeScript (src/compile); this module reads the layout of ./layout.ts.
import {
  TABLE_DIRECTORY_AT, CLS_RULEIDS_AT, CLS_ACTIONS_AT,
  BATCH_COUNT_AT, BATCH_META_AT, BATCH_REMOTE_AT, BATCH_LOCAL_AT, BATCH_PROTO_AT,
  BATCH_PORT_AT, BATCH_SPORT_AT, BATCH_ICMP_AT, BATCH_SLOTMAP_AT,
  BATCH_OUT_ACTIONS_AT, BATCH_OUT_RULES_AT, META_OUTBOUND, META_SLOT_SHIFT, TABLE_ABI,
} from "./layout";
import { classifyOne } from "./classify";

/** First byte of linear memory the host may manage (above static data). */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

/** ABI of the table layout this build reads. */
export function abiVersion(): u32 {
  return TABLE_ABI;
}

/**
 * Classifies every flow of the BATCH at `batch` against the TABLE at `table`.
 * Writes one action (1 accept / 0 drop) and one global rule id (-1: default drop)
 * per flow. No allocation.
 */
export function classifyBatch(table: usize, batch: usize): void {
  const n = load<u32>(batch + BATCH_COUNT_AT);
  const meta = <usize>load<u32>(batch + BATCH_META_AT);
  const remote = <usize>load<u32>(batch + BATCH_REMOTE_AT);
  const local = <usize>load<u32>(batch + BATCH_LOCAL_AT);
  const proto = <usize>load<u32>(batch + BATCH_PROTO_AT);
  const port = <usize>load<u32>(batch + BATCH_PORT_AT);
  const sport = <usize>load<u32>(batch + BATCH_SPORT_AT);
  const icmp = <usize>load<u32>(batch + BATCH_ICMP_AT);
  const slotMap = <usize>load<u32>(batch + BATCH_SLOTMAP_AT);
  const outActions = <usize>load<u32>(batch + BATCH_OUT_ACTIONS_AT);
  const outRules = <usize>load<u32>(batch + BATCH_OUT_RULES_AT);
  const directory = table + <usize>load<u32>(table + TABLE_DIRECTORY_AT);

  for (let i: u32 = 0; i < n; i++) {
    const at = <usize>i << 2;
    const m = load<u32>(meta + at);
    const slot = ((m >> META_SLOT_SHIFT) << 1) | (m & META_OUTBOUND);
    const clsIndex = load<u32>(slotMap + (<usize>slot << 2));
    const cls = table + <usize>load<u32>(directory + (<usize>clsIndex << 2));
    const box = classifyOne(
      table, cls, m, remote + (at << 2), local + (at << 2),
      load<u32>(proto + at), load<u32>(port + at), load<u32>(sport + at), load<u32>(icmp + at),
    );
    if (box < 0) {
      store<u8>(outActions + <usize>i, 0);
      store<i32>(outRules + at, -1);
    } else {
      store<u8>(outActions + <usize>i, load<u8>(table + <usize>load<u32>(cls + CLS_ACTIONS_AT) + <usize>box));
      store<i32>(outRules + at, load<i32>(table + <usize>load<u32>(cls + CLS_RULEIDS_AT) + (<usize>box << 2)));
    }
  }
}
