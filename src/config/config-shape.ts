/**
 * Recognising an already-validated Config (what parseConfig returns) among the
 * values APIs take, without trusting its shape.
 *
 * createEngine, reload and the compile worker accept a Config as well as a config
 * as written, and skip validation for it. Whoever made it (parseConfig, update(),
 * the ClassBench reader, structuredClone on the way to a worker, or a caller who
 * built or changed one by hand), it is checked here each time, field by field
 * (about 30 ms per 100,000 rules, against seconds to compile them), for what the
 * compiler and the reference matcher
 * rely on: protocols 0-255 / ALL / ping, ports and ICMP fields only where the
 * protocol has them, port intervals inside 0-65535, address ranges inside their
 * family, rules where their group and index say, instances bound to groups that
 * exist. One that fails is not a Config; parseConfig then refuses it with the
 * first problem and its path. The walk reads each field once, inside try, so a
 * getter or Proxy cannot make it throw. It runs on a copy the library made as it read
 * the Config (src/config/owned.ts), never on an object a caller still holds.
 */
import type { Path } from '../errors.js';
import { ownField, quote } from './plain.js';
import { sameAddresses, unionOf } from './address.js';
import { groupPeers } from './sets.js';
import type { Instance, NamedAddressSet, NamedServiceSet, SecurityGroup } from '../types.js';

export interface ShapeProblem {
  path: Path;
  message: string;
}

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;
const TEMPLATES = new Set(['open-all', 'open-common', 'custom']);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isByte = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255;

/** True when `x` has the three fields that only a Config has (so it is meant as one). */
export function looksLikeConfig(x: unknown): boolean {
  try {
    return isObj(x) && typeof ownField(x, 'implicitInstance') === 'boolean' && Array.isArray(ownField(x, 'securityGroups')) && Array.isArray(ownField(x, 'instances'));
  } catch {
    return false;
  }
}

/** The first way `x` is not a well-formed Config, or undefined when it is one. */
export function configShapeProblem(x: unknown): ShapeProblem | undefined {
  let problem: ShapeProblem | undefined;
  try {
    problem = check(x);
  } catch (e) {
    problem = { path: [], message: `reading it threw (${e instanceof Error ? e.message : 'an exception'})` };
  }
  return problem;
}

function intervals(v: unknown, path: Path, what: string): ShapeProblem | undefined {
  if (v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0) return { path, message: `${what} must be null or a non-empty list of {lo, hi}` };
  for (let i = 0; i < v.length; i++) {
    const iv = v[i] as unknown;
    if (!isObj(iv)) return { path: [...path, i], message: `${what} entries must be {lo, hi}` };
    const { lo, hi } = iv;
    if (typeof lo !== 'number' || typeof hi !== 'number' || !Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > 65535 || lo > hi) {
      return { path: [...path, i], message: `${what} entries must be whole numbers 0 <= lo <= hi <= 65535` };
    }
  }
  return undefined;
}

/** A service set's services (SPEC §9): {protocol: 0-255 or "all", ports, text}. */
function services(v: unknown, path: Path): ShapeProblem | undefined {
  if (!Array.isArray(v)) return { path, message: 'services must be a list' };
  for (let i = 0; i < v.length; i++) {
    const s = v[i] as unknown;
    if (!isObj(s)) return { path: [...path, i], message: 'a service must be {protocol, ports, text}' };
    if (s.protocol !== 'all' && !isByte(s.protocol)) return { path: [...path, i, 'protocol'], message: 'protocol must be a whole number 0-255 or "all"' };
    const bad = intervals(s.ports, [...path, i, 'ports'], 'ports');
    if (bad) return bad;
    if (typeof s.text !== 'string') return { path: [...path, i, 'text'], message: 'text must be a string' };
  }
  return undefined;
}

/**
 * What a rule holds is what it names (SPEC §9): a rule naming an address set holds its
 * addresses, one naming a service set its services (set groups: the union of their
 * members), one naming a group the addresses of the instances bound to it. Both
 * matchers may then read either, and agree. Runs after the groups and sets are checked.
 */
function namesAgree(c: Record<string, unknown>): ShapeProblem | undefined {
  const addressSets = new Map(((c.addressSets ?? []) as NamedAddressSet[]).map((x) => [x.id, x]));
  const serviceSets = new Map(((c.serviceSets ?? []) as NamedServiceSet[]).map((x) => [x.id, x]));
  for (const [id, set] of addressSets) {
    if (!set.sets) continue;
    const members = set.sets.map((m) => addressSets.get(m));
    if (members.some((m) => m === undefined || m.sets !== undefined)) return { path: ['addressSets'], message: `set group ${quote(id)} must list plain address sets of the config` };
    if (!sameAddresses(unionOf(members.map((m) => m!.addresses)), set.addresses)) return { path: ['addressSets'], message: `set group ${quote(id)}: addresses must be the union of its members'` };
  }
  for (const [id, set] of serviceSets) {
    if (!set.sets) continue;
    const members = set.sets.map((m) => serviceSets.get(m));
    if (members.some((m) => m === undefined || m.sets !== undefined)) return { path: ['serviceSets'], message: `set group ${quote(id)} must list plain service sets of the config` };
    if (JSON.stringify(members.flatMap((m) => m!.services)) !== JSON.stringify(set.services)) return { path: ['serviceSets'], message: `set group ${quote(id)}: services must be its members'` };
  }
  const groups = c.securityGroups as SecurityGroup[];
  const referenced = new Set<string>();
  for (const g of groups) for (const dir of ['inbound', 'outbound'] as const) for (const r of g[dir]) if (r.peerGroup !== undefined) referenced.add(r.peerGroup);
  const peers = groupPeers(c.instances as Instance[], referenced);
  const ids = new Set(groups.map((g) => g.id));
  for (let gi = 0; gi < groups.length; gi++) {
    for (const dir of ['inbound', 'outbound'] as const) {
      const list = groups[gi]![dir];
      for (let ri = 0; ri < list.length; ri++) {
        const r = list[ri]!;
        const p: Path = ['securityGroups', gi, dir, ri];
        if (r.peerSet !== undefined && r.peerGroup !== undefined) return { path: p, message: 'a rule names an address set or a group as its peer, not both' };
        if (r.peerSet !== undefined) {
          const set = addressSets.get(r.peerSet);
          if (!set || !sameAddresses(set.addresses, r.peer)) return { path: [...p, 'peer'], message: `must be the addresses of address set ${quote(r.peerSet)} of the config` };
        }
        if (r.peerGroup !== undefined && (!ids.has(r.peerGroup) || !sameAddresses(peers.get(r.peerGroup)!, r.peer))) {
          return { path: [...p, 'peer'], message: `must be the addresses of the instances bound to group ${quote(r.peerGroup)} of the config` };
        }
        if (r.serviceSet !== undefined) {
          const set = serviceSets.get(r.serviceSet);
          if (!set || r.services === undefined || JSON.stringify(set.services) !== JSON.stringify(r.services)) return { path: [...p, 'services'], message: `must be the services of service set ${quote(r.serviceSet)} of the config` };
        } else if (r.services !== undefined) return { path: [...p, 'services'], message: 'services go with serviceSet' };
      }
    }
  }
  return undefined;
}

/** The named sets of a Config (SPEC §9), checked as rules are. */
function namedSets(c: Record<string, unknown>): ShapeProblem | undefined {
  for (const field of ['addressSets', 'serviceSets'] as const) {
    const list = c[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return { path: [field], message: `${field} must be a list` };
    const ids = new Set<string>();
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as unknown;
      const p: Path = [field, i];
      if (!isObj(s)) return { path: p, message: 'a set must be an object' };
      if (typeof s.id !== 'string' || s.id.trim() === '' || ids.has(s.id)) return { path: [...p, 'id'], message: 'set ids must be unique non-empty strings' };
      ids.add(s.id);
      if (s.name !== undefined && typeof s.name !== 'string') return { path: [...p, 'name'], message: 'name must be a string' };
      if (s.sets !== undefined && (!Array.isArray(s.sets) || s.sets.some((x) => typeof x !== 'string'))) return { path: [...p, 'sets'], message: 'sets must be a list of set ids' };
      const bad = field === 'addressSets' ? addresses(s.addresses, [...p, 'addresses'], 'addresses') : services(s.services, [...p, 'services']);
      if (bad) return bad;
    }
  }
  return undefined;
}

function addresses(v: unknown, path: Path, what: string): ShapeProblem | undefined {
  if (!isObj(v)) return { path, message: `${what} must be {v4, v6}` };
  for (const [family, max] of [['v4', V4_MAX], ['v6', V6_MAX]] as const) {
    const list = v[family];
    if (!Array.isArray(list)) return { path: [...path, family], message: `${what}.${family} must be a list of {lo, hi}` };
    for (let i = 0; i < list.length; i++) {
      const r = list[i] as unknown;
      if (!isObj(r)) return { path: [...path, family, i], message: `${what}.${family} entries must be {lo, hi}` };
      const { lo, hi } = r;
      if (typeof lo !== 'bigint' || typeof hi !== 'bigint' || lo < 0n || hi > max || lo > hi) {
        return { path: [...path, family, i], message: `${what}.${family} entries must be bigints 0 <= lo <= hi <= ${family === 'v4' ? '2^32-1' : '2^128-1'}` };
      }
    }
  }
  return undefined;
}

function check(x: unknown): ShapeProblem | undefined {
  if (!looksLikeConfig(x)) return { path: [], message: 'a Config has securityGroups, instances and implicitInstance' };
  const c = x as Record<string, unknown>;
  if (!Array.isArray(c.warnings)) return { path: ['warnings'], message: 'warnings must be a list' };
  if (c.semantics !== undefined && c.semantics !== 'classbench') return { path: ['semantics'], message: 'semantics must be absent or "classbench"' };
  const setProblem = namedSets(c);
  if (setProblem) return setProblem;
  const groups = c.securityGroups as unknown[];
  const ids = new Set<string>();
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi] as unknown;
    const gp: Path = ['securityGroups', gi];
    if (!isObj(g)) return { path: gp, message: 'a group must be an object' };
    const id = g.id;
    if (typeof id !== 'string' || id.trim() === '' || ids.has(id)) return { path: [...gp, 'id'], message: 'group ids must be unique non-empty strings' };
    ids.add(id);
    if (typeof g.template !== 'string' || !TEMPLATES.has(g.template)) return { path: [...gp, 'template'], message: 'template must be open-all, open-common or custom' };
    if (g.name !== undefined && typeof g.name !== 'string') return { path: [...gp, 'name'], message: 'name must be a string' };
    for (const dir of ['inbound', 'outbound'] as const) {
      const rules = g[dir];
      if (!Array.isArray(rules)) return { path: [...gp, dir], message: `${dir} must be a list of rules` };
      for (let ri = 0; ri < rules.length; ri++) {
        const p: Path = [...gp, dir, ri];
        const r = rules[ri] as unknown;
        if (!isObj(r)) return { path: p, message: 'a rule must be an object' };
        if (r.groupId !== id || r.direction !== dir || r.ruleIndex !== ri) return { path: p, message: `a rule must name its group ${quote(id)}, direction ${dir} and index ${ri}` };
        if (r.action !== 'accept' && r.action !== 'drop') return { path: [...p, 'action'], message: 'action must be accept or drop' };
        const proto = r.protocol;
        if (proto !== 'all' && proto !== 'ping' && !isByte(proto)) return { path: [...p, 'protocol'], message: 'protocol must be a whole number 0-255, "all" or "ping"' };
        // Ports on other protocols are not checked against the protocol: ClassBench
        // rules (protocol any, port ranges) are Configs too, and both matchers read
        // every field the same way whatever the protocol.
        for (const f of ['ports', 'sourcePorts'] as const) {
          const bad = intervals(r[f], [...p, f], f);
          if (bad) return bad;
        }
        const bad = addresses(r.peer, [...p, 'peer'], 'peer') ?? (r.local === null ? undefined : addresses(r.local, [...p, 'local'], 'local'));
        if (bad) return bad;
        for (const f of ['icmpType', 'icmpCode'] as const) {
          if (r[f] !== null && !isByte(r[f])) return { path: [...p, f], message: `${f} must be null or a whole number 0-255` };
        }
        if (r.icmpCode !== null && r.icmpType === null) return { path: [...p, 'icmpCode'], message: 'icmpCode needs an icmpType' };
        const text = r.text;
        if (!isObj(text) || typeof text.protocol !== 'string' || typeof text.port !== 'string' || typeof text.peer !== 'string') {
          return { path: [...p, 'text'], message: 'text must be {protocol, port, peer} strings' };
        }
        for (const f of ['description', 'template', 'peerSet', 'peerGroup', 'serviceSet'] as const) {
          if (r[f] !== undefined && typeof r[f] !== 'string') return { path: [...p, f], message: `${f} must be a string` };
        }
        if (r.policyIndex !== undefined && !(typeof r.policyIndex === 'number' && Number.isSafeInteger(r.policyIndex) && r.policyIndex >= 0)) {
          return { path: [...p, 'policyIndex'], message: 'policyIndex must be a whole number >= 0' };
        }
        if (r.services !== undefined) {
          if (r.serviceSet === undefined || r.protocol !== 'all' || r.ports !== null) return { path: [...p, 'services'], message: 'a rule with services names its serviceSet, with protocol "all" and ports null' };
          const bad = services(r.services, [...p, 'services']);
          if (bad) return bad;
        }
      }
    }
  }
  const instances = c.instances as unknown[];
  const instanceIds = new Set<string>();
  for (let ii = 0; ii < instances.length; ii++) {
    const inst = instances[ii] as unknown;
    const ip: Path = ['instances', ii];
    if (!isObj(inst)) return { path: ip, message: 'an instance must be an object' };
    if (typeof inst.id !== 'string' || inst.id.trim() === '' || instanceIds.has(inst.id)) return { path: [...ip, 'id'], message: 'instance ids must be unique non-empty strings' };
    instanceIds.add(inst.id);
    const bound = inst.securityGroups;
    if (!Array.isArray(bound)) return { path: [...ip, 'securityGroups'], message: 'securityGroups must be a list of group ids' };
    if (inst.addresses !== undefined) {
      const bad = addresses(inst.addresses, [...ip, 'addresses'], 'addresses');
      if (bad) return bad;
    }
    const seen = new Set<string>();
    for (let k = 0; k < bound.length; k++) {
      const gid = bound[k] as unknown;
      if (typeof gid !== 'string' || !ids.has(gid) || seen.has(gid)) return { path: [...ip, 'securityGroups', k], message: 'must name a group of the config, once' };
      seen.add(gid);
    }
  }
  return namesAgree(c);
}
