/**
 * PortIntervalIndex builder: cuts a small integer domain (ports + "absent",
 * protocols, ICMP type/code) into elementary intervals at every rule edge, and
 * gives each the class of the boxes covering it (see assembly/ports.ts).
 */
import type { Interval } from '../types.js';
import { ActiveSet, ByteBudget, ClassStore } from './bitmap.js';
import type { Box } from './box.js';

export interface IntervalDimPlan {
  kind: 'interval';
  classes: ClassStore;
  /** Ascending lower bounds; bounds[0] = 0. */
  bounds: number[];
  classOf: number[];
  /** Number of values of the domain (max + 1). */
  domain: number;
  /** Serialize as a direct u16 table (one load) rather than bounds + binary search. */
  direct: boolean;
}

/**
 * Direct tables cost 2 bytes per domain value (128 KiB for ports) and save a binary
 * search; small domains (protocols, ICMP) always take them, ports once the search
 * would take more than a few steps.
 */
export const DIRECT_MIN_INTERVALS = 16;
export const DIRECT_ALWAYS_DOMAIN = 1024;

/** Whether every box covers the whole domain [0, max] (then the dimension is not consulted). */
export function isWildcard(boxes: Box[], get: (b: Box) => Interval[], max: number): boolean {
  return boxes.every((b) => {
    const l = get(b);
    return l.length === 1 && l[0]!.lo === 0 && l[0]!.hi === max;
  });
}

/** `get` must return sorted, disjoint intervals within [0, max]. */
export function buildIntervalDim(boxes: Box[], get: (b: Box) => Interval[], max: number, words: number, budget: ByteBudget): IntervalDimPlan {
  const adds = new Map<number, number[]>();
  const removes = new Map<number, number[]>();
  const at = (m: Map<number, number[]>, k: number, v: number) => {
    const l = m.get(k);
    if (l) l.push(v);
    else m.set(k, [v]);
  };
  boxes.forEach((b, i) => {
    for (const iv of get(b)) {
      at(adds, iv.lo, i);
      if (iv.hi < max) at(removes, iv.hi + 1, i);
    }
  });
  const edges = [...new Set([0, ...adds.keys(), ...removes.keys()])].sort((a, b) => a - b);
  const classes = new ClassStore(words, budget);
  const active = new ActiveSet(words);
  const bounds: number[] = [];
  const classOf: number[] = [];
  for (const e of edges) {
    for (const i of removes.get(e) ?? []) active.remove(i);
    for (const i of adds.get(e) ?? []) active.add(i);
    const c = classes.intern(active);
    if (classOf.length && classOf.at(-1) === c) continue;
    bounds.push(e);
    classOf.push(c);
  }
  const domain = max + 1;
  const direct = classes.count <= 0xffff && (domain <= DIRECT_ALWAYS_DOMAIN || bounds.length >= DIRECT_MIN_INTERVALS);
  budget.spend(direct ? domain * 2 : bounds.length * 8, 'port-interval index');
  return { kind: 'interval', classes, bounds, classOf, domain, direct };
}
