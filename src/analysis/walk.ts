/**
 * First match over boxes: which rule of a chain decides each part of a region
 * (docs/DESIGN.md §10). The one loop lint and diff are made of.
 */
import { SgfilterError } from '../errors.js';
import type { Rule } from '../types.js';
import { hulled, hullOf, hullsMeet, intersectBoxes, subtractBox, boxesMeet, ruleRegion, DIMS, type Box, type HulledBox } from './space.js';

/**
 * Most work units one lintPolicy or diffPolicies call may spend (a unit: one test of a
 * box against a box, one box made, or one rule tested for a witness's verdict).
 * Large policies, where the limit matters, run at about 4 million units a second on
 * one core (bench/analysis.bench.ts; a 100,000-rule group spent 2^27 in 32 s), so
 * 2^25 stops within about 10 seconds (the 100,000-rule group: 12 s, parsing
 * included). Real-sized policies spend far less: Tencent's 5 groups × 100 rules per
 * direction under 500,000 units, 1,000 rules in one group under 2.5 million; 5,000
 * rules in one group need 28 million to lint and 55 million to diff (raise maxWork)
 * (docs/DESIGN.md §10 "Limits").
 */
export const MAX_ANALYSIS_WORK = 1 << 25;
/** Most boxes one region may be cut into while it is walked (one rule's decided flows, one change). */
export const MAX_REGION_BOXES = 1 << 14;

/** Why a walk stopped: the whole budget spent, or one region cut into too many boxes. */
export class AnalysisLimit extends Error {
  constructor(readonly kind: 'work' | 'region', readonly limit: number) {
    super(kind === 'work' ? `more than ${limit.toLocaleString('en-US')} units of analysis work` : `a region of more than ${limit.toLocaleString('en-US')} boxes`);
  }
}

/** The work a call may still do; spend() throws AnalysisLimit past it. */
export class Budget {
  used = 0;
  constructor(readonly limit: number, readonly maxRegion: number) {}
  spend(n: number): void {
    this.used += n;
    if (this.used > this.limit) throw new AnalysisLimit('work', this.limit);
  }
}

/** The library error for a limit hit where a partial answer would be wrong (diff). */
export function limitError(e: AnalysisLimit, what: string): SgfilterError {
  const option = e.kind === 'work' ? 'maxWork' : 'maxRegionBoxes';
  return new SgfilterError('ANALYSIS_TOO_LARGE', `${what}: the analysis needs ${e.message} (raise ${option}, or lint the policy for what makes it fragment: overlapping ranges and many-valued fields cut regions into many boxes)`);
}

/** One box of one rule of a chain, in evaluation order. */
export interface ChainBox extends HulledBox {
  /** The rule's position in its chain. */
  at: number;
  rule: Rule;
}

/** A chain's rules as boxes, in evaluation order, and where each rule's boxes start. */
export interface ChainBoxes {
  rules: readonly Rule[];
  boxes: ChainBox[];
  /** first[i]: index in `boxes` of rule i's first box; first[rules.length] = boxes.length. */
  first: number[];
  /** Each rule's region (hulled), as ruleRegion gives it. */
  regions: HulledBox[][];
}

/**
 * The boxes of a chain; rule regions are made once per rule object (`cache`), shared
 * by chains of one config (`pairFamilies`: familiesPaired(config); one cache is only
 * ever used with one value). Linear in the rules (a rule is a few boxes per service),
 * so not spent from a budget.
 */
export function chainBoxes(rules: readonly Rule[], cache: Map<Rule, HulledBox[]>, pairFamilies = true): ChainBoxes {
  const boxes: ChainBox[] = [];
  const first: number[] = [];
  const regions: HulledBox[][] = [];
  rules.forEach((rule, at) => {
    first.push(boxes.length);
    let region = cache.get(rule);
    if (!region) {
      region = ruleRegion(rule, pairFamilies).map(hulled);
      cache.set(rule, region);
    }
    regions.push(region);
    for (const h of region) boxes.push({ box: h.box, hull: h.hull, cost: h.cost, at, rule });
  });
  first.push(boxes.length);
  return { rules, boxes, first, regions };
}

/** Called with each piece of a region and the chain box that decides it; false stops the walk. */
export type Decided = (by: ChainBox, piece: Box) => boolean | void;

/**
 * Walks `region` down `boxes[from..to)` in order: each piece of it that a box meets
 * first is handed to `decided` with that box, and leaves the region. Returns what no
 * box met (the default drop's part), or null when `decided` stopped the walk.
 *
 * Exact, and bounded: every box-against-box test and every box made is spent from
 * `budget`, and a region cut into more than budget.maxRegion boxes throws
 * AnalysisLimit. A chain box whose hull misses the region's hull costs one test for
 * the whole region, so boxes far from the region (most, in real policies) are cheap.
 * Rules in `skip` are walked past as if they were not in the chain.
 */
export function firstMatch(region: readonly HulledBox[], boxes: readonly ChainBox[], from: number, to: number, budget: Budget, decided?: Decided, skip?: ReadonlySet<Rule>): HulledBox[] | null {
  let rest = region as HulledBox[];
  if (rest.length === 0) return rest;
  const hull = hullOf(rest, new Float64Array(DIMS * 2));
  let tests = 0;
  for (let k = from; k < to; k++) {
    const e = boxes[k]!;
    if (++tests >= 4096) {
      budget.spend(tests);
      tests = 0;
    }
    if (!hullsMeet(hull, e.hull) || skip?.has(e.rule)) continue;
    let next: HulledBox[] | null = null;
    for (let i = 0; i < rest.length; i++) {
      const f = rest[i]!;
      tests++;
      if (!hullsMeet(f.hull, e.hull)) {
        next?.push(f);
        continue;
      }
      // The exact tests walk the boxes' interval lists: long lists cost more.
      const cost = f.cost + e.cost - 1;
      tests += cost;
      if (!boxesMeet(f.box, e.box)) {
        next?.push(f);
        continue;
      }
      next ??= rest.slice(0, i);
      if (decided && decided(e, intersectBoxes(f.box, e.box)!) === false) {
        budget.spend(tests);
        return null;
      }
      const pieces: Box[] = [];
      subtractBox(f.box, e.box, pieces);
      budget.spend((pieces.length + 1) * cost);
      for (const p of pieces) next.push(hulled(p));
    }
    if (next === null) continue;
    rest = next;
    if (rest.length === 0) break;
    if (rest.length > budget.maxRegion) throw new AnalysisLimit('region', budget.maxRegion);
    hullOf(rest, hull);
  }
  budget.spend(tests);
  return rest;
}
