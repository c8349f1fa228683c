/**
 * lintPolicy: what in a policy does nothing, does it twice, opens too much, or will
 * not fit the cloud (docs/DESIGN.md §10). Exact, over the rule boxes of every group
 * order and direction, never by sampling; each finding about flows carries a witness
 * flow that `sgfilter eval` classifies as the finding says.
 */
import type { Config, ConfigInput, Direction, FlowInput, Interval, Rule, SecurityGroup, TencentPolicyDocument, Verdict } from '../types.js';
import { parseConfig } from '../config/parse.js';
import { listOf, quote } from '../config/plain.js';
import { ruleNeverMatches } from '../config/rule.js';
import { formatPorts } from '../config/ports.js';
import { mismatch } from '../reference.js';
import { parseFlow } from '../flow.js';
import { TCP } from '../config/presets.js';
import { chainsOf, DIRECTIONS, groupsById, mergedRules, type Chain } from './chains.js';
import {
  boxKey, canonicalSet, DIM_PORT, familiesPaired, intersectBoxes, ruleRegion, peerCoversFamily, unionSets, WHOLE, type Box, type HulledBox, type NumSet,
} from './space.js';
import { AnalysisLimit, Budget, chainBoxes, firstMatch, type ChainBox, type ChainBoxes } from './walk.js';
import { witnessFlow } from './points.js';
import { ANALYSIS_DEFAULTS, ANALYSIS_READERS, oneOf, portList, type AnalysisOptions } from './options.js';
import { readKnownOptions } from '../options.js';

/** How much a finding matters; `--fail-on` compares against it. */
export type LintSeverity = 'error' | 'warning' | 'info';
/** Severities from the most to the least serious. */
export const LINT_SEVERITIES: readonly LintSeverity[] = ['error', 'warning', 'info'];

/** What a finding says. */
export type LintKind = 'duplicate' | 'rule-limit' | 'group-limit' | 'never-matches' | 'shadowed' | 'exposure' | 'not-analyzed' | 'redundant' | 'unbound-group';

/** Every kind, its severity and what it means (docs and `sgfilter lint --help` read this table). */
export const LINT_KINDS: Readonly<Record<LintKind, {
  /** The kind's severity (every finding of the kind has it). */
  severity: LintSeverity;
  /** What a finding of the kind means, in a sentence. */
  meaning: string;
}>> = {
  'duplicate': { severity: 'error', meaning: 'a rule matches exactly the flows an earlier rule of its group and direction matches, with the same action: the cloud refuses it (Tencent DuplicatePolicy, AWS InvalidPermission.Duplicate), and it never decides anything' },
  'rule-limit': { severity: 'error', meaning: 'a group has more rules in one direction than the profile\'s cloud allows' },
  'group-limit': { severity: 'error', meaning: 'an instance is bound to more groups than the profile\'s cloud allows' },
  'never-matches': { severity: 'warning', meaning: 'no flow has every field the rule asks for (ICMP with an IPv6-only peer, ICMPv6 with an IPv4-only one, an empty peer)' },
  'shadowed': { severity: 'warning', meaning: 'every flow the rule matches is decided by earlier rules (named): the rule never decides anything' },
  'exposure': { severity: 'warning', meaning: 'an inbound accept rule whose peer is all of IPv4 or IPv6 (0.0.0.0/0, ::/0, any) decides TCP flows to administration or database ports' },
  'not-analyzed': { severity: 'warning', meaning: 'the analysis limits (maxWork, maxRegionBoxes) stopped before this rule (or these rules) could be judged' },
  'redundant': { severity: 'info', meaning: 'the rule decides some flows, but removing it alone changes no verdict: later rules (named) or the default drop decide them the same' },
  'unbound-group': { severity: 'info', meaning: 'no instance is bound to the group: its rules decide nothing' },
};

/** A rule's place in a config. */
export interface RulePosition {
  /** The rule's security group. */
  groupId: string;
  /** The rule list it is in. */
  direction: Direction;
  /** Its index in that group's list for that direction, 0-based (as a verdict's ruleIndex). */
  ruleIndex: number;
}

/** One thing lint found. */
export interface LintFinding {
  /** What it found (LINT_KINDS says what each kind means). */
  kind: LintKind;
  /** How much it matters: LINT_KINDS' severity for the kind. */
  severity: LintSeverity;
  /** A sentence saying where and what (user text quoted). */
  message: string;
  /** The rule it is about (absent for group and instance findings). */
  rule?: RulePosition;
  /** The group it is about (rule findings: the rule's group). */
  groupId?: string;
  /** The instances whose policy shows it (rule findings depend on the group order; empty for findings about a group's own rules). */
  instances: string[];
  /**
   * shadowed: the earlier rules that decide the rule's flows; redundant: the later
   * rules that would decide them instead, null for the default drop; duplicate: the
   * earlier twin.
   */
  decidedBy?: (RulePosition | null)[];
  /**
   * A flow that shows it, as `sgfilter eval` reads it (with `instance` when one
   * applies). shadowed: a flow the rule matches that an earlier rule decides;
   * redundant: a flow the rule decides that, without it, gets the same action;
   * duplicate: a flow both twins match; exposure: a TCP flow to an exposed port that
   * the rule accepts; never-matches: a flow with the rule's own fields that it does
   * not match. Absent for counts (limits, unbound groups) and when no flow can show it.
   */
  witness?: FlowInput;
  /** What classifying the witness gives (src/reference.ts; the engine agrees). */
  verdict?: Verdict;
  /** redundant: what the witness gets with the rule removed. */
  withoutRule?: Verdict;
  /** exposure: the exposed ports. */
  ports?: Interval[];
  /** Limits: how many there are (rules, groups); not-analyzed: how many rules were not judged. */
  count?: number;
  /** Limits: how many the profile allows; not-analyzed: the maxWork that stopped it. */
  limit?: number;
}

/** A cloud's limits (lint `profile`). */
export interface CloudLimits {
  /** Most rules per group and direction (null: no limit). */
  rulesPerDirection: number | null;
  /** The rule limit counts IPv4 and IPv6 rules apart (AWS). */
  perFamily: boolean;
  /** Most groups per instance (null: no limit). */
  groupsPerInstance: number | null;
  /** The cloud's name, for messages. */
  cloud: string;
}

/**
 * The clouds' default quotas. Tencent Cloud: 100 inbound and 100 outbound policies per
 * security group, 5 groups per instance. AWS (Amazon VPC quotas): 60 inbound and 60
 * outbound rules per security group, enforced apart for IPv4 and IPv6 rules, 5 groups
 * per network interface. Both can be raised on request: maxRulesPerDirection and
 * maxGroupsPerInstance say what an account has.
 */
export const LINT_PROFILES: ReadonlyMap<string, CloudLimits> = new Map([
  ['tencent', { rulesPerDirection: 100, perFamily: false, groupsPerInstance: 5, cloud: 'Tencent Cloud' }],
  ['aws', { rulesPerDirection: 60, perFamily: true, groupsPerInstance: 5, cloud: 'AWS' }],
  ['none', { rulesPerDirection: null, perFamily: false, groupsPerInstance: null, cloud: 'no cloud' }],
]);

/** Administration and database ports (SSH, RDP, MySQL, PostgreSQL, Redis, MongoDB): the default adminPorts. */
export const DEFAULT_ADMIN_PORTS: readonly number[] = [22, 3389, 3306, 5432, 6379, 27017];

/** lintPolicy's options; each is checked (INVALID_ARGUMENT otherwise). */
export interface LintOptions extends AnalysisOptions {
  /** Whose limits to check: `tencent` (default), `aws`, `none`. */
  profile?: 'tencent' | 'aws' | 'none';
  /** Ports that must not be open to the world: a port list ("22,8000-8100"; a leading "+" adds to DEFAULT_ADMIN_PORTS) or a list of ports. */
  adminPorts?: string | readonly number[];
  /** Overrides the profile's rules per group and direction (a whole number ≥ 1). */
  maxRulesPerDirection?: number;
  /** Overrides the profile's groups per instance (a whole number ≥ 1). */
  maxGroupsPerInstance?: number;
}

/** What lintPolicy found. */
export interface LintReport {
  /** Findings, by group (config order), direction, rule and kind. */
  findings: LintFinding[];
  /** False when the analysis limits stopped some rules from being judged (see the not-analyzed findings). */
  complete: boolean;
  /** The profile used (`tencent`, `aws`, `none`). */
  profile: string;
  /** The profile's limits after maxRulesPerDirection and maxGroupsPerInstance. */
  limits: CloudLimits;
  /** The administration ports checked for exposure. */
  adminPorts: Interval[];
  /** What the analysis did. */
  stats: {
    /** Chains analysed: distinct group orders × directions (instances with the same groups in the same order share one). */
    chains: number;
    /** Rules judged in them (a rule in several chains counts in each). */
    rules: number;
    /** Work spent, in maxWork units. */
    work: number;
  };
}

const LINT_READERS = {
  ...ANALYSIS_READERS,
  profile: oneOf([...LINT_PROFILES.keys()]),
  adminPorts: portList,
  maxRulesPerDirection: ANALYSIS_READERS.maxWork!,
  maxGroupsPerInstance: ANALYSIS_READERS.maxWork!,
};

const verdictOf = (r: Rule): Verdict => ({ action: r.action, groupId: r.groupId, ruleIndex: r.ruleIndex });
const DEFAULT_DROP: Verdict = { action: 'drop', groupId: null, ruleIndex: null };
const position = (r: Rule): RulePosition => ({ groupId: r.groupId, direction: r.direction, ruleIndex: r.ruleIndex });
const where = (r: Rule): string => `group ${quote(r.groupId)} ${r.direction} rule ${r.ruleIndex}`;
const whereShort = (r: Rule, of: Rule): string => (r.groupId === of.groupId ? `rule ${r.ruleIndex}` : where(r));

/**
 * Lints a policy (a config, a Tencent policy document, or a validated Config): per
 * group, rules that can never match, duplicates and the cloud's rule limits; per
 * instance, its group limit; per group order and direction, exactly (over the rule
 * boxes), rules that are shadowed, redundant, or open administration ports to the
 * world. Never throws for what it finds; throws CONFIG_INVALID for an invalid config
 * and INVALID_ARGUMENT for a bad option. The work is bounded (maxWork,
 * maxRegionBoxes): past a limit the rules not judged are reported (not-analyzed) and
 * `complete` is false.
 */
export function lintPolicy(config: ConfigInput | Config | TencentPolicyDocument, options: LintOptions = {}): LintReport {
  const o = readKnownOptions(options, LINT_READERS, 'lintPolicy');
  const cfg = parseConfig(config);
  const profile = (o.get('profile') as string | undefined) ?? 'tencent';
  const base = LINT_PROFILES.get(profile)!;
  const limits: CloudLimits = {
    ...base,
    rulesPerDirection: (o.get('maxRulesPerDirection') as number | undefined) ?? base.rulesPerDirection,
    groupsPerInstance: (o.get('maxGroupsPerInstance') as number | undefined) ?? base.groupsPerInstance,
  };
  const admin = o.get('adminPorts') as { add: boolean; ports: Interval[] } | undefined;
  const adminPorts: NumSet = canonicalSet(
    [...(admin === undefined || admin.add ? DEFAULT_ADMIN_PORTS.map((p): Interval => ({ lo: p, hi: p })) : []), ...(admin?.ports ?? [])].map((i): [number, number] => [i.lo, i.hi]),
    1,
  );
  const budget = new Budget((o.get('maxWork') as number | undefined) ?? ANALYSIS_DEFAULTS.maxWork, (o.get('maxRegionBoxes') as number | undefined) ?? ANALYSIS_DEFAULTS.maxRegionBoxes);
  const lint = new Linter(cfg, limits, adminPorts, budget);
  lint.groups();
  lint.instances();
  const chains = chainsOf(cfg);
  let judged = 0;
  let stopped: { chain: number; rule: number } | null = null;
  for (let c = 0; c < chains.length && !stopped; c++) {
    const chain = chains[c]!;
    try {
      judged += lint.chain(chain);
    } catch (e) {
      if (!(e instanceof AnalysisLimit)) throw e;
      stopped = { chain: c, rule: lint.current };
      judged += lint.current;
    }
  }
  if (stopped) {
    let left = chains[stopped.chain]!.length - stopped.rule;
    for (let c = stopped.chain + 1; c < chains.length; c++) left += chains[c]!.length;
    const at = chains[stopped.chain]!.rules[stopped.rule];
    lint.add({
      kind: 'not-analyzed', instances: [],
      message: `the analysis stopped after ${budget.used.toLocaleString('en-US')} units of work (maxWork ${budget.limit.toLocaleString('en-US')})${at ? ` at ${where(at)}` : ''}: ${left.toLocaleString('en-US')} rule${left === 1 ? ' was' : 's were'} not judged for shadowing, redundancy or exposure`,
      count: left, limit: budget.limit,
    });
  }
  return {
    findings: lint.findings(),
    complete: stopped === null && !lint.incomplete,
    profile,
    limits,
    adminPorts: toIntervals(adminPorts),
    stats: { chains: chains.length, rules: judged, work: budget.used },
  };
}

const toIntervals = (s: NumSet): Interval[] => {
  const out: Interval[] = [];
  for (let i = 0; i < s.length; i += 2) out.push({ lo: s[i]!, hi: s[i + 1]! });
  return out;
};

type Draft = Omit<LintFinding, 'severity'> & { severity?: LintSeverity };

const KIND_ORDER: readonly LintKind[] = ['rule-limit', 'group-limit', 'unbound-group', 'duplicate', 'never-matches', 'shadowed', 'redundant', 'exposure', 'not-analyzed'];

class Linter {
  readonly #config: Config;
  readonly #limits: CloudLimits;
  readonly #admin: NumSet;
  readonly #budget: Budget;
  readonly #regions = new Map<Rule, HulledBox[]>();
  /** Later twins (duplicates): never judged again in chains (their twin decides all of them). */
  readonly #twins = new Set<Rule>();
  readonly #merged = new Map<string, LintFinding>();
  /** Rule being judged in the current chain (where a work limit stopped). */
  current = 0;
  incomplete = false;

  constructor(config: Config, limits: CloudLimits, admin: NumSet, budget: Budget) {
    this.#config = config;
    this.#limits = limits;
    this.#admin = admin;
    this.#budget = budget;
  }

  /** Records a finding; the same finding from several group orders becomes one, listing every instance. */
  add(d: Draft): void {
    const f: LintFinding = { ...d, severity: d.severity ?? LINT_KINDS[d.kind].severity };
    if (f.rule && f.groupId === undefined) f.groupId = f.rule.groupId;
    const key = [f.kind, f.groupId ?? '', f.rule ? `${f.rule.direction}\0${f.rule.ruleIndex}` : '', JSON.stringify(f.decidedBy ?? null), JSON.stringify(f.ports ?? null), f.instances.length === 0 ? f.message : ''].join('\u0001');
    const had = this.#merged.get(key);
    if (had) {
      for (const i of f.instances) had.instances.push(i);
      return;
    }
    this.#merged.set(key, f);
  }

  findings(): LintFinding[] {
    const groupAt = new Map(this.#config.securityGroups.map((g, i) => [g.id, i]));
    const rank = (f: LintFinding): number[] => [
      f.groupId === undefined ? -1 : (groupAt.get(f.groupId) ?? -1),
      f.rule ? DIRECTIONS.indexOf(f.rule.direction) : -1,
      f.rule?.ruleIndex ?? -1,
      KIND_ORDER.indexOf(f.kind),
    ];
    const all = [...this.#merged.values()];
    const ranks = new Map(all.map((f) => [f, rank(f)]));
    return all.sort((a, b) => {
      const x = ranks.get(a)!;
      const y = ranks.get(b)!;
      for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return x[k]! - y[k]!;
      return 0;
    });
  }

  /**
   * The witness's verdict: the first rule of its instance's chain that matches it (the
   * reference matcher's own rule test, src/reference.ts mismatch), each rule tested
   * spent from the budget, so a group of 100,000 duplicates cannot cost 10^10 rule
   * tests unbudgeted. Past the budget the verdict is left out (the finding stands;
   * `complete` says the report is partial).
   */
  #classify(witness: FlowInput): Verdict | undefined {
    if (this.#budget.used >= this.#budget.limit) {
      this.incomplete = true;
      return undefined;
    }
    const flow = parseFlow(witness);
    const inst = flow.instance === null ? this.#config.instances[0] : this.#config.instances.find((i) => i.id === flow.instance);
    if (!inst) return undefined;
    const key = `${flow.direction}\0${inst.id}`;
    let rules = this.#chains.get(key);
    if (!rules) {
      rules = mergedRules(inst.securityGroups, this.#byId ??= groupsById(this.#config), flow.direction);
      this.#chains.set(key, rules);
    }
    try {
      let tested = 0;
      for (const rule of rules) {
        if (++tested === 4096) {
          this.#budget.spend(tested);
          tested = 0;
        }
        if (mismatch(rule, flow, this.#config) === null) {
          this.#budget.spend(tested);
          return verdictOf(rule);
        }
      }
      this.#budget.spend(tested);
      return { ...DEFAULT_DROP };
    } catch (e) {
      if (!(e instanceof AnalysisLimit)) throw e;
      this.incomplete = true;
      return undefined;
    }
  }

  readonly #chains = new Map<string, Rule[]>();
  #byId: Map<string, SecurityGroup> | undefined;

  #region(rule: Rule): HulledBox[] {
    return chainBoxes([rule], this.#regions, familiesPaired(this.#config)).regions[0]!;
  }

  /** The first instance whose policy holds the group (a witness's instance), or null. */
  #instanceOf(groupId: string): string | null {
    // A policy without instances has one implicit instance: its witnesses name none, as its flows do.
    if (this.#config.implicitInstance) return null;
    return this.#config.instances.find((i) => i.securityGroups.includes(groupId))?.id ?? null;
  }

  /** Per group and direction: limits, rules that can never match, duplicates. */
  groups(): void {
    const bound = new Set(this.#config.instances.flatMap((i) => i.securityGroups));
    const { rulesPerDirection: max, perFamily, cloud } = this.#limits;
    for (const g of this.#config.securityGroups) {
      if (!bound.has(g.id)) {
        this.add({ kind: 'unbound-group', groupId: g.id, instances: [], message: `group ${quote(g.id)} is bound to no instance: its rules decide nothing` });
      }
      const instance = this.#instanceOf(g.id);
      for (const dir of DIRECTIONS) {
        const rules = g[dir];
        if (max !== null) {
          const counts: [string, Rule[]][] = perFamily
            ? [['IPv4 ', rules.filter((r) => r.peer.v4.length > 0)], ['IPv6 ', rules.filter((r) => r.peer.v6.length > 0)]]
            : [['', rules]];
          for (const [fam, list] of counts) {
            if (list.length <= max) continue;
            this.add({
              kind: 'rule-limit', groupId: g.id, rule: position(list[max]!), instances: [], count: list.length, limit: max,
              message: `group ${quote(g.id)} has ${list.length} ${fam}${dir} rules; ${cloud} allows ${max} per group and direction${perFamily ? ' for each address family' : ''} (rule ${list[max]!.ruleIndex} is the first past it)`,
            });
          }
        }
        const seen = new Map<string, Rule>();
        for (const rule of rules) {
          const region = this.#region(rule);
          if (region.length === 0) {
            this.#neverMatches(rule, instance);
            continue;
          }
          const key = `${rule.action}${region.map((h) => boxKey(h.box)).join('/')}`;
          const twin = seen.get(key);
          if (!twin) {
            seen.set(key, rule);
            continue;
          }
          this.#twins.add(rule);
          const witness = witnessFlow(region[0]!.box, dir, instance);
          this.add({
            kind: 'duplicate', rule: position(rule), instances: [], decidedBy: [position(twin)], witness, verdict: this.#classify(witness),
            message: `${where(rule)} duplicates rule ${twin.ruleIndex} of the same group (the same flows, the same action ${rule.action}): the cloud refuses it as a duplicate (Tencent DuplicatePolicy), and it never decides anything`,
          });
        }
      }
    }
  }

  #neverMatches(rule: Rule, instance: string | null): void {
    const why = ruleNeverMatches(rule)?.replace(/^can never match: /, '') ?? 'no flow has every field it asks for';
    const d: Draft = { kind: 'never-matches', rule: position(rule), instances: [], message: `${where(rule)} can never match: ${why}` };
    // A near miss: the rule's own fields without the protocol/family coupling (ICMP from its IPv6 peer);
    // a service-set rule's protocols are its services'. Not cached: a rule object stands for its real region.
    const pairs: [number, number][] = [];
    for (const s of rule.services ?? [rule]) pairs.push(...(s.protocol === 'ping' ? [[1, 1], [58, 58]] as [number, number][] : s.protocol === 'all' ? [[0, 255]] as [number, number][] : [[s.protocol, s.protocol]] as [number, number][]));
    const proto: NumSet = canonicalSet(pairs, 1);
    const { services: _services, serviceSet: _set, ...plain } = rule;
    const loose = proto.length === 0 ? [] : ruleRegion({ ...plain, protocol: 'all', ports: null }, familiesPaired(this.#config));
    for (const box of loose) {
      const b = intersectBoxes(box, [proto, ...box.slice(1)] as unknown as Box);
      if (!b) continue;
      d.witness = witnessFlow(b, rule.direction, instance);
      d.verdict = this.#classify(d.witness);
      break;
    }
    this.add(d);
  }

  /** Per instance: the group limit (the implicit instance stands for "every group", not a real instance: not counted). */
  instances(): void {
    const max = this.#limits.groupsPerInstance;
    if (max === null || this.#config.implicitInstance) return;
    for (const inst of this.#config.instances) {
      const n = inst.securityGroups.length;
      if (n <= max) continue;
      this.add({
        kind: 'group-limit', instances: [inst.id], count: n, limit: max,
        message: `instance ${quote(inst.id)} is bound to ${n} groups; ${this.#limits.cloud} allows ${max} per instance`,
      });
    }
  }

  /** Judges every rule of one chain; returns how many were judged. Throws AnalysisLimit('work') to stop everything. */
  chain(chain: Chain): number {
    this.current = 0;
    // Merging a chain and making its boxes is linear in its rules: spent too, so a policy of many long group orders stops.
    this.#budget.spend(chain.length);
    const cb = chainBoxes(chain.rules, this.#regions, familiesPaired(this.#config));
    const instance = this.#config.implicitInstance ? null : chain.instances[0]!;
    for (let i = 0; i < chain.rules.length; i++) {
      this.current = i;
      const rule = chain.rules[i]!;
      const region = cb.regions[i]!;
      if (region.length === 0 || this.#twins.has(rule)) continue;
      try {
        this.#judge(chain, cb, i, region, instance);
      } catch (e) {
        if (!(e instanceof AnalysisLimit) || e.kind !== 'region') throw e;
        this.incomplete = true;
        this.add({
          kind: 'not-analyzed', rule: position(rule), instances: [...chain.instances],
          message: `${where(rule)} was not judged: the flows it decides, or what they fall to without it, cut into more than ${e.limit.toLocaleString('en-US')} boxes (maxRegionBoxes)`,
        });
      }
    }
    this.current = chain.rules.length;
    return chain.rules.length;
  }

  #judge(chain: Chain, cb: ChainBoxes, i: number, region: HulledBox[], instance: string | null): void {
    const rule = chain.rules[i]!;
    const budget = this.#budget;
    // The flows rule i decides: its region, less what earlier rules decide (noting who).
    const earlier = new Map<number, { by: ChainBox; piece: Box }>();
    const decided = firstMatch(region, cb.boxes, 0, cb.first[i]!, budget, (by, piece) => {
      if (!earlier.has(by.at)) earlier.set(by.at, { by, piece });
    })!;
    if (decided.length === 0) {
      const deciders = [...earlier.values()].sort((a, b) => a.by.at - b.by.at);
      const first = deciders[0]!;
      const others = deciders.map((d) => d.by.rule);
      const actions = new Set(others.map((r) => r.action));
      const note = actions.size === 1 && !actions.has(rule.action) ? `; it would ${rule.action} them, they ${[...actions][0]} them` : '';
      this.add({
        kind: 'shadowed', rule: position(rule), instances: [...chain.instances], decidedBy: others.map(position),
        witness: witnessFlow(first.piece, rule.direction, instance), verdict: verdictOf(first.by.rule),
        message: `${where(rule)} is shadowed: every flow it matches is decided earlier, by ${listOf(others, (r) => whereShort(r, rule))}${note}`,
      });
      return;
    }
    if (rule.direction === 'inbound' && rule.action === 'accept') this.#exposure(chain, rule, decided, instance);
    // Redundant: what rule i decides would fall to later rules (or the default drop), all with its action.
    const later = new Map<number, { by: ChainBox; piece: Box }>();
    // Later duplicates are left out: the cloud refuses them, so they cannot stand in for this rule.
    const rest = firstMatch(decided, cb.boxes, cb.first[i + 1]!, cb.boxes.length, budget, (by, piece) => {
      if (by.rule.action !== rule.action) return false;
      if (!later.has(by.at)) later.set(by.at, { by, piece });
    }, this.#twins);
    if (rest === null || (rest.length > 0 && rule.action === 'accept')) return;
    const takers = [...later.values()].sort((a, b) => a.by.at - b.by.at);
    const witnessBox = takers[0]?.piece ?? rest[0]!.box;
    const without = takers[0] ? verdictOf(takers[0].by.rule) : DEFAULT_DROP;
    const names = takers.map((t) => whereShort(t.by.rule, rule));
    if (rest.length > 0) names.push('the default drop');
    this.add({
      kind: 'redundant', rule: position(rule), instances: [...chain.instances],
      decidedBy: [...takers.map((t) => position(t.by.rule)), ...(rest.length > 0 ? [null] : [])],
      witness: witnessFlow(witnessBox, rule.direction, instance), verdict: verdictOf(rule), withoutRule: without,
      message: `${where(rule)} is redundant: removing it changes no verdict; the flows it decides would get the same ${rule.action} from ${listOf(names, String)}`,
    });
  }

  /** An accept open to a whole family that decides TCP flows to administration ports. */
  #exposure(chain: Chain, rule: Rule, decided: HulledBox[], instance: string | null): void {
    let ports: NumSet = [];
    let witness: Box | null = null;
    const fams: string[] = [];
    for (const v6 of [false, true]) {
      if (!peerCoversFamily(rule, v6)) continue;
      const open: Box = [[TCP, TCP], this.#admin, WHOLE.ALL_PORT, WHOLE.ALL_ICMP, WHOLE.ALL_ICMP, v6 ? WHOLE.V6_LINE : WHOLE.V4_LINE, WHOLE.ALL_LOCALS];
      let any = false;
      for (const h of decided) {
        const b = intersectBoxes(h.box, open);
        if (!b) continue;
        any = true;
        ports = unionSets(ports, b[DIM_PORT], 1);
        if (!witness || b[DIM_PORT][0]! < witness[DIM_PORT][0]!) witness = b;
      }
      if (any) fams.push(v6 ? '::/0' : '0.0.0.0/0');
    }
    if (!witness) return;
    const list = toIntervals(ports);
    this.add({
      kind: 'exposure', rule: position(rule), instances: [...chain.instances], ports: list,
      witness: witnessFlow(witness, rule.direction, instance), verdict: verdictOf(rule),
      message: `${where(rule)} accepts TCP ${formatPorts(list)} from ${fams.join(' and ')}: administration and database ports open to every address`,
    });
  }
}

