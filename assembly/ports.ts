// PortIntervalIndex lookup: elementary intervals of a small integer domain
// (ports with PORT_ABSENT, protocols, ICMP type/code). See layout.ts, DIM INTERVAL.

/** Class of `value`: binary search for the last lower bound <= value. */
@inline export function intervalLookup(bounds: usize, classOf: usize, count: u32, value: u32): u32 {
  // Branch-light binary search; bounds[0] is always 0 so the answer exists.
  let lo: u32 = 0;
  let n: u32 = count;
  while (n > 1) {
    const half = n >> 1;
    const mid = lo + half;
    if (load<u32>(bounds + (<usize>mid << 2)) <= value) lo = mid;
    n -= half;
  }
  return load<u32>(classOf + (<usize>lo << 2));
}
