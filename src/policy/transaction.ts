/**
 * Transactional policy edits (engine.update): rules added, removed, replaced and
 * moved inside a group's direction, groups added and removed, instances added,
 * removed and re-bound, all on a working copy of the published Config. Every
 * operation is validated as it is recorded (rules with the same validator as
 * config files); references between groups and instances are checked on the final
 * state. `commit()` yields one new Config, or throws one CONFIG_INVALID error with
 * every issue of every operation: the edits are published together or not at all.
 *
 * Positions: a group direction's written rules are 0..n-1; template rules (docs/SEMANTICS.md "Security groups")
 * always stay after them and cannot be edited one by one. An instance's groups are
 * in priority order, 0 = highest. Operations apply in the order given, each to the
 * state the previous ones left; indices refer to that state.
 *
 * Unchanged groups and rules are shared with the base Config (nothing is mutated),
 * so an edit to a 100,000-rule policy costs little besides the compile.
 */
import { SgfilterError, describeIssues, type Issue, type Path } from '../errors.js';
import type {
  AddressSetInput, Config, Direction, DirectionInput, Instance, NamedAddressSet, NamedServiceSet, Rule, RuleSpec, SecurityGroup, SecurityGroupInput,
  InstanceInput, Service, ServiceSetInput, Warning,
} from '../types.js';
import { parseConfig, parseOwnAddresses, validateGroupInput, validateInstanceInput, validateRuleInput } from '../config/parse.js';
import { isOwnedConfig, ownConfig } from '../config/owned.js';
import { ruleNeverMatches, show, unknownFieldIssue } from '../config/rule.js';
import { buildSets, groupPeers, PolicyNames, readSetEntry } from '../config/sets.js';
import { sameAddresses, unionOf } from '../config/address.js';
import { listOf, plainData, plainObject, quote, quotedList } from '../config/plain.js';

/**
 * One edit, as data: what the transaction methods record, and what
 * `engine.update([...])` takes. `op` names the operation; each takes the fields its
 * method takes. Rule positions are 0-based among a group direction's written rules;
 * `at` is a position to insert at (default: the end, or lowest priority).
 */
export type PolicyEdit =
  | {
    /** Add `rule` to a group's list at `at` (default: after the written rules). */
    op: 'addRule';
    /** The group's id. */
    groupId: string;
    /** The list: inbound or outbound. */
    direction: DirectionInput;
    /** The rule, as a config file writes it. */
    rule: RuleSpec;
    /** Position 0..n (default n). */
    at?: number;
  }
  | {
    /** Remove written rule `index`. */
    op: 'removeRule';
    /** The group's id. */
    groupId: string;
    /** The list: inbound or outbound. */
    direction: DirectionInput;
    /** The rule's position, 0..n-1. */
    index: number;
  }
  | {
    /** Replace written rule `index` with `rule`, at the same position. */
    op: 'replaceRule';
    /** The group's id. */
    groupId: string;
    /** The list: inbound or outbound. */
    direction: DirectionInput;
    /** The rule's position, 0..n-1. */
    index: number;
    /** The new rule. */
    rule: RuleSpec;
  }
  | {
    /** Move written rule `from` so that it ends up at position `to`. */
    op: 'moveRule';
    /** The group's id. */
    groupId: string;
    /** The list: inbound or outbound. */
    direction: DirectionInput;
    /** The rule's position now, 0..n-1. */
    from: number;
    /** Its position afterwards, 0..n-1. */
    to: number;
  }
  | {
    /** Add a group at position `at` of securityGroups (default: last). */
    op: 'addGroup';
    /** The group, as a config file writes it. */
    group: SecurityGroupInput;
    /** Position in securityGroups. */
    at?: number;
  }
  | {
    /** Remove a group (refused while an instance still binds it when the transaction ends). */
    op: 'removeGroup';
    /** The group's id. */
    groupId: string;
  }
  | {
    /** Bind a group to an instance at priority position `at` (0 = highest; default: lowest). */
    op: 'bindGroup';
    /** The instance's id. */
    instanceId: string;
    /** The group's id. */
    groupId: string;
    /** Priority position, 0 = highest. */
    at?: number;
  }
  | {
    /** Unbind a group from an instance. */
    op: 'unbindGroup';
    /** The instance's id. */
    instanceId: string;
    /** The group's id. */
    groupId: string;
  }
  | {
    /** Set an instance's whole list of groups. */
    op: 'setGroupOrder';
    /** The instance's id. */
    instanceId: string;
    /** Group ids, highest priority first, each once. */
    securityGroups: string[];
  }
  | {
    /** Add an instance at position `at` of instances (default: last; the first is the default instance). */
    op: 'addInstance';
    /** The instance, as a config file writes it. */
    instance: InstanceInput;
    /** Position in instances. */
    at?: number;
  }
  | {
    /** Remove an instance. */
    op: 'removeInstance';
    /** The instance's id. */
    instanceId: string;
  }
  | {
    /** Set (or, with null, clear) an instance's own addresses: every rule referencing one of its groups changes with them. */
    op: 'setInstanceAddresses';
    /** The instance's id. */
    instanceId: string;
    /** Addresses, CIDRs or ranges a-b (not `any`), or null for none. */
    addresses: string[] | null;
  }
  | {
    /** Add an address set (refused when its id is taken). */
    op: 'addAddressSet';
    /** The set, as a config file writes it. */
    set: AddressSetInput;
  }
  | {
    /** Replace an address set (same id): every rule naming it, directly or through a set group, changes with it. */
    op: 'replaceAddressSet';
    /** The new set; its id names the set replaced. */
    set: AddressSetInput;
  }
  | {
    /** Remove an address set (refused while a rule or a set group still names it at the end). */
    op: 'removeAddressSet';
    /** The set's id. */
    setId: string;
  }
  | {
    /** Add a service set (refused when its id is taken). */
    op: 'addServiceSet';
    /** The set, as a config file writes it. */
    set: ServiceSetInput;
  }
  | {
    /** Replace a service set (same id): every rule naming it changes with it. */
    op: 'replaceServiceSet';
    /** The new set; its id names the set replaced. */
    set: ServiceSetInput;
  }
  | {
    /** Remove a service set (refused while a rule or a set group still names it at the end). */
    op: 'removeServiceSet';
    /** The set's id. */
    setId: string;
  };

/** The name of an edit operation (`addRule`, `bindGroup`…). */
export type EditOp = PolicyEdit['op'];

/** The fields each operation takes (a Map: looked up with the op a user wrote). */
const EDIT_FIELDS: ReadonlyMap<string, readonly string[]> = new Map<EditOp, readonly string[]>([
  ['addRule', ['op', 'groupId', 'direction', 'rule', 'at']],
  ['removeRule', ['op', 'groupId', 'direction', 'index']],
  ['replaceRule', ['op', 'groupId', 'direction', 'index', 'rule']],
  ['moveRule', ['op', 'groupId', 'direction', 'from', 'to']],
  ['addGroup', ['op', 'group', 'at']],
  ['removeGroup', ['op', 'groupId']],
  ['bindGroup', ['op', 'instanceId', 'groupId', 'at']],
  ['unbindGroup', ['op', 'instanceId', 'groupId']],
  ['setGroupOrder', ['op', 'instanceId', 'securityGroups']],
  ['addInstance', ['op', 'instance', 'at']],
  ['removeInstance', ['op', 'instanceId']],
  ['setInstanceAddresses', ['op', 'instanceId', 'addresses']],
  ['addAddressSet', ['op', 'set']],
  ['replaceAddressSet', ['op', 'set']],
  ['removeAddressSet', ['op', 'setId']],
  ['addServiceSet', ['op', 'set']],
  ['replaceServiceSet', ['op', 'set']],
  ['removeServiceSet', ['op', 'setId']],
]);

export const EDIT_OPS: readonly EditOp[] = [...EDIT_FIELDS.keys()] as EditOp[];

/**
 * What one applied edit did, as the 'change' event reports it. Positions are those
 * of the state the edit applied to (edits apply in order).
 */
export interface AppliedEdit {
  /** The operation. */
  op: EditOp;
  /** The group it concerned, if any. */
  groupId?: string;
  /** The instance it concerned, if any. */
  instanceId?: string;
  /** The rule list it concerned (rule edits), canonical. */
  direction?: Direction;
  /** addRule: where the rule now is; removeRule / replaceRule: which rule. */
  index?: number;
  /** moveRule: the rule's position before. */
  from?: number;
  /** moveRule: the rule's position after. */
  to?: number;
  /** addGroup: position in securityGroups; bindGroup: priority position (0 = highest); addInstance: position in instances. */
  at?: number;
  /** bindGroup, unbindGroup, setGroupOrder, addInstance: the instance's groups afterwards, highest priority first. */
  securityGroups?: string[];
  /** Set edits: the set's id. */
  setId?: string;
}

/** The result of a committed transaction. */
export interface CommittedEdits {
  /** The new validated config (unchanged groups and rules shared with the base). */
  config: Config;
  /** What each edit did, in order. */
  changes: AppliedEdit[];
}

interface WorkGroup {
  id: string;
  /** The base group, while nothing in it changed (then it is reused as is). */
  original: SecurityGroup | null;
  name?: string;
  template: SecurityGroup['template'];
  written: Record<Direction, Rule[]>;
  tail: Record<Direction, Rule[]>;
}

interface WorkInstance {
  id: string;
  original: Instance | null;
  securityGroups: string[];
  addresses?: Instance['addresses'];
}

/** The instance a work instance stands for (its addresses, when it has some, go with it). */
function builtInstance(i: WorkInstance): Instance {
  if (i.original) return i.original;
  const out: Instance = { id: i.id, securityGroups: i.securityGroups };
  if (i.addresses) out.addresses = i.addresses;
  return out;
}

const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound'];

/** True when two service lists hold the same services in the same order. */
function sameServices(a: readonly Service[], b: readonly Service[]): boolean {
  if (a === b) return true;
  const same = (x: Service['ports'], y: Service['ports']) => (x === null || y === null ? x === y : x.length === y.length && x.every((iv, i) => iv.lo === y[i]!.lo && iv.hi === y[i]!.hi));
  return a.length === b.length && a.every((s, i) => s.protocol === b[i]!.protocol && s.text === b[i]!.text && same(s.ports, b[i]!.ports));
}

function splitRules(list: Rule[]): [Rule[], Rule[]] {
  let n = list.length;
  while (n > 0 && list[n - 1]!.template !== undefined) n--;
  return [list.slice(0, n), list.slice(n)];
}

function workGroup(g: SecurityGroup, original: SecurityGroup | null): WorkGroup {
  const [inW, inT] = splitRules(g.inbound);
  const [outW, outT] = splitRules(g.outbound);
  const w: WorkGroup = plainObject<WorkGroup>({ id: g.id, original, template: g.template, written: { inbound: inW, outbound: outW }, tail: { inbound: inT, outbound: outT } });
  if (g.name !== undefined) w.name = g.name;
  return w;
}

/** Rules with ruleIndex equal to their position (objects reused where already right). */
function numbered(list: Rule[]): Rule[] {
  return list.map((r, i) => (r.ruleIndex === i ? r : { ...r, ruleIndex: i }));
}

/** `pairFamilies` false for ClassBench filters (Config.semantics): their ICMP/ICMPv6 rules match either family. */
function configWarnings(groups: SecurityGroup[], pairFamilies: boolean): Warning[] {
  const out: Warning[] = [];
  if (!pairFamilies) return out;
  groups.forEach((g, gi) => {
    for (const dir of DIRECTIONS) {
      g[dir].forEach((r, ri) => {
        const why = ruleNeverMatches(r);
        if (why) out.push({ path: ['securityGroups', gi, dir, ri], message: `group ${quote(g.id)} ${dir} rule ${ri}: ${why}` });
      });
    }
  });
  return out;
}

/**
 * A set of edits to one base Config. Get one from engine.update(tx => …); each
 * method records and validates one edit and returns the transaction (calls chain).
 * Nothing is visible to classification until the whole transaction is published.
 */
export class PolicyTransaction {
  /** The published Config the edits apply to (read it to find ids and positions). */
  readonly base: Config;
  #groups: WorkGroup[];
  #groupById = new Map<string, WorkGroup>();
  #instances: WorkInstance[];
  #implicit: boolean;
  #issues: Issue[] = [];
  /** The removeInstance edit that left no instance (checked at commit: a later addInstance makes it fine). */
  #emptiedBy: { path: Path; id: string } | null = null;
  #warnings: Warning[] = [];
  #changes: AppliedEdit[] = [];
  #count = 0;
  #done = false;
  /** Ids whose add failed validation: later edits naming them add no further issues. */
  #badGroups = new Set<string>();
  #badInstances = new Set<string>();
  /** instance\0group → path of the edit that bound it (for the final reference check). */
  #boundBy = new Map<string, Path>();
  /** group id → path of the edit that removed it. */
  #removedBy = new Map<string, Path>();
  /** The policy's sets (SPEC §9), by id; a set group's addresses are recomputed from its members at commit. */
  #sets: { address: Map<string, NamedAddressSet>; service: Map<string, NamedServiceSet> };
  /** kind\0id → path of the edit that added / replaced it (for issues about it), or removed it. */
  #setBy = new Map<string, Path>();
  #setRemovedBy = new Map<string, Path>();
  /** Ids of sets whose add failed validation: later edits naming them add no further issues. */
  #badSets = new Set<string>();

  /**
   * `base`: the Config the edits apply to. One the library made (engine.config,
   * parseConfig, an earlier commit) is used as it is: it is frozen, so its unchanged
   * groups can be reused. Any other is copied and checked first (parseConfig; a
   * CONFIG_INVALID error when it is not a Config or a config document).
   */
  constructor(base: Config) {
    base = isOwnedConfig(base) ? base : parseConfig(base);
    this.base = base;
    this.#groups = base.securityGroups.map((g) => workGroup(g, g));
    for (const g of this.#groups) this.#groupById.set(g.id, g);
    this.#instances = base.instances.map((i) => ({ id: i.id, original: i, securityGroups: i.securityGroups, ...(i.addresses ? { addresses: i.addresses } : {}) }));
    this.#implicit = base.implicitInstance;
    this.#sets = {
      address: new Map((base.addressSets ?? []).map((x) => [x.id, x])),
      service: new Map((base.serviceSets ?? []).map((x) => [x.id, x])),
    };
  }

  /** The names rules may use now (sets and groups of the working state; `alsoGroup`: a group being added, so its rules may reference it). */
  #names(alsoGroup?: unknown): PolicyNames {
    const failed = new Set([...this.#badSets]);
    const groups = new Set(this.#groupById.keys());
    if (typeof alsoGroup === 'string' && alsoGroup.trim() !== '') groups.add(alsoGroup);
    return new PolicyNames(this.#sets.address, this.#sets.service, groups, new Map(), failed);
  }

  /** Number of edits recorded so far. */
  get size(): number {
    return this.#count;
  }

  // ------------------------------------------------------------------ rules

  /** Adds `rule` to `direction` of group `groupId` at position `at` (default: after the written rules, before template rules). */
  addRule(groupId: string, direction: DirectionInput, rule: RuleSpec, at?: number): this {
    return this.apply({ op: 'addRule', groupId, direction, rule, ...(at === undefined ? {} : { at }) });
  }

  /** Removes written rule `index` of `direction` of group `groupId`. */
  removeRule(groupId: string, direction: DirectionInput, index: number): this {
    return this.apply({ op: 'removeRule', groupId, direction, index });
  }

  /** Replaces written rule `index` (same position) with `rule`. */
  replaceRule(groupId: string, direction: DirectionInput, index: number, rule: RuleSpec): this {
    return this.apply({ op: 'replaceRule', groupId, direction, index, rule });
  }

  /** Moves written rule `from` so that it ends up at position `to` (both 0..n-1). */
  moveRule(groupId: string, direction: DirectionInput, from: number, to: number): this {
    return this.apply({ op: 'moveRule', groupId, direction, from, to });
  }

  // ------------------------------------------------------------------ groups

  /** Adds a security group (config-file form) at position `at` of securityGroups (default: last). */
  addGroup(group: SecurityGroupInput, at?: number): this {
    return this.apply({ op: 'addGroup', group, ...(at === undefined ? {} : { at }) });
  }

  /** Removes a group; refused while an instance still binds it at the end of the transaction. */
  removeGroup(groupId: string): this {
    return this.apply({ op: 'removeGroup', groupId });
  }

  // ------------------------------------------------------------------ instances

  /** Binds group `groupId` to instance `instanceId` at priority position `at` (0 = highest; default: lowest). */
  bindGroup(instanceId: string, groupId: string, at?: number): this {
    return this.apply({ op: 'bindGroup', instanceId, groupId, ...(at === undefined ? {} : { at }) });
  }

  /** Unbinds group `groupId` from instance `instanceId`. */
  unbindGroup(instanceId: string, groupId: string): this {
    return this.apply({ op: 'unbindGroup', instanceId, groupId });
  }

  /** Sets instance `instanceId`'s whole list of groups, highest priority first. */
  setGroupOrder(instanceId: string, securityGroups: string[]): this {
    return this.apply({ op: 'setGroupOrder', instanceId, securityGroups });
  }

  /** Adds an instance (config-file form) at position `at` of instances (default: last; the first is the default instance). */
  addInstance(instance: InstanceInput, at?: number): this {
    return this.apply({ op: 'addInstance', instance, ...(at === undefined ? {} : { at }) });
  }

  /** Removes an instance. */
  removeInstance(instanceId: string): this {
    return this.apply({ op: 'removeInstance', instanceId });
  }

  /** Sets (null: clears) instance `instanceId`'s own addresses; rules referencing its groups follow. */
  setInstanceAddresses(instanceId: string, addresses: string[] | null): this {
    return this.apply({ op: 'setInstanceAddresses', instanceId, addresses });
  }

  // ------------------------------------------------------------------ sets (SPEC §9)

  /** Adds an address set (config-file form: `{id, addresses}` or a set group `{id, sets}`). */
  addAddressSet(set: AddressSetInput): this {
    return this.apply({ op: 'addAddressSet', set });
  }

  /** Replaces the address set with `set.id`; every rule naming it changes in the same publish. */
  replaceAddressSet(set: AddressSetInput): this {
    return this.apply({ op: 'replaceAddressSet', set });
  }

  /** Removes an address set; refused while a rule or a set group still names it at the end. */
  removeAddressSet(setId: string): this {
    return this.apply({ op: 'removeAddressSet', setId });
  }

  /** Adds a service set (`{id, services}` or a set group `{id, sets}`). */
  addServiceSet(set: ServiceSetInput): this {
    return this.apply({ op: 'addServiceSet', set });
  }

  /** Replaces the service set with `set.id`; every rule naming it changes in the same publish. */
  replaceServiceSet(set: ServiceSetInput): this {
    return this.apply({ op: 'replaceServiceSet', set });
  }

  /** Removes a service set; refused while a rule or a set group still names it at the end. */
  removeServiceSet(setId: string): this {
    return this.apply({ op: 'removeServiceSet', setId });
  }

  // ------------------------------------------------------------------ core

  /**
   * Records one edit given as data. The edit is first read into plain data (as
   * configs are): BigInt, functions, cycles, throwing getters and the like are
   * issues at their path; fields the operation does not take are UNKNOWN_FIELD
   * (a misspelt `at` would otherwise put a rule somewhere else).
   */
  apply(edit: PolicyEdit): this {
    if (this.#done) throw new SgfilterError('INVALID_ARGUMENT', 'this transaction was already committed or abandoned; start a new engine.update()');
    const n = this.#count++;
    const path: Path = ['update', n];
    const plain = plainData(edit, path, `update[${n}]`);
    if (!plain.ok) {
      for (const issue of plain.issues) this.#issues.push(issue);
      return this;
    }
    const value = plain.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.#issue('INVALID_TYPE', path, `update[${n}]: an edit must be an object {op, ...}, got ${show(value)}`, value);
      return this;
    }
    const e = value as PolicyEdit;
    const fields = typeof e.op === 'string' ? EDIT_FIELDS.get(e.op) : undefined;
    if (fields) {
      for (const k of Object.keys(e)) {
        if (!fields.includes(k)) this.#issues.push(unknownFieldIssue([...path, k], `update[${n}] ${e.op}`, k, fields));
      }
    }
    switch (e.op) {
      case 'addRule': this.#addRule(e, path, n); break;
      case 'removeRule': this.#removeRule(e, path, n); break;
      case 'replaceRule': this.#replaceRule(e, path, n); break;
      case 'moveRule': this.#moveRule(e, path, n); break;
      case 'addGroup': this.#addGroup(e, path, n); break;
      case 'removeGroup': this.#removeGroup(e, path, n); break;
      case 'bindGroup': this.#bindGroup(e, path, n); break;
      case 'unbindGroup': this.#unbindGroup(e, path, n); break;
      case 'setGroupOrder': this.#setGroupOrder(e, path, n); break;
      case 'addInstance': this.#addInstance(e, path, n); break;
      case 'removeInstance': this.#removeInstance(e, path, n); break;
      case 'setInstanceAddresses': this.#setInstanceAddresses(e, path, n); break;
      case 'addAddressSet': case 'replaceAddressSet': case 'addServiceSet': case 'replaceServiceSet': this.#putSet(e, path, n); break;
      case 'removeAddressSet': case 'removeServiceSet': this.#removeSet(e, path, n); break;
      default: {
        const op = (e as { op?: unknown }).op;
        this.#issue('UNKNOWN_EDIT', [...path, 'op'], `update[${n}]: unknown operation ${show(op)}; allowed: ${EDIT_OPS.join(', ')}`, op, EDIT_OPS.join(', '));
      }
    }
    return this;
  }

  /**
   * Records a list of edits given as data (what `engine.update([...])` takes). The
   * list is read as plain data first, like each edit: a Proxy that throws, a hole or
   * a shared-reference bomb is an issue under ["update", n], not an exception.
   */
  applyList(edits: unknown): this {
    if (this.#done) throw new SgfilterError('INVALID_ARGUMENT', 'this transaction was already committed or abandoned; start a new engine.update()');
    const plain = plainData(edits, ['update'], 'update');
    if (!plain.ok) {
      for (const issue of plain.issues) this.#issues.push(issue);
      return this;
    }
    if (!Array.isArray(plain.value)) {
      this.#issue('INVALID_TYPE', ['update'], `update: the edits must be a list [{op, ...}, ...], got ${show(plain.value)}`, plain.value);
      return this;
    }
    for (const e of plain.value) this.apply(e as PolicyEdit);
    return this;
  }

  /** True for what applyList takes: a list, or something that throws when asked (applyList reports it). */
  static isEditList(x: unknown): boolean {
    try {
      return Array.isArray(x);
    } catch {
      return true;
    }
  }

  /**
   * Checks references on the final state and returns the new Config with the list
   * of what changed, or throws CONFIG_INVALID with every issue. Spends the
   * transaction either way. engine.update calls it; it also edits a Config offline:
   * `new PolicyTransaction(config).addRule(...).commit().config`.
   */
  commit(): CommittedEdits {
    if (this.#done) throw new SgfilterError('INVALID_ARGUMENT', 'this transaction was already committed or abandoned');
    this.#done = true;
    this.#checkReferences();
    if (this.#issues.length > 0) return this.#refuse();
    const securityGroups = this.#groups.map((w): SecurityGroup => {
      if (w.original) return w.original;
      // On PLAIN_PROTO: the fields set below cannot meet a setter on Object.prototype.
      const g: SecurityGroup = plainObject<SecurityGroup>({
        id: w.id,
        template: w.template,
        inbound: numbered([...w.written.inbound, ...w.tail.inbound]),
        outbound: numbered([...w.written.outbound, ...w.tail.outbound]),
      });
      if (w.name !== undefined) g.name = w.name;
      return g;
    });
    const instances: Instance[] = this.#implicit
      ? [{ id: 'default', securityGroups: securityGroups.map((g) => g.id) }]
      : this.#instances.map(builtInstance);
    const sets = this.#finalSets();
    const resolved = this.#resolveNames(securityGroups, instances, sets);
    if (this.#issues.length > 0) return this.#refuse();
    const config: Config = plainObject<Config>({ securityGroups: resolved, instances, implicitInstance: this.#implicit, warnings: configWarnings(resolved, this.base.semantics !== 'classbench') });
    if (this.base.semantics) config.semantics = this.base.semantics;
    if (sets.address.size > 0) config.addressSets = [...sets.address.values()];
    if (sets.service.size > 0) config.serviceSets = [...sets.service.values()];
    return {
      // Frozen and owned: the reused groups are the base's (owned, frozen), the rest was validated here.
      config: ownConfig(config),
      changes: this.#changes,
    };
  }

  /** Throws CONFIG_INVALID with every issue, in edit order (the reference checks run last but belong to their edits). */
  #refuse(): never {
    const at = (i: Issue) => (typeof i.path[1] === 'number' ? i.path[1] : Infinity);
    this.#issues.sort((a, b) => at(a) - at(b));
    const k = this.#issues.length;
    throw new SgfilterError(
      'CONFIG_INVALID',
      `update refused, nothing was changed: ${k} issue${k === 1 ? '' : 's'}\n${describeIssues(this.#issues)}`,
      this.#issues,
    );
  }

  /** Marks the transaction spent without committing (e.g. the engine refused it). @internal */
  abandon(): void {
    this.#done = true;
  }

  // ------------------------------------------------------------------ helpers

  #issue(code: Issue['code'], path: Path, message: string, given?: unknown, allowed?: string): void {
    const issue: Issue = { code, path, message };
    if (given !== undefined) issue.given = given;
    if (allowed !== undefined) issue.allowed = allowed;
    this.#issues.push(issue);
  }

  #id(value: unknown, path: Path, label: string, what: string): value is string {
    if (typeof value === 'string' && value.trim() !== '') return true;
    this.#issue(value === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', path, `${label}: ${what} must be a non-empty string${value === undefined ? '' : `, got ${show(value)}`}`, value);
    return false;
  }

  #group(value: unknown, path: Path, label: string): WorkGroup | undefined {
    if (!this.#id(value, path, label, 'groupId')) return undefined;
    const g = this.#groupById.get(value);
    if (!g && !this.#badGroups.has(value)) {
      const known = listOf(this.#groups, (x) => quote(x.id));
      this.#issue('UNKNOWN_GROUP', path, `${label}: no group ${quote(value)} (groups: ${known})`, value, known);
    }
    return g;
  }

  #instance(value: unknown, path: Path, label: string): WorkInstance | undefined {
    if (!this.#id(value, path, label, 'instanceId')) return undefined;
    this.#makeExplicit();
    const i = this.#instances.find((x) => x.id === value);
    if (!i && !this.#badInstances.has(value)) {
      const known = listOf(this.#instances, (x) => quote(x.id));
      this.#issue('UNKNOWN_INSTANCE', path, `${label}: no instance ${quote(value)} (instances: ${known})`, value, known);
    }
    return i;
  }

  #direction(value: unknown, path: Path, label: string): Direction | undefined {
    const d = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
    if (d === 'inbound' || d === 'outbound') return d;
    this.#issue(value === undefined ? 'MISSING_FIELD' : 'INVALID_DIRECTION', path, `${label}: direction ${value === undefined ? 'missing' : show(value)}; allowed: inbound, outbound`, value, 'inbound, outbound');
    return undefined;
  }

  /** A whole number in lo..hi; out-of-range and template positions are issues. */
  #position(value: unknown, path: Path, label: string, what: string, hi: number, template?: { group: WorkGroup; dir: Direction }): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.#issue(value === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', path, `${label}: ${what} must be a whole number 0-${hi}${value === undefined ? '' : `, got ${show(value)}`}`, value, `0-${hi}`);
      return undefined;
    }
    if (value >= 0 && value <= hi) return value;
    if (template && value > hi && value <= hi + template.group.tail[template.dir].length) {
      const t = template.group.template;
      this.#issue('TEMPLATE_RULE', path, `${label}: ${what} ${value} is a rule of template ${t}; template rules stay the group's tail and are not edited one by one (written rules: 0-${hi}; to change them, give the group another template)`, value, `0-${hi}`);
      return undefined;
    }
    const allowed = hi < 0 ? 'none (the list is empty)' : `0-${hi}`;
    this.#issue('INDEX_OUT_OF_RANGE', path, `${label}: ${what} ${value} is out of range; allowed: ${allowed}`, value, allowed);
    return undefined;
  }

  /** The group, copied on first write (so the base Config is never touched). */
  #touch(g: WorkGroup): WorkGroup {
    if (g.original) {
      g.original = null;
      g.written = { inbound: [...g.written.inbound], outbound: [...g.written.outbound] };
    }
    return g;
  }

  #touchInstance(i: WorkInstance): WorkInstance {
    if (i.original) {
      i.original = null;
      i.securityGroups = [...i.securityGroups];
    }
    return i;
  }

  /** The first instance edit turns the implicit `default` instance into an explicit one bound as it was. */
  #makeExplicit(): void {
    if (!this.#implicit) return;
    this.#implicit = false;
    this.#instances = [{ id: 'default', original: null, securityGroups: this.#groups.map((g) => g.id) }];
  }

  #rule(raw: unknown, g: WorkGroup, dir: Direction, index: number, path: Path, label: string): Rule | undefined {
    if (raw === undefined) {
      this.#issue('MISSING_FIELD', path, `${label}: no rule given`);
      return undefined;
    }
    return validateRuleInput(raw, dir, g.id, index, path, `${label}, rule`, this.#issues, this.#warnings, this.#names());
  }

  // ------------------------------------------------------------------ operations

  #addRule(e: Extract<PolicyEdit, { op: 'addRule' }>, path: Path, n: number): void {
    const label = `update[${n}] addRule`;
    const g = this.#group(e.groupId, [...path, 'groupId'], label);
    const dir = this.#direction(e.direction, [...path, 'direction'], label);
    if (!g || !dir) return;
    const len = g.written[dir].length;
    const at = e.at === undefined ? len : this.#position(e.at, [...path, 'at'], label, 'position', len, { group: g, dir });
    const rule = this.#rule(e.rule, g, dir, at ?? len, [...path, 'rule'], label);
    if (at === undefined || !rule) return;
    this.#touch(g).written[dir].splice(at, 0, rule);
    this.#changes.push({ op: 'addRule', groupId: g.id, direction: dir, index: at });
  }

  #removeRule(e: Extract<PolicyEdit, { op: 'removeRule' }>, path: Path, n: number): void {
    const label = `update[${n}] removeRule`;
    const g = this.#group(e.groupId, [...path, 'groupId'], label);
    const dir = this.#direction(e.direction, [...path, 'direction'], label);
    if (!g || !dir) return;
    const index = this.#position(e.index, [...path, 'index'], label, 'rule index', g.written[dir].length - 1, { group: g, dir });
    if (index === undefined) return;
    this.#touch(g).written[dir].splice(index, 1);
    this.#changes.push({ op: 'removeRule', groupId: g.id, direction: dir, index });
  }

  #replaceRule(e: Extract<PolicyEdit, { op: 'replaceRule' }>, path: Path, n: number): void {
    const label = `update[${n}] replaceRule`;
    const g = this.#group(e.groupId, [...path, 'groupId'], label);
    const dir = this.#direction(e.direction, [...path, 'direction'], label);
    if (!g || !dir) return;
    const index = this.#position(e.index, [...path, 'index'], label, 'rule index', g.written[dir].length - 1, { group: g, dir });
    const rule = this.#rule(e.rule, g, dir, index ?? 0, [...path, 'rule'], label);
    if (index === undefined || !rule) return;
    this.#touch(g).written[dir][index] = rule;
    this.#changes.push({ op: 'replaceRule', groupId: g.id, direction: dir, index });
  }

  #moveRule(e: Extract<PolicyEdit, { op: 'moveRule' }>, path: Path, n: number): void {
    const label = `update[${n}] moveRule`;
    const g = this.#group(e.groupId, [...path, 'groupId'], label);
    const dir = this.#direction(e.direction, [...path, 'direction'], label);
    if (!g || !dir) return;
    const last = g.written[dir].length - 1;
    const from = this.#position(e.from, [...path, 'from'], label, 'from', last, { group: g, dir });
    const to = this.#position(e.to, [...path, 'to'], label, 'to', last, { group: g, dir });
    if (from === undefined || to === undefined) return;
    const list = this.#touch(g).written[dir];
    const [rule] = list.splice(from, 1);
    list.splice(to, 0, rule!);
    this.#changes.push({ op: 'moveRule', groupId: g.id, direction: dir, from, to });
  }

  #addGroup(e: Extract<PolicyEdit, { op: 'addGroup' }>, path: Path, n: number): void {
    const label = `update[${n}] addGroup`;
    const gpath = [...path, 'group'];
    const before = this.#issues.length;
    const raw = e.group as unknown;
    const rawId = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
    const validated = validateGroupInput(raw, gpath, `${label}, group`, this.#issues, this.#warnings, undefined, this.#names(rawId));
    if (typeof rawId === 'string' && this.#groupById.has(rawId)) {
      const gi = this.#groups.findIndex((g) => g.id === rawId);
      this.#issue('DUPLICATE_GROUP', [...gpath, 'id'], `${label}: group id ${quote(rawId)} is already used by securityGroups[${gi}]; group ids must be unique (remove it first to replace it)`, rawId);
    }
    const at = e.at === undefined ? this.#groups.length : this.#position(e.at, [...path, 'at'], label, 'position', this.#groups.length);
    if (this.#issues.length > before || !validated || at === undefined) {
      if (typeof rawId === 'string' && !this.#groupById.has(rawId)) this.#badGroups.add(rawId);
      return;
    }
    const w = workGroup(validated, null);
    this.#groups.splice(at, 0, w);
    this.#groupById.set(w.id, w);
    this.#removedBy.delete(w.id);
    this.#changes.push({ op: 'addGroup', groupId: w.id, at });
  }

  #removeGroup(e: Extract<PolicyEdit, { op: 'removeGroup' }>, path: Path, n: number): void {
    const label = `update[${n}] removeGroup`;
    const g = this.#group(e.groupId, [...path, 'groupId'], label);
    if (!g) return;
    this.#groups.splice(this.#groups.indexOf(g), 1);
    this.#groupById.delete(g.id);
    this.#removedBy.set(g.id, [...path, 'groupId']);
    this.#changes.push({ op: 'removeGroup', groupId: g.id });
  }

  #bindGroup(e: Extract<PolicyEdit, { op: 'bindGroup' }>, path: Path, n: number): void {
    const label = `update[${n}] bindGroup`;
    const inst = this.#instance(e.instanceId, [...path, 'instanceId'], label);
    const okGroup = this.#id(e.groupId, [...path, 'groupId'], label, 'groupId');
    if (!inst || !okGroup) return;
    const gid = e.groupId;
    if (inst.securityGroups.includes(gid)) {
      this.#issue('DUPLICATE_BINDING', [...path, 'groupId'], `${label}: instance ${quote(inst.id)} already binds group ${quote(gid)} (at priority ${inst.securityGroups.indexOf(gid)}); to change its priority, unbind it first or use setGroupOrder`, gid);
      return;
    }
    const at = e.at === undefined ? inst.securityGroups.length : this.#position(e.at, [...path, 'at'], label, 'priority position', inst.securityGroups.length);
    if (at === undefined) return;
    this.#touchInstance(inst).securityGroups.splice(at, 0, gid);
    this.#boundBy.set(`${inst.id}\u0000${gid}`, [...path, 'groupId']);
    this.#changes.push({ op: 'bindGroup', instanceId: inst.id, groupId: gid, at, securityGroups: [...inst.securityGroups] });
  }

  #unbindGroup(e: Extract<PolicyEdit, { op: 'unbindGroup' }>, path: Path, n: number): void {
    const label = `update[${n}] unbindGroup`;
    const inst = this.#instance(e.instanceId, [...path, 'instanceId'], label);
    const okGroup = this.#id(e.groupId, [...path, 'groupId'], label, 'groupId');
    if (!inst || !okGroup) return;
    const k = inst.securityGroups.indexOf(e.groupId);
    if (k < 0) {
      if (!this.#badGroups.has(e.groupId)) {
        this.#issue('GROUP_NOT_BOUND', [...path, 'groupId'], `${label}: instance ${quote(inst.id)} does not bind group ${quote(e.groupId)} (it binds: ${quotedList(inst.securityGroups, 'nothing')})`, e.groupId);
      }
      return;
    }
    this.#touchInstance(inst).securityGroups.splice(k, 1);
    this.#changes.push({ op: 'unbindGroup', instanceId: inst.id, groupId: e.groupId, securityGroups: [...inst.securityGroups] });
  }

  #setGroupOrder(e: Extract<PolicyEdit, { op: 'setGroupOrder' }>, path: Path, n: number): void {
    const label = `update[${n}] setGroupOrder`;
    const inst = this.#instance(e.instanceId, [...path, 'instanceId'], label);
    const list = e.securityGroups as unknown;
    const lpath = [...path, 'securityGroups'];
    if (!Array.isArray(list)) {
      this.#issue(list === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', lpath, `${label}: securityGroups must be a list of group ids, highest priority first${list === undefined ? '' : `, got ${show(list)}`}`, list);
      return;
    }
    const before = this.#issues.length;
    const seen = new Set<string>();
    list.forEach((g: unknown, k) => {
      if (!this.#id(g, [...lpath, k], label, `securityGroups[${k}]`)) return;
      if (seen.has(g)) this.#issue('DUPLICATE_BINDING', [...lpath, k], `${label}: group ${quote(g)} is listed twice; list each group once, in priority order`, g);
      seen.add(g);
    });
    if (!inst || this.#issues.length > before) return;
    const groups = list as string[];
    this.#touchInstance(inst).securityGroups = [...groups];
    groups.forEach((g, k) => this.#boundBy.set(`${inst.id}\u0000${g}`, [...lpath, k]));
    this.#changes.push({ op: 'setGroupOrder', instanceId: inst.id, securityGroups: [...groups] });
  }

  #addInstance(e: Extract<PolicyEdit, { op: 'addInstance' }>, path: Path, n: number): void {
    const label = `update[${n}] addInstance`;
    this.#makeExplicit();
    const ipath = [...path, 'instance'];
    const before = this.#issues.length;
    const raw = e.instance as unknown;
    const rawId = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
    const inst = validateInstanceInput(raw, ipath, `${label}, instance`, this.#issues);
    const existing = typeof rawId === 'string' ? this.#instances.findIndex((i) => i.id === rawId) : -1;
    if (existing >= 0) {
      this.#issue('DUPLICATE_INSTANCE', [...ipath, 'id'], `${label}: instance id ${quote(String(rawId))} is already used by instances[${existing}]; instance ids must be unique`, rawId);
    }
    const at = e.at === undefined ? this.#instances.length : this.#position(e.at, [...path, 'at'], label, 'position', this.#instances.length);
    if (this.#issues.length > before || !inst || at === undefined) {
      if (typeof rawId === 'string' && existing < 0) this.#badInstances.add(rawId);
      return;
    }
    this.#instances.splice(at, 0, { id: inst.id, original: null, securityGroups: [...inst.securityGroups], ...(inst.addresses ? { addresses: inst.addresses } : {}) });
    inst.securityGroups.forEach((g, k) => this.#boundBy.set(`${inst.id}\u0000${g}`, [...ipath, 'securityGroups', k]));
    this.#changes.push({ op: 'addInstance', instanceId: inst.id, at, securityGroups: [...inst.securityGroups] });
  }

  #removeInstance(e: Extract<PolicyEdit, { op: 'removeInstance' }>, path: Path, n: number): void {
    const label = `update[${n}] removeInstance`;
    const inst = this.#instance(e.instanceId, [...path, 'instanceId'], label);
    if (!inst) return;
    this.#instances.splice(this.#instances.indexOf(inst), 1);
    if (this.#instances.length === 0) this.#emptiedBy = { path: [...path, 'instanceId'], id: inst.id };
    for (const g of inst.securityGroups) this.#boundBy.delete(`${inst.id}\u0000${g}`);
    this.#changes.push({ op: 'removeInstance', instanceId: inst.id });
  }

  #setInstanceAddresses(e: Extract<PolicyEdit, { op: 'setInstanceAddresses' }>, path: Path, n: number): void {
    const label = `update[${n}] setInstanceAddresses`;
    const inst = this.#instance(e.instanceId, [...path, 'instanceId'], label);
    const raw = e.addresses as unknown;
    let addresses: Instance['addresses'];
    if (raw === undefined) {
      this.#issue('MISSING_FIELD', [...path, 'addresses'], `${label}: no addresses; give a list of addresses, CIDRs or ranges, or null for none`);
      return;
    }
    if (raw !== null) {
      addresses = parseOwnAddresses(raw, [...path, 'addresses'], `${label}: addresses`, this.#issues);
      if (!addresses) return;
    }
    if (!inst) return;
    this.#touchInstance(inst);
    if (addresses) inst.addresses = addresses;
    else delete inst.addresses;
    this.#changes.push({ op: 'setInstanceAddresses', instanceId: inst.id });
  }

  #putSet(e: Extract<PolicyEdit, { op: 'addAddressSet' | 'replaceAddressSet' | 'addServiceSet' | 'replaceServiceSet' }>, path: Path, n: number): void {
    const label = `update[${n}] ${e.op}`;
    const kind = e.op === 'addAddressSet' || e.op === 'replaceAddressSet' ? 'address' : 'service';
    const adding = e.op === 'addAddressSet' || e.op === 'addServiceSet';
    const before = this.#issues.length;
    if (e.set === undefined) {
      this.#issue('MISSING_FIELD', [...path, 'set'], `${label}: no set given`);
      return;
    }
    const def = readSetEntry(e.set, kind, [...path, 'set'], `${label}, set`, this.#issues, undefined);
    if (!def) return;
    const key = `${kind}\u0000${def.id}`;
    const table = this.#sets[kind];
    if (adding && table.has(def.id)) {
      this.#issue('DUPLICATE_SET', def.idPath, `${label}: ${kind} set ${quote(def.id)} is already defined; replace it with ${kind === 'address' ? 'replaceAddressSet' : 'replaceServiceSet'} (or remove it first)`, def.id);
    } else if (!adding && !table.has(def.id)) {
      if (!this.#badSets.has(key)) {
        const known = listOf([...table.keys()], (x) => quote(x));
        this.#issue('UNKNOWN_SET', def.idPath, `${label}: no ${kind} set ${quote(def.id)} to replace (defined: ${known}); add it with ${kind === 'address' ? 'addAddressSet' : 'addServiceSet'}`, def.id, known);
      }
    }
    // Plain sets are checked member by member here; a set group's members are checked on the final state (commit).
    let built: NamedAddressSet | NamedServiceSet | undefined;
    if (def.sets) {
      const ids: string[] = [];
      for (const m of def.sets) {
        if (typeof m.value !== 'string' || m.value.trim() === '') this.#issue('INVALID_TYPE', m.path, `${label}: a member must be the id of a ${kind} set (a non-empty string), got ${show(m.value)}`, m.value);
        else if (!ids.includes(m.value)) ids.push(m.value);
      }
      built = plainObject<NamedAddressSet | NamedServiceSet>(kind === 'address' ? { id: def.id, addresses: { v4: [], v6: [] }, sets: ids } : { id: def.id, services: [], sets: ids });
      if (def.name !== undefined) built.name = def.name;
    } else {
      const sets = buildSets([def], new Set(), this.#issues, this.#warnings);
      built = kind === 'address' ? sets.addressSets.get(def.id) : sets.serviceSets.get(def.id);
    }
    if (this.#issues.length > before || !built) {
      if (!table.has(def.id)) this.#badSets.add(key);
      return;
    }
    (table as Map<string, NamedAddressSet | NamedServiceSet>).set(def.id, built);
    this.#setBy.set(key, def.idPath);
    this.#setRemovedBy.delete(key);
    this.#changes.push({ op: e.op, setId: def.id });
  }

  #removeSet(e: Extract<PolicyEdit, { op: 'removeAddressSet' | 'removeServiceSet' }>, path: Path, n: number): void {
    const label = `update[${n}] ${e.op}`;
    const kind = e.op === 'removeAddressSet' ? 'address' : 'service';
    if (!this.#id(e.setId, [...path, 'setId'], label, 'setId')) return;
    const table = this.#sets[kind];
    if (!table.has(e.setId)) {
      if (!this.#badSets.has(`${kind}\u0000${e.setId}`)) {
        const known = listOf([...table.keys()], (x) => quote(x));
        this.#issue('UNKNOWN_SET', [...path, 'setId'], `${label}: no ${kind} set ${quote(e.setId)} (defined: ${known})`, e.setId, known);
      }
      return;
    }
    table.delete(e.setId);
    this.#setRemovedBy.set(`${kind}\u0000${e.setId}`, [...path, 'setId']);
    this.#changes.push({ op: e.op, setId: e.setId });
  }

  /**
   * The sets on the final state: set groups recomputed from their members (which must
   * be plain sets of the policy then), an address set id that a group also has refused.
   */
  #finalSets(): { address: Map<string, NamedAddressSet>; service: Map<string, NamedServiceSet> } {
    const address = new Map<string, NamedAddressSet>();
    const service = new Map<string, NamedServiceSet>();
    const where = (kind: string, id: string): Path => this.#setBy.get(`${kind}\u0000${id}`) ?? ['update'];
    const member = (kind: 'address' | 'service', groupId: string, id: string): boolean => {
      const m = this.#sets[kind].get(id);
      if (m && !m.sets) return true;
      const removed = this.#setRemovedBy.get(`${kind}\u0000${id}`);
      if (removed) this.#issue('SET_IN_USE', removed, `update[${String(removed[1])}]: ${kind} set ${quote(id)} is still a member of set group ${quote(groupId)}; replace the group in the same update to remove it`, id);
      else if (m) this.#issue('NESTED_SET', where(kind, groupId), `update: set group ${quote(groupId)} lists ${quote(id)}, which is itself a set group; list its member sets instead`, id);
      else if (!this.#badSets.has(`${kind}\u0000${id}`)) this.#issue('UNKNOWN_SET', where(kind, groupId), `update: set group ${quote(groupId)} lists ${kind} set ${quote(id)}, which the policy does not define after this update`, id);
      return false;
    };
    for (const [id, set] of this.#sets.address) {
      if (this.#groupById.has(id)) this.#issue('AMBIGUOUS_SET_ID', where('address', id), `update: address set ${quote(id)} shares its id with a security group; a peer naming it would be ambiguous`, id);
      if (!set.sets) {
        address.set(id, set);
        continue;
      }
      const ok = set.sets.filter((m) => member('address', id, m));
      const addresses = unionOf(ok.map((m) => this.#sets.address.get(m)!.addresses));
      address.set(id, sameAddresses(addresses, set.addresses) ? set : { ...set, addresses });
    }
    for (const [id, set] of this.#sets.service) {
      if (!set.sets) {
        service.set(id, set);
        continue;
      }
      const ok = set.sets.filter((m) => member('service', id, m));
      const services = ok.flatMap((m) => this.#sets.service.get(m)!.services);
      service.set(id, sameServices(services, set.services) ? set : { ...set, services });
    }
    return { address, service };
  }

  /**
   * Every rule that names a set or a group, given what they hold on the final state
   * (SPEC §9: a set, a binding or an instance's addresses changing republishes every
   * rule using it, in this one version). Rules and groups that do not change are
   * reused as they are.
   */
  #resolveNames(groups: SecurityGroup[], instances: Instance[], sets: { address: Map<string, NamedAddressSet>; service: Map<string, NamedServiceSet> }): SecurityGroup[] {
    const referenced = new Set<string>();
    for (const g of groups) for (const dir of DIRECTIONS) for (const r of g[dir]) if (r.peerGroup !== undefined) referenced.add(r.peerGroup);
    const peers = groupPeers(instances, referenced);
    return groups.map((g) => {
      let changed = false;
      const lists = DIRECTIONS.map((dir) => g[dir].map((r) => {
        let out = r;
        const where = `group ${quote(g.id)} ${dir} rule ${r.ruleIndex}`;
        if (r.peerSet !== undefined) {
          const set = sets.address.get(r.peerSet);
          if (!set) this.#refused('address', r.peerSet, where);
          else if (!sameAddresses(set.addresses, r.peer)) out = { ...out, peer: set.addresses };
        }
        if (r.peerGroup !== undefined) {
          const addresses = peers.get(r.peerGroup)!;
          if (!this.#groupById.has(r.peerGroup)) {
            const by = this.#removedBy.get(r.peerGroup) ?? ['update'];
            this.#issue('GROUP_IN_USE', by, `update[${String(by[1])}] removeGroup: group ${quote(r.peerGroup)} is still the peer of ${where} (a group reference); change or remove that rule in the same update`, r.peerGroup);
          } else if (!sameAddresses(addresses, r.peer)) out = { ...out, peer: addresses };
        }
        if (r.serviceSet !== undefined) {
          const set = sets.service.get(r.serviceSet);
          if (!set) this.#refused('service', r.serviceSet, where);
          else if (!sameServices(set.services, r.services ?? [])) out = { ...out, services: set.services };
        }
        if (out !== r) changed = true;
        return out;
      }));
      if (!changed) return g;
      const copy: SecurityGroup = { ...g, inbound: lists[0]!, outbound: lists[1]! };
      return copy;
    });
  }

  #refused(kind: 'address' | 'service', id: string, where: string): void {
    const by = this.#setRemovedBy.get(`${kind}\u0000${id}`);
    if (by) this.#issue('SET_IN_USE', by, `update[${String(by[1])}]: ${kind} set ${quote(id)} is still named by ${where}; change or remove that rule in the same update`, id);
  }

  /** Every group an instance binds at the end must exist then. */
  #checkReferences(): void {
    if (this.#implicit) return;
    // No instance left: a config file cannot say that (without instances it means the
    // implicit `default` bound to every group), and every flow would be UNKNOWN_INSTANCE.
    // Refused, rather than silently binding every group to a `default` (docs/SEMANTICS.md).
    if (this.#instances.length === 0 && this.#emptiedBy) {
      const { path, id } = this.#emptiedBy;
      this.#issue('LAST_INSTANCE', path, `update[${String(path[1])}]: removing instance ${quote(id)} would leave the policy with no instance, which a config cannot say (a config without instances means the implicit "default" instance bound to every group); add the instance that replaces it in the same update, or reload a config without instances to get the implicit one`, id);
    }
    const inUse = new Map<string, string[]>();
    for (const inst of this.#instances) {
      for (const gid of inst.securityGroups) {
        if (this.#groupById.has(gid) || this.#badGroups.has(gid)) continue;
        const by = this.#boundBy.get(`${inst.id}\u0000${gid}`);
        if (by && !this.#removedBy.has(gid)) {
          const known = listOf(this.#groups, (g) => quote(g.id));
          this.#issue('UNKNOWN_GROUP', by, `update[${String(by[1])}]: instance ${quote(inst.id)} would bind group ${quote(gid)}, which the policy does not define after this update (groups: ${known})`, gid, known);
        } else {
          const users = inUse.get(gid);
          if (users) users.push(inst.id);
          else inUse.set(gid, [inst.id]);
        }
      }
    }
    for (const [gid, users] of inUse) {
      const by = this.#removedBy.get(gid) ?? ['update'];
      this.#issue(
        'GROUP_IN_USE', by,
        `update[${String(by[1])}] removeGroup: group ${quote(gid)} is still bound to instance${users.length === 1 ? '' : 's'} ${quotedList(users)}; unbind it in the same update (unbindGroup or setGroupOrder) to remove it`,
        gid,
      );
    }
  }
}
