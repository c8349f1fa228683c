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
import { ActiveSet, ByteBudget, ClassStore } from './bitmap.js';
import type { Box, PrefixSet } from './box.js';

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

  private grow(): void {
    const cap = this.c0.length * 2;
    const g = (a: Int32Array, fill = 0) => {
      const b = new Int32Array(cap).fill(fill);
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

  forEachBox(n: number, fn: (id: number) => void): void {
    for (let k = this.head[n]!; k >= 0; k = this.next[k]!) fn(this.box[k]!);
  }
}

export interface TriePlan {
  /** 0, or TRIE_DIRECT_BITS with `direct` holding one entry per value of the first bits. */
  directBits: number;
  direct: Uint32Array | null;
  /** Node bit vectors as u32 halves: [lo, hi] of node i at 2i, 2i+1. */
  vector: number[];
  leafvec: number[];
  base1: number[];
  base0: number[];
  leaves: number[];
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
  const add = (g: number) => {
    for (const id of members[g]!) active.add(id);
  };
  const remove = (g: number) => {
    for (const id of members[g]!) active.remove(id);
  };
  const visit = (n: number, depth: number, parentCls: number): void => {
    t.cls[n] = parentCls;
    const own = t.head[n]! >= 0;
    if (own || depth === 0) {
      t.forEachBox(n, add);
      t.cls[n] = classes.intern(active);
    }
    if (t.hasChildren(n) && depth % TRIE_STRIDE === 0) multibit++;
    if (t.c0[n]) visit(t.c0[n]!, depth + 1, t.cls[n]!);
    if (t.c1[n]) visit(t.c1[n]!, depth + 1, t.cls[n]!);
    if (own) t.forEachBox(n, remove);
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
 * Returns the run as a left-aligned pattern ([hi32, lo32] of the u64) and its end.
 */
function skipChain(t: BinaryTrie, b: number): { pattern: number[]; length: number; end: number } | null {
  const pattern = [0, 0];
  let n = b;
  let length = 0;
  while (length < 64) {
    const c0 = t.c0[n]!;
    const c1 = t.c1[n]!;
    if ((c0 === 0) === (c1 === 0)) break; // none or both: not a run
    if (c1) pattern[length >>> 5]! |= 1 << (31 - (length & 31));
    length++;
    n = c0 || c1;
    if (t.head[n]! >= 0) break;
  }
  return length >= SKIP_MIN_BITS ? { pattern, length, end: n } : null;
}

/** Multibit nodes for the subtries at `roots` (node i = roots[i]), breadth first. */
function flattenFrom(t: BinaryTrie, roots: number[], head: Pick<TriePlan, 'directBits' | 'direct'>, budget: ByteBudget): TriePlan {
  const plan: TriePlan = { ...head, vector: [], leafvec: [], base1: [], base0: [], leaves: [] };
  const queue: number[] = [...roots];
  // Slot emission state of the node being built.
  let vec = [0, 0];
  let leafvec = [0, 0];
  let last = -1;
  let base0 = 0;
  const children: number[] = [];
  const setBit64 = (v: number[], slot: number) => {
    v[slot >>> 5]! |= 1 << (slot & 31);
  };
  const leaf = (slot: number, cls: number) => {
    if (cls !== last || plan.leaves.length === base0) {
      setBit64(leafvec, slot);
      plan.leaves.push(cls);
      last = cls;
    }
  };
  // Slots of a node, in order: descend the binary trie TRIE_STRIDE levels; a missing
  // child makes the whole run of slots below it one leaf (leaf pushing).
  const collect = (n: number, k: number, v: number): void => {
    if (k === TRIE_STRIDE) {
      if (t.hasChildren(n)) {
        setBit64(vec, v);
        children.push(n);
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
    const skip = skipChain(t, queue[q]!);
    if (skip) {
      plan.vector.push(skip.pattern[1]! >>> 0, skip.pattern[0]! >>> 0);
      plan.leafvec.push(skip.length, 0);
      plan.base1.push(queue.length);
      plan.base0.push((NODE_SKIP_FLAG | plan.leaves.length) >>> 0);
      plan.leaves.push(t.cls[queue[q]!]!);
      queue.push(skip.end);
      budget.spend(28, 'prefix trie');
      continue;
    }
    vec = [0, 0];
    leafvec = [0, 0];
    last = -1;
    base0 = plan.leaves.length;
    children.length = 0;
    collect(queue[q]!, 0, 0);
    plan.vector.push(vec[0]! >>> 0, vec[1]! >>> 0);
    plan.leafvec.push(leafvec[0]! >>> 0, leafvec[1]! >>> 0);
    plan.base0.push(base0);
    plan.base1.push(queue.length);
    queue.push(...children);
    budget.spend(24 + (plan.leaves.length - base0) * 4, 'prefix trie');
  }
  return plan;
}

/** `get` returns a box's prefixes, or null for "any address, also none". */
export function buildAddressDim(boxes: Box[], get: (b: Box) => PrefixSet | null, words: number, budget: ByteBudget): AddressDimPlan {
  const trie4 = new BinaryTrie();
  const trie6 = new BinaryTrie();
  const absent = new ActiveSet(words);
  // Boxes holding the same prefix list (one address set named by many rules: PeerCache
  // in ./box.ts) are inserted once, as one member list: the trie's links grow with
  // the distinct lists' prefixes, not with prefixes × the rules that share them.
  const members: number[][] = [];
  const groupOf = new Map<PrefixSet | null, number[]>();
  boxes.forEach((b, i) => {
    const set = get(b);
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
        for (const p of set.v4) trie4.addBox(trie4.node(p.words, p.len), g);
        for (const p of set.v6) trie6.addBox(trie6.node(p.words, p.len), g);
      }
    }
    list.push(i);
  });
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
