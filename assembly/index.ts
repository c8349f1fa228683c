// sgfilter WASM matcher: lookup only. Everything that builds a table lives in
// TypeScript (src/compile); this module reads the layout of ./layout.ts.
import {
  TABLE_DIRECTORY_AT, TABLE_CHAINS_AT, TABLE_ABI,
  BATCH_COUNT_AT, BATCH_META_AT, BATCH_REMOTE_AT, BATCH_LOCAL_AT, BATCH_PROTO_AT,
  BATCH_PORT_AT, BATCH_SPORT_AT, BATCH_ICMP_AT, BATCH_SLOTMAP_AT,
  BATCH_OUT_ACTIONS_AT, BATCH_OUT_RULES_AT, BATCH_ORDER_AT, BATCH_FIRST_AT, META_OUTBOUND, META_SLOT_SHIFT,
} from "./layout";
import { Batch, BLOCK, BLOCK_RULE, UNDECIDED, classifyBlock, finishBlock } from "./classify";

const BATCH: usize = memory.data(offsetof<Batch>());

/** First byte of linear memory the host may manage (above static data). */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

/** ABI of the table layout this build reads. */
export function abiVersion(): u32 {
  return TABLE_ABI;
}

/** The CHAIN record of a flow's (instance, direction). */
@inline function chainOf(table: usize, chains: usize, slotMap: usize, m: u32): usize {
  const slot = ((m >> META_SLOT_SHIFT) << 1) | (m & META_OUTBOUND);
  const index = load<u32>(slotMap + (<usize>slot << 2));
  return table + <usize>load<u32>(chains + 4 + (<usize>index << 2));
}

/**
 * Classifies every flow of the BATCH at `batch` against the TABLE at `table`.
 * Writes one action (1 accept / 0 drop) and one global rule id (-1: default drop)
 * per flow. No allocation.
 */
export function classifyBatch(table: usize, batch: usize): void {
  const b = changetype<Batch>(BATCH);
  const n = load<u32>(batch + BATCH_COUNT_AT);
  b.meta = <usize>load<u32>(batch + BATCH_META_AT);
  b.remote = <usize>load<u32>(batch + BATCH_REMOTE_AT);
  b.local = <usize>load<u32>(batch + BATCH_LOCAL_AT);
  b.proto = <usize>load<u32>(batch + BATCH_PROTO_AT);
  b.port = <usize>load<u32>(batch + BATCH_PORT_AT);
  b.sport = <usize>load<u32>(batch + BATCH_SPORT_AT);
  b.icmp = <usize>load<u32>(batch + BATCH_ICMP_AT);
  b.outActions = <usize>load<u32>(batch + BATCH_OUT_ACTIONS_AT);
  b.outRules = <usize>load<u32>(batch + BATCH_OUT_RULES_AT);
  b.order = <usize>load<u32>(batch + BATCH_ORDER_AT);
  b.first = load<u32>(batch + BATCH_FIRST_AT);
  const slotMap = <usize>load<u32>(batch + BATCH_SLOTMAP_AT);
  const directory = table + <usize>load<u32>(table + TABLE_DIRECTORY_AT);
  const chains = table + <usize>load<u32>(table + TABLE_CHAINS_AT);
  for (let k: u32 = 0; k < BLOCK; k++) store<i32>(BLOCK_RULE + (<usize>k << 2), UNDECIDED);

  // Runs of consecutive flows with the same chain, cut into blocks; each block goes
  // through the chain's classifiers in priority order.
  let i: u32 = 0;
  while (i < n) {
    const chain = chainOf(table, chains, slotMap, load<u32>(b.meta + (<usize>i << 2)));
    let j = i + 1;
    while (j < n && j - i < BLOCK && chainOf(table, chains, slotMap, load<u32>(b.meta + (<usize>j << 2))) == chain) j++;
    const links = load<u32>(chain);
    // Later classifiers only matter while some flow of the block is undecided.
    let undecided = j - i;
    for (let c: u32 = 0; c < links && undecided != 0; c++) {
      const cls = table + <usize>load<u32>(directory + (<usize>load<u32>(chain + 4 + (<usize>c << 2)) << 2));
      undecided -= classifyBlock(table, cls, b, i, j - i);
    }
    finishBlock(b, i, j - i);
    i = j;
  }
}

// The stateful packet path (SPEC §7–§8): see ./packet-layout.ts and ./track.ts.
export { trackPackets, trackerRecheck } from "./track";
export { trackerInit } from "./conntrack";
