/**
 * Address sets, service sets and the names rules may use (docs/SEMANTICS.md "Address
 * sets, service sets and group references"; SPEC §9).
 *
 * A set is defined once, by a native `addressSets` / `serviceSets` entry or by a
 * Tencent template output (tencent-templates.ts reads those into the same
 * SetDefinition). A set group is the union of its member sets, which must be plain
 * sets (Tencent's template groups hold templates, never other groups). buildSets
 * validates every definition of every document of a policy together: duplicate ids,
 * members with their paths, members of groups, an address set id that reads as an
 * address or that a security group also has. What it returns is what rules name:
 * PolicyNames answers a peer text (an address set, or a security group: a group
 * reference) and a serviceSet id.
 *
 * Every set's addresses are one AddressSet object, sorted and merged (unionOf); each
 * rule naming the set holds that very object, so the compiler expands it once per
 * classifier (src/compile/box.ts), however many rules name it.
 *
 * No `node:` imports: the validator runs in edge workers.
 */
import type { Issue, Path } from '../errors.js';
import type { AddressSet, NamedAddressSet, NamedServiceSet, Service, Warning } from '../types.js';
import { parsePeer, unionOf, type HostBits } from './address.js';
import { parsePorts, formatPorts } from './ports.js';
import { ICMP, ICMPV6, parseProtocol, PROTOCOL_SYNTAX, takesPorts } from './presets.js';
import { keysOf, listOf, ownFields, plainObject, quote } from './plain.js';
import { describeValue } from './plain.js';
import { ADDRESS_SET_FIELDS, SERVICE_SET_FIELDS } from './fields.js';
import { show, unknownFieldIssue } from './rule.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads one native address set or service set entry (`{id, addresses}` / `{id,
 * services}`, or `{id, sets}` for a set group) at `path` into a definition; problems
 * of its shape are issues with their paths (members are checked by buildSets).
 * Returns undefined when it has no usable id.
 */
export function readSetEntry(entry: unknown, kind: 'address' | 'service', path: Path, where: string, issues: Issue[], file: string | undefined): SetDefinition | undefined {
  const membersField = kind === 'address' ? 'addresses' : 'services';
  const known = kind === 'address' ? ADDRESS_SET_FIELDS : SERVICE_SET_FIELDS;
  entry = ownFields(entry);
  if (!isObj(entry)) {
    issues.push({ code: 'INVALID_TYPE', path, given: entry, message: `${where}: a ${kind} set must be an object {id, ${membersField}}, got ${show(entry)}` });
    return undefined;
  }
  for (const k of Object.keys(entry)) {
    if (!known.includes(k)) issues.push(unknownFieldIssue([...path, k], where, k, known));
  }
  const id = entry.id;
  if (typeof id !== 'string' || id.trim() === '') {
    issues.push({ code: id === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', path: [...path, 'id'], given: id, message: `${where}: id must be a non-empty string${id === undefined ? '' : `, got ${show(id)}`}` });
    return undefined;
  }
  const label = `${where} ${quote(id)}`;
  for (const f of ['name', 'description'] as const) {
    if (entry[f] !== undefined && typeof entry[f] !== 'string') issues.push({ code: 'INVALID_TYPE', path: [...path, f], given: entry[f], message: `${label}: ${f} must be a string, got ${show(entry[f])}` });
  }
  // On PLAIN_PROTO (plain.ts): a definition without a file or name has none, whatever Object.prototype holds.
  const def: SetDefinition = plainObject<SetDefinition>({ kind, id, path, idPath: [...path, 'id'], label, hostBits: 'refuse', lenient: false, noun: `${kind} set` });
  if (typeof entry.name === 'string' && entry.name !== '') def.name = entry.name;
  if (file !== undefined) def.file = file;
  const list = (f: string): Member[] | undefined => {
    const v = entry[f];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      issues.push({ code: 'INVALID_TYPE', path: [...path, f], given: v, message: `${label}: ${f} must be a list, got ${show(v)}` });
      return [];
    }
    return v.map((value, k) => ({ value, path: [...path, f, k] }));
  };
  const members = list(membersField);
  const sets = list('sets');
  if (members && sets) issues.push({ code: 'CONFLICTING_FIELDS', path: [...path, 'sets'], message: `${label}: give ${membersField} or sets (a set group), not both` });
  else if (!members && !sets) issues.push({ code: 'MISSING_FIELD', path: [...path, membersField], message: `${label}: no ${membersField}; a ${kind} set lists its ${membersField} (or, as a set group, its member sets in sets)` });
  if (sets) def.sets = sets;
  else def.members = members ?? [];
  return def;
}

/** How service set members are written (SPEC §9). */
export const SERVICE_SYNTAX = 'PROTOCOL or PROTOCOL:PORTS, e.g. tcp:80, udp:53,5353, tcp:8000-8010, icmp, ALL';

/** One member as the document gave it, with its path. */
export interface Member {
  value: unknown;
  path: Path;
}

/**
 * A set as one document defines it, before the policy's other documents are known
 * (native addressSets / serviceSets entries, Tencent template outputs). Its id is a
 * non-blank string already; its fields were checked against the format's field list.
 */
export interface SetDefinition {
  kind: 'address' | 'service';
  id: string;
  name?: string;
  /** A plain set: its members (addresses, or services). */
  members?: Member[];
  /** A set group: its member set ids. */
  sets?: Member[];
  /** Path of the definition, and of its id. */
  path: Path;
  idPath: Path;
  /** How messages name it: `addressSets[2] "office"`, `AddressTemplateSet[0] "ipm-…"`. */
  label: string;
  /** What a CIDR with host bits means in this document (Tencent's own outputs: its network, with a warning). */
  hostBits: HostBits;
  /**
   * True for Tencent template outputs: a group whose member no document defines is a
   * warning (the API's lists are paged: an export may hold one page) and becomes an
   * issue only where a rule names the group. Native set groups name their members
   * themselves: an undefined one is an issue at once.
   */
  lenient: boolean;
  /** The document, when several make the policy (issues and warnings are tagged with it). */
  file?: string;
  /** Tencent documents: what a set is called in messages ("address template", "service template group"). */
  noun: string;
}

/** A set group that cannot be used: why (a lenient group whose member is missing). */
interface Broken {
  message: string;
}

/** What buildSets returns: the sets by id, in definition order. */
export interface PolicySets {
  addressSets: Map<string, NamedAddressSet>;
  serviceSets: Map<string, NamedServiceSet>;
  /** Lenient set groups that a rule may not name, and why. */
  broken: Map<string, Broken>;
  /** How each set is named in messages ("address template ipm-x"). */
  nouns: Map<string, string>;
}

const tag = (list: (Issue | Warning)[], from: number, file: string | undefined): void => {
  if (file === undefined) return;
  for (let i = from; i < list.length; i++) list[i]!.file = file;
};

/** Parses one service (`tcp:80`, `udp:53,5353`, `icmp`, `ALL`): SPEC §9. */
export function parseService(raw: unknown): { ok: true; value: Service } | { ok: false; code: Issue['code']; message: string } {
  if (typeof raw !== 'string') return { ok: false, code: 'INVALID_TYPE', message: `a service must be a string (${SERVICE_SYNTAX}), got ${describeValue(raw)}` };
  const text = raw.trim();
  if (text === '') return { ok: false, code: 'INVALID_SERVICE', message: `the service is empty; write ${SERVICE_SYNTAX}` };
  const colon = text.indexOf(':');
  const protoText = (colon < 0 ? text : text.slice(0, colon)).trim();
  const portText = colon < 0 ? undefined : text.slice(colon + 1).trim();
  const protocol = parseProtocol(protoText, true);
  if (protocol === undefined) {
    return { ok: false, code: protoText === '' ? 'INVALID_SERVICE' : 'UNKNOWN_PROTOCOL', message: `${quote(text)}: unknown protocol ${quote(protoText)}; allowed: ${PROTOCOL_SYNTAX} (a service is ${SERVICE_SYNTAX})` };
  }
  if (portText === undefined) return { ok: true, value: { protocol, ports: null, text } };
  const ports = parsePorts(portText);
  if (!ports.ok) return { ok: false, code: ports.code, message: `${quote(text)}: ${ports.message}` };
  if (ports.value !== null && !takesPorts(protocol)) {
    return { ok: false, code: 'PORT_NOT_ALLOWED', message: `${quote(text)}: only TCP and UDP take ports; write ${quote(protoText)} alone` };
  }
  return { ok: true, value: { protocol, ports: ports.value, text } };
}

/** A service in words, for messages and explanations. */
export function serviceText(s: Service): string {
  const proto = s.protocol === 'all' ? 'ALL' : s.protocol === 6 ? 'tcp' : s.protocol === 17 ? 'udp' : s.protocol === ICMP ? 'icmp' : s.protocol === ICMPV6 ? 'icmpv6' : String(s.protocol);
  return s.ports === null ? proto : `${proto}:${formatPorts(s.ports)}`;
}

/**
 * Validates every set definition of a policy together (all documents), pushing
 * issues and warnings with their paths. `groupIds`: the policy's security group
 * ids (an address set may not share one: a peer naming it would be ambiguous).
 */
export function buildSets(defs: readonly SetDefinition[], groupIds: ReadonlySet<string>, issues: Issue[], warnings: Warning[]): PolicySets {
  const out: PolicySets = { addressSets: new Map(), serviceSets: new Map(), broken: new Map(), nouns: new Map() };
  const first = new Map<string, SetDefinition>();
  const plain: SetDefinition[] = [];
  const groups: SetDefinition[] = [];
  for (const d of defs) {
    const i0 = issues.length;
    const key = `${d.kind}\u0000${d.id}`;
    const earlier = first.get(key);
    if (earlier) {
      issues.push({
        code: 'DUPLICATE_SET', path: d.idPath, given: d.id,
        message: `${d.label}: ${d.kind} set id ${quote(d.id)} is already defined by ${earlier.label}${earlier.file !== undefined && earlier.file !== d.file ? ` in ${earlier.file}` : ''}; a set is defined once`,
      });
      tag(issues, i0, d.file);
      continue;
    }
    first.set(key, d);
    if (d.kind === 'address') {
      if (groupIds.has(d.id)) {
        issues.push({ code: 'AMBIGUOUS_SET_ID', path: d.idPath, given: d.id, message: `${d.label}: ${quote(d.id)} is also a security group's id; a peer naming it would be ambiguous, so address sets and groups need different ids` });
      } else if (parsePeer(d.id).ok) {
        issues.push({ code: 'AMBIGUOUS_SET_ID', path: d.idPath, given: d.id, message: `${d.label}: the id ${quote(d.id)} reads as a peer (an address, a CIDR, a range or any), so a rule naming it would mean that peer; choose an id that is not an address` });
      }
    }
    tag(issues, i0, d.file);
    out.nouns.set(key, `${d.noun} ${quote(d.id)}`);
    (d.sets ? groups : plain).push(d);
  }

  // Plain sets: their members, each with its path.
  for (const d of plain) {
    const i0 = issues.length;
    const w0 = warnings.length;
    if (d.kind === 'address') {
      const parts: AddressSet[] = [];
      for (const m of d.members ?? []) {
        if (typeof m.value !== 'string') {
          issues.push({ code: 'INVALID_TYPE', path: m.path, given: m.value, message: `${d.label}: a member must be an address, a CIDR or a range (a string), got ${describeValue(m.value)}` });
          continue;
        }
        const p = parsePeer(m.value, d.hostBits);
        if (!p.ok) {
          issues.push({ code: p.code, path: m.path, given: m.value, message: `${d.label}: ${p.message}` });
          continue;
        }
        if (p.network !== undefined) {
          warnings.push({ path: m.path, message: `${d.label}: ${quote(m.value)} has host bits set; read as the network ${p.network} (what the cloud itself matches)` });
        }
        parts.push(p.value);
      }
      if (issues.length === i0) {
        const set: NamedAddressSet = { id: d.id, addresses: unionOf(parts) };
        if (d.name !== undefined) set.name = d.name;
        out.addressSets.set(d.id, set);
        if (parts.length === 0) warnings.push({ path: d.path, message: `${d.label} is empty: a rule naming it matches no address` });
      }
    } else {
      const services: Service[] = [];
      for (const m of d.members ?? []) {
        const s = parseService(m.value);
        if (!s.ok) issues.push({ code: s.code, path: m.path, given: m.value, message: `${d.label}: ${s.message}` });
        else services.push(s.value);
      }
      if (issues.length === i0) {
        const set: NamedServiceSet = { id: d.id, services };
        if (d.name !== undefined) set.name = d.name;
        out.serviceSets.set(d.id, set);
        if (services.length === 0) warnings.push({ path: d.path, message: `${d.label} is empty: a rule naming it matches no flow` });
      }
    }
    tag(issues, i0, d.file);
    tag(warnings, w0, d.file);
  }

  // Set groups: the union of their members, which are plain sets.
  const plainIds = (kind: SetDefinition['kind']) => new Set(plain.filter((d) => d.kind === kind).map((d) => d.id));
  const plainOf = { address: plainIds('address'), service: plainIds('service') };
  const groupOf = { address: new Set(groups.filter((d) => d.kind === 'address').map((d) => d.id)), service: new Set(groups.filter((d) => d.kind === 'service').map((d) => d.id)) };
  for (const d of groups) {
    const i0 = issues.length;
    const w0 = warnings.length;
    const members: string[] = [];
    let missing: string | undefined;
    const seen = new Set<string>();
    for (const m of d.sets!) {
      if (typeof m.value !== 'string' || m.value.trim() === '') {
        issues.push({ code: 'INVALID_TYPE', path: m.path, given: m.value, message: `${d.label}: a member must be the id of a ${d.kind} set (a non-empty string), got ${describeValue(m.value)}` });
        continue;
      }
      const id = m.value;
      if (seen.has(id)) continue; // listed twice: the union is the same
      seen.add(id);
      if (groupOf[d.kind].has(id)) {
        issues.push({ code: 'NESTED_SET', path: m.path, given: id, message: `${d.label}: member ${quote(id)} is itself a set group; list its member sets instead` });
      } else if (!plainOf[d.kind].has(id)) {
        if (d.lenient) {
          missing ??= id;
          warnings.push({ path: m.path, message: `${d.label}: member ${quote(id)} is not defined by any document of the policy (give the output that lists it); a rule naming this group is refused` });
        } else {
          const known = [...plainOf[d.kind]];
          issues.push({ code: 'UNKNOWN_SET', path: m.path, given: id, allowed: listOf(known, (x) => quote(x)), message: `${d.label}: member ${quote(id)} is not a ${d.kind} set of the policy (defined: ${listOf(known, (x) => quote(x))})` });
        }
      } else members.push(id);
    }
    tag(issues, i0, d.file);
    tag(warnings, w0, d.file);
    if (issues.length > i0) continue;
    if (missing !== undefined) {
      out.broken.set(`${d.kind}\u0000${d.id}`, { message: `${d.noun} ${quote(d.id)} has member ${quote(missing)}, which no document of the policy defines` });
      continue;
    }
    if (d.kind === 'address') {
      // Members that failed validation already have their issues; the group is then not built.
      const sets = members.map((id) => out.addressSets.get(id));
      if (sets.some((s) => s === undefined)) continue;
      const set: NamedAddressSet = { id: d.id, addresses: unionOf(sets.map((s) => s!.addresses)), sets: members };
      if (d.name !== undefined) set.name = d.name;
      out.addressSets.set(d.id, set);
    } else {
      const sets = members.map((id) => out.serviceSets.get(id));
      if (sets.some((s) => s === undefined)) continue;
      const set: NamedServiceSet = { id: d.id, services: sets.flatMap((s) => s!.services), sets: members };
      if (d.name !== undefined) set.name = d.name;
      out.serviceSets.set(d.id, set);
    }
  }
  // Definition order (plain sets were built before groups).
  const order = (kind: SetDefinition['kind']) => defs.filter((d) => d.kind === kind && first.get(`${kind}\u0000${d.id}`) === d).map((d) => d.id);
  out.addressSets = new Map(order('address').flatMap((id) => (out.addressSets.has(id) ? [[id, out.addressSets.get(id)!] as const] : [])));
  out.serviceSets = new Map(order('service').flatMap((id) => (out.serviceSets.has(id) ? [[id, out.serviceSets.get(id)!] as const] : [])));
  return out;
}

/** What a peer text names, when it is not an address. */
export type PeerName =
  | { kind: 'set'; set: NamedAddressSet }
  | { kind: 'group'; id: string }
  | { kind: 'unusable'; message: string };

/**
 * The names rules may use: address sets and security groups as peers, service sets
 * in `serviceSet`. Tables are Maps, looked up with the text the user wrote.
 */
export class PolicyNames {
  constructor(
    readonly addressSets: ReadonlyMap<string, NamedAddressSet>,
    readonly serviceSets: ReadonlyMap<string, NamedServiceSet>,
    readonly groupIds: ReadonlySet<string>,
    readonly broken: ReadonlyMap<string, Broken> = new Map(),
    /** Sets that exist but failed validation: naming them adds no further issue. */
    readonly failed: ReadonlySet<string> = new Set(),
  ) {}

  /** What `text` names as a peer (exact id first, then trimmed), or undefined. */
  peer(text: string): PeerName | undefined {
    for (const id of text === text.trim() ? [text] : [text, text.trim()]) {
      const set = this.addressSets.get(id);
      if (set) return { kind: 'set', set };
      const broken = this.broken.get(`address\u0000${id}`);
      if (broken) return { kind: 'unusable', message: broken.message };
      if (this.groupIds.has(id)) return { kind: 'group', id };
    }
    return undefined;
  }

  /** The service set `id`, why it cannot be used, or undefined. */
  service(id: string): { kind: 'set'; set: NamedServiceSet } | { kind: 'unusable'; message: string } | undefined {
    const set = this.serviceSets.get(id);
    if (set) return { kind: 'set', set };
    const broken = this.broken.get(`service\u0000${id}`);
    return broken ? { kind: 'unusable', message: broken.message } : undefined;
  }

  /** True when `id` was defined but its definition has issues (already reported). */
  isFailed(kind: 'address' | 'service', id: string): boolean {
    return this.failed.has(`${kind}\u0000${id}`);
  }

  /** Address set ids for a message ("defined: …"). */
  addressSetList(): string {
    return listOf(keysOf(this.addressSets), (x) => quote(x));
  }

  serviceSetList(): string {
    return listOf(keysOf(this.serviceSets), (x) => quote(x));
  }
}

/** The ids of definitions whose set was not built (they have issues): naming one adds no second issue. */
export function failedSets(defs: readonly SetDefinition[], sets: PolicySets): Set<string> {
  const out = new Set<string>();
  for (const d of defs) {
    const key = `${d.kind}\u0000${d.id}`;
    const built = d.kind === 'address' ? sets.addressSets.has(d.id) : sets.serviceSets.has(d.id);
    if (!built && !sets.broken.has(key)) out.add(key);
  }
  return out;
}

/**
 * The addresses of every instance bound to each referenced group (a group reference,
 * SPEC §9), as one merged AddressSet per group: what a rule naming that group matches.
 */
export function groupPeers(instances: readonly { securityGroups: readonly string[]; addresses?: AddressSet | undefined }[], groups: Iterable<string>): Map<string, AddressSet> {
  const wanted = new Set(groups);
  const parts = new Map<string, AddressSet[]>();
  for (const g of wanted) parts.set(g, []);
  for (const inst of instances) {
    if (!inst.addresses) continue;
    for (const g of inst.securityGroups) parts.get(g)?.push(inst.addresses);
  }
  const out = new Map<string, AddressSet>();
  for (const [g, list] of parts) out.set(g, unionOf(list));
  return out;
}
