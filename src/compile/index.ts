/**
 * Policy compilation: group priority merging, rule → box expansion, per-dimension
 * class building, serialization into one TABLE.
 *
 * Merging (docs/SEMANTICS.md "Security groups"): for each instance and direction, the rules of its groups in
 * priority order, each group's rules top to bottom (template rules last). Instances
 * bound to the same ordered group list share one classifier, so a thousand
 * instances over a handful of group orders cost a handful of classifiers.
 */
import type { Config, Direction, Rule, Verdict } from '../types.js';
import * as L from '../../assembly/layout.js';
import { SgfilterError, type Path } from '../errors.js';
import { checkCompileOptions } from '../options.js';
import { ByteBudget } from './bitmap.js';
import { ruleBoxes, ruleEntryParts, ValueCache, type Box, type PeerCache } from './box.js';
import { partitionBoxes, PARTITION_MIN_BYTES } from './partition.js';
import { buildIntervalDim, isWildcard } from './intervals.js';
import { buildAddressDim, isAddressWildcard } from './trie.js';
import { serializeTable, type ClassifierPlan, type DimPlan, type TableStats } from './serialize.js';
export type { TableStats } from './serialize.js';
import { MAX_LOOKUP_WORK, validateTable } from '../snapshot/table.js';
import { quote } from '../config/plain.js';

/** Each option, when given, is checked (INVALID_ARGUMENT otherwise): see src/options.ts. */
export interface CompileOptions {
  /** Refuse (TABLE_TOO_LARGE) tables larger than this many bytes (a whole number ≥ 1). Default 512 MiB. */
  maxTableBytes?: number;
  /**
   * Up to this many distinct (direction, group order) pairs, each gets one merged
   * classifier (fastest lookups); past it, each group is compiled once per direction
   * and instances chain their groups' classifiers (memory grows with groups, not
   * with instances). A whole number ≥ 0. Default MERGE_MAX_ORDERS.
   */
  mergeMaxOrders?: number;
  /**
   * A classifier of more than 2,048 boxes is cut into parts by which address fields
   * its boxes leave open (docs/DESIGN.md "Partitions") when the bitmap bytes that
   * saves are estimated above this many bytes. A whole number ≥ 0 (0: whenever the
   * boxes differ). Default PARTITION_MIN_BYTES (32 MiB).
   */
  partitionMinBytes?: number;
}

export const MERGE_MAX_ORDERS = 64;

/**
 * Most compile entries (address prefixes, port intervals, one per protocol and ICMP
 * field) a policy may expand to, counted before each piece of work: once per rule
 * when its boxes are made, and again for each classifier that holds the rule (a group
 * in 30 merged orders is built 30 times). A named peer (address set, group reference)
 * is one shared prefix list: counted once per compile and once per classifier that
 * holds it, not once per rule naming it. 2^23: about 4 million prefixes compiled
 * once (a few seconds); more is TABLE_TOO_LARGE with issue EXPANSION_TOO_LARGE,
 * refused before the work, whatever made it big (odd-ended IPv6 ranges of up to 254
 * prefixes each, YAML aliases repeating a rule, many group orders).
 */
export const MAX_COMPILE_ENTRIES = 1 << 23;

export const DEFAULT_MAX_TABLE_BYTES = 512 * 1024 * 1024;

/** What a global rule id stands for. */
export interface RuleRef {
  /** The rule's group. */
  groupId: string;
  /** The rule's list. */
  direction: Direction;
  /** The rule's 0-based position in that list (template rules after the written ones). */
  ruleIndex: number;
  /** What the rule does. */
  action: 'accept' | 'drop';
}

/**
 * A policy compiled for the WASM matcher (compilePolicy): the table, and what its
 * answers mean. What engine.snapshot() carries, with the config.
 */
export interface CompiledPolicy {
  /** The table, as the matcher reads it (assembly/layout.ts); its length is stats.total. */
  bytes: Uint8Array;
  /** Bytes by structure, and the classifier and rule-box counts. */
  stats: TableStats & {
    /** Classifiers built: one per distinct (direction, group order), or per group and direction past mergeMaxOrders. */
    classifiers: number;
    /** Rule boxes (a rule is one box per address range and port interval product it needs). */
    boxes: number;
  };
  /** What each global rule id stands for (index = rule id; -1, the default drop, is not listed). */
  rules: RuleRef[];
  /** instance id -> [inbound chain index, outbound chain index]. */
  instances: Map<string, [number, number]>;
  /** The instance a flow without `instance` is classified for (null: the policy has none). */
  defaultInstance: string | null;
}

/**
 * Classifiers of at most this many bitmap words (2,048 boxes) keep whole bitmaps
 * and scan them with SIMD: for small policies that beats skipping zero words.
 */
export const DENSE_MAX_WORDS = 32;

function buildClassifier(boxes: Box[], budget: ByteBudget, partitionMinBytes: number): ClassifierPlan {
  if (boxes.length > L.MAX_BOXES) {
    throw new SgfilterError('TABLE_TOO_LARGE', `an instance's merged rule list compiles to ${boxes.length} rules; the limit is ${L.MAX_BOXES} per instance and direction`);
  }
  // Big classifiers whose boxes differ in which address fields they leave open are
  // cut into parts (./partition.ts); small ones keep whole SIMD bitmaps.
  if (boxes.length > DENSE_MAX_WORDS * 64) {
    const groups = partitionBoxes(boxes, partitionMinBytes);
    if (groups.length > 1) {
      const parts = groups.map((g) => {
        const part = buildSingle(g.map((i) => boxes[i]!), budget);
        part.ruleIds = g; // ranks in the whole classifier, ascending
        return part;
      });
      const dims: DimPlan[] = new Array<DimPlan>(L.DIM_COUNT).fill(null);
      return { ruleIds: boxes.map((b) => b.ruleId), accept: boxes.map((b) => b.accept), words: Math.ceil(boxes.length / 64), dense: false, dims, parts };
    }
  }
  return buildSingle(boxes, budget);
}

function buildSingle(boxes: Box[], budget: ByteBudget): ClassifierPlan {
  let words = Math.max(1, Math.ceil(boxes.length / 64));
  const dense = words <= DENSE_MAX_WORDS;
  if (dense) words += words % 2; // whole v128 lanes
  const dims: DimPlan[] = new Array<DimPlan>(L.DIM_COUNT).fill(null);
  if (!isAddressWildcard(boxes, (b) => b.remote, false)) dims[L.DIM_REMOTE] = buildAddressDim(boxes, (b) => b.remote, words, budget);
  if (!isAddressWildcard(boxes, (b) => b.local, true)) dims[L.DIM_LOCAL] = buildAddressDim(boxes, (b) => b.local, words, budget);
  const intervalDims: [number, (b: Box) => { lo: number; hi: number }[], number][] = [
    [L.DIM_PROTO, (b) => b.proto, 255],
    [L.DIM_PORT, (b) => b.ports, L.PORT_ABSENT],
    [L.DIM_SPORT, (b) => b.sports, L.PORT_ABSENT],
    [L.DIM_ICMP_TYPE, (b) => b.icmpType, L.ICMP_ABSENT],
    [L.DIM_ICMP_CODE, (b) => b.icmpCode, L.ICMP_ABSENT],
  ];
  for (const [d, get, max] of intervalDims) {
    if (!isWildcard(boxes, get, max)) dims[d] = buildIntervalDim(boxes, get, max, words, budget);
  }
  // `parts` is an own field (undefined), so a read of it never reaches Object.prototype.
  return { ruleIds: boxes.map((b) => b.ruleId), accept: boxes.map((b) => b.accept), words, dense, dims, parts: undefined };
}

/**
 * Compiles a validated Config into the matcher's table (what createEngine and reload
 * do before publishing). Throws TABLE_TOO_LARGE past `maxTableBytes` (or past the
 * per-classifier rule limit), INVALID_ARGUMENT for a bad option.
 */
export function compilePolicy(config: Config, options: CompileOptions = {}): CompiledPolicy {
  options = checkCompileOptions(options);
  const budget = new ByteBudget(options.maxTableBytes ?? DEFAULT_MAX_TABLE_BYTES);
  let entries = 0;
  // `where` is made only when the count is past the limit (it names the rule: a string per rule otherwise).
  const spend = (n: number, path: () => Path, where: () => string): void => {
    entries += n;
    if (entries <= MAX_COMPILE_ENTRIES) return;
    tooMany(path(), where());
  };
  const tooMany = (path: Path, where: string): never => {
    const message = `the policy expands to more than ${MAX_COMPILE_ENTRIES.toLocaleString('en-US')} compile entries (MAX_COMPILE_ENTRIES: address prefixes and port intervals, counted per rule and again per classifier that holds it; a named set once per classifier); passed at ${where}. Write fewer or narrower address ranges (an odd-ended IPv6 range is up to 254 prefixes), repeat rules less (YAML aliases count as written out), or bind groups in fewer distinct orders`;
    throw new SgfilterError('TABLE_TOO_LARGE', message, [{ code: 'EXPANSION_TOO_LARGE', path, message, given: entries, allowed: `at most ${MAX_COMPILE_ENTRIES}` }]);
  };
  // Few orders: one merged classifier each (a chain of one). Many: a classifier per
  // group and direction, chained in each instance's order.
  const orders = new Set(config.instances.map((i) => i.securityGroups.join('\u0000')));
  const merge = orders.size <= (options.mergeMaxOrders ?? MERGE_MAX_ORDERS);

  // The work, counted before any of it is done (ranges are counted, not decomposed):
  // every rule once, then every classifier the chains will build, with its groups'
  // entries. A named peer (address set, group reference) is one shared prefix list
  // (PeerCache), counted once per compile and once per classifier that holds it,
  // however many rules name it. A refusal costs the count only.
  interface ListEntries {
    own: number;
    /** Named peer -> its prefix count, for the peers this list's rules name. */
    peers: Map<string, number>;
  }
  const entriesOf = new Map<string, { inbound: ListEntries; outbound: ListEntries }>();
  const countedPeers = new Set<string>();
  config.securityGroups.forEach((g, gi) => {
    const count = (list: Rule[], dir: Direction): ListEntries => {
      const out: ListEntries = { own: 0, peers: new Map() };
      list.forEach((r, ri) => {
        const { own, peer, peerKey } = ruleEntryParts(r);
        let e = own;
        if (peerKey !== undefined) {
          out.peers.set(peerKey, peer);
          if (!countedPeers.has(peerKey)) {
            countedPeers.add(peerKey);
            e += peer;
          }
        }
        entries += e;
        if (entries > MAX_COMPILE_ENTRIES) tooMany(['securityGroups', gi, dir, ri], `group ${quote(g.id)} ${dir} rule ${ri}`);
        out.own += own;
      });
      return out;
    };
    entriesOf.set(g.id, { inbound: count(g.inbound, 'inbound'), outbound: count(g.outbound, 'outbound') });
  });
  const hasRules = (g: string, dir: Direction): boolean => {
    const e = entriesOf.get(g)![dir];
    return e.own > 0 || e.peers.size > 0;
  };
  const planned = new Set<string>();
  config.instances.forEach((inst, ii) => {
    for (const dir of ['inbound', 'outbound'] as const) {
      const groups = inst.securityGroups.filter((g) => hasRules(g, dir));
      // The very lists chainFor below builds classifiers for (merged: the whole order).
      for (const list of merge ? (groups.length ? [inst.securityGroups] : []) : groups.map((g) => [g])) {
        const key = `${dir}\u0000${list.join('\u0000')}`;
        if (planned.has(key)) continue;
        planned.add(key);
        let n = 0;
        const peers = new Set<string>();
        for (const g of list) {
          const e = entriesOf.get(g)![dir];
          n += e.own;
          for (const [k, c] of e.peers) {
            if (peers.has(k)) continue;
            peers.add(k);
            n += c;
          }
        }
        spend(n, () => ['instances', ii], () => `the ${dir} classifier of ${list.length === 1 ? `group ${quote(list[0]!)}` : `instance ${quote(inst.id)}'s ${list.length} groups`}`);
      }
    }
  });

  const rules: RuleRef[] = [];
  const boxesOf = new Map<string, { inbound: Box[]; outbound: Box[] }>();
  const pairFamilies = config.semantics !== 'classbench';
  const peerCache: PeerCache = new Map();
  const values = new ValueCache();
  for (const g of config.securityGroups) {
    const expand = (list: Rule[]): Box[] => {
      const out: Box[] = [];
      for (const r of list) {
        const id = rules.length;
        rules.push({ groupId: r.groupId, direction: r.direction, ruleIndex: r.ruleIndex, action: r.action });
        for (const b of ruleBoxes(r, id, pairFamilies, peerCache, values)) out.push(b);
      }
      return out;
    };
    boxesOf.set(g.id, { inbound: expand(g.inbound), outbound: expand(g.outbound) });
  }
  const plans: ClassifierPlan[] = [];
  const byKey = new Map<string, number>();
  const classifierFor = (dir: Direction, groups: string[]): number => {
    const key = `${dir}\u0000${groups.join('\u0000')}`;
    let idx = byKey.get(key);
    if (idx === undefined) {
      const boxes = groups.flatMap((g) => boxesOf.get(g)![dir]);
      idx = plans.length;
      plans.push(buildClassifier(boxes, budget, options.partitionMinBytes ?? PARTITION_MIN_BYTES));
      byKey.set(key, idx);
    }
    return idx;
  };
  const chains: number[][] = [];
  const chainKeys = new Map<string, number>();
  // A chain links only classifiers with boxes (one that cannot match would cost every
  // lookup a call for nothing; the loader refuses such links, snapshot/table.ts).
  const hasBoxes = (dir: Direction, groups: string[]) => groups.some((g) => boxesOf.get(g)![dir].length > 0);
  const chainFor = (dir: Direction, groups: string[]): number => {
    const links = merge
      ? (hasBoxes(dir, groups) ? [classifierFor(dir, groups)] : [])
      : groups.filter((g) => hasBoxes(dir, [g])).map((g) => classifierFor(dir, [g]));
    const key = links.join(',');
    let idx = chainKeys.get(key);
    if (idx === undefined) {
      idx = chains.length;
      chains.push(links);
      chainKeys.set(key, idx);
    }
    return idx;
  };
  const instances = new Map<string, [number, number]>();
  for (const inst of config.instances) {
    instances.set(inst.id, [chainFor('inbound', inst.securityGroups), chainFor('outbound', inst.securityGroups)]);
  }
  // The budget counted the bitmaps, tries and interval indexes; add rule records (5 bytes a box) and headers.
  const boxCount = plans.reduce((n, p) => n + p.ruleIds.length * (p.parts ? 2 : 1), 0);
  const { bytes, stats } = serializeTable(plans, chains, budget.used + boxCount * 5 + 65536);
  new ByteBudget(budget.limit).spend(bytes.length, 'the whole table');
  // The loader's own check (so every table compiled here loads), and the lookup work
  // of each chain, judged here to name the instance.
  const { work } = validateTable(bytes, Infinity);
  for (const inst of config.instances) {
    instances.get(inst.id)!.forEach((chain, d) => {
      if (work[chain]! <= MAX_LOOKUP_WORK) return;
      const dir: Direction = d === 0 ? 'inbound' : 'outbound';
      const message = `instance ${quote(inst.id)} ${dir}: one lookup would take ${work[chain]!.toLocaleString('en-US')} steps (its ${inst.securityGroups.length.toLocaleString('en-US')} groups chained one by one); the limit is ${MAX_LOOKUP_WORK.toLocaleString('en-US')} per flow (MAX_LOOKUP_WORK). Bind fewer groups to it, or let instances share group orders (mergeMaxOrders)`;
      throw new SgfilterError('TABLE_TOO_LARGE', message, [{ code: 'LOOKUP_TOO_SLOW', path: ['instances', config.instances.indexOf(inst)], message, given: work[chain]!, allowed: `at most ${MAX_LOOKUP_WORK}` }]);
    });
  }
  return {
    bytes,
    stats: { ...stats, classifiers: plans.length, boxes: plans.reduce((n, p) => n + p.ruleIds.length, 0) },
    rules,
    instances,
    defaultInstance: config.instances[0]?.id ?? null,
  };
}

const DEFAULT_VERDICT: Verdict = Object.freeze({ action: 'drop', groupId: null, ruleIndex: null }) as Verdict;

/**
 * The verdicts of one rules table, made on first use and frozen: every answer of
 * rule id k is the same object, so classify(flow) allocates nothing per call.
 */
const VERDICTS = new WeakMap<readonly RuleRef[], (Verdict | undefined)[]>();

/** The (lazily filled) verdict cache of `rules`; pass it to verdictIn. */
export function verdictsOf(rules: readonly RuleRef[]): (Verdict | undefined)[] {
  let v = VERDICTS.get(rules);
  if (v === undefined) {
    // Filled, not holey: a hole reads through to Object.prototype, and a polluted
    // Object.prototype[k] would be handed out as rule k's verdict.
    v = new Array<Verdict | undefined>(rules.length).fill(undefined);
    VERDICTS.set(rules, v);
  }
  return v;
}

/** The frozen verdict of rule id `ruleId` (-1: the default drop) from a cache of verdictsOf(rules). */
export function verdictIn(cache: (Verdict | undefined)[], rules: readonly RuleRef[], ruleId: number): Verdict {
  if (ruleId < 0) return DEFAULT_VERDICT;
  if (ruleId >= cache.length) throw new SgfilterError('SNAPSHOT_INVALID', `rule id ${ruleId} is past the policy's ${cache.length} rules`);
  const v = cache[ruleId];
  if (v !== undefined) return v;
  const r = rules[ruleId]!;
  return (cache[ruleId] = Object.freeze({ action: r.action, groupId: r.groupId, ruleIndex: r.ruleIndex }));
}

/** The frozen verdict of rule id `ruleId` (-1: the default drop). */
export function verdictOf(rules: readonly RuleRef[], ruleId: number): Verdict {
  return verdictIn(verdictsOf(rules), rules, ruleId);
}
