/**
 * Tencent Cloud's DescribeSecurityGroupPolicies output, accepted as a config:
 * the whole `{"Response": {...}}`, the `{"SecurityGroupPolicySet": {...}}` object, or
 * the policy set `{Version, Ingress, Egress}` itself. Each entry becomes a rule
 * object whose fields keep their Tencent names for error paths (Port, CidrBlock...).
 *
 * References (SPEC §9): `AddressTemplate` (an address template ipm-… or template
 * group ipmg-…) and `SecurityGroupId` (a group reference) become the rule's peer;
 * `ServiceTemplate` (ppm-… / ppmg-…) its serviceSet. A template no document of the
 * policy defines is UNDEFINED_TEMPLATE, naming it; a group the policy does not define
 * is UNKNOWN_GROUP. A list whose policies give `PolicyIndex` is evaluated in
 * PolicyIndex order, and a warning says where the array order disagrees. A field
 * Tencent does not define, in a policy, a template reference or the policy set, is
 * refused with the closest field name: a misspelt field must never read as an absent
 * one.
 */
import type { Issue, Path } from '../errors.js';
import type { Direction, Warning } from '../types.js';
import { show, unknownFieldIssue, type RawRule } from './rule.js';
import type { PolicyNames } from './sets.js';
import { quote } from './plain.js';

export interface TencentRule {
  rule: RawRule;
  path: Path;
  /** Native field -> the Tencent field's path inside the policy (["AddressTemplate", "AddressId"]). */
  fields: ReadonlyMap<string, Path>;
  /** The policy's PolicyIndex, when the list gives them. */
  policyIndex?: number;
}

export interface TencentGroup {
  version?: string;
  inbound: TencentRule[];
  outbound: TencentRule[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Finds the policy set in `doc`; returns it and the path it was found at. */
export function findPolicySet(doc: unknown): { set: Record<string, unknown>; path: Path } | undefined {
  if (!isObj(doc)) return undefined;
  if (isObj(doc.Response) && isObj(doc.Response.SecurityGroupPolicySet)) {
    return { set: doc.Response.SecurityGroupPolicySet, path: ['Response', 'SecurityGroupPolicySet'] };
  }
  if (isObj(doc.SecurityGroupPolicySet)) return { set: doc.SecurityGroupPolicySet, path: ['SecurityGroupPolicySet'] };
  if ((Object.hasOwn(doc, 'Ingress') || Object.hasOwn(doc, 'Egress')) && !Object.hasOwn(doc, 'securityGroups')) return { set: doc, path: [] };
  return undefined;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

/**
 * The fields of Tencent's SecurityGroupPolicy (API reference, and both CLI examples in
 * docs/SEMANTICS.md's sources): anything else in a policy is refused with a "did you
 * mean" (a misspelt `Prot` would otherwise be a rule for every port). `ModifyTime` is
 * informational; `Direction` (INGRESS/EGRESS, in Tencent's VPC example) must agree with
 * the list the policy is in.
 */
export const TENCENT_POLICY_FIELDS = [
  'PolicyIndex', 'Protocol', 'Port', 'ServiceTemplate', 'CidrBlock', 'Ipv6CidrBlock', 'SecurityGroupId', 'AddressTemplate',
  'Action', 'PolicyDescription', 'ModifyTime', 'Direction',
] as const;
/**
 * The fields of a SecurityGroupPolicySet: a misspelt `Egres` would otherwise drop its
 * whole list silently. `PolicyStatistics` (rule counts, output only) is ignored.
 */
export const TENCENT_SET_FIELDS = ['Version', 'Ingress', 'Egress', 'PolicyStatistics'] as const;
const TEMPLATE_FIELDS = { ServiceTemplate: ['ServiceId', 'ServiceGroupId'], AddressTemplate: ['AddressId', 'AddressGroupId'] } as const;

/** Reads a PolicyIndex: a whole number >= 0 (a digit string too, as some SDKs write numbers), or undefined. */
function policyIndexOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\s*\d{1,15}\s*$/.test(v)) return Number(v);
  return undefined;
}

/**
 * Converts a policy set; Tencent-specific problems are pushed to `issues`, the
 * PolicyIndex order warning to `warnings`. `names`: the sets and groups the policy
 * defines (without them, every template reference and group peer is undefined).
 * Each list comes back in evaluation order.
 */
export function convertPolicySet(set: Record<string, unknown>, base: Path, label: string, issues: Issue[], warnings: Warning[] = [], names?: PolicyNames): TencentGroup {
  const out: TencentGroup = { inbound: [], outbound: [] };
  for (const k of Object.keys(set)) {
    if (!(TENCENT_SET_FIELDS as readonly string[]).includes(k)) issues.push(unknownFieldIssue([...base, k], `${label} SecurityGroupPolicySet`, k, TENCENT_SET_FIELDS));
  }
  if (typeof set.Version === 'string' || typeof set.Version === 'number') out.version = String(set.Version);
  else if (set.Version !== undefined && set.Version !== null) {
    issues.push({ code: 'INVALID_TYPE', path: [...base, 'Version'], given: set.Version, message: `${label} Version: must be a string, got ${show(set.Version)}` });
  }
  for (const [key, direction] of [['Ingress', 'inbound'], ['Egress', 'outbound']] as [string, Direction][]) {
    const list = set[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      issues.push({ code: 'INVALID_TYPE', path: [...base, key], given: list, message: `${label} ${key}: must be a list of policies, got ${show(list)}` });
      continue;
    }
    /** Every policy object's PolicyIndex (undefined: not given), by array position; -1 for entries that are not objects. */
    const indexes: (number | undefined | null)[] = [];
    list.forEach((entry, i) => {
      const path = [...base, key, i];
      const where = `${label} ${key}[${i}]`;
      if (!isObj(entry)) {
        indexes.push(null);
        issues.push({ code: 'INVALID_TYPE', path, given: entry, message: `${where}: a policy must be an object, got ${show(entry)}` });
        return;
      }
      let ok = true;
      const refuse = (code: Issue['code'], field: Path, message: string, given?: unknown) => {
        ok = false;
        const issue: Issue = { code, path: [...path, ...field], message: `${where}: ${message}` };
        if (given !== undefined) issue.given = given;
        issues.push(issue);
      };
      let policyIndex: number | undefined;
      if (entry.PolicyIndex !== undefined && entry.PolicyIndex !== null && entry.PolicyIndex !== '') {
        policyIndex = policyIndexOf(entry.PolicyIndex);
        if (policyIndex === undefined) refuse('INVALID_POLICY_INDEX', ['PolicyIndex'], `PolicyIndex must be a whole number >= 0 (the policy's position), got ${show(entry.PolicyIndex)}`, entry.PolicyIndex);
      }
      indexes.push(policyIndex);
      // Every field is one Tencent defines (a typo is never read as "absent").
      for (const k of Object.keys(entry)) {
        if (!(TENCENT_POLICY_FIELDS as readonly string[]).includes(k)) {
          ok = false;
          issues.push(unknownFieldIssue([...path, k], where, k, TENCENT_POLICY_FIELDS));
        }
      }
      for (const [tpl, known] of Object.entries(TEMPLATE_FIELDS)) {
        const t = entry[tpl];
        if (t === undefined || t === null || t === '') continue;
        if (!isObj(t)) {
          refuse('INVALID_TYPE', [tpl], `${tpl} must be an object {${known.join(', ')}}, got ${show(t)}`, t);
          continue;
        }
        for (const k of Object.keys(t)) {
          if (!(known as readonly string[]).includes(k)) {
            ok = false;
            issues.push(unknownFieldIssue([...path, tpl, k], `${where} ${tpl}`, k, known));
          }
        }
      }
      if (entry.Direction !== undefined) {
        const want = key === 'Ingress' ? 'INGRESS' : 'EGRESS';
        if (typeof entry.Direction !== 'string' || entry.Direction.trim().toUpperCase() !== want) {
          refuse('CONFLICTING_FIELDS', ['Direction'], `Direction ${show(entry.Direction)} in the ${key} list; a policy in ${key} has Direction ${want} (or none)`, entry.Direction);
        }
      }
      if (entry.ModifyTime !== undefined && typeof entry.ModifyTime !== 'string') {
        refuse('INVALID_TYPE', ['ModifyTime'], `ModifyTime must be a string (it is informational), got ${show(entry.ModifyTime)}`, entry.ModifyTime);
      }
      // The peer: exactly one of CidrBlock, Ipv6CidrBlock, SecurityGroupId, AddressTemplate (Tencent's API says they are mutually exclusive).
      const peers: { field: Path; value: string; kind: 'cidr' | 'group' | 'address' }[] = [];
      if (nonEmpty(entry.CidrBlock)) peers.push({ field: ['CidrBlock'], value: entry.CidrBlock, kind: 'cidr' });
      if (nonEmpty(entry.Ipv6CidrBlock)) peers.push({ field: ['Ipv6CidrBlock'], value: entry.Ipv6CidrBlock, kind: 'cidr' });
      if (entry.SecurityGroupId !== undefined && entry.SecurityGroupId !== null && entry.SecurityGroupId !== '') {
        if (typeof entry.SecurityGroupId !== 'string') refuse('INVALID_TYPE', ['SecurityGroupId'], `SecurityGroupId must be a security group id (a string), got ${show(entry.SecurityGroupId)}`, entry.SecurityGroupId);
        else if (entry.SecurityGroupId.trim() !== '') peers.push({ field: ['SecurityGroupId'], value: entry.SecurityGroupId, kind: 'group' });
      }
      const services: { field: Path; value: string }[] = [];
      for (const [tpl, ids] of [['AddressTemplate', ['AddressId', 'AddressGroupId']], ['ServiceTemplate', ['ServiceId', 'ServiceGroupId']]] as const) {
        const t = entry[tpl];
        if (!isObj(t)) continue;
        for (const k of ids) {
          const v = t[k];
          if (v === undefined || v === null || v === '') continue;
          if (typeof v !== 'string') {
            refuse('INVALID_TYPE', [tpl, k], `${tpl}.${k} must be a template id (a string), got ${show(v)}`, v);
            continue;
          }
          if (v.trim() === '') continue;
          if (tpl === 'AddressTemplate') peers.push({ field: [tpl, k], value: v, kind: 'address' });
          else services.push({ field: [tpl, k], value: v });
        }
      }
      if (peers.length > 1) {
        const named = peers.map((p) => p.field.join('.')).join(' and ');
        refuse('CONFLICTING_FIELDS', peers[1]!.field, `${named} are mutually exclusive (a policy has one peer); split the policy in two`);
      }
      if (services.length > 1) refuse('CONFLICTING_FIELDS', services[1]!.field, 'ServiceTemplate.ServiceId and ServiceTemplate.ServiceGroupId are mutually exclusive; give one');
      for (const p of peers.length === 1 ? peers : []) {
        if (p.kind === 'address') {
          const found = names?.peer(p.value);
          if (found?.kind === 'unusable') refuse('UNDEFINED_TEMPLATE', p.field, `references address template group ${show(p.value)}, which cannot be used: ${found.message}`, p.value);
          // A template that is defined but invalid has its own issue (one issue per cause): the rule is not built, and says nothing more.
          else if (found === undefined && names?.isFailed('address', p.value.trim())) ok = false;
          else if (found?.kind !== 'set') {
            refuse('UNDEFINED_TEMPLATE', p.field, `references address template ${show(p.value)}, which no document of the policy defines; give the ${p.field[1] === 'AddressGroupId' ? 'DescribeAddressTemplateGroups' : 'DescribeAddressTemplates'} output that lists it beside this one, or replace it with CidrBlock or Ipv6CidrBlock`, p.value);
          }
        } else if (p.kind === 'group' && !names?.groupIds.has(p.value)) {
          refuse('UNKNOWN_GROUP', p.field, `uses security group ${show(p.value)} as its peer (a group reference: the addresses of the instances bound to it), but the policy does not define that group; give its policies as a group with that id ({"securityGroups": [{"id": ${quote(p.value)}, "SecurityGroupPolicySet": …}]}) and the instances bound to it, with their addresses`, p.value);
        }
      }
      for (const sv of services.length === 1 ? services : []) {
        const found = names?.service(sv.value);
        if (found?.kind === 'unusable') refuse('UNDEFINED_TEMPLATE', sv.field, `references service template group ${show(sv.value)}, which cannot be used: ${found.message}`, sv.value);
        else if (found === undefined && names?.isFailed('service', sv.value.trim())) ok = false;
        else if (found?.kind !== 'set') {
          refuse('UNDEFINED_TEMPLATE', sv.field, `references service template ${show(sv.value)}, which no document of the policy defines; give the ${sv.field[1] === 'ServiceGroupId' ? 'DescribeServiceTemplateGroups' : 'DescribeServiceTemplates'} output that lists it beside this one, or replace it with Protocol and Port`, sv.value);
        }
      }
      if (!ok) return;
      const rule: RawRule = {};
      const fields = new Map<string, Path>([['protocol', ['Protocol']], ['port', ['Port']], ['action', ['Action']], ['description', ['PolicyDescription']]]);
      if (entry.Protocol !== undefined && entry.Protocol !== '') rule.protocol = entry.Protocol;
      if (entry.Port !== undefined && entry.Port !== '') rule.port = entry.Port;
      if (entry.Action !== undefined) rule.action = entry.Action;
      if (entry.PolicyDescription !== undefined && entry.PolicyDescription !== '') rule.description = entry.PolicyDescription;
      const peerField = direction === 'inbound' ? 'source' : 'destination';
      const peer = peers[0];
      if (peer) {
        rule[peerField] = peer.value;
        fields.set(peerField, peer.field);
      } else fields.set(peerField, ['CidrBlock']);
      const service = services[0];
      if (service) {
        rule.serviceSet = service.value;
        fields.set('serviceSet', service.field);
      }
      const tr: TencentRule = { rule, path, fields };
      if (policyIndex !== undefined) tr.policyIndex = policyIndex;
      out[direction].push(tr);
    });
    out[direction] = inPolicyIndexOrder(out[direction], indexes, [...base, key], `${label} ${key}`, issues, warnings);
  }
  return out;
}

/**
 * A list in PolicyIndex order when its policies give one (SPEC §9). Where the array
 * order disagrees, a warning says so (the first policy out of place, and how many
 * move). Chosen where the SPEC is silent, as a cloud user expects the list to keep
 * working: when only some policies give a PolicyIndex, the array order is used and a
 * warning says PolicyIndex was not used; policies sharing a PolicyIndex keep their
 * array order among themselves, with a warning naming both.
 */
function inPolicyIndexOrder(rules: TencentRule[], indexes: (number | undefined | null)[], listPath: Path, where: string, _issues: Issue[], warnings: Warning[]): TencentRule[] {
  const given = indexes.flatMap((x, i) => (typeof x === 'number' ? [i] : []));
  if (given.length === 0) return rules;
  const missing = indexes.findIndex((x) => x === undefined);
  if (missing >= 0) {
    warnings.push({
      path: [...listPath, missing],
      message: `${where}[${missing}]: no PolicyIndex, but ${where}[${given[0]}] gives one; PolicyIndex is not used for this list, which is evaluated in array order (give PolicyIndex on every policy, or on none)`,
    });
    return rules;
  }
  const firstAt = new Map<number, number>();
  for (const i of given) {
    const x = indexes[i] as number;
    const earlier = firstAt.get(x);
    if (earlier !== undefined) {
      warnings.push({ path: [...listPath, i, 'PolicyIndex'], message: `${where}[${i}]: PolicyIndex ${x} is also ${where}[${earlier}]'s; the two keep their array order` });
    } else firstAt.set(x, i);
  }
  // Array.prototype.sort is stable: policies sharing a PolicyIndex keep their array order.
  const sorted = [...rules].sort((a, b) => a.policyIndex! - b.policyIndex!);
  const moved = sorted.reduce((n, r, k) => n + (r === rules[k] ? 0 : 1), 0);
  const pos = (r: TencentRule) => r.path[r.path.length - 1] as number;
  let highest: TencentRule | undefined;
  for (const r of rules) {
    if (highest && r.policyIndex! < highest.policyIndex!) {
      warnings.push({
        path: [...listPath, pos(r)],
        message: `${where}: the array order disagrees with PolicyIndex: ${where}[${pos(r)}] has PolicyIndex ${r.policyIndex}, after ${where}[${pos(highest)}] with PolicyIndex ${highest.policyIndex} (${moved} ${moved === 1 ? 'policy moves' : 'policies move'}); the list is evaluated in PolicyIndex order, and verdicts number its rules in that order`,
      });
      break;
    }
    if (!highest || r.policyIndex! > highest.policyIndex!) highest = r;
  }
  return sorted;
}
