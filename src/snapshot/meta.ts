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
import type { CompiledPolicy, RuleRef } from '../compile/index.js';
import type { AddressRange, AddressSet, Config, Direction, Instance, Interval, ProtocolMatch, Rule, SecurityGroup, Warning } from '../types.js';

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

class MetaReader {
  fail(path: Path, message: string): never {
    throw new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: metadata ${formatPath(path)}: ${message}`);
  }

  show(v: unknown): string {
    if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
    if (Array.isArray(v)) return 'a list';
    if (v === null) return 'null';
    return typeof v === 'object' ? 'an object' : String(v);
  }

  /** A plain JSON object with every `required` field and no field outside `required` + `optional`. */
  record(v: unknown, path: Path, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) {
      this.fail(path, `must be an object, got ${this.show(v)}`);
    }
    for (const k of Object.keys(v)) {
      if (!required.includes(k) && !optional.includes(k)) this.fail([...path, k], `unknown field (allowed: ${[...required, ...optional].join(', ')})`);
    }
    for (const k of required) if (!Object.hasOwn(v, k)) this.fail([...path, k], 'missing');
    return v as Record<string, unknown>;
  }

  list(v: unknown, path: Path): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `must be a list, got ${this.show(v)}`);
    return v;
  }

  string(v: unknown, path: Path, nonEmpty = false): string {
    if (typeof v !== 'string' || (nonEmpty && v.trim() === '')) this.fail(path, `must be a ${nonEmpty ? 'non-empty ' : ''}string, got ${this.show(v)}`);
    return v;
  }

  int(v: unknown, path: Path, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) this.fail(path, `must be a whole number ${lo}-${hi}, got ${this.show(v)}`);
    return v;
  }

  oneOf<T extends string>(v: unknown, path: Path, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(path, `must be one of ${allowed.join(', ')}, got ${this.show(v)}`);
    return v as T;
  }

  bigint(v: unknown, path: Path, max: bigint): bigint {
    const r = this.record(v, path, ['$n']);
    const hex = r.$n;
    if (typeof hex !== 'string' || !HEX.test(hex)) this.fail([...path, '$n'], `must be lowercase hex digits, got ${this.show(hex)}`);
    const n = BigInt(`0x${hex}`);
    if (n > max) this.fail(path, `address ${hex} is past the family's last address`);
    return n;
  }

  intervals(v: unknown, path: Path, max: number): Interval[] | null {
    if (v === null) return null;
    const list = this.list(v, path);
    if (list.length === 0) this.fail(path, 'must be null (any) or a non-empty list of intervals');
    return list.map((x, i) => {
      const r = this.record(x, [...path, i], ['lo', 'hi']);
      const lo = this.int(r.lo, [...path, i, 'lo'], 0, max);
      const hi = this.int(r.hi, [...path, i, 'hi'], lo, max);
      return { lo, hi };
    });
  }

  addressSet(v: unknown, path: Path): AddressSet {
    const r = this.record(v, path, ['v4', 'v6']);
    const ranges = (key: 'v4' | 'v6', max: bigint): AddressRange[] =>
      this.list(r[key], [...path, key]).map((x, i) => {
        const p = [...path, key, i];
        const a = this.record(x, p, ['lo', 'hi']);
        const lo = this.bigint(a.lo, [...p, 'lo'], max);
        const hi = this.bigint(a.hi, [...p, 'hi'], max);
        if (hi < lo) this.fail(p, 'the range ends before it starts');
        return { lo, hi };
      });
    return { v4: ranges('v4', V4_MAX), v6: ranges('v6', V6_MAX) };
  }

  protocol(v: unknown, path: Path): ProtocolMatch {
    if (v === 'all' || v === 'ping') return v;
    return this.int(v, path, 0, 255);
  }

  byteOrNull(v: unknown, path: Path): number | null {
    return v === null ? null : this.int(v, path, 0, 255);
  }

  rule(v: unknown, path: Path, group: SecurityGroup, direction: Direction, ruleIndex: number): Rule {
    const r = this.record(
      v, path,
      ['groupId', 'direction', 'ruleIndex', 'action', 'protocol', 'ports', 'peer', 'local', 'sourcePorts', 'icmpType', 'icmpCode', 'text'],
      ['description', 'template'],
    );
    if (r.groupId !== group.id) this.fail([...path, 'groupId'], `${this.show(r.groupId)}, but the rule is in group ${this.show(group.id)}`);
    if (r.direction !== direction) this.fail([...path, 'direction'], `${this.show(r.direction)}, but the rule is in the ${direction} list`);
    if (r.ruleIndex !== ruleIndex) this.fail([...path, 'ruleIndex'], `${this.show(r.ruleIndex)}, but the rule is at position ${ruleIndex}`);
    const text = this.record(r.text, [...path, 'text'], ['protocol', 'port', 'peer']);
    const rule: Rule = {
      groupId: group.id,
      direction,
      ruleIndex,
      action: this.oneOf(r.action, [...path, 'action'], ['accept', 'drop'] as const),
      protocol: this.protocol(r.protocol, [...path, 'protocol']),
      ports: this.intervals(r.ports, [...path, 'ports'], 65535),
      peer: this.addressSet(r.peer, [...path, 'peer']),
      local: r.local === null ? null : this.addressSet(r.local, [...path, 'local']),
      sourcePorts: this.intervals(r.sourcePorts, [...path, 'sourcePorts'], 65535),
      icmpType: this.byteOrNull(r.icmpType, [...path, 'icmpType']),
      icmpCode: this.byteOrNull(r.icmpCode, [...path, 'icmpCode']),
      text: {
        protocol: this.string(text.protocol, [...path, 'text', 'protocol']),
        port: this.string(text.port, [...path, 'text', 'port']),
        peer: this.string(text.peer, [...path, 'text', 'peer']),
      },
    };
    if (Object.hasOwn(r, 'description')) rule.description = this.string(r.description, [...path, 'description']);
    if (Object.hasOwn(r, 'template')) rule.template = this.oneOf(r.template, [...path, 'template'], TEMPLATE_NAMES);
    return rule;
  }

  group(v: unknown, path: Path): SecurityGroup {
    const r = this.record(v, path, ['id', 'template', 'inbound', 'outbound'], ['name']);
    const group: SecurityGroup = {
      id: this.string(r.id, [...path, 'id'], true),
      template: this.oneOf(r.template, [...path, 'template'], TEMPLATE_NAMES),
      inbound: [],
      outbound: [],
    };
    if (Object.hasOwn(r, 'name')) group.name = this.string(r.name, [...path, 'name']);
    for (const dir of DIRECTIONS) {
      let templateTail = false;
      group[dir] = this.list(r[dir], [...path, dir]).map((x, i) => {
        const rule = this.rule(x, [...path, dir, i], group, dir, i);
        // Template rules are the group's tail (SPEC §3), from the group's own template.
        if (rule.template !== undefined && rule.template !== group.template) this.fail([...path, dir, i, 'template'], `${rule.template}, but the group is made from ${group.template}`);
        if (templateTail && rule.template === undefined) this.fail([...path, dir, i], 'a written rule after the template rules (they are the group\'s tail)');
        templateTail ||= rule.template !== undefined;
        return rule;
      });
    }
    return group;
  }

  config(v: unknown, path: Path): Config {
    const r = this.record(v, path, ['securityGroups', 'instances', 'implicitInstance', 'warnings']);
    const securityGroups: SecurityGroup[] = [];
    const groupIds = new Set<string>();
    this.list(r.securityGroups, [...path, 'securityGroups']).forEach((g, i) => {
      const group = this.group(g, [...path, 'securityGroups', i]);
      if (groupIds.has(group.id)) this.fail([...path, 'securityGroups', i, 'id'], `${this.show(group.id)} is used by an earlier group`);
      groupIds.add(group.id);
      securityGroups.push(group);
    });
    const instanceIds = new Set<string>();
    const instances: Instance[] = this.list(r.instances, [...path, 'instances']).map((x, i) => {
      const p = [...path, 'instances', i];
      const inst = this.record(x, p, ['id', 'securityGroups']);
      const id = this.string(inst.id, [...p, 'id'], true);
      if (instanceIds.has(id)) this.fail([...p, 'id'], `${this.show(id)} is used by an earlier instance`);
      instanceIds.add(id);
      const bound = new Set<string>();
      const groups = this.list(inst.securityGroups, [...p, 'securityGroups']).map((g, k) => {
        const gid = this.string(g, [...p, 'securityGroups', k]);
        if (!groupIds.has(gid)) this.fail([...p, 'securityGroups', k], `names group ${this.show(gid)}, which the config does not define`);
        if (bound.has(gid)) this.fail([...p, 'securityGroups', k], `lists group ${this.show(gid)} twice`);
        bound.add(gid);
        return gid;
      });
      return { id, securityGroups: groups };
    });
    if (typeof r.implicitInstance !== 'boolean') this.fail([...path, 'implicitInstance'], `must be true or false, got ${this.show(r.implicitInstance)}`);
    if (r.implicitInstance) {
      const all = securityGroups.map((g) => g.id);
      const only = instances[0];
      if (instances.length !== 1 || only!.id !== 'default' || only!.securityGroups.join('\u0000') !== all.join('\u0000')) {
        this.fail([...path, 'instances'], 'with implicitInstance, the one instance is "default", bound to every group in file order');
      }
    }
    const warnings: Warning[] = this.list(r.warnings, [...path, 'warnings']).map((x, i) => {
      const p = [...path, 'warnings', i];
      const w = this.record(x, p, ['path', 'message']);
      return {
        path: this.list(w.path, [...p, 'path']).map((k, j) => (typeof k === 'number' ? this.int(k, [...p, 'path', j], 0, Number.MAX_SAFE_INTEGER) : this.string(k, [...p, 'path', j]))),
        message: this.string(w.message, [...p, 'message']),
      };
    });
    return { securityGroups, instances, implicitInstance: r.implicitInstance, warnings };
  }
}

/** Reads metadata bytes; throws SNAPSHOT_INVALID saying which field is wrong. */
export function decodeMeta(bytes: Uint8Array): SnapshotMeta {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: metadata is not UTF-8 JSON: ${(e as Error).message}`);
  }
  const m = new MetaReader();
  const top = m.record(doc, [], ['instances', 'stats', 'config']);
  const config = m.config(top.config, ['config']);
  const instances = m.list(top.instances, ['instances']).map((x, i): [string, number, number] => {
    const entry = m.list(x, ['instances', i]);
    if (entry.length !== 3) m.fail(['instances', i], 'must be [instance id, inbound chain, outbound chain]');
    return [m.string(entry[0], ['instances', i, 0]), m.int(entry[1], ['instances', i, 1], 0, 0xffffffff), m.int(entry[2], ['instances', i, 2], 0, 0xffffffff)];
  });
  const s = m.record(top.stats, ['stats'], STATS_FIELDS);
  const stats = Object.fromEntries(STATS_FIELDS.map((k) => [k, m.int(s[k], ['stats', k], 0, Number.MAX_SAFE_INTEGER)])) as unknown as SnapshotMeta['stats'];
  return { config, instances, stats };
}
