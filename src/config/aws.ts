/**
 * AWS security groups as `aws ec2 describe-security-groups` prints them (the AWS CLI
 * documentation's examples): `{"SecurityGroups": [{GroupId, IpPermissions,
 * IpPermissionsEgress, …}]}`.
 *
 * AWS groups allow only, and their rules have no order: each group becomes a security
 * group of accept rules, one rule per peer of each permission (IpRanges, Ipv6Ranges,
 * UserIdGroupPairs, in that order), and what no rule accepts falls to the default
 * drop. Several groups on one instance are then their union, whatever their priority
 * order, because every rule accepts. A UserIdGroupPairs entry is a group reference:
 * the addresses of every instance bound to that group (SPEC §9), so the policy must
 * define the group. A PrefixListIds entry is refused with the prefix list's id named
 * (sgfilter is not given the list's entries). `IpProtocol` `-1` is every protocol
 * (ports ignored, as AWS ignores them for every protocol but TCP, UDP, ICMP and
 * ICMPv6); for ICMP and ICMPv6, `FromPort` is the type and `ToPort` the code, -1 any.
 *
 * Each rule keeps the paths of the AWS fields it came from, so an issue names
 * `SecurityGroups[0].IpPermissions[1].IpRanges[0].CidrIp`. Fields AWS does not define
 * are refused with the closest name (a misspelt `IpRanges` must not drop its peers).
 */
import type { Issue, Path } from '../errors.js';
import type { Direction, Warning } from '../types.js';
import { fieldNames, SHAPES } from './fields.js';
import { show, unknownFieldIssue, type RawRule, type RuleSource } from './rule.js';
import type { PolicyNames } from './sets.js';
import { plainObject, quote } from './plain.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A rule converted from AWS fields, with where each of its fields came from. */
export interface ConvertedRule {
  rule: RawRule;
  src: RuleSource;
}

/** One AWS group, converted: its id and name, and its accept rules per direction. */
export interface ConvertedGroup {
  id: string;
  name?: string;
  path: Path;
  label: string;
  inbound: ConvertedRule[];
  outbound: ConvertedRule[];
}

const GROUP_FIELDS = fieldNames(SHAPES.awsSecurityGroup);
const PERMISSION_FIELDS = fieldNames(SHAPES.awsPermission);
const DOCUMENT_FIELDS = fieldNames(SHAPES.awsDocument);
/** Each peer list: its entry's fields, and the field holding the peer. */
const PEER_LISTS = [
  ['IpRanges', fieldNames(SHAPES.awsIpRange), 'CidrIp'],
  ['Ipv6Ranges', fieldNames(SHAPES.awsIpv6Range), 'CidrIpv6'],
  ['UserIdGroupPairs', fieldNames(SHAPES.awsUserIdGroupPair), 'GroupId'],
] as const;
const PREFIX_LIST_FIELDS = fieldNames(SHAPES.awsPrefixListId);

/** AWS protocol words (lower case) → what a rule writes (a Map: looked up with user text). */
const PROTOCOLS: ReadonlyMap<string, string | number> = new Map<string, string | number>([
  ['-1', 'ALL'], ['tcp', 'TCP'], ['udp', 'UDP'], ['icmp', 'ICMP'], ['icmpv6', 'ICMPv6'],
]);

/** True when `doc` is a describe-security-groups output (it has SecurityGroups and no native fields). */
export function isAwsDocument(doc: unknown): doc is Record<string, unknown> {
  return isObj(doc) && Object.hasOwn(doc, 'SecurityGroups') && !Object.hasOwn(doc, 'securityGroups');
}

/** The group ids of an AWS document, for group references (before its rules are read). */
export function awsGroupIds(doc: Record<string, unknown>): string[] {
  const list = doc.SecurityGroups;
  if (!Array.isArray(list)) return [];
  return list.flatMap((g) => (isObj(g) && typeof g.GroupId === 'string' && g.GroupId.trim() !== '' ? [g.GroupId] : []));
}

/**
 * Converts a describe-security-groups output into groups of rule objects; problems of
 * AWS's own shape are issues with their paths (the rules are then validated as any
 * rule is, with these paths).
 */
export function convertAwsDocument(doc: Record<string, unknown>, issues: Issue[], warnings: Warning[], names: PolicyNames): ConvertedGroup[] {
  for (const k of Object.keys(doc)) {
    if (!DOCUMENT_FIELDS.includes(k)) issues.push(unknownFieldIssue([k], 'describe-security-groups output', k, DOCUMENT_FIELDS));
  }
  if (doc.NextToken !== undefined && doc.NextToken !== null && typeof doc.NextToken !== 'string') {
    issues.push({ code: 'INVALID_TYPE', path: ['NextToken'], given: doc.NextToken, message: `NextToken must be a string, got ${show(doc.NextToken)}` });
  }
  const list = doc.SecurityGroups;
  if (!Array.isArray(list)) {
    issues.push({ code: 'INVALID_TYPE', path: ['SecurityGroups'], given: list, message: `SecurityGroups must be a list of security groups, got ${show(list)}` });
    return [];
  }
  const out: ConvertedGroup[] = [];
  list.forEach((g, gi) => {
    const path: Path = ['SecurityGroups', gi];
    const where = `SecurityGroups[${gi}]`;
    if (!isObj(g)) {
      issues.push({ code: 'INVALID_TYPE', path, given: g, message: `${where}: a security group must be an object, got ${show(g)}` });
      return;
    }
    for (const k of Object.keys(g)) {
      if (!GROUP_FIELDS.includes(k)) issues.push(unknownFieldIssue([...path, k], where, k, GROUP_FIELDS));
    }
    if (typeof g.GroupId !== 'string' || g.GroupId.trim() === '') {
      issues.push({ code: g.GroupId === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', path: [...path, 'GroupId'], given: g.GroupId, message: `${where}: GroupId must be the group's id (a non-empty string such as "sg-903004f8")${g.GroupId === undefined ? '' : `, got ${show(g.GroupId)}`}` });
      return;
    }
    const id = g.GroupId;
    const label = `${where} (group ${quote(id)})`;
    for (const f of ['GroupName', 'Description', 'OwnerId', 'VpcId', 'SecurityGroupArn'] as const) {
      if (g[f] !== undefined && typeof g[f] !== 'string') issues.push({ code: 'INVALID_TYPE', path: [...path, f], given: g[f], message: `${label}: ${f} must be a string, got ${show(g[f])}` });
    }
    if (g.Tags !== undefined && !Array.isArray(g.Tags)) issues.push({ code: 'INVALID_TYPE', path: [...path, 'Tags'], given: g.Tags, message: `${label}: Tags must be a list, got ${show(g.Tags)}` });
    const group: ConvertedGroup = plainObject<ConvertedGroup>({ id, path, label, inbound: [], outbound: [] });
    if (typeof g.GroupName === 'string' && g.GroupName !== '') group.name = g.GroupName;
    for (const [field, dir] of [['IpPermissions', 'inbound'], ['IpPermissionsEgress', 'outbound']] as [string, Direction][]) {
      const perms = g[field];
      if (perms === undefined) continue;
      if (!Array.isArray(perms)) {
        issues.push({ code: 'INVALID_TYPE', path: [...path, field], given: perms, message: `${label}: ${field} must be a list of permissions, got ${show(perms)}` });
        continue;
      }
      perms.forEach((p, pi) => group[dir].push(...permissionRules(p, [...path, field, pi], `${label} ${field}[${pi}]`, dir, issues, warnings, names)));
    }
    out.push(group);
  });
  return out;
}

/** The accept rules of one permission: one per peer. */
function permissionRules(p: unknown, path: Path, where: string, dir: Direction, issues: Issue[], warnings: Warning[], names: PolicyNames): ConvertedRule[] {
  if (!isObj(p)) {
    issues.push({ code: 'INVALID_TYPE', path, given: p, message: `${where}: a permission must be an object, got ${show(p)}` });
    return [];
  }
  const before = issues.length;
  for (const k of Object.keys(p)) {
    if (!PERMISSION_FIELDS.includes(k)) issues.push(unknownFieldIssue([...path, k], where, k, PERMISSION_FIELDS));
  }
  // The protocol, and what FromPort / ToPort mean for it.
  const beforeBase = issues.length;
  const base: RawRule = { action: 'accept' };
  const proto = p.IpProtocol;
  let kind: 'ports' | 'icmp' | 'none' = 'none';
  if (proto === undefined) {
    issues.push({ code: 'MISSING_FIELD', path: [...path, 'IpProtocol'], message: `${where}: no IpProtocol; give tcp, udp, icmp, icmpv6, a protocol number or -1` });
  } else if (typeof proto !== 'string' && typeof proto !== 'number') {
    issues.push({ code: 'INVALID_TYPE', path: [...path, 'IpProtocol'], given: proto, message: `${where}: IpProtocol must be a string, got ${show(proto)}` });
  } else {
    const word = String(proto).trim().toLowerCase();
    const named = PROTOCOLS.get(word);
    base.protocol = named ?? (typeof proto === 'number' ? proto : String(proto).trim());
    const n = named === undefined ? Number(word) : undefined;
    if (named === 'TCP' || named === 'UDP' || n === 6 || n === 17) kind = 'ports';
    else if (named === 'ICMP' || named === 'ICMPv6' || n === 1 || n === 58) kind = 'icmp';
  }
  const portField = (f: 'FromPort' | 'ToPort'): number | undefined => {
    const v = p[f];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -1 || v > 65535) {
      issues.push({ code: kind === 'icmp' ? 'INVALID_ICMP' : 'INVALID_PORT', path: [...path, f], given: v, message: `${where}: ${f} must be a whole number -1-65535${kind === 'icmp' ? ' (an ICMP type or code, -1 for any)' : ''}, got ${show(v)}` });
      return undefined;
    }
    return v;
  };
  const from = portField('FromPort');
  const to = portField('ToPort');
  if (kind === 'ports') {
    if ((from === undefined) !== (to === undefined)) {
      issues.push({ code: 'MISSING_FIELD', path: [...path, from === undefined ? 'FromPort' : 'ToPort'], message: `${where}: FromPort and ToPort go together (the first and last port)` });
    } else if (from !== undefined && to !== undefined && !(from === -1 && to === -1)) {
      if (from < 0 || to < 0) issues.push({ code: 'INVALID_PORT', path: [...path, from < 0 ? 'FromPort' : 'ToPort'], given: from < 0 ? from : to, message: `${where}: -1 means all ports only as both FromPort and ToPort` });
      // Once for the permission, not once per peer rule made from it.
      else if (from > to) issues.push({ code: 'REVERSED_RANGE', path: [...path, 'FromPort'], given: `${from}-${to}`, message: `${where}: FromPort ${from} is above ToPort ${to}; write the low port first: ${to}-${from}` });
      else base.port = from === to ? String(from) : `${from}-${to}`;
    }
  } else if (kind === 'icmp') {
    if (from !== undefined && from !== -1) {
      base.icmpType = from;
      if (to !== undefined && to !== -1) base.icmpCode = to;
    } else if (to !== undefined && to !== -1) {
      issues.push({ code: 'INVALID_ICMP', path: [...path, 'ToPort'], given: to, message: `${where}: ToPort ${to} is an ICMP code, but FromPort (the type) is ${from ?? 'absent'}: any type has no code; give the type in FromPort` });
    }
  }
  // An unreadable protocol or port is reported once, here: the peers are then still
  // checked (as rules of any protocol and port, which are discarded: the config fails),
  // so a bad CidrIp in the same permission is reported with it (SPEC §4).
  const baseBad = issues.length > beforeBase;
  const ruleBase: RawRule = baseBad ? { action: 'accept', protocol: 'ALL' } : base;
  const rules: ConvertedRule[] = [];
  const fieldPaths = (entry: Path, peerField: string): RuleSource['fieldPath'] => (f) => {
    switch (f) {
      case 'protocol': return [...path, 'IpProtocol'];
      case 'port': case 'icmpType': return [...path, 'FromPort'];
      case 'icmpCode': return [...path, 'ToPort'];
      case 'source': case 'destination': return [...entry, peerField];
      case 'description': return [...entry, 'Description'];
      default: return entry;
    }
  };
  const fieldName = (peerField: string) => (f: string): string => {
    switch (f) {
      case 'protocol': return 'IpProtocol';
      case 'port': case 'icmpType': return 'FromPort';
      case 'icmpCode': return 'ToPort';
      case 'source': case 'destination': return peerField;
      case 'description': return 'Description';
      default: return f;
    }
  };
  let peers = 0;
  for (const [list, known, peerField] of PEER_LISTS) {
    const entries = p[list];
    if (entries === undefined) continue;
    if (!Array.isArray(entries)) {
      issues.push({ code: 'INVALID_TYPE', path: [...path, list], given: entries, message: `${where}: ${list} must be a list, got ${show(entries)}` });
      continue;
    }
    entries.forEach((e, k) => {
      const epath = [...path, list, k];
      const ewhere = `${where} ${list}[${k}]`;
      if (!isObj(e)) {
        issues.push({ code: 'INVALID_TYPE', path: epath, given: e, message: `${ewhere}: must be an object with ${peerField}, got ${show(e)}` });
        return;
      }
      peers++;
      for (const key of Object.keys(e)) {
        if (!(known as readonly string[]).includes(key)) issues.push(unknownFieldIssue([...epath, key], ewhere, key, known));
      }
      for (const key of Object.keys(e)) {
        if ((known as readonly string[]).includes(key) && key !== peerField && e[key] !== undefined && typeof e[key] !== 'string') {
          issues.push({ code: 'INVALID_TYPE', path: [...epath, key], given: e[key], message: `${ewhere}: ${key} must be a string, got ${show(e[key])}` });
        }
      }
      const peer = e[peerField];
      if (typeof peer !== 'string' || peer.trim() === '') {
        issues.push({ code: peer === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', path: [...epath, peerField], given: peer, message: `${ewhere}: ${peerField} must be a non-empty string${peer === undefined ? '' : `, got ${show(peer)}`}` });
        return;
      }
      if (list === 'UserIdGroupPairs' && !names.groupIds.has(peer)) {
        issues.push({
          code: 'UNKNOWN_GROUP', path: [...epath, peerField], given: peer,
          message: `${ewhere}: references security group ${quote(peer)} (a group reference: the addresses of the instances bound to it), which the policy does not define; give its describe-security-groups output too, and the instances bound to it with their addresses`,
        });
        return;
      }
      const rule: RawRule = plainObject<RawRule>({ ...ruleBase });
      if (dir === 'inbound') rule.source = peer;
      else rule.destination = peer;
      if (typeof e.Description === 'string' && e.Description !== '') rule.description = e.Description;
      rules.push({ rule, src: { path: epath, label: ewhere, fieldPath: fieldPaths(epath, peerField), fieldName: fieldName(peerField) } });
    });
  }
  const prefixLists = p.PrefixListIds;
  if (prefixLists !== undefined) {
    if (!Array.isArray(prefixLists)) issues.push({ code: 'INVALID_TYPE', path: [...path, 'PrefixListIds'], given: prefixLists, message: `${where}: PrefixListIds must be a list, got ${show(prefixLists)}` });
    else {
      prefixLists.forEach((e, k) => {
        const epath = [...path, 'PrefixListIds', k];
        if (!isObj(e)) {
          issues.push({ code: 'INVALID_TYPE', path: epath, given: e, message: `${where} PrefixListIds[${k}]: must be an object with PrefixListId, got ${show(e)}` });
          return;
        }
        for (const key of Object.keys(e)) {
          if (!PREFIX_LIST_FIELDS.includes(key)) issues.push(unknownFieldIssue([...epath, key], `${where} PrefixListIds[${k}]`, key, PREFIX_LIST_FIELDS));
        }
        const id = e.PrefixListId;
        issues.push({
          code: 'UNSUPPORTED', path: [...epath, 'PrefixListId'], given: id,
          message: `${where} PrefixListIds[${k}]: the peer is prefix list ${typeof id === 'string' ? quote(id) : show(id)}, whose entries sgfilter is not given; write its CIDRs as IpRanges / Ipv6Ranges (aws ec2 get-managed-prefix-list-entries lists them)`,
        });
      });
    }
  }
  // With issues (an unreadable protocol or port, an unknown group, a prefix list, an
  // unknown field) the permission's readable peers are still checked as rules
  // (validateRule): every error of the permission is reported together (SPEC §4), and
  // the config fails on them anyway.
  if (issues.length > before) return rules;
  if (peers === 0 && (prefixLists === undefined || (Array.isArray(prefixLists) && prefixLists.length === 0))) {
    warnings.push({ path, message: `${where}: no peers (IpRanges, Ipv6Ranges, UserIdGroupPairs); the permission allows nothing` });
  }
  return rules;
}
