/**
 * diffPolicies: exactly which flows change verdict between two policies, per
 * instance and direction, as a short list of boxes (docs/DESIGN.md §10).
 *
 * A flow's verdict here is its action: a flow that moves from one accepting rule to
 * another is not a change (inserting a rule at the top would otherwise "change"
 * every flow below it); each box still names the rules that decide it before and
 * after.
 */
import type { Config, ConfigInput, Direction, FlowInput, Instance, Rule, SecurityGroup, TencentPolicyDocument, Verdict } from '../types.js';
import { parseConfig } from '../config/parse.js';
import { chainLength, DIRECTIONS, groupsById, mergedRules, orderKey } from './chains.js';
import { boxKey, DIM_REMOTE, familiesPaired, DIMS, hulled, intersectBoxes, joinBoxes, peerCoversFamily, WHOLE, type Box, type HulledBox } from './space.js';
import { AnalysisLimit, Budget, chainBoxes, firstMatch, limitError } from './walk.js';
import { boxText, witnessFlow, type BoxText } from './points.js';
import { ANALYSIS_DEFAULTS, ANALYSIS_READERS, type AnalysisOptions } from './options.js';
import { readKnownOptions } from '../options.js';

const hulledCost = (b: Box): number => hulled(b).cost;

/** diffPolicies' options: the analysis limits. */
export type DiffOptions = AnalysisOptions;

/** A box of flows whose verdict changes, for some instances and one direction. */
export interface VerdictChange {
  /** The instances whose flows these are (they have the same groups, in the same order, in each policy). */
  instances: string[];
  /**
   * True for flows that name no instance, when the two policies' default (first)
   * instances differ: old verdicts are the old default's, new ones the new default's
   * (`instances` is empty, and the witness names no instance).
   */
  unnamedInstance?: boolean;
  /** The flows' direction. */
  direction: Direction;
  /** The flows, field by field (a box: every combination of the values listed). */
  flows: BoxText;
  /** The verdict before: its action and the rule that decides it (groupId null: the default drop). */
  old: Verdict;
  /** The verdict after. */
  new: Verdict;
  /** `opened`: drop → accept; `closed`: accept → drop. */
  change: 'opened' | 'closed';
  /** Opened inbound, by a rule whose peer is every address of the flows' family (0.0.0.0/0, ::/0, any). */
  openToWorld: boolean;
  /** One flow of the box, as `sgfilter eval` reads it: the old policy gives it `old`, the new one `new`. */
  witness: FlowInput;
}

/** What diffPolicies found. */
export interface PolicyDiff {
  /** Every flow whose action changes is in exactly one box; by instance (new policy's order), direction, old rule. */
  changes: VerdictChange[];
  /** Boxes opened (drop → accept). */
  opened: number;
  /** Boxes closed (accept → drop). */
  closed: number;
  /** Some box is openToWorld (`sgfilter diff --fail-on-open`). */
  openToWorld: boolean;
  /** Instance ids only the new policy has (flows naming them were refused before); not diffed. */
  instancesAdded: string[];
  /** Instance ids only the old policy has (flows naming them are refused now); not diffed. */
  instancesRemoved: string[];
  /** The default instance (for flows that name none), when it changed; null when it is the same. */
  defaultInstance: {
    /** The old policy's first instance. */
    old: string | null;
    /** The new policy's first instance. */
    new: string | null;
  } | null;
  /** What the analysis did. */
  stats: {
    /** Work spent, in maxWork units. */
    work: number;
  };
}

/** One comparison: flows of these instances and this direction, old rules against new. */
interface Unit {
  instances: string[];
  unnamed: boolean;
  direction: Direction;
  /** Group orders: the rules are merged when the unit is compared (and spent from the budget then). */
  oldGroups: readonly string[];
  newGroups: readonly string[];
}

const DEFAULT_DROP: Verdict = { action: 'drop', groupId: null, ruleIndex: null };
const verdictOf = (r: Rule | null): Verdict => (r === null ? DEFAULT_DROP : { action: r.action, groupId: r.groupId, ruleIndex: r.ruleIndex });

/**
 * The flows whose verdict (accept or drop) differs between `before` and `after`, per
 * instance and direction, computed exactly over the rule boxes (never by sampling):
 * every changed flow is in exactly one returned box, and no other flow is. Each box
 * names the deciding rules before and after and carries a witness flow. Instances
 * only one policy has are listed (instancesAdded, instancesRemoved), not diffed.
 * Takes configs, Tencent policy documents or validated Configs; CONFIG_INVALID for an
 * invalid one, INVALID_ARGUMENT for a bad option, ANALYSIS_TOO_LARGE past the work
 * limits (a partial diff would hide changes, so none is returned).
 */
export function diffPolicies(before: ConfigInput | Config | TencentPolicyDocument, after: ConfigInput | Config | TencentPolicyDocument, options: DiffOptions = {}): PolicyDiff {
  const o = readKnownOptions(options, ANALYSIS_READERS, 'diffPolicies');
  const a = parseConfig(before);
  const b = parseConfig(after);
  const budget = new Budget((o.get('maxWork') as number | undefined) ?? ANALYSIS_DEFAULTS.maxWork, (o.get('maxRegionBoxes') as number | undefined) ?? ANALYSIS_DEFAULTS.maxRegionBoxes);
  const units = unitsOf(a, b);
  // Two policies without instances: the implicit instance's witnesses name none, as its flows do.
  const differ = new Differ(budget, a.implicitInstance && b.implicitInstance, a, b);
  const changes: VerdictChange[] = [];
  try {
    for (const u of units) for (const c of differ.compare(u)) changes.push(c);
  } catch (e) {
    if (e instanceof AnalysisLimit) throw limitError(e, 'diffPolicies');
    throw e;
  }
  const oldIds = new Set(a.instances.map((i) => i.id));
  const newIds = new Set(b.instances.map((i) => i.id));
  const oldDefault = a.instances[0]?.id ?? null;
  const newDefault = b.instances[0]?.id ?? null;
  return {
    changes,
    opened: changes.filter((c) => c.change === 'opened').length,
    closed: changes.filter((c) => c.change === 'closed').length,
    openToWorld: changes.some((c) => c.openToWorld),
    instancesAdded: b.instances.filter((i) => !oldIds.has(i.id)).map((i) => i.id),
    instancesRemoved: a.instances.filter((i) => !newIds.has(i.id)).map((i) => i.id),
    defaultInstance: oldDefault === newDefault ? null : { old: oldDefault, new: newDefault },
    stats: { work: budget.used },
  };
}

/** What to compare: instances both policies have, grouped by (old order, new order); and the default instance's flows when it moved. */
function unitsOf(a: Config, b: Config): Unit[] {
  const oldById = new Map<string, Instance>(a.instances.map((i) => [i.id, i]));
  const units: Unit[] = [];
  const seen = new Map<string, Unit[]>();
  for (const inst of b.instances) {
    const was = oldById.get(inst.id);
    if (!was) continue;
    const key = `${orderKey(was.securityGroups)}#${orderKey(inst.securityGroups)}`;
    const same = seen.get(key);
    if (same) {
      for (const u of same) u.instances.push(inst.id);
      continue;
    }
    const pair = DIRECTIONS.map((direction): Unit => ({
      instances: [inst.id], unnamed: false, direction,
      oldGroups: was.securityGroups, newGroups: inst.securityGroups,
    }));
    seen.set(key, pair);
    units.push(...pair);
  }
  const oldDefault = a.instances[0];
  const newDefault = b.instances[0];
  if (oldDefault && newDefault && oldDefault.id !== newDefault.id) {
    for (const direction of DIRECTIONS) {
      units.push({
        instances: [], unnamed: true, direction,
        oldGroups: oldDefault.securityGroups, newGroups: newDefault.securityGroups,
      });
    }
  }
  return units;
}

/** Pieces of changed flows, grouped by (old decider, new decider, family) before they are joined. */
interface Bucket {
  old: Rule | null;
  new: Rule | null;
  v6: boolean;
  boxes: Box[];
}

class Differ {
  readonly #budget: Budget;
  readonly #oldRegions = new Map<Rule, HulledBox[]>();
  readonly #newRegions = new Map<Rule, HulledBox[]>();
  /** Each side's rule keys (#key): a rule object both configs hold reads per its own config's semantics. */
  readonly #oldKeys = new Map<Rule, string>();
  readonly #newKeys = new Map<Rule, string>();
  readonly #implicit: boolean;
  /** familiesPaired of the old and the new config. */
  readonly #oldPair: boolean;
  readonly #newPair: boolean;

  readonly #aGroups: ReadonlyMap<string, SecurityGroup>;
  readonly #bGroups: ReadonlyMap<string, SecurityGroup>;

  constructor(budget: Budget, implicit: boolean, a: Config, b: Config) {
    this.#budget = budget;
    this.#oldPair = familiesPaired(a);
    this.#newPair = familiesPaired(b);
    const aGroups = groupsById(a);
    const bGroups = groupsById(b);
    this.#implicit = implicit;
    this.#aGroups = aGroups;
    this.#bGroups = bGroups;
  }

  /** A rule's match set and action as text: equal texts, equal rules for every flow. */
  #key(rule: Rule, side: 'old' | 'new'): string {
    const keys = side === 'old' ? this.#oldKeys : this.#newKeys;
    let k = keys.get(rule);
    if (k === undefined) {
      const regions = side === 'old' ? chainBoxes([rule], this.#oldRegions, this.#oldPair) : chainBoxes([rule], this.#newRegions, this.#newPair);
      k = `${rule.action}${regions.regions[0]!.map((h) => boxKey(h.box)).join('/')}`;
      keys.set(rule, k);
    }
    return k;
  }

  compare(u: Unit): VerdictChange[] {
    // Merging the two chains and making their boxes is linear in their rules: spent too.
    this.#budget.spend(chainLength(u.oldGroups, this.#aGroups, u.direction) + chainLength(u.newGroups, this.#bGroups, u.direction));
    const old = mergedRules(u.oldGroups, this.#aGroups, u.direction);
    const now = mergedRules(u.newGroups, this.#bGroups, u.direction);
    const oc = chainBoxes(old, this.#oldRegions, this.#oldPair);
    const nc = chainBoxes(now, this.#newRegions, this.#newPair);
    // A common head decides the same flows the same way in both: skip it (and past it, never walk it again).
    let k = 0;
    while (k < old.length && k < now.length && ((old[k] === now[k] && this.#oldPair === this.#newPair) || this.#key(old[k]!, 'old') === this.#key(now[k]!, 'new'))) k++;
    if (k === old.length && k === now.length) return [];
    const buckets = new Map<string, Bucket>();
    const record = (old: Rule | null, now: Rule | null, box: Box): void => {
      for (const v6 of [false, true]) {
        const part = intersectBoxes(box, familyBox(v6));
        if (!part) continue;
        const key = `${old ? `${old.groupId.length}:${old.groupId}#${old.ruleIndex}` : '-'}|${now ? `${now.groupId.length}:${now.groupId}#${now.ruleIndex}` : '-'}|${v6}`;
        const b = buckets.get(key);
        if (b) b.boxes.push(part);
        else buckets.set(key, { old, new: now, v6, boxes: [part] });
      }
    };
    const budget = this.#budget;
    // Flows an old rule decides: what decides them now, where the action differs.
    for (let i = k; i < old.length; i++) {
      const rule = old[i]!;
      const decided = firstMatch(oc.regions[i]!, oc.boxes, 0, oc.first[i]!, budget)!;
      if (decided.length === 0) continue;
      const rest = firstMatch(decided, nc.boxes, nc.first[k]!, nc.boxes.length, budget, (by, piece) => {
        if (by.rule.action !== rule.action) record(rule, by.rule, piece);
      })!;
      if (rule.action === 'accept') for (const h of rest) record(rule, null, h.box);
    }
    // Flows the old default dropped that a new rule accepts.
    for (let j = k; j < now.length; j++) {
      const rule = now[j]!;
      if (rule.action !== 'accept') continue;
      const decided = firstMatch(nc.regions[j]!, nc.boxes, 0, nc.first[j]!, budget)!;
      if (decided.length === 0) continue;
      const rest = firstMatch(decided, oc.boxes, oc.first[k]!, oc.boxes.length, budget)!;
      for (const h of rest) record(null, rule, h.box);
    }
    const out: VerdictChange[] = [];
    for (const b of buckets.values()) {
      for (const box of joinAll(b.boxes, budget)) {
        const opened = (b.old?.action ?? 'drop') === 'drop';
        out.push({
          instances: [...u.instances],
          ...(u.unnamed ? { unnamedInstance: true } : {}),
          direction: u.direction,
          flows: boxText(box),
          old: verdictOf(b.old),
          new: verdictOf(b.new),
          change: opened ? 'opened' : 'closed',
          openToWorld: opened && u.direction === 'inbound' && b.new !== null && peerCoversFamily(b.new, b.v6),
          witness: witnessFlow(box, u.direction, u.unnamed || this.#implicit ? null : u.instances[0]!),
        });
      }
    }
    return out;
  }
}

const V4_BOX: Box = [WHOLE.ALL_PROTO, WHOLE.ALL_PORT, WHOLE.ALL_PORT, WHOLE.ALL_ICMP, WHOLE.ALL_ICMP, WHOLE.V4_LINE, WHOLE.ALL_LOCALS];
const V6_BOX: Box = [WHOLE.ALL_PROTO, WHOLE.ALL_PORT, WHOLE.ALL_PORT, WHOLE.ALL_ICMP, WHOLE.ALL_ICMP, WHOLE.V6_LINE, WHOLE.ALL_LOCALS];
const familyBox = (v6: boolean): Box => (v6 ? V6_BOX : V4_BOX);

/**
 * Disjoint boxes → fewer disjoint boxes with the same union: two boxes that differ in
 * one dimension only are one box (the union of that dimension). Repeated, each
 * dimension in turn, until nothing joins; each join removes a box, so it ends.
 */
export function joinAll(boxes: Box[], budget: Budget): Box[] {
  let list = boxes;
  for (let changed = true; changed && list.length > 1; ) {
    changed = false;
    for (let d = 0; d < DIMS; d++) {
      const by = new Map<string, Box>();
      for (const box of list) {
        // A key is as long as the box's interval lists: spent by their length.
        budget.spend(hulledCost(box));
        const key = boxKey(box, d);
        const had = by.get(key);
        by.set(key, had ? joinBoxes(had, box)! : box);
      }
      if (by.size < list.length) {
        changed = true;
        list = [...by.values()];
      }
    }
  }
  // Remote first, so a list of boxes reads in address order.
  return list.sort((x, y) => (x[DIM_REMOTE][0]! < y[DIM_REMOTE][0]! ? -1 : x[DIM_REMOTE][0]! > y[DIM_REMOTE][0]! ? 1 : 0));
}

