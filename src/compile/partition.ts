/**
 * Cutting a big classifier into parts by how open its boxes' address fields are.
 *
 * A class bitmap holds every box that accepts its piece of the field. A box whose
 * remote (or local) address is (nearly) any address is in every class of that
 * dimension, so with W such boxes and C classes (one or more per distinct specific
 * prefix) the dimension costs about C × W / 64 bitmap words: ClassBench ipc2_100K
 * (35,008 rules from 0.0.0.0/0, 47,167 remote classes) had 256 MB of remote bitmaps,
 * fw3_100K 249 MB in all. Boxes open in a field and boxes specific in it are therefore
 * put in different parts: in the open part that field has a handful of classes, in
 * the specific part its classes hold only specific boxes. Each part is a classifier of
 * its own; a lookup takes each part's first box and keeps the one first in the whole
 * classifier (assembly/classify.ts). On the 100K sets this cut the bitmaps 100-1000×
 * for one trie walk and one AND per part (docs/DESIGN.md, "Partitions").
 */
import type { Box, PrefixSet } from './box.js';

/** A prefix this short or shorter makes an address field "open": it covers 1/256 of IPv4 or more. */
export const OPEN_V4_LEN = 8;
/** The same for IPv6: 1/2^32 of the space or more. */
export const OPEN_V6_LEN = 32;

function open(set: PrefixSet | null): boolean {
  if (set === null) return true;
  for (const p of set.v4) if (p.len <= OPEN_V4_LEN) return true;
  for (const p of set.v6) if (p.len <= OPEN_V6_LEN) return true;
  return false;
}

/** Which address fields of the box are open: bit 0 remote, bit 1 local. */
export function opennessKey(b: Box): number {
  return (open(b.remote) ? 1 : 0) | (open(b.local) ? 2 : 0);
}

/**
 * Partition only when open and specific boxes together would cost more bitmap bytes
 * than this, estimated as Σ over the address fields of open × specific / 8 (each
 * specific box brings a class or so, each holding every open box). Below it one whole
 * classifier is faster: a part costs a lookup per field of its own (ClassBench 10K
 * sets, estimated ≤ 12.5 MB, looked up 1.5-1.8× slower in parts).
 */
export const PARTITION_MIN_BYTES = 32 * 1024 * 1024;

/**
 * The boxes' indexes grouped by opennessKey, each group ascending (first-match order
 * inside a part), groups in key order; one group when all boxes share a key or when
 * partitioning would not pay (estimate below `minBytes`).
 */
export function partitionBoxes(boxes: Box[], minBytes = PARTITION_MIN_BYTES): number[][] {
  const groups = new Map<number, number[]>();
  const openIn = [0, 0];
  boxes.forEach((b, i) => {
    const k = opennessKey(b);
    openIn[0] += k & 1;
    openIn[1] += k >> 1;
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  });
  const n = boxes.length;
  const estimate = (openIn[0]! * (n - openIn[0]!) + openIn[1]! * (n - openIn[1]!)) / 8;
  if (groups.size < 2 || estimate < minBytes) return [boxes.map((_, i) => i)];
  return [...groups.keys()].sort((a, b) => a - b).map((k) => groups.get(k)!);
}
