// PrefixTrie lookup: a poptrie over a 128-bit address (see layout.ts, TRIE and NODE).
// Lookup only: the trie is built and leaf-pushed by src/compile/trie.ts.
import {
  TRIE_NODES_AT, TRIE_LEAVES_AT, NODE_SIZE, NODE_VECTOR_AT, NODE_LEAFVEC_AT,
  NODE_BASE0_AT, NODE_BASE1_AT, TRIE_STRIDE, TRIE_DIRECTBITS_AT, TRIE_DIRECT_AT, TRIE_LEAF_FLAG, NODE_SKIP_FLAG,
  TRIE_MAX_BITS,
} from "./layout";

// Bits o..o+5 of the 128-bit number hi:lo (bits past 127 read as zero).
@inline function slotAt(hi: u64, lo: u64, o: u32): u32 {
  let v: u64;
  if (o <= 58) v = hi >> (<u64>(58 - o));
  else if (o < 64) v = (hi << (<u64>(o - 58))) | (lo >> (<u64>(122 - o)));
  else if (o <= 122) v = lo >> (<u64>(122 - o));
  else v = lo << (<u64>(o - 122));
  return <u32>(v & 63);
}

// The 64 bits of hi:lo starting at bit o (bits past 127 read as zero).
@inline function bitsAt(hi: u64, lo: u64, o: u32): u64 {
  if (o == 0) return hi;
  if (o < 64) return (hi << <u64>o) | (lo >> <u64>(64 - o));
  if (o < 128) return lo << <u64>(o - 64);
  return 0;
}

/**
 * trieLookup for an IPv4 address `a` (the top 32 bits of hi:lo, lo = 0), with the
 * trie's header already read (nodes, leaves, direct absolute; directBits): a block of
 * flows reads the header once, and every shift stays in one 64-bit word. The same
 * walk, the same bound, the same answers as trieLookup(base, trie, a << 32, 0).
 */
@inline export function trieLookup4(nodes: usize, leaves: usize, directBits: u32, direct: usize, a: u32): u32 {
  const hi = <u64>a << 32;
  let node = nodes;
  let o: u32 = 0;
  if (directBits) {
    const e = load<u32>(direct + (<usize>(a >>> (32 - directBits)) << 2));
    if (e & TRIE_LEAF_FLAG) return e & ~TRIE_LEAF_FLAG;
    node = nodes + <usize>e * NODE_SIZE;
    o = directBits;
  }
  while (o <= <u32>TRIE_MAX_BITS) {
    // The 64 bits from bit o (zero past bit 63: an IPv4 address has nothing there).
    const bits = o < 64 ? hi << <u64>o : 0;
    const base0 = load<u32>(node + NODE_BASE0_AT);
    if (base0 & NODE_SKIP_FLAG) {
      const length = load<u64>(node + NODE_LEAFVEC_AT);
      if ((bits ^ load<u64>(node + NODE_VECTOR_AT)) >> (64 - length)) {
        return load<u32>(leaves + (<usize>(base0 & ~NODE_SKIP_FLAG) << 2));
      }
      node = nodes + <usize>load<u32>(node + NODE_BASE1_AT) * NODE_SIZE;
      o += ((<u32>length - 1) & 63) + 1;
      continue;
    }
    const slot = <u32>(bits >> 58);
    const keep = <u64>(63 - slot);
    const vector = load<u64>(node + NODE_VECTOR_AT);
    if ((vector >> <u64>slot) & 1) {
      node = nodes + <usize>(load<u32>(node + NODE_BASE1_AT) + <u32>popcnt(vector << keep) - 1) * NODE_SIZE;
      o += TRIE_STRIDE;
      continue;
    }
    const leaf = base0 + <u32>popcnt(load<u64>(node + NODE_LEAFVEC_AT) << keep) - 1;
    return load<u32>(leaves + (<usize>leaf << 2));
  }
  return 0;
}

/**
 * Class id of the longest-prefix path of hi:lo in the trie at `trie` (absolute).
 * Loading checks that no walk enters a node past bit TRIE_MAX_BITS (src/snapshot/table.ts);
 * the loop bound is defense in depth on top: every step moves o forward, so even a
 * table that broke that (a cycle, a zero-length skip) ends its walk with class 0
 * after at most TRIE_MAX_BITS + 1 steps instead of spinning.
 */
@inline export function trieLookup(base: usize, trie: usize, hi: u64, lo: u64): u32 {
  const nodes = base + <usize>load<u32>(trie + TRIE_NODES_AT);
  const leaves = base + <usize>load<u32>(trie + TRIE_LEAVES_AT);
  let node = nodes;
  let o: u32 = 0;
  const directBits = load<u32>(trie + TRIE_DIRECTBITS_AT);
  if (directBits) {
    const e = load<u32>(base + <usize>load<u32>(trie + TRIE_DIRECT_AT) + (<usize>(hi >> (64 - <u64>directBits)) << 2));
    if (e & TRIE_LEAF_FLAG) return e & ~TRIE_LEAF_FLAG;
    node = nodes + <usize>e * NODE_SIZE;
    o = directBits;
  }
  while (o <= <u32>TRIE_MAX_BITS) {
    const base0 = load<u32>(node + NODE_BASE0_AT);
    if (base0 & NODE_SKIP_FLAG) {
      const length = load<u64>(node + NODE_LEAFVEC_AT);
      if ((bitsAt(hi, lo, o) ^ load<u64>(node + NODE_VECTOR_AT)) >> (64 - length)) {
        return load<u32>(leaves + (<usize>(base0 & ~NODE_SKIP_FLAG) << 2));
      }
      node = nodes + <usize>load<u32>(node + NODE_BASE1_AT) * NODE_SIZE;
      o += ((<u32>length - 1) & 63) + 1; // = length for 1..64, and never 0: o only moves forward
      continue;
    }
    const slot = slotAt(hi, lo, o);
    const keep = <u64>(63 - slot); // shifting left by 63-slot keeps bits 0..slot
    const vector = load<u64>(node + NODE_VECTOR_AT);
    if ((vector >> <u64>slot) & 1) {
      const child = load<u32>(node + NODE_BASE1_AT) + <u32>popcnt(vector << keep) - 1;
      node = nodes + <usize>child * NODE_SIZE;
      o += TRIE_STRIDE;
      continue;
    }
    const leafvec = load<u64>(node + NODE_LEAFVEC_AT);
    const leaf = base0 + <u32>popcnt(leafvec << keep) - 1;
    return load<u32>(leaves + (<usize>leaf << 2));
  }
  return 0;
}
