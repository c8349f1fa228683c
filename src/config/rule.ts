/**
 * Validation of one rule (docs/SEMANTICS.md "Rules") into a normalized Rule. Every problem becomes an
 * Issue with a stable code and the path of the offending field; all issues of the
 * rule are reported, not only the first.
 */
import type { Issue, IssueCode, Path } from '../errors.js';
import type { AddressSet, Direction, Interval, ProtocolMatch, Rule, RuleInput, Service, Warning } from '../types.js';
import type { PolicyNames } from './sets.js';
import { parsePeer } from './address.js';
import { describeValue, ownFields, plainObject } from './plain.js';
import { formatPorts, normalizeIntervals, parsePorts } from './ports.js';
import { ICMP, ICMPV6, parseProtocol, PRESETS, presetName, takesPorts } from './presets.js';
import { ALL, PRESETS as PRESET_FIELDS, PROTOCOLS as PROTOCOL_FIELDS, ACTION_SYNTAX, ACTION_WORDS, PEER_SYNTAX, PORT_SYNTAX, PRESET_SYNTAX, PROTOCOL_SYNTAX, RULE_FIELDS } from './fields.js';

/** How a rule maps back to the document the user wrote (native, Tencent, Terraform). */
export interface RuleSource {
  /** Path of the rule object itself. */
  path: Path;
  /** Human label, e.g. `group "sg-web" inbound rule 4`. */
  label: string;
  /** Path of one field of this rule (imports rename fields). */
  fieldPath(field: string): Path;
  /** Name of a field as the user wrote it. */
  fieldName(field: string): string;
}

export { RULE_FIELDS, ACTION_SYNTAX } from './fields.js';

/** A rule object before validation, as the importers (Terraform, Tencent) build it: any field, any value. */
export type RawRule = { -readonly [K in keyof RuleInput]?: unknown };

/** Action words (lower case) → action (fields.ts ACTION_WORDS). A Map: `constructor` must not be an action. */
const ACTIONS: ReadonlyMap<string, 'accept' | 'drop'> = new Map(ACTION_WORDS);

export function parseAction(v: unknown): 'accept' | 'drop' | undefined {
  return typeof v === 'string' ? ACTIONS.get(v.trim().toLowerCase()) : undefined;
}

/**
 * What was given, for a message: strings quoted, anything else as short JSON-like
 * text; bounded in length and depth whatever the value (never throws).
 */
export const show = (v: unknown): string => describeValue(v);

/** Closest name in `known` to `name` (edit distance ≤ 2), for "did you mean" hints. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  const a = name.toLowerCase();
  for (const k of known) {
    const b = k.toLowerCase();
    if (Math.abs(a.length - b.length) >= bestD) continue; // the distance is at least the difference in length
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    }
    const dist = d[a.length]![b.length]!;
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return best;
}

/** Words a rule's type and protocol take, for "did you mean" (any case is read). */
const PRESET_WORDS = PRESET_FIELDS.flatMap((p) => (p.label ? [p.name, p.label] : [p.name]));
const PROTOCOL_WORDS = [...PROTOCOL_FIELDS.map((p) => p.name), ALL];

/** `; did you mean "x"?` when `given` is a word one or two letters from one of `words`, else ''. */
export function meant(given: unknown, words: readonly string[]): string {
  const near = typeof given === 'string' && given.length <= 40 ? closest(given, words) : undefined;
  return near ? `; did you mean "${near}"?` : '';
}

export function unknownFieldIssue(path: Path, label: string, key: string, known: readonly string[]): Issue {
  const hint = closest(key, known);
  return {
    code: 'UNKNOWN_FIELD',
    path,
    given: key,
    allowed: known.join(', '),
    message: `${label}: unknown field ${show(key)}${hint ? `; did you mean "${hint}"?` : ''} (allowed: ${known.join(', ')})`,
  };
}

/** Parses an integer 0-255 given as a number or digit string. */
function byteValue(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255) return v;
  if (typeof v === 'string' && /^\s*\d{1,3}\s*$/.test(v) && Number(v) <= 255) return Number(v);
  return undefined;
}

/** Same set of ports however written ("20-21" = "20,21" = "20 to 21"). */
function samePorts(a: Interval[] | null, b: Interval[] | null): boolean {
  if (a === null || b === null) return a === b;
  return JSON.stringify(normalizeIntervals(a)) === JSON.stringify(normalizeIntervals(b));
}

/** Why a rule of this protocol and peer can never match (docs/SEMANTICS.md "Rules"), or undefined. */
export function neverMatches(protocol: ProtocolMatch, peer: AddressSet): string | undefined {
  if (protocol === ICMP && peer.v4.length === 0) return 'can never match: ICMP with an IPv6-only peer (use ICMPv6)';
  if (protocol === ICMPV6 && peer.v6.length === 0) return 'can never match: ICMPv6 with an IPv4-only peer (use ICMP)';
  return undefined;
}

/** The services a rule matches: its service set's, or its one protocol and ports. */
export function ruleServices(rule: Pick<Rule, 'protocol' | 'ports' | 'services'>): readonly { protocol: ProtocolMatch; ports: Interval[] | null }[] {
  return rule.services ?? [rule];
}

/**
 * Why a validated rule can never match, or undefined: an empty peer (an empty set, a
 * group no instance with addresses is bound to), every service of its service set
 * unable to match its peer, or neverMatches.
 */
export function ruleNeverMatches(rule: Pick<Rule, 'protocol' | 'ports' | 'services' | 'peer' | 'peerSet' | 'peerGroup' | 'serviceSet'>): string | undefined {
  if (rule.peer.v4.length === 0 && rule.peer.v6.length === 0) {
    if (rule.peerGroup !== undefined) return `can never match: no instance bound to group ${JSON.stringify(rule.peerGroup)} has addresses (a group reference matches the addresses of the instances bound to the group)`;
    if (rule.peerSet !== undefined) return `can never match: address set ${JSON.stringify(rule.peerSet)} is empty`;
  }
  if (rule.services) {
    if (rule.services.length === 0) return `can never match: service set ${JSON.stringify(rule.serviceSet)} is empty`;
    const why = rule.services.map((s) => neverMatches(s.protocol, rule.peer));
    return why.every((w) => w !== undefined) ? `can never match: every service of ${JSON.stringify(rule.serviceSet)} is ICMP or ICMPv6 for a peer of the other family` : undefined;
  }
  return neverMatches(rule.protocol, rule.peer);
}

/**
 * Validates `raw` as a rule of `direction` in group `groupId`. Returns the rule, or
 * undefined when issues were pushed. `rule.ruleIndex` is the caller's to set right.
 */
export function validateRule(
  raw: unknown,
  direction: Direction,
  groupId: string,
  ruleIndex: number,
  src: RuleSource,
  issues: Issue[],
  warnings: Warning[],
  names?: PolicyNames,
): Rule | undefined {
  raw = ownFields(raw); // its own fields only (plain.ts): rules the library builds (Tencent, Terraform, templates) too
  const before = issues.length;
  const add = (code: IssueCode, field: string | null, message: string, given?: unknown, allowed?: string) => {
    const where = field === null ? src.label : `${src.label}, ${src.fieldName(field)}`;
    const issue: Issue = { code, path: field === null ? src.path : src.fieldPath(field), message: `${where}: ${message}` };
    if (given !== undefined) issue.given = given;
    if (allowed !== undefined) issue.allowed = allowed;
    issues.push(issue);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    add('INVALID_TYPE', null, `a rule must be an object (or a Terraform string ACTION#PEER#PORT#PROTOCOL), got ${show(raw)}`, raw);
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const keys = Object.keys(r);
  if (keys.length === 0) {
    add('EMPTY_RULE', null, 'the rule is empty; a rule needs at least an action, a peer and a protocol or type');
    return undefined;
  }
  for (const k of keys) {
    if (!RULE_FIELDS.includes(k)) issues.push(unknownFieldIssue(src.fieldPath(k), src.label, k, RULE_FIELDS));
  }

  // serviceSet (instead of type / protocol / port)
  let services: Service[] | undefined;
  if (r.serviceSet !== undefined) {
    const v = r.serviceSet;
    const others = (['type', 'protocol', 'port', 'icmpType', 'icmpCode'] as const).filter((f) => r[f] !== undefined);
    if (others.length > 0) {
      add('CONFLICTING_FIELDS', 'serviceSet', `a service set gives the protocols and ports; remove ${others.map((f) => src.fieldName(f)).join(', ')} or the service set`, v);
    } else if (typeof v !== 'string' || v.trim() === '') {
      add('INVALID_TYPE', 'serviceSet', `must be the id of a service set of the policy (a non-empty string), got ${show(v)}`, v);
    } else {
      const found = names?.service(v);
      if (found?.kind === 'set') services = found.set.services;
      else if (found?.kind === 'unusable') add('UNDEFINED_TEMPLATE', 'serviceSet', found.message, v);
      else if (!names?.isFailed('service', v)) {
        const known = names ? names.serviceSetList() : 'none';
        add('UNKNOWN_SET', 'serviceSet', `names service set ${show(v)}, which the policy does not define (defined: ${known})`, v, known);
      }
    }
  }

  // type / protocol
  let preset: string | undefined;
  if (r.type !== undefined) {
    preset = typeof r.type === 'string' ? presetName(r.type) : undefined;
    if (preset === undefined) add('UNKNOWN_PRESET', 'type', `unknown preset ${show(r.type)}; allowed: ${PRESET_SYNTAX}${meant(r.type, PRESET_WORDS)}`, r.type, PRESET_SYNTAX);
  }
  const fixed = preset !== undefined ? PRESETS.get(preset) ?? null : null;
  let protocol: ProtocolMatch | undefined;
  if (r.protocol !== undefined) {
    const p = parseProtocol(r.protocol, true);
    if (p === undefined) add('UNKNOWN_PROTOCOL', 'protocol', `unknown protocol ${show(r.protocol)}; allowed: ${PROTOCOL_SYNTAX}${meant(r.protocol, PROTOCOL_WORDS)}`, r.protocol, PROTOCOL_SYNTAX);
    else if (fixed && fixed.protocol !== p) {
      add('CONFLICTING_FIELDS', 'protocol', `preset "${preset}" already means protocol ${fixed.protocol === 'ping' ? 'ICMP/ICMPv6' : fixed.protocol}; remove protocol or use type custom`, r.protocol);
    } else protocol = p;
  }
  if (fixed) protocol = fixed.protocol;
  const presetUnknown = r.type !== undefined && preset === undefined;
  if (r.serviceSet !== undefined) protocol = 'all';
  else if (r.protocol === undefined && !fixed && !presetUnknown) {
    add('MISSING_FIELD', 'protocol', `no protocol; give protocol (${PROTOCOL_SYNTAX}) or a preset type (${PRESET_SYNTAX})`, undefined, PROTOCOL_SYNTAX);
  }

  // ports
  const portsOf = (field: 'port' | 'sourcePort'): Interval[] | null | undefined => {
    const v = r[field];
    if (v === undefined) return null;
    if (typeof v !== 'string' && typeof v !== 'number') {
      add('INVALID_TYPE', field, `must be a string or a number, got ${show(v)}; allowed: ${PORT_SYNTAX}`, v, PORT_SYNTAX);
      return undefined;
    }
    const p = parsePorts(v);
    if (!p.ok) {
      add(p.code, field, p.message, v, PORT_SYNTAX);
      return undefined;
    }
    if (p.value !== null && protocol !== undefined && !takesPorts(protocol)) {
      const name = r.serviceSet !== undefined ? `service set ${show(r.serviceSet)}` : typeof r.protocol === 'string' || typeof r.protocol === 'number' ? String(r.protocol) : String(preset);
      add('PORT_NOT_ALLOWED', field, `${show(v)} given with protocol ${name}; only TCP and UDP take ports, so it must be ALL or absent`, v, 'ALL or absent');
      return undefined;
    }
    return p.value;
  };
  let ports = portsOf('port');
  if (fixed && r.port !== undefined && ports !== undefined) {
    if (!samePorts(ports, fixed.ports)) {
      add('CONFLICTING_FIELDS', 'port', `preset "${preset}" already fixes the port; ${show(r.port)} differs (remove port or use type custom)`, r.port);
      ports = undefined;
    }
  }
  if (fixed && ports !== undefined) ports = fixed.ports;
  const sourcePorts = portsOf('sourcePort');

  // peer
  const own = direction === 'inbound' ? 'source' : 'destination';
  const other = direction === 'inbound' ? 'destination' : 'source';
  if (r[other] !== undefined) {
    add('WRONG_DIRECTION_FIELD', other, `${direction} rules name their peer with "${own}" (or "peer"), not "${other}"`, r[other], own);
  }
  const given = [own, 'peer'].filter((k) => r[k] !== undefined);
  let peer: AddressSet | undefined;
  let peerSet: string | undefined;
  let peerGroup: string | undefined;
  if (given.length > 1) {
    add('CONFLICTING_FIELDS', 'peer', `both "${own}" and "peer" are given; keep one`);
  } else if (given.length === 0) {
    if (r[other] === undefined) add('MISSING_FIELD', own, `no peer; give ${own} (${PEER_SYNTAX})`);
  } else {
    const field = given[0]!;
    const v = r[field];
    if (typeof v !== 'string') add('INVALID_TYPE', field, `must be a string, got ${show(v)}`, v);
    else {
      const p = parsePeer(v);
      // Not an address: the name of an address set, or of a security group (SPEC §9).
      const named = p.ok ? undefined : names?.peer(v);
      if (p.ok) peer = p.value;
      else if (named?.kind === 'set') {
        peer = named.set.addresses;
        peerSet = named.set.id;
      } else if (named?.kind === 'group') {
        // Resolved once every instance is known (resolveGroupReferences): the addresses of the instances bound to it.
        peer = { v4: [], v6: [] };
        peerGroup = named.id;
      } else if (named?.kind === 'unusable') add('UNDEFINED_TEMPLATE', field, named.message, v);
      else if (!names?.isFailed('address', v.trim())) {
        add(p.code, field, names ? `${p.message}, nor an address set or security group of the policy` : p.message, v, PEER_SYNTAX);
      }
    }
  }
  let local: AddressSet | null = null;
  if (r.localCidr !== undefined) {
    if (typeof r.localCidr !== 'string') add('INVALID_TYPE', 'localCidr', `must be a string, got ${show(r.localCidr)}`, r.localCidr);
    else {
      const p = parsePeer(r.localCidr);
      if (p.ok) local = p.value;
      else add(p.code, 'localCidr', p.message, r.localCidr);
    }
  }

  // icmp
  const icmpOk = protocol === ICMP || protocol === ICMPV6 || protocol === 'ping';
  const icmpField = (f: 'icmpType' | 'icmpCode'): number | null => {
    if (r[f] === undefined) return null;
    const v = byteValue(r[f]);
    if (v === undefined) add('INVALID_ICMP', f, `${show(r[f])} is not a whole number 0-255`, r[f], '0-255');
    else if (protocol !== undefined && !icmpOk) add('INVALID_ICMP', f, `only ICMP, ICMPv6 and ping rules take ${f}`, r[f]);
    return v ?? null;
  };
  const icmpType = icmpField('icmpType');
  const icmpCode = icmpField('icmpCode');
  if (r.icmpCode !== undefined && r.icmpType === undefined) add('INVALID_ICMP', 'icmpCode', 'icmpCode needs an icmpType', r.icmpCode);

  // action
  let action: 'accept' | 'drop' | undefined;
  if (r.action === undefined) add('MISSING_FIELD', 'action', `no action; allowed: ${ACTION_SYNTAX}`, undefined, ACTION_SYNTAX);
  else {
    action = parseAction(r.action);
    if (!action) add('INVALID_ACTION', 'action', `unknown action ${show(r.action)}; allowed: ${ACTION_SYNTAX}${meant(r.action, ACTION_WORDS.map(([w]) => w))}`, r.action, ACTION_SYNTAX);
  }
  if (r.description !== undefined && typeof r.description !== 'string') {
    add('INVALID_TYPE', 'description', `must be a string, got ${show(r.description)}`, r.description);
  }

  if (issues.length > before || protocol === undefined || ports === undefined || sourcePorts === undefined || !peer || !action) {
    return undefined;
  }
  if (r.serviceSet !== undefined && !services) return undefined;
  const peerField = given[0]!;
  // Built on PLAIN_PROTO (plain.ts): fields a rule does not have (services, peerSet,
  // template) read as undefined in every later step, whatever Object.prototype holds.
  const rule: Rule = plainObject({
    groupId, direction, ruleIndex, action, protocol, ports, peer, local, sourcePorts, icmpType, icmpCode,
    text: plainObject({
      protocol: services ? String(r.serviceSet) : preset && preset !== 'custom' ? preset : String(r.protocol),
      port: r.port !== undefined ? String(r.port) : fixed ? formatPorts(fixed.ports) : 'ALL',
      peer: String(r[peerField]),
    }),
  });
  if (typeof r.description === 'string') rule.description = r.description;
  if (peerSet !== undefined) rule.peerSet = peerSet;
  if (peerGroup !== undefined) rule.peerGroup = peerGroup;
  if (services) {
    rule.serviceSet = String(r.serviceSet);
    rule.services = services;
  }
  // A group reference's addresses are known only once every instance is: its warning comes then.
  const never = peerGroup === undefined ? ruleNeverMatches(rule) : undefined;
  if (never) warnings.push({ path: src.path, message: `${src.label}: ${never}` });
  return rule;
}
