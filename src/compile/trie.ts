/**
 * PrefixTrie builder. Prefixes of all boxes go into a binary trie per family; each
 * trie node's class is the set of boxes whose prefix covers it (its own prefixes
 * plus its ancestors'). The binary trie is then flattened into a poptrie
 * (assembly/trie.ts): multibit nodes of TRIE_STRIDE bits, leaf-pushed (every slot
 * that has no deeper prefix below it is a leaf carrying the class of the deepest
 * prefix on its path), children and leaves stored contiguously and found by
 * popcount, runs of equal leaves stored once.
 */
import { NODE_SKIP_FLAG, TRIE_DIRECT_BITS, TRIE_LEAF_FLAG, TRIE_STRIDE } from '../../assembly/layout.js';
import { ActiveSet, ByteBudget, ClassStore, Column } from './bitmap.js';
import type { Box, Prefix, PrefixSet } from './box.js';

/** Where the high and low u32 halves of a u64 sit in a Uint32Array view (platform byte order). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = 1 - HI;

/**
 * The binary trie of one family, in typed arrays (a 100,000-prefix blocklist makes
 * millions of nodes; objects would spend the compile in the garbage collector).
 * Node 0 is the root; child index 0 means "no child" (the root is nobody's child).
 * The boxes whose prefix ends at a node form a linked list (head/next/box).
 */
class BinaryTrie {
  c0 = new Int32Array(1024);
  c1 = new Int32Array(1024);
  cls = new Int32Array(1024);
  head = new Int32Array(1024).fill(-1);
  size = 1;
  private next = new Int32Array(256);
  private box = new Int32Array(256);
  private ids = 0;

  private grow(atLeast = 0): void {
    const cap = Math.max(this.c0.length * 2, atLeast);
    const g = (a: Int32Array, fill = 0) => {
      const b = new Int32Array(cap);
      if (fill !== 0) b.fill(fill, a.length);
      b.set(a);
      return b;
    };
    this.c0 = g(this.c0);
    this.c1 = g(this.c1);
    this.cls = g(this.cls);
    this.head = g(this.head, -1);
  }

  child(n: number, bit: number): number {
    return bit ? this.c1[n]! : this.c0[n]!;
  }

  hasChildren(n: number): boolean {
    return this.c0[n] !== 0 || this.c1[n] !== 0;
  }

  /** The node for the first `len` bits of `words` (created as needed). */
  node(words: number[], len: number): number {
    let n = 0;
    for (let d = 0; d < len; d++) {
      const bit = (words[d >>> 5]! >>> (31 - (d & 31))) & 1;
      let c = bit ? this.c1[n]! : this.c0[n]!;
      if (c === 0) {
        if (this.size === this.c0.length) this.grow();
        c = this.size++;
        if (bit) this.c1[n] = c;
        else this.c0[n] = c;
      }
      n = c;
    }
    return n;
  }

  addBox(n: number, id: number): void {
    if (this.ids === this.next.length) {
      const g = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.next = g(this.next);
      this.box = g(this.box);
    }
    this.box[this.ids] = id;
    this.next[this.ids] = this.head[n]!;
    this.head[n] = this.ids++;
  }

  /** The entry after entry k in its node's list (-1: none); entries start at head[n]. */
  nextOf(k: number): number {
    return this.next[k]!;
  }

  /** The id entry k holds. */
  boxOf(k: number): number {
    return this.box[k]!;
  }

  /**
   * Inserts IPv4 prefixes (words[0], len) with their ids, in address order: each one
   * walks down from where its path leaves the previous one's instead of from the
   * root, and the nodes are made in about the order the later walks visit them (a
   * 50,000-prefix trie has ~800,000 nodes: walks in insertion order missed the cache).
   * The trie is the same in any order; only node numbers differ, and nothing reads them.
   */
  insertSorted4(prefixes: { words: number[]; len: number }[], ids: number[]): void {
    const count = prefixes.length;
    // Sort keys as u64 (address << 32 | entry), written and read through a u32 view and
    // sorted natively (no comparator, no BigInt made).
    const keys = new BigUint64Array(count);
    const halves = new Uint32Array(keys.buffer);
    for (let e = 0; e < count; e++) {
      halves[2 * e + HI] = prefixes[e]!.words[0]!;
      halves[2 * e + LO] = e;
    }
    keys.sort();
    // The nodes the walks will make (each prefix's bits below where it leaves the
    // previous one), allocated at once rather than by doubling.
    let nodes = this.size;
    for (let k = 0, prevWord = 0, prevLen = 0; k < count; k++) {
      const word = halves[2 * k + HI]!;
      const len = prefixes[halves[2 * k + LO]!]!.len;
      nodes += Math.max(0, len - Math.min(Math.clz32(word ^ prevWord), prevLen, len));
      prevWord = word;
      prevLen = len;
    }
    if (nodes > this.c0.length) this.grow(nodes);
    const path = new Int32Array(33); // path[d]: the node at depth d of the previous prefix
    let prevWord = 0;
    let prevLen = 0;
    for (let k = 0; k < count; k++) {
      const word = halves[2 * k + HI]!;
      const e = halves[2 * k + LO]!;
      const len = prefixes[e]!.len;
      let d = Math.min(Math.clz32(word ^ prevWord), prevLen, len);
      let n = path[d]!;
      for (; d < len; d++) {
        const bit = (word >>> (31 - d)) & 1;
        let c = bit ? this.c1[n]! : this.c0[n]!;
        if (c === 0) {
          if (this.size === this.c0.length) this.grow();
          c = this.size++;
          if (bit) this.c1[n] = c;
          else this.c0[n] = c;
        }
        n = c;
        path[d + 1] = n;
      }
      this.addBox(n, ids[e]!);
      prevWord = word;
      prevLen = len;
    }
  }
}

export interface TriePlan {
  /** 0, or TRIE_DIRECT_BITS with `direct` holding one entry per value of the first bits. */
  directBits: number;
  direct: Uint32Array | null;
  /** Node bit vectors as u32 halves: [lo, hi] of node i at 2i, 2i+1. */
  vector: Uint32Array;
  leafvec: Uint32Array;
  base1: Uint32Array;
  base0: Uint32Array;
  leaves: Uint32Array;
}

export interface AddressDimPlan {
  kind: 'address';
  classes: ClassStore;
  trie4: TriePlan;
  trie6: TriePlan;
  absent: number;
}

/**
 * Gives every node the class of the boxes covering it (its prefixes' boxes plus its
 * ancestors'), walking the trie with one ActiveSet, and returns how many multibit
 * nodes a plain flattening would make.
 */
function assignClasses(t: BinaryTrie, classes: ClassStore, active: ActiveSet, members: number[][]): number {
  let multibit = 0;
  const visit = (n: number, depth: number, parentCls: number): void => {
    t.cls[n] = parentCls;
    const own = t.head[n]! >= 0;
    if (own || depth === 0) {
      for (let k = t.head[n]!; k >= 0; k = t.nextOf(k)) {
        const list = members[t.boxOf(k)]!;
        for (let i = 0; i < list.length; i++) active.add(list[i]!);
      }
      t.cls[n] = classes.intern(active);
    }
    if (t.hasChildren(n) && depth % TRIE_STRIDE === 0) multibit++;
    if (t.c0[n]) visit(t.c0[n]!, depth + 1, t.cls[n]!);
    if (t.c1[n]) visit(t.c1[n]!, depth + 1, t.cls[n]!);
    if (own) {
      for (let k = t.head[n]!; k >= 0; k = t.nextOf(k)) {
        const list = members[t.boxOf(k)]!;
        for (let i = 0; i < list.length; i++) active.remove(list[i]!);
      }
    }
  };
  visit(0, 0, -1);
  return multibit;
}

/** Tries with more multibit nodes than this get a direct-pointing first level. */
export const DIRECT_MIN_NODES = 128;

/**
 * Direct pointing (as in poptrie): one entry per value of the first `bits` address
 * bits, either a leaf class or the binary node where the multibit walk continues.
 */
function directLevel(t: BinaryTrie, bits: number): { direct: Uint32Array; roots: number[] } {
  const direct = new Uint32Array(1 << bits);
  const roots: number[] = [];
  const fill = (n: number, depth: number, prefix: number): void => {
    if (depth === bits) {
      if (t.hasChildren(n)) {
        direct[prefix] = roots.length;
        roots.push(n);
      } else direct[prefix] = (TRIE_LEAF_FLAG | t.cls[n]!) >>> 0;
      return;
    }
    for (const bit of [0, 1]) {
      const child = t.child(n, bit);
      const sub = prefix * 2 + bit;
      if (child) fill(child, depth + 1, sub);
      else {
        const span = bits - depth - 1;
        direct.fill((TRIE_LEAF_FLAG | t.cls[n]!) >>> 0, sub << span, (sub + 1) << span);
      }
    }
  };
  fill(0, 0, 0);
  return { direct, roots };
}

function flatten(t: BinaryTrie, multibitNodes: number, budget: ByteBudget): TriePlan {
  if (multibitNodes <= DIRECT_MIN_NODES) return flattenFrom(t, [0], { directBits: 0, direct: null }, budget);
  const { direct, roots } = directLevel(t, TRIE_DIRECT_BITS);
  budget.spend(direct.length * 4, 'prefix trie direct level');
  return flattenFrom(t, roots, { directBits: TRIE_DIRECT_BITS, direct }, budget);
}

/** Skip nodes replace runs of at least this many single-child bits (two strides). */
export const SKIP_MIN_BITS = 2 * TRIE_STRIDE;

/**
 * Path compression: from `b`, follow nodes that have one child and no prefix of
 * their own (every address leaving the run has b's class) for up to 64 bits.
 * Returns the run's length (0: not a run of at least SKIP_MIN_BITS) and leaves the
 * run as a left-aligned pattern (hi32, lo32 of the u64) and its end node in `skip`.
 */
const skip = { hi: 0, lo: 0, end: 0 };
function skipChain(t: BinaryTrie, b: number): number {
  let hi = 0;
  let lo = 0;
  let n = b;
  let length = 0;
  while (length < 64) {
    const c0 = t.c0[n]!;
    const c1 = t.c1[n]!;
    if ((c0 === 0) === (c1 === 0)) break; // none or both: not a run
    if (c1) {
      if (length < 32) hi |= 1 << (31 - length);
      else lo |= 1 << (63 - length);
    }
    length++;
    n = c0 || c1;
    if (t.head[n]! >= 0) break;
  }
  if (length < SKIP_MIN_BITS) return 0;
  skip.hi = hi;
  skip.lo = lo;
  skip.end = n;
  return length;
}

/**
 * Multibit nodes for the subtries at `roots` (node i = roots[i]), breadth first.
 * Written into typed columns: a 100,000-prefix trie has ~100,000 nodes and ~200,000
 * leaves, and number[] columns of u32 values were mostly boxed doubles.
 */
function flattenFrom(t: BinaryTrie, roots: number[], head: Pick<TriePlan, 'directBits' | 'direct'>, budget: ByteBudget): TriePlan {
  const vector = new Column();
  const leafvec = new Column();
  const base1 = new Column();
  const base0s = new Column();
  const leaves = new Column();
  const queue = new Column(roots.length * 2);
  for (const r of roots) queue.push(r);
  // Slot emission state of the node being built: its vector and leaf vector halves.
  let vecLo = 0;
  let vecHi = 0;
  let leafLo = 0;
  let leafHi = 0;
  let last = -1;
  let base0 = 0;
  const leaf = (slot: number, cls: number) => {
    if (cls !== last || leaves.length === base0) {
      if (slot < 32) leafLo |= 1 << slot;
      else leafHi |= 1 << (slot - 32);
      leaves.push(cls);
      last = cls;
    }
  };
  // Slots of a node, in order: descend the binary trie TRIE_STRIDE levels; a missing
  // child makes the whole run of slots below it one leaf (leaf pushing).
  const collect = (n: number, k: number, v: number): void => {
    if (k === TRIE_STRIDE) {
      if (t.hasChildren(n)) {
        if (v < 32) vecLo |= 1 << v;
        else vecHi |= 1 << (v - 32);
        queue.push(n); // children are queued in slot order, right after the node's turn
      } else leaf(v, t.cls[n]!);
      return;
    }
    const c0 = t.c0[n]!;
    const c1 = t.c1[n]!;
    if (c0) collect(c0, k + 1, v * 2);
    else leaf((v * 2) << (TRIE_STRIDE - k - 1), t.cls[n]!);
    if (c1) collect(c1, k + 1, v * 2 + 1);
    else leaf((v * 2 + 1) << (TRIE_STRIDE - k - 1), t.cls[n]!);
  };
  for (let q = 0; q < queue.length; q++) {
    const node = queue.data[q]!;
    const length = skipChain(t, node);
    if (length) {
      vector.push(skip.lo >>> 0);
      vector.push(skip.hi >>> 0);
      leafvec.push(length);
      leafvec.push(0);
      base1.push(queue.length);
      base0s.push((NODE_SKIP_FLAG | leaves.length) >>> 0);
      leaves.push(t.cls[node]!);
      queue.push(skip.end);
      budget.spend(28, 'prefix trie');
      continue;
    }
    vecLo = vecHi = leafLo = leafHi = 0;
    last = -1;
    base0 = leaves.length;
    // The node's children go to the queue's end as collect finds them: base1 is where they start.
    base1.push(queue.length);
    collect(node, 0, 0);
    vector.push(vecLo >>> 0);
    vector.push(vecHi >>> 0);
    leafvec.push(leafLo >>> 0);
    leafvec.push(leafHi >>> 0);
    base0s.push(base0);
    budget.spend(24 + (leaves.length - base0) * 4, 'prefix trie');
  }
  return { ...head, vector: vector.view(), leafvec: leafvec.view(), base1: base1.view(), base0: base0s.view(), leaves: leaves.view() };
}

/** `get` returns a box's prefixes, or null for "any address, also none". */
export function buildAddressDim(boxes: Box[], get: (b: Box) => PrefixSet | null, words: number, budget: ByteBudget): AddressDimPlan {
  const trie4 = new BinaryTrie();
  const trie6 = new BinaryTrie();
  const absent = new ActiveSet(words);
  // Boxes holding the same prefix list (one address set named by many rules: PeerCache,
  // or the same prefix written by many rules: ValueCache, in ./box.ts) are inserted
  // once, as one member list: the trie's links grow with the distinct lists' prefixes,
  // not with prefixes × the rules that share them.
  const members: number[][] = [];
  const groupOf = new Map<PrefixSet | null, number[]>();
  const v4: Prefix[] = [];
  const v4Ids: number[] = [];
  for (let i = 0; i < boxes.length; i++) {
    const set = get(boxes[i]!);
    if (set === null) absent.add(i);
    let list = groupOf.get(set);
    if (list === undefined) {
      list = [];
      groupOf.set(set, list);
      const g = members.length;
      members.push(list);
      if (set === null) {
        trie4.addBox(0, g);
        trie6.addBox(0, g);
      } else {
        for (let k = 0; k < set.v4.length; k++) {
          v4.push(set.v4[k]!);
          v4Ids.push(g);
        }
        for (let k = 0; k < set.v6.length; k++) trie6.addBox(trie6.node(set.v6[k]!.words, set.v6[k]!.len), g);
      }
    }
    list.push(i);
  }
  trie4.insertSorted4(v4, v4Ids);
  const classes = new ClassStore(words, budget);
  const absentClass = classes.intern(absent);
  const walk = new ActiveSet(words);
  const nodes4 = assignClasses(trie4, classes, walk, members);
  const nodes6 = assignClasses(trie6, classes, walk, members);
  return { kind: 'address', classes, trie4: flatten(trie4, nodes4, budget), trie6: flatten(trie6, nodes6, budget), absent: absentClass };
}

/** Whether every box covers every address of both families (and none). */
export function isAddressWildcard(boxes: Box[], get: (b: Box) => PrefixSet | null, absentPossible: boolean): boolean {
  return boxes.every((b) => {
    const s = get(b);
    if (s === null) return true;
    if (absentPossible) return false;
    return s.v4.some((p) => p.len === 0) && s.v6.some((p) => p.len === 0);
  });
}
