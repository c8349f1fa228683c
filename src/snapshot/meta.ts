/**
 * A snapshot's metadata: the validated Config, each instance's chains, and the table's
 * stats, as UTF-8 JSON (bigint addresses as {"$n": "<hex>"}). Global rule ids and the
 * default instance are not stored: they follow from the config (ruleRefs below, the
 * order compilePolicy numbers rules in), so they cannot disagree with it.
 *
 * Reading is strict, because the JSON is untrusted: every object must have exactly the
 * fields of its type (an own "__proto__" or "constructor" key is an unknown field),
 * values their types and ranges, bigints only where addresses are, ids unique, rule
 * positions where they are; objects are rebuilt field by field, so nothing from the
 * JSON reaches an engine but the fields read.
 */
import { formatPath, SgfilterError, type Path } from '../errors.js';
import { ownFields, plainObject, quote } from '../config/plain.js';
import { parseJsonText } from '../config/text.js';
import { ownConfig } from '../config/owned.js';
import type { CompiledPolicy, RuleRef } from '../compile/index.js';
import type { AddressRange, AddressSet, Config, Direction, Instance, Interval, NamedAddressSet, NamedServiceSet, ProtocolMatch, Rule, SecurityGroup, Service, Warning } from '../types.js';
import { sameAddresses, unionOf } from '../config/address.js';
import { groupPeers } from '../config/sets.js';

export interface SnapshotMeta {
  config: Config;
  /** [instance id, inbound chain, outbound chain], in config order. */
  instances: [string, number, number][];
  stats: CompiledPolicy['stats'];
}

const STATS_FIELDS = ['total', 'header', 'rules', 'bitmaps', 'summaries', 'tries', 'intervals', 'classifiers', 'boxes'] as const;
const TEMPLATE_NAMES = ['open-all', 'open-common', 'custom'] as const;
const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound'];
const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;
const HEX = /^[0-9a-f]{1,32}$/;
const RULE_FIELDS = ['groupId', 'direction', 'ruleIndex', 'action', 'protocol', 'ports', 'peer', 'local', 'sourcePorts', 'icmpType', 'icmpCode', 'text'];
const RULE_OPTIONAL = ['description', 'template', 'peerSet', 'peerGroup', 'serviceSet', 'services', 'policyIndex'];

/** Encodes the metadata of `compiled` and `config` (see the file comment). */
export function encodeMeta(compiled: CompiledPolicy, config: Config): Uint8Array {
  const instances = [...compiled.instances].map(([id, [inbound, outbound]]) => [id, inbound, outbound]);
  return new TextEncoder().encode(
    JSON.stringify({ instances, stats: compiled.stats, config }, (_k, v: unknown) => (typeof v === 'bigint' ? { $n: v.toString(16) } : v)),
  );
}

/** Global rule ids of `config`, in the order compilePolicy numbers them: group by group, inbound then outbound. */
export function ruleRefs(config: Config): RuleRef[] {
  const refs: RuleRef[] = [];
  for (const g of config.securityGroups) {
    for (const list of [g.inbound, g.outbound]) {
      for (const r of list) refs.push({ groupId: r.groupId, direction: r.direction, ruleIndex: r.ruleIndex, action: r.action });
    }
  }
  return refs;
}

/**
 * Reads untrusted JSON into typed values. The path of the value being read is a stack
 * (`at`), pushed and popped while descending, and only copied into a message when
 * something is wrong: a 100,000-rule config is read without an allocation per field.
 * Each check takes the key of the value it reads inside the current object.
 */
class MetaReader {
  readonly at: Path = [];

  fail(key: string | number | null, message: string): never {
    const path = key === null ? this.at : [...this.at, key];
    throw new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: metadata ${formatPath(path)}: ${message}`);
  }

  show(v: unknown): string {
    if (typeof v === 'string') return quote(v, 40);
    if (Array.isArray(v)) return 'a list';
    if (v === null) return 'null';
    return typeof v === 'object' ? 'an object' : String(v);
  }

  /** A plain JSON object with every `required` field and no field outside `required` + `optional`. */
  record(v: unknown, key: string | number | null, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) {
      this.fail(key, `must be an object, got ${this.show(v)}`);
    }
    const keys = Object.keys(v);
    let present = 0;
    for (const k of keys) {
      if (required.includes(k)) present++;
      else if (!optional.includes(k)) {
        if (key !== null) this.at.push(key);
        this.fail(k, `unknown field (allowed: ${[...required, ...optional].join(', ')})`);
      }
    }
    if (present !== required.length) {
      if (key !== null) this.at.push(key);
      this.fail(required.find((k) => !Object.hasOwn(v, k))!, 'missing');
    }
    // Its own fields only: an optional field it lacks reads as undefined, never as Object.prototype's.
    return ownFields(v as Record<string, unknown>);
  }

  list(v: unknown, key: string | number | null): unknown[] {
    if (!Array.isArray(v)) this.fail(key, `must be a list, got ${this.show(v)}`);
    return v;
  }

  string(v: unknown, key: string | number | null, nonEmpty = false): string {
    if (typeof v !== 'string' || (nonEmpty && v.trim() === '')) this.fail(key, `must be a ${nonEmpty ? 'non-empty ' : ''}string, got ${this.show(v)}`);
    return v;
  }

  int(v: unknown, key: string | number | null, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) this.fail(key, `must be a whole number ${lo}-${hi}, got ${this.show(v)}`);
    return v;
  }

  oneOf<T extends string>(v: unknown, key: string | number | null, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(key, `must be one of ${allowed.join(', ')}, got ${this.show(v)}`);
    return v as T;
  }

  /** A bigint written as {"$n": "<lowercase hex>"}, at most `max`. */
  bigint(v: unknown, key: string, max: bigint): bigint {
    const r = this.record(v, key, ['$n']);
    const hex = r.$n;
    if (typeof hex !== 'string' || !HEX.test(hex)) {
      this.at.push(key);
      this.fail('$n', `must be lowercase hex digits, got ${this.show(hex)}`);
    }
    const n = BigInt(`0x${hex}`);
    if (n > max) this.fail(key, `address ${hex} is past the family's last address`);
    return n;
  }

  intervals(v: unknown, key: string, max: number): Interval[] | null {
    if (v === null) return null;
    const list = this.list(v, key);
    if (list.length === 0) this.fail(key, 'must be null (any) or a non-empty list of intervals');
    this.at.push(key);
    const out: Interval[] = [];
    for (let i = 0; i < list.length; i++) {
      const r = this.record(list[i], i, ['lo', 'hi']);
      this.at.push(i);
      const lo = this.int(r.lo, 'lo', 0, max);
      const hi = this.int(r.hi, 'hi', lo, max);
      this.at.pop();
      out.push({ lo, hi });
    }
    this.at.pop();
    return out;
  }

  addressSet(v: unknown, key: string): AddressSet {
    const r = this.record(v, key, ['v4', 'v6']);
    this.at.push(key);
    const set = { v4: this.ranges(r.v4, 'v4', V4_MAX), v6: this.ranges(r.v6, 'v6', V6_MAX) };
    this.at.pop();
    return set;
  }

  ranges(v: unknown, key: string, max: bigint): AddressRange[] {
    const list = this.list(v, key);
    this.at.push(key);
    const out: AddressRange[] = [];
    for (let i = 0; i < list.length; i++) {
      const a = this.record(list[i], i, ['lo', 'hi']);
      this.at.push(i);
      const lo = this.bigint(a.lo, 'lo', max);
      const hi = this.bigint(a.hi, 'hi', max);
      if (hi < lo) this.fail(null, 'the range ends before it starts');
      this.at.pop();
      out.push({ lo, hi });
    }
    this.at.pop();
    return out;
  }

  protocol(v: unknown, key: string): ProtocolMatch {
    if (v === 'all' || v === 'ping') return v;
    return this.int(v, key, 0, 255);
  }

  byteOrNull(v: unknown, key: string): number | null {
    return v === null ? null : this.int(v, key, 0, 255);
  }

  /** A service set's services (SPEC §9). */
  services(v: unknown, key: string): Service[] {
    const list = this.list(v, key);
    this.at.push(key);
    const out = list.map((x, i): Service => {
      const r = this.record(x, i, ['protocol', 'ports', 'text']);
      this.at.push(i);
      const protocol = r.protocol === 'all' ? 'all' : this.int(r.protocol, 'protocol', 0, 255);
      const s: Service = { protocol, ports: this.intervals(r.ports, 'ports', 65535), text: this.string(r.text, 'text') };
      this.at.pop();
      return s;
    });
    this.at.pop();
    return out;
  }

  /** The named sets of the config (SPEC §9): ids unique, a set group's members plain sets, its addresses / services their union. */
  namedSets<T extends NamedAddressSet | NamedServiceSet>(v: unknown, key: 'addressSets' | 'serviceSets'): Map<string, T> {
    const out = new Map<string, T>();
    if (v === undefined) return out;
    const list = this.list(v, key);
    this.at.push(key);
    const members = key === 'addressSets' ? 'addresses' : 'services';
    // Plain sets first, then set groups (a group may be listed before its members).
    const groups: [number, T][] = [];
    for (let i = 0; i < list.length; i++) {
      const r = this.record(list[i], i, ['id', members], ['name', 'sets']);
      this.at.push(i);
      const id = this.string(r.id, 'id', true);
      if (out.has(id)) this.fail('id', `${this.show(id)} is used by an earlier set`);
      const set = plainObject(key === 'addressSets' ? { id, addresses: this.addressSet(r.addresses, 'addresses') } : { id, services: this.services(r.services, 'services') }) as T;
      if (Object.hasOwn(r, 'name')) set.name = this.string(r.name, 'name');
      if (Object.hasOwn(r, 'sets')) {
        const ids = this.list(r.sets, 'sets');
        this.at.push('sets');
        set.sets = ids.map((m, k) => this.string(m, k, true));
        this.at.pop();
        groups.push([i, set]);
      }
      this.at.pop();
      out.set(id, set);
    }
    for (const [i, set] of groups) {
      this.at.push(i);
      if (set.sets) {
        set.sets.forEach((mid, k) => {
          const member = out.get(mid);
          if (!member || member.sets) (this.at.push('sets'), this.fail(k, `names ${this.show(mid)}, which is not a plain set of the config`));
        });
        if (key === 'addressSets') {
          const union = unionOf(set.sets.map((m) => (out.get(m) as NamedAddressSet).addresses));
          if (!sameAddresses(union, (set as NamedAddressSet).addresses)) this.fail('addresses', 'are not the union of the member sets');
        } else {
          const all = set.sets.flatMap((m) => (out.get(m) as NamedServiceSet).services);
          if (JSON.stringify(all) !== JSON.stringify((set as NamedServiceSet).services)) this.fail('services', 'are not the member sets\' services');
        }
      }
      this.at.pop();
    }
    this.at.pop();
    return out;
  }

  /** The rule at `this.at` (its record already pushed). */
  rule(v: unknown, index: number, group: SecurityGroup, direction: Direction, sets?: { address: Map<string, NamedAddressSet>; service: Map<string, NamedServiceSet> }): Rule {
    const r = this.record(v, index, RULE_FIELDS, RULE_OPTIONAL);
    this.at.push(index);
    if (r.groupId !== group.id) this.fail('groupId', `${this.show(r.groupId)}, but the rule is in group ${this.show(group.id)}`);
    if (r.direction !== direction) this.fail('direction', `${this.show(r.direction)}, but the rule is in the ${direction} list`);
    if (r.ruleIndex !== index) this.fail('ruleIndex', `${this.show(r.ruleIndex)}, but the rule is at position ${index}`);
    const text = this.record(r.text, 'text', ['protocol', 'port', 'peer']);
    // On PLAIN_PROTO (plain.ts): the fields a rule lacks read as undefined below.
    const rule: Rule = plainObject({
      groupId: group.id,
      direction,
      ruleIndex: index,
      action: this.oneOf(r.action, 'action', ['accept', 'drop'] as const),
      protocol: this.protocol(r.protocol, 'protocol'),
      ports: this.intervals(r.ports, 'ports', 65535),
      peer: this.addressSet(r.peer, 'peer'),
      local: r.local === null ? null : this.addressSet(r.local, 'local'),
      sourcePorts: this.intervals(r.sourcePorts, 'sourcePorts', 65535),
      icmpType: this.byteOrNull(r.icmpType, 'icmpType'),
      icmpCode: this.byteOrNull(r.icmpCode, 'icmpCode'),
      text: { protocol: '', port: '', peer: '' },
    });
    this.at.push('text');
    rule.text = { protocol: this.string(text.protocol, 'protocol'), port: this.string(text.port, 'port'), peer: this.string(text.peer, 'peer') };
    this.at.pop();
    if (Object.hasOwn(r, 'description')) rule.description = this.string(r.description, 'description');
    if (Object.hasOwn(r, 'template')) rule.template = this.oneOf(r.template, 'template', TEMPLATE_NAMES);
    // Template rules are the group's tail (docs/SEMANTICS.md "Security groups"), from the group's own template.
    if (rule.template !== undefined && rule.template !== group.template) this.fail('template', `${rule.template}, but the group is made from ${group.template}`);
    // Names (SPEC §9): what the rule holds must be what it names (a group reference is checked once every instance is read).
    if (Object.hasOwn(r, 'policyIndex')) rule.policyIndex = this.int(r.policyIndex, 'policyIndex', 0, Number.MAX_SAFE_INTEGER);
    if (Object.hasOwn(r, 'peerSet') && Object.hasOwn(r, 'peerGroup')) this.fail('peerGroup', 'a rule names an address set or a group as its peer, not both');
    if (Object.hasOwn(r, 'peerSet')) {
      rule.peerSet = this.string(r.peerSet, 'peerSet', true);
      const set = sets?.address.get(rule.peerSet);
      if (!set) this.fail('peerSet', `names ${this.show(rule.peerSet)}, which is not an address set of the config`);
      if (!sameAddresses(set.addresses, rule.peer)) this.fail('peer', `is not the addresses of set ${this.show(rule.peerSet)}`);
    }
    if (Object.hasOwn(r, 'peerGroup')) rule.peerGroup = this.string(r.peerGroup, 'peerGroup', true);
    if (Object.hasOwn(r, 'serviceSet') !== Object.hasOwn(r, 'services')) this.fail('services', 'serviceSet and services go together');
    if (Object.hasOwn(r, 'serviceSet')) {
      rule.serviceSet = this.string(r.serviceSet, 'serviceSet', true);
      rule.services = this.services(r.services, 'services');
      if (rule.protocol !== 'all' || rule.ports !== null) this.fail('protocol', 'a rule with a service set has protocol "all" and ports null');
      const set = sets?.service.get(rule.serviceSet);
      if (!set) this.fail('serviceSet', `names ${this.show(rule.serviceSet)}, which is not a service set of the config`);
      if (JSON.stringify(set.services) !== JSON.stringify(rule.services)) this.fail('services', `are not the services of set ${this.show(rule.serviceSet)}`);
    }
    this.at.pop();
    return rule;
  }

  group(v: unknown, index: number, sets: { address: Map<string, NamedAddressSet>; service: Map<string, NamedServiceSet> }): SecurityGroup {
    const r = this.record(v, index, ['id', 'template', 'inbound', 'outbound'], ['name']);
    this.at.push(index);
    const group: SecurityGroup = plainObject({
      id: this.string(r.id, 'id', true),
      template: this.oneOf(r.template, 'template', TEMPLATE_NAMES),
      inbound: [] as Rule[],
      outbound: [] as Rule[],
    });
    if (Object.hasOwn(r, 'name')) group.name = this.string(r.name, 'name');
    for (const dir of DIRECTIONS) {
      const list = this.list(r[dir], dir);
      this.at.push(dir);
      let templateTail = false;
      for (let i = 0; i < list.length; i++) {
        const rule = this.rule(list[i], i, group, dir, sets);
        if (templateTail && rule.template === undefined) this.fail(i, 'a written rule after the template rules (they are the group\'s tail)');
        templateTail ||= rule.template !== undefined;
        group[dir].push(rule);
      }
      this.at.pop();
    }
    this.at.pop();
    return group;
  }

  config(v: unknown): Config {
    const r = this.record(v, 'config', ['securityGroups', 'instances', 'implicitInstance', 'warnings'], ['addressSets', 'serviceSets', 'semantics']);
    this.at.push('config');
    const sets = { address: this.namedSets<NamedAddressSet>(r.addressSets, 'addressSets'), service: this.namedSets<NamedServiceSet>(r.serviceSets, 'serviceSets') };
    const securityGroups: SecurityGroup[] = [];
    const groupIds = new Set<string>();
    const groupList = this.list(r.securityGroups, 'securityGroups');
    this.at.push('securityGroups');
    for (let i = 0; i < groupList.length; i++) {
      const group = this.group(groupList[i], i, sets);
      if (groupIds.has(group.id)) this.fail(i, `id ${this.show(group.id)} is used by an earlier group`);
      groupIds.add(group.id);
      securityGroups.push(group);
    }
    this.at.pop();
    const instanceIds = new Set<string>();
    const instances: Instance[] = [];
    const instanceList = this.list(r.instances, 'instances');
    this.at.push('instances');
    for (let i = 0; i < instanceList.length; i++) {
      const inst = this.record(instanceList[i], i, ['id', 'securityGroups'], ['addresses']);
      this.at.push(i);
      const id = this.string(inst.id, 'id', true);
      if (instanceIds.has(id)) this.fail('id', `${this.show(id)} is used by an earlier instance`);
      instanceIds.add(id);
      const bound = new Set<string>();
      const list = this.list(inst.securityGroups, 'securityGroups');
      this.at.push('securityGroups');
      const groups = list.map((g, k) => {
        const gid = this.string(g, k);
        if (!groupIds.has(gid)) this.fail(k, `names group ${this.show(gid)}, which the config does not define`);
        if (bound.has(gid)) this.fail(k, `lists group ${this.show(gid)} twice`);
        bound.add(gid);
        return gid;
      });
      this.at.pop();
      // The instance's own addresses (packet direction, docs/SEMANTICS.md): not `any`.
      const addresses = inst.addresses === undefined ? undefined : this.addressSet(inst.addresses, 'addresses');
      if (addresses && addresses.v4.length + addresses.v6.length === 0) this.fail('addresses', 'must hold at least one address range');
      this.at.pop();
      instances.push(addresses ? { id, securityGroups: groups, addresses } : { id, securityGroups: groups });
    }
    this.at.pop();
    if (typeof r.implicitInstance !== 'boolean') this.fail('implicitInstance', `must be true or false, got ${this.show(r.implicitInstance)}`);
    if (r.implicitInstance) {
      const all = securityGroups.map((g) => g.id);
      const only = instances[0];
      if (instances.length !== 1 || only!.id !== 'default' || only!.securityGroups.join('\u0000') !== all.join('\u0000')) {
        this.fail('instances', 'with implicitInstance, the one instance is "default", bound to every group in file order');
      }
    }
    const warningList = this.list(r.warnings, 'warnings');
    this.at.push('warnings');
    const warnings: Warning[] = warningList.map((x, i) => {
      const w = this.record(x, i, ['path', 'message'], ['file']);
      this.at.push(i);
      const pathList = this.list(w.path, 'path');
      this.at.push('path');
      const path = pathList.map((k, j) => (typeof k === 'number' ? this.int(k, j, 0, Number.MAX_SAFE_INTEGER) : this.string(k, j)));
      this.at.pop();
      const warning: Warning = plainObject<Warning>({ path, message: this.string(w.message, 'message') });
      if (Object.hasOwn(w, 'file')) warning.file = this.string(w.file, 'file');
      this.at.pop();
      return warning;
    });
    this.at.pop();
    // Group references: the addresses of the instances bound to the group, as the config says.
    const referenced = new Set<string>();
    for (const g of securityGroups) for (const dir of DIRECTIONS) for (const rule of g[dir]) if (rule.peerGroup !== undefined) referenced.add(rule.peerGroup);
    const peers = groupPeers(instances, referenced);
    securityGroups.forEach((g, gi) => {
      for (const dir of DIRECTIONS) {
        g[dir].forEach((rule, ri) => {
          if (rule.peerGroup === undefined) return;
          const at = () => this.at.push('securityGroups', gi, dir, ri);
          if (!groupIds.has(rule.peerGroup)) (at(), this.fail('peerGroup', `names ${this.show(rule.peerGroup)}, which is not a group of the config`));
          if (!sameAddresses(peers.get(rule.peerGroup)!, rule.peer)) (at(), this.fail('peer', `is not the addresses of the instances bound to group ${this.show(rule.peerGroup)}`));
        });
      }
    });
    if (r.semantics !== undefined && r.semantics !== 'classbench') this.fail('semantics', `must be absent or "classbench", got ${this.show(r.semantics)}`);
    this.at.pop();
    // On PLAIN_PROTO: the fields set below cannot meet a setter on Object.prototype.
    const config: Config = plainObject<Config>({ securityGroups, instances, implicitInstance: r.implicitInstance, warnings });
    if (r.semantics === 'classbench') config.semantics = 'classbench';
    if (sets.address.size > 0) config.addressSets = [...sets.address.values()];
    if (sets.service.size > 0) config.serviceSets = [...sets.service.values()];
    return config;
  }
}

/** Reads metadata bytes; throws SNAPSHOT_INVALID saying which field is wrong. */
export function decodeMeta(bytes: Uint8Array): SnapshotMeta {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: metadata is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) throw new SgfilterError('SNAPSHOT_INVALID', 'invalid snapshot: metadata starts with a byte order mark; the library writes none');
  let doc: unknown;
  try {
    // The config reader's JSON (config/text.ts): a key given twice in one object is
    // refused, as in a config file; JSON.parse alone would keep the last one, so two
    // readers of the same bytes could disagree on what the snapshot says.
    doc = parseJsonText(text, 'snapshot metadata');
  } catch (e) {
    const issue = e instanceof SgfilterError ? e.issues[0] : undefined;
    throw new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: ${issue?.message ?? `metadata is not valid JSON: ${(e as Error).message}`}`);
  }
  const m = new MetaReader();
  const top = m.record(doc, null, ['instances', 'stats', 'config']);
  const config = m.config(top.config);
  const list = m.list(top.instances, 'instances');
  m.at.push('instances');
  const instances = list.map((x, i): [string, number, number] => {
    const entry = m.list(x, i);
    if (entry.length !== 3) m.fail(i, 'must be [instance id, inbound chain, outbound chain]');
    m.at.push(i);
    const out: [string, number, number] = [m.string(entry[0], 0), m.int(entry[1], 1, 0, 0xffffffff), m.int(entry[2], 2, 0, 0xffffffff)];
    m.at.pop();
    return out;
  });
  m.at.pop();
  const s = m.record(top.stats, 'stats', STATS_FIELDS);
  m.at.push('stats');
  const stats = Object.fromEntries(STATS_FIELDS.map((k) => [k, m.int(s[k], k, 0, Number.MAX_SAFE_INTEGER)])) as unknown as SnapshotMeta['stats'];
  // The config is the library's from here on (read strictly into fresh objects): frozen and owned.
  return { config: ownConfig(config), instances, stats };
}
