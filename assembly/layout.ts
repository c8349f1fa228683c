/*
 * sgfilter compiled-table layout — the ONE source of truth for every offset.
 *
 * This file is deliberately written in the common subset of AssemblyScript and
 * TypeScript (plain `export const NAME = <int expression>`), so the WASM reader
 * (assembly/*.ts) and the TypeScript writer (src/compile/serialize.ts) import the
 * very same numbers. Change a number here and both sides move together.
 *
 * All integers are little-endian. Every offset stored *inside* a table is relative
 * to the table's first byte, so a table is position independent (it can be copied
 * anywhere in linear memory, or saved as a snapshot). Sections start 8-byte aligned.
 *
 *  TABLE (one per published policy)
 *  +0  ┌──────────────────────────────┐
 *      │ magic  u32  "SGF1"           │
 *  +4  │ abi    u32  TABLE_ABI        │
 *  +8  │ bytes  u32  total size       │
 *  +12 │ nCls   u32  classifiers      │
 *  +16 │ dir    u32  → u32[nCls] offsets of CLASSIFIER records
 *  +20 │ chains u32 → u32[1 + nChains]: nChains, then offsets of CHAIN records
 *      │                              │
 *      └──────────────────────────────┘
 *
 *  PARTS  +0 count u32 (1..MAX_PARTS), then u32[count] offsets of the part CLASSIFIER records
 *
 *  CHAIN (what an (instance, direction) is classified with, in priority order)
 *  +0 count u32, then u32[count] classifier indexes. The first classifier with a
 *  matching box decides; none matching is the default drop. A policy with few
 *  distinct group orders has one merged classifier per order (chains of one); with
 *  many, one classifier per group and direction, chained in each instance's order,
 *  so a group bound to a thousand instances is compiled once.
 *
 *  CLASSIFIER (a merged group list, or one group, for one direction)
 *  +0   nBoxes   u32   compiled rules ("boxes"), in first-match order
 *  +4   words    u32   u64 words per rule bitmap   = ceil(nBoxes / 64)
 *  +8   parts    u32 → PARTS, or 0. A big classifier is cut into parts by which address
 *                      fields its boxes leave (nearly) open (src/compile/partition.ts): each
 *                      PART is a CLASSIFIER of its own (dims, bitmaps, parts = 0) whose
 *                      ruleIds hold, instead of rule ids, the RANKS of its boxes in this
 *                      classifier, ascending. A lookup takes the first box of every part
 *                      and keeps the lowest rank; ruleIds/actions here give its rule.
 *                      With parts, dimMask = 0 and dense = 0 (this record has no dims).
 *  +12  dimMask  u32   bit d set ⇔ dimension d is consulted (someone is not a wildcard)
 *  +16  ruleIds  u32 → u32[nBoxes]  global rule id of each box (TypeScript maps it
 *                                   to {groupId, ruleIndex})
 *  +20  actions  u32 → u8[nBoxes]   1 accept, 0 drop
 *  +24  form     u32   how the class bitmaps are stored (CLS_FORM_*):
 *                      1 DENSE: small classifier, bitmaps stored whole (see DIM) and
 *                        scanned with SIMD; words is even (≤ DENSE_MAX_WORDS).
 *                      2 FLAT: words ≤ FLAT_MAX_WORDS: aggregated bit vectors whose
 *                        SUPER and summaries share one 64-byte FLAT record per class.
 *                      0 AGGREGATED: aggregated bit vectors in three levels.
 *  +32  DIM[0] … DIM[DIM_COUNT-1], DIM_SIZE bytes each
 *
 *  DIM (one per match dimension; see DIM_REMOTE … DIM_ICMP_CODE below)
 *  +0   kind     u32   DIM_KIND_ADDRESS | DIM_KIND_INTERVAL | DIM_KIND_DIRECT
 *  +4   classes  u32   number of equivalence classes
 *  +8   packed   u32 → u64[]  the NON-ZERO words of every class bitmap, class by class
 *                      (bit b of bitmap word w ⇔ box 64w+b matches this class)
 *  +12  supers   u32 → SUPER[classes]
 *  +28  sums     u32 → SUMMARY[]  the non-zero summary words of every class, class by class
 *  Aggregated bit vectors in three levels (zero words are never stored; ClassBench
 *  acl1 bitmaps are ~95% zero words, a 100K-prefix blocklist's ~99.9%):
 *    SUPER   +0 bits u64: bit s ⇔ summary word s is non-zero (so words ≤ 64 × 64)
 *            +8 first u32: index of the class's first SUMMARY (16-byte units from the table's start)
 *    SUMMARY +0 bits u64: bit j ⇔ bitmap word 64s+j is non-zero
 *            +8 rank u32: index of its first packed word (8-byte units from the table's start)
 *  Summary s of class c: SUMMARY[first + popcnt(super & bits below s)]
 *  Word w of class c:    packed[rank + popcnt(summary & bits below w & 63)]
 *  Dense classifiers: packed → u64[classes][words], every word stored; no supers, no sums.
 *  Flat classifiers (≤ FLAT_MAX_WORDS words, so ≤ 4 summary words): supers → FLAT[classes],
 *  64-byte aligned (a record is one cache line when the table is), packed as above, sums 0:
 *    FLAT    +0 bits u64: bit s ⇔ summary word s is non-zero (s < ceil(words / 64))
 *            +8 u64[4]: summary word s at +8 + 8s (bit j ⇔ bitmap word 64s+j is non-zero;
 *               0 when bit s is clear)
 *            +40 u32[4]: rank of summary s at +40 + 4s: index of its first packed word
 *               (8-byte units from the table's start; 0 when bit s is clear)
 *            +56 zero
 *  Word w of class c (flat): packed[rank[s] + popcnt(summary[s] & bits below w & 63)], s = w >> 6.
 *  Flat saves the lookup one dependent load per dimension (the summary is in the line
 *  the SUPER bits came in): ClassBench 10K sets 9-19% faster.
 *  ADDRESS:  +16 trie4 → TRIE   +20 trie6 → TRIE   +24 absentClass (flow has no address)
 *  INTERVAL: +16 count          +20 bounds → u32[count] (ascending lower bounds, [0]=0)
 *            +24 classOf → u32[count]  class of [bounds[i], bounds[i+1]-1]
 *  DIRECT:   +16 count (domain size) +20 → u16[count] class of each value (one load;
 *            used when the interval index would need a long binary search)
 *
 *  TRIE (a poptrie: multibit trie, stride TRIE_STRIDE, leaf-pushed, popcount-indexed)
 *  +0 nodes → NODE[nodeCount]   +4 leaves → u32[leafCount] (class ids)
 *  +8 nodeCount   +12 leafCount
 *  +16 directBits: 0 → node 0 is the root at bit 0;
 *      TRIE_DIRECT_BITS → direct pointing: the first directBits address bits index
 *  +20 direct → u32[1 << directBits]: TRIE_LEAF_FLAG | class, or the index of the
 *      node that continues at bit directBits (big tries only: it saves levels)
 *
 *  NODE (NODE_SIZE bytes)
 *  +0  vector  u64  bit i ⇔ slot i is an internal node
 *  +8  leafvec u64  bit i ⇔ slot i is a leaf starting a new run of equal leaves
 *  +16 base1   u32  index of the first child node (children are contiguous)
 *  +20 base0   u32  index of the first leaf of this node (leaves are contiguous)
 *  child(slot) = base1 + popcnt(vector  & bits[0..slot]) - 1
 *  leaf(slot)  = base0 + popcnt(leafvec & bits[0..slot]) - 1
 *
 *  SKIP NODE (path compression; same size, marked by NODE_SKIP_FLAG in base0)
 *  +0  pattern u64  the next `length` address bits, left-aligned
 *  +8  length  u64  1..64 bits skipped in one compare
 *  +16 base1   u32  the node that continues at bit o+length when the bits equal pattern
 *  +20 base0   u32  NODE_SKIP_FLAG | leaf index of the class of every other address
 *  (a long run of single-child trie nodes, e.g. below an IPv6 /64, costs one step)
 *
 *  Addresses enter the trie as a 128-bit big-endian number (hi:lo). IPv4 sits in
 *  the top 32 bits of hi. The slot at bit offset o is bits o..o+5 of that number.
 *  Children and skip targets have higher node indexes than their parent, and no
 *  node is entered past bit 32 (IPv4 trie) or TRIE_MAX_BITS (IPv6): a walk ends.
 *
 *  BATCH (the flow window; absolute addresses, written by TypeScript per call)
 *  +0 count  +4 meta → u32[n]  +8 remote → u32[4n]  +12 local → u32[4n]
 *  +16 proto → u32[n]  +20 port → u32[n]  +24 sport → u32[n]  +28 icmp → u32[n]
 *  +32 slotMap → u32[slots*2] chain index for (instance slot, direction)
 *  +36 outActions → u8[N]  +40 outRules → i32[N] (global rule id, -1 = default drop):
 *      answers for the whole batch of N flows, in the caller's order
 *  +44 order → u32[n]: flow i of this window is the caller's flow order[i] (0: no order,
 *      flow i is the caller's flow first + i)   +48 first
 *  meta: bit0 outbound, bit1 remote is IPv6, bit2 local present, bit3 local is IPv6,
 *        bits 8..31 instance slot. Address words: word0 most significant (IPv4: word0).
 *  port/sport: 0..65535, or PORT_ABSENT. icmp: type | code << 16, each 0..255 or ICMP_ABSENT.
 */

export const TABLE_MAGIC = 0x31464753; // "SGF1"
export const TABLE_ABI = 11;
export const TABLE_MAGIC_AT = 0;
export const TABLE_ABI_AT = 4;
export const TABLE_BYTES_AT = 8;
export const TABLE_CLASSIFIERS_AT = 12;
export const TABLE_DIRECTORY_AT = 16;
export const TABLE_CHAINS_AT = 20;
export const TABLE_HEADER_SIZE = 24;

export const CLS_BOXES_AT = 0;
export const CLS_WORDS_AT = 4;
export const CLS_PARTS_AT = 8;
export const CLS_DIMMASK_AT = 12;
/** Parts of one partitioned classifier, at most (4 address-wildness keys; room to spare). */
export const MAX_PARTS = 16;
export const CLS_RULEIDS_AT = 16;
export const CLS_ACTIONS_AT = 20;
/** The classifier's form (CLS_FORM_*); named for its first meaning, 1 = dense. */
export const CLS_DENSE_AT = 24;
export const CLS_FORM_AGGREGATED = 0;
export const CLS_FORM_DENSE = 1;
export const CLS_FORM_FLAT = 2;
export const CLS_DIMS_AT = 32;

export const DIM_REMOTE = 0;
export const DIM_LOCAL = 1;
export const DIM_PROTO = 2;
export const DIM_PORT = 3;
export const DIM_SPORT = 4;
export const DIM_ICMP_TYPE = 5;
export const DIM_ICMP_CODE = 6;
export const DIM_COUNT = 7;

export const DIM_KIND_ADDRESS = 1;
export const DIM_KIND_INTERVAL = 2;
export const DIM_KIND_DIRECT = 3;
export const DIM_KIND_AT = 0;
export const DIM_CLASSES_AT = 4;
export const DIM_BITMAPS_AT = 8;
export const DIM_SUPERS_AT = 12;
export const DIM_TRIE4_AT = 16;
export const DIM_TRIE6_AT = 20;
export const DIM_ABSENT_AT = 24;
export const DIM_COUNT_AT = 16;
export const DIM_BOUNDS_AT = 20;
export const DIM_CLASSOF_AT = 24;
export const DIM_DIRECT_AT = 20;
export const DIM_SUMS_AT = 28;
export const SUPER_SIZE = 16;
export const SUMMARY_SIZE = 16;
export const SUMMARY_RANK_AT = 8;
export const SUPER_FIRST_AT = 8;
export const FLAT_SIZE = 64;
export const FLAT_SUMMARIES_AT = 8;
export const FLAT_RANKS_AT = 40;
/** Summary words a FLAT record holds, so at most 4 × 64 bitmap words (16,384 boxes). */
export const FLAT_MAX_SUMMARIES = 4;
export const FLAT_MAX_WORDS = FLAT_MAX_SUMMARIES * 64;
/** Summary words per class fit one SUPER u64: at most 64 × 64 × 64 boxes per classifier. */
export const MAX_BOXES = 64 * 64 * 64;
export const DIM_SIZE = 32;
export const CLS_SIZE = CLS_DIMS_AT + DIM_COUNT * DIM_SIZE;

export const TRIE_NODES_AT = 0;
export const TRIE_LEAVES_AT = 4;
export const TRIE_NODECOUNT_AT = 8;
export const TRIE_LEAFCOUNT_AT = 12;
export const TRIE_DIRECTBITS_AT = 16;
export const TRIE_DIRECT_AT = 20;
export const TRIE_SIZE = 24;
export const TRIE_DIRECT_BITS = 16;
export const TRIE_LEAF_FLAG = 0x80000000;
export const TRIE_STRIDE = 6;
/** Longest address (IPv6): no trie node is entered past this bit offset. */
export const TRIE_MAX_BITS = 128;

export const NODE_VECTOR_AT = 0;
export const NODE_LEAFVEC_AT = 8;
export const NODE_BASE1_AT = 16;
export const NODE_BASE0_AT = 20;
export const NODE_SIZE = 24;
export const NODE_SKIP_FLAG = 0x80000000;

export const BATCH_COUNT_AT = 0;
export const BATCH_META_AT = 4;
export const BATCH_REMOTE_AT = 8;
export const BATCH_LOCAL_AT = 12;
export const BATCH_PROTO_AT = 16;
export const BATCH_PORT_AT = 20;
export const BATCH_SPORT_AT = 24;
export const BATCH_ICMP_AT = 28;
export const BATCH_SLOTMAP_AT = 32;
export const BATCH_OUT_ACTIONS_AT = 36;
export const BATCH_OUT_RULES_AT = 40;
export const BATCH_ORDER_AT = 44;
export const BATCH_FIRST_AT = 48;
export const BATCH_HEADER_SIZE = 56;

export const META_OUTBOUND = 1;
export const META_REMOTE_V6 = 2;
export const META_LOCAL_PRESENT = 4;
export const META_LOCAL_V6 = 8;
export const META_SLOT_SHIFT = 8;

export const PORT_ABSENT = 65536;
export const ICMP_ABSENT = 256;
export const ICMP_CODE_SHIFT = 16;
export const ICMP_FIELD_MASK = 0xffff;
