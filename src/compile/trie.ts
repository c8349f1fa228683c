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
import type { Box, Prefix, PrefixSet } from './box.js';

interface BinNode {
  c0: BinNode | null;
  c1: BinNode | null;
  ids: number[];
  cls: number;
}

const newNode = (): BinNode => ({ c0: null, c1: null, ids: [], cls: -1 });

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

/** The address as 32-bit words, most significant first (bit d of the prefix = word d>>5). */
function words(p: Prefix, bits: number): number[] {
  if (bits === 32) return [Number(p.addr)];
  return [96n, 64n, 32n, 0n].map((s) => Number((p.addr >> s) & 0xffffffffn));
}

function insert(root: BinNode, p: Prefix, bits: number, id: number): void {
  const w = words(p, bits);
  let n = root;
  for (let d = 0; d < p.len; d++) {
    if ((w[d >>> 5]! >>> (31 - (d & 31))) & 1) n = n.c1 ??= newNode();
    else n = n.c0 ??= newNode();
  }
  n.ids.push(id);
}

/**
 * Gives every node the class of the boxes covering it (its prefixes' boxes plus its
 * ancestors'), walking the trie with one ActiveSet, and returns how many multibit
 * nodes a plain flattening would make.
 */
function assignClasses(root: BinNode, classes: ClassStore, active: ActiveSet): number {
  let multibit = 0;
  const visit = (n: BinNode, depth: number, parentCls: number): void => {
    n.cls = parentCls;
    if (n.ids.length || depth === 0) {
      for (const id of n.ids) active.add(id);
      n.cls = classes.intern(active);
    }
    if ((n.c0 || n.c1) && depth % TRIE_STRIDE === 0) multibit++;
    if (n.c0) visit(n.c0, depth + 1, n.cls);
    if (n.c1) visit(n.c1, depth + 1, n.cls);
    for (const id of n.ids) active.remove(id);
  };
  visit(root, 0, -1);
  return multibit;
}

/** Tries with more multibit nodes than this get a direct-pointing first level. */
export const DIRECT_MIN_NODES = 256;

/**
 * Direct pointing (as in poptrie): one entry per value of the first `bits` address
 * bits, either a leaf class or the binary node where the multibit walk continues.
 */
function directLevel(root: BinNode, bits: number): { direct: Uint32Array; roots: BinNode[] } {
  const direct = new Uint32Array(1 << bits);
  const roots: BinNode[] = [];
  const fill = (n: BinNode, depth: number, prefix: number): void => {
    if (depth === bits) {
      if (n.c0 || n.c1) {
        direct[prefix] = roots.length;
        roots.push(n);
      } else direct[prefix] = (TRIE_LEAF_FLAG | n.cls) >>> 0;
      return;
    }
    for (const bit of [0, 1]) {
      const child = bit ? n.c1 : n.c0;
      const sub = prefix * 2 + bit;
      if (child) fill(child, depth + 1, sub);
      else {
        const span = bits - depth - 1;
        direct.fill((TRIE_LEAF_FLAG | n.cls) >>> 0, sub << span, (sub + 1) << span);
      }
    }
  };
  fill(root, 0, 0);
  return { direct, roots };
}

function flatten(root: BinNode, multibitNodes: number, budget: ByteBudget): TriePlan {
  if (multibitNodes <= DIRECT_MIN_NODES) return flattenFrom([root], { directBits: 0, direct: null }, budget);
  const { direct, roots } = directLevel(root, TRIE_DIRECT_BITS);
  budget.spend(direct.length * 4, 'prefix trie direct level');
  return flattenFrom(roots, { directBits: TRIE_DIRECT_BITS, direct }, budget);
}

/** Skip nodes replace runs of at least this many single-child bits (two strides). */
export const SKIP_MIN_BITS = 2 * TRIE_STRIDE;

/**
 * Path compression: from `b`, follow nodes that have one child and no prefix of
 * their own (every address leaving the run has b's class) for up to 64 bits.
 * Returns the run as a left-aligned pattern ([hi32, lo32] of the u64) and its end.
 */
function skipChain(b: BinNode): { pattern: number[]; length: number; end: BinNode } | null {
  const pattern = [0, 0];
  let n = b;
  let length = 0;
  while (length < 64) {
    const only = n.c0 && !n.c1 ? n.c0 : n.c1 && !n.c0 ? n.c1 : null;
    if (!only) break;
    if (only === n.c1) pattern[length >>> 5]! |= 1 << (31 - (length & 31));
    length++;
    n = only;
    if (n.ids.length) break;
  }
  return length >= SKIP_MIN_BITS ? { pattern, length, end: n } : null;
}

/** Multibit nodes for the subtries at `roots` (node i = roots[i]), breadth first. */
function flattenFrom(roots: BinNode[], head: Pick<TriePlan, 'directBits' | 'direct'>, budget: ByteBudget): TriePlan {
  const plan: TriePlan = { ...head, vector: [], leafvec: [], base1: [], base0: [], leaves: [] };
  const queue: BinNode[] = [...roots];
  // Slot emission state of the node being built.
  let vec = [0, 0];
  let leafvec = [0, 0];
  let last = -1;
  let base0 = 0;
  const children: BinNode[] = [];
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
  const collect = (n: BinNode, k: number, v: number): void => {
    if (k === TRIE_STRIDE) {
      if (n.c0 || n.c1) {
        setBit64(vec, v);
        children.push(n);
      } else leaf(v, n.cls);
      return;
    }
    const c0 = n.c0;
    const c1 = n.c1;
    if (c0) collect(c0, k + 1, v * 2);
    else leaf((v * 2) << (TRIE_STRIDE - k - 1), n.cls);
    if (c1) collect(c1, k + 1, v * 2 + 1);
    else leaf((v * 2 + 1) << (TRIE_STRIDE - k - 1), n.cls);
  };
  for (let q = 0; q < queue.length; q++) {
    const skip = skipChain(queue[q]!);
    if (skip) {
      plan.vector.push(skip.pattern[1]! >>> 0, skip.pattern[0]! >>> 0);
      plan.leafvec.push(skip.length, 0);
      plan.base1.push(queue.length);
      plan.base0.push((NODE_SKIP_FLAG | plan.leaves.length) >>> 0);
      plan.leaves.push(queue[q]!.cls);
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
  const root4 = newNode();
  const root6 = newNode();
  const absent = new ActiveSet(words);
  boxes.forEach((b, i) => {
    const set = get(b);
    if (set === null) {
      root4.ids.push(i);
      root6.ids.push(i);
      absent.add(i);
      return;
    }
    for (const p of set.v4) insert(root4, p, 32, i);
    for (const p of set.v6) insert(root6, p, 128, i);
  });
  const classes = new ClassStore(words, budget);
  const absentClass = classes.intern(absent);
  const walk = new ActiveSet(words);
  const nodes4 = assignClasses(root4, classes, walk);
  const nodes6 = assignClasses(root6, classes, walk);
  return { kind: 'address', classes, trie4: flatten(root4, nodes4, budget), trie6: flatten(root6, nodes6, budget), absent: absentClass };
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
