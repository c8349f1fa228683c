/**
 * PrefixTrie builder. Prefixes of all boxes go into a binary trie per family; each
 * trie node's class is the set of boxes whose prefix covers it (its own prefixes
 * plus its ancestors'). The binary trie is then flattened into a poptrie
 * (assembly/trie.ts): multibit nodes of TRIE_STRIDE bits, leaf-pushed (every slot
 * that has no deeper prefix below it is a leaf carrying the class of the deepest
 * prefix on its path), children and leaves stored contiguously and found by
 * popcount, runs of equal leaves stored once.
 */
import { TRIE_DIRECT_BITS, TRIE_LEAF_FLAG, TRIE_STRIDE } from '../../assembly/layout.js';
import { BitmapInterner, ByteBudget, setBit } from './bitmap.js';
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
  vector: bigint[];
  leafvec: bigint[];
  base1: number[];
  base0: number[];
  leaves: number[];
}

export interface AddressDimPlan {
  kind: 'address';
  classes: BitmapInterner;
  trie4: TriePlan;
  trie6: TriePlan;
  absent: number;
}

function insert(root: BinNode, p: Prefix, bits: number, id: number): void {
  let n = root;
  for (let d = 0; d < p.len; d++) {
    const bit = (p.addr >> BigInt(bits - 1 - d)) & 1n;
    if (bit) n = n.c1 ??= newNode();
    else n = n.c0 ??= newNode();
  }
  n.ids.push(id);
}

/** Gives every node the class of the boxes covering it. */
function assignClasses(root: BinNode, classes: BitmapInterner, words: number): void {
  const stack: [BinNode, Uint32Array][] = [[root, new Uint32Array(words * 2)]];
  while (stack.length) {
    const [n, parentBits] = stack.pop()!;
    let bits = parentBits;
    if (n.ids.length || n === root) {
      bits = parentBits.slice();
      for (const id of n.ids) setBit(bits, id);
      n.cls = classes.intern(bits);
    }
    for (const c of [n.c0, n.c1]) {
      if (!c) continue;
      if (!c.ids.length) c.cls = n.cls;
      stack.push([c, bits]);
    }
  }
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

function flatten(root: BinNode, budget: ByteBudget): TriePlan {
  const plain = flattenFrom([root], { directBits: 0, direct: null }, budget);
  if (plain.vector.length <= DIRECT_MIN_NODES) return plain;
  const { direct, roots } = directLevel(root, TRIE_DIRECT_BITS);
  budget.spend(direct.length * 4, 'prefix trie direct level');
  return flattenFrom(roots, { directBits: TRIE_DIRECT_BITS, direct }, budget);
}

/** Multibit nodes for the subtries at `roots` (node i = roots[i]), breadth first. */
function flattenFrom(roots: BinNode[], head: Pick<TriePlan, 'directBits' | 'direct'>, budget: ByteBudget): TriePlan {
  const plan: TriePlan = {
    ...head,
    vector: roots.map(() => 0n),
    leafvec: roots.map(() => 0n),
    base1: roots.map(() => 0),
    base0: roots.map(() => 0),
    leaves: [],
  };
  const queue: BinNode[] = [...roots];
  const slots = 1 << TRIE_STRIDE;
  for (let q = 0; q < queue.length; q++) {
    const b = queue[q]!;
    let vector = 0n;
    let leafvec = 0n;
    const children: BinNode[] = [];
    const base0 = plan.leaves.length;
    let last = -1;
    for (let v = 0; v < slots; v++) {
      let n = b;
      let complete = true;
      for (let k = TRIE_STRIDE - 1; k >= 0; k--) {
        const c = (v >> k) & 1 ? n.c1 : n.c0;
        if (!c) {
          complete = false;
          break;
        }
        n = c;
      }
      if (complete && (n.c0 || n.c1)) {
        vector |= 1n << BigInt(v);
        children.push(n);
      } else if (n.cls !== last || plan.leaves.length === base0) {
        leafvec |= 1n << BigInt(v);
        plan.leaves.push(n.cls);
        last = n.cls;
      }
    }
    plan.vector[q] = vector;
    plan.leafvec[q] = leafvec;
    plan.base0[q] = base0;
    plan.base1[q] = queue.length;
    for (const c of children) {
      queue.push(c);
      plan.vector.push(0n);
      plan.leafvec.push(0n);
      plan.base1.push(0);
      plan.base0.push(0);
    }
    budget.spend(24 + (plan.leaves.length - base0) * 4, 'prefix trie');
  }
  return plan;
}

/** `get` returns a box's prefixes, or null for "any address, also none". */
export function buildAddressDim(boxes: Box[], get: (b: Box) => PrefixSet | null, words: number, budget: ByteBudget): AddressDimPlan {
  const root4 = newNode();
  const root6 = newNode();
  const absentBits = new Uint32Array(words * 2);
  boxes.forEach((b, i) => {
    const set = get(b);
    if (set === null) {
      root4.ids.push(i);
      root6.ids.push(i);
      setBit(absentBits, i);
      return;
    }
    for (const p of set.v4) insert(root4, p, 32, i);
    for (const p of set.v6) insert(root6, p, 128, i);
  });
  const classes = new BitmapInterner(words, budget);
  assignClasses(root4, classes, words);
  assignClasses(root6, classes, words);
  const absent = classes.intern(absentBits);
  return { kind: 'address', classes, trie4: flatten(root4, budget), trie6: flatten(root6, budget), absent };
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
