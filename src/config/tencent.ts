/**
 * Tencent Cloud's DescribeSecurityGroupPolicies output, accepted as a config:
 * the whole `{"Response": {...}}`, the `{"SecurityGroupPolicySet": {...}}` object, or
 * the policy set `{Version, Ingress, Egress}` itself. Each entry becomes a rule
 * object whose fields keep their Tencent names for error paths (Port, CidrBlock...).
 * What sgfilter cannot evaluate (parameter templates it is not given, security-group
 * peers) is refused with an issue naming it, never silently dropped; so is a field
 * Tencent does not define, in a policy, a template reference or the policy set (with
 * the closest field name: a misspelt field must never read as an absent one).
 */
import type { Issue, Path } from '../errors.js';
import type { Direction } from '../types.js';
import { show, unknownFieldIssue, type RawRule } from './rule.js';

export interface TencentRule {
  rule: RawRule;
  path: Path;
  /** Native field -> Tencent field name. */
  fields: ReadonlyMap<string, string>;
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

/** Converts a policy set; Tencent-specific problems are pushed to `issues`. */
export function convertPolicySet(set: Record<string, unknown>, base: Path, label: string, issues: Issue[]): TencentGroup {
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
    list.forEach((entry, i) => {
      const path = [...base, key, i];
      const where = `${label} ${key}[${i}]`;
      if (!isObj(entry)) {
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
      for (const [tpl, keys] of [['ServiceTemplate', ['ServiceId', 'ServiceGroupId']], ['AddressTemplate', ['AddressId', 'AddressGroupId']]] as const) {
        const t = entry[tpl];
        if (!isObj(t)) continue;
        for (const k of keys) {
          if (nonEmpty(t[k])) {
            refuse('UNDEFINED_TEMPLATE', [tpl, k], `references ${tpl === 'ServiceTemplate' ? 'service' : 'address'} template ${show(t[k])}, which this input does not define; replace it with ${tpl === 'ServiceTemplate' ? 'Protocol and Port' : 'CidrBlock or Ipv6CidrBlock'}`, t[k]);
          }
        }
      }
      if (nonEmpty(entry.SecurityGroupId)) {
        refuse('UNSUPPORTED', ['SecurityGroupId'], `uses security group ${show(entry.SecurityGroupId)} as its peer; sgfilter cannot resolve group membership, write the peer as CidrBlock or Ipv6CidrBlock`, entry.SecurityGroupId);
      }
      const v4 = nonEmpty(entry.CidrBlock);
      const v6 = nonEmpty(entry.Ipv6CidrBlock);
      if (v4 && v6) refuse('CONFLICTING_FIELDS', ['Ipv6CidrBlock'], 'CidrBlock and Ipv6CidrBlock are mutually exclusive; split the policy in two');
      if (!ok) return;
      const rule: RawRule = {};
      const fields = new Map([['protocol', 'Protocol'], ['port', 'Port'], ['action', 'Action'], ['description', 'PolicyDescription']]);
      if (entry.Protocol !== undefined && entry.Protocol !== '') rule.protocol = entry.Protocol;
      if (entry.Port !== undefined && entry.Port !== '') rule.port = entry.Port;
      if (entry.Action !== undefined) rule.action = entry.Action;
      if (entry.PolicyDescription !== undefined && entry.PolicyDescription !== '') rule.description = entry.PolicyDescription;
      const peerField = direction === 'inbound' ? 'source' : 'destination';
      if (v4 || v6) {
        rule[peerField] = v4 ? entry.CidrBlock : entry.Ipv6CidrBlock;
        fields.set(peerField, v4 ? 'CidrBlock' : 'Ipv6CidrBlock');
      } else fields.set(peerField, 'CidrBlock');
      const tr: TencentRule = { rule, path, fields };
      if (typeof entry.PolicyIndex === 'number') tr.policyIndex = entry.PolicyIndex;
      out[direction].push(tr);
    });
  }
  return out;
}
