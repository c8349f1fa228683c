/**
 * Config parsing and validation (docs/SEMANTICS.md, "Rules" to "Bad input"): native JSON/YAML documents, Tencent
 * Cloud API policy sets, and Terraform lite rule strings, into one normalized Config.
 * `safeParseConfig` returns every issue; `parseConfig` throws one CONFIG_INVALID
 * error carrying them all. Nothing is half-accepted.
 */
import { capIssues, configError, formatPath, type Issue, type Path } from '../errors.js';
import { looksLikeConfig } from './config-shape.js';
import { adoptConfig, isOwnedConfig, ownConfig } from './owned.js';
import type { AddressSet, Config, Direction, Instance, Rule, SecurityGroup, Warning } from '../types.js';
import { parsePeer } from './address.js';
import { TEMPLATES, templateName, TEMPLATE_SYNTAX, type TemplateName } from './presets.js';
import { CONFIG_FIELDS, GROUP_FIELDS, INSTANCE_FIELDS } from './fields.js';
import { closest, meant, ruleNeverMatches, show, unknownFieldIssue, validateRule, type RuleSource } from './rule.js';
import { convertPolicySet, findPolicySet } from './tencent.js';
import { findTemplateLists, readTemplateLists } from './tencent-templates.js';
import { awsGroupIds, convertAwsDocument, isAwsDocument } from './aws.js';
import { buildSets, failedSets, groupPeers, PolicyNames, readSetEntry, type SetDefinition } from './sets.js';
import { TERRAFORM_PARTS, TERRAFORM_SYNTAX, terraformRule } from './terraform.js';
import { keysOf, ownField, ownFields, plainData, plainObject, quote, quotedList } from './plain.js';

export { parseConfigText } from './text.js';

/** What safeParseConfig returns: the validated config, or every issue found. */
export type ParseResult =
  | {
    /** The config is valid. */
    success: true;
    /** The validated config. */
    config: Config;
  }
  | {
    /** The config is not valid. */
    success: false;
    /** Every issue found, each with its code and path. */
    issues: Issue[];
  };

/** Id of the group made from a bare Tencent policy set document. */
export const TENCENT_GROUP_ID = 'tencent';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function nativeSource(path: Path, label: string): RuleSource {
  return { path, label, fieldPath: (f) => [...path, f], fieldName: (f) => f };
}

interface Ctx {
  issues: Issue[];
  warnings: Warning[];
  /** The sets and groups rules may name (SPEC §9). */
  names?: PolicyNames;
}

/**
 * Validates one rule as written (a rule object or a Terraform lite string) for
 * direction `dir` of group `groupId`; issues carry `path` and its fields.
 */
export function validateRuleInput(
  raw: unknown, dir: Direction, groupId: string, index: number, path: Path, label: string, issues: Issue[], warnings: Warning[], names?: PolicyNames,
): Rule | undefined {
  let src = nativeSource(path, label);
  let value = ownFields(raw);
  if (typeof raw === 'string') {
    const converted = terraformRule(raw, dir);
    if (!converted) {
      issues.push({
        code: 'INVALID_TERRAFORM_RULE', path, given: raw, allowed: TERRAFORM_SYNTAX,
        message: `${label}: ${show(raw)} is not a Terraform lite rule; write ${TERRAFORM_SYNTAX}`,
      });
      return undefined;
    }
    value = converted;
    src = { path, label: `${label} (${show(raw)})`, fieldPath: () => path, fieldName: (f) => TERRAFORM_PARTS.get(f) ?? f };
  }
  return validateRule(value, dir, groupId, index, src, issues, warnings, names);
}

/** Validates the rules of one direction of a group (rule objects or Terraform strings). */
function validateRules(list: unknown, dir: Direction, groupId: string, path: Path, label: string, ctx: Ctx): Rule[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    ctx.issues.push({ code: 'INVALID_TYPE', path, given: list, message: `${label} ${dir}: must be a list of rules, got ${show(list)}` });
    return [];
  }
  const rules: Rule[] = [];
  list.forEach((raw, i) => {
    const rule = validateRuleInput(raw, dir, groupId, i, [...path, i], `${label} ${dir} rule ${i}`, ctx.issues, ctx.warnings, ctx.names);
    if (rule) rules.push(rule);
  });
  return rules;
}

function templateRules(name: TemplateName, dir: Direction, groupId: string, start: number, ctx: Ctx): Rule[] {
  return TEMPLATES[name][dir].map((raw, i) => {
    const src = nativeSource(['templates', name, dir, i], `template ${name}`);
    const rule = validateRule(raw, dir, groupId, start + i, src, ctx.issues, ctx.warnings)!;
    rule.template = name;
    return rule;
  });
}

/**
 * Validates one security group at `path` (`where` names it in messages, e.g.
 * "securityGroups[2]"). With `seen` (id → index), duplicate ids are issues and new
 * ids are recorded.
 */
export function validateGroupInput(raw: unknown, path: Path, where: string, issues: Issue[], warnings: Warning[], seen?: Map<string, number>, names?: PolicyNames): SecurityGroup | undefined {
  const ctx: Ctx = { issues, warnings };
  if (names) ctx.names = names;
  return validateGroup(raw, path, where, ctx, seen);
}

/**
 * The misspelt keys of `raw` that stand in for an absent known field: `inbund` for
 * `inbound` when there is no `inbound`. They are UNKNOWN_FIELD (the config fails),
 * but their values are still checked as the field they meant, so one typo does not
 * hide every issue under it. Field → the key that holds its value.
 */
function standIns(raw: Record<string, unknown>, known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of Object.keys(raw)) {
    if (known.includes(k) || k.length > 40) continue;
    const meant = closest(k, known);
    if (meant !== undefined && raw[meant] === undefined && !out.has(meant)) out.set(meant, k);
  }
  return out;
}

function validateGroup(raw: unknown, path: Path, where: string, ctx: Ctx, seen?: Map<string, number>): SecurityGroup | undefined {
  raw = ownFields(raw); // its own fields only (plain.ts): a group an edit or a converter built too
  if (!isObj(raw)) {
    ctx.issues.push({ code: 'INVALID_TYPE', path, given: raw, message: `${where}: a security group must be an object with an id, got ${show(raw)}` });
    return undefined;
  }
  const before = ctx.issues.length;
  const last = path.at(-1);
  let id = typeof last === 'number' ? `#${last}` : '(no id)';
  if (raw.id === undefined) {
    ctx.issues.push({ code: 'MISSING_FIELD', path: [...path, 'id'], message: `${where}: no id; every security group needs a unique id such as "sg-web"` });
  } else if (typeof raw.id !== 'string' || raw.id.trim() === '') {
    ctx.issues.push({ code: 'INVALID_TYPE', path: [...path, 'id'], given: raw.id, message: `${where}: id must be a non-empty string, got ${show(raw.id)}` });
  } else {
    id = raw.id;
    const first = seen?.get(id);
    if (first !== undefined) {
      ctx.issues.push({ code: 'DUPLICATE_GROUP', path: [...path, 'id'], given: id, message: `${where}: id ${quote(id)} is already used by securityGroups[${first}]; group ids must be unique` });
    } else seen?.set(id, Number(path.at(-1)));
  }
  const label = `group ${quote(id)}`;
  for (const k of Object.keys(raw)) {
    if (!GROUP_FIELDS.includes(k)) ctx.issues.push(unknownFieldIssue([...path, k], label, k, GROUP_FIELDS));
  }
  const stand = standIns(raw, GROUP_FIELDS);
  /** A field's key: its own, or the misspelt key standing in for it. */
  const keyOf = (f: string): string => (raw[f] === undefined ? stand.get(f) : undefined) ?? f;
  for (const f of ['name', 'description'] as const) {
    if (raw[f] !== undefined && typeof raw[f] !== 'string') {
      ctx.issues.push({ code: 'INVALID_TYPE', path: [...path, f], given: raw[f], message: `${label}: ${f} must be a string, got ${show(raw[f])}` });
    }
  }
  let template: TemplateName = 'custom';
  const templateKey = keyOf('template');
  const templateRaw = raw[templateKey];
  if (templateRaw !== undefined) {
    const t = typeof templateRaw === 'string' ? templateName(templateRaw) : undefined;
    if (!t) {
      ctx.issues.push({ code: 'UNKNOWN_TEMPLATE', path: [...path, templateKey], given: templateRaw, allowed: TEMPLATE_SYNTAX, message: `${label}: unknown template ${show(templateRaw)}; allowed: ${TEMPLATE_SYNTAX}${meant(templateRaw, TEMPLATE_SYNTAX.split(', '))}` });
    } else template = t;
  }
  let inbound: Rule[];
  let outbound: Rule[];
  if (raw.SecurityGroupPolicySet !== undefined) {
    if (raw.inbound !== undefined || raw.outbound !== undefined) {
      ctx.issues.push({ code: 'CONFLICTING_FIELDS', path: [...path, 'SecurityGroupPolicySet'], message: `${label}: give either inbound/outbound rules or a Tencent SecurityGroupPolicySet, not both` });
    }
    if (!isObj(raw.SecurityGroupPolicySet)) {
      ctx.issues.push({ code: 'INVALID_TYPE', path: [...path, 'SecurityGroupPolicySet'], message: `${label}: SecurityGroupPolicySet must be an object` });
      return undefined;
    }
    [inbound, outbound] = tencentRules(raw.SecurityGroupPolicySet, [...path, 'SecurityGroupPolicySet'], id, label, ctx);
  } else {
    const inKey = keyOf('inbound');
    const outKey = keyOf('outbound');
    inbound = validateRules(raw[inKey], 'inbound', id, [...path, inKey], label, ctx);
    outbound = validateRules(raw[outKey], 'outbound', id, [...path, outKey], label, ctx);
  }
  if (ctx.issues.length > before) return undefined;
  const group: SecurityGroup = plainObject({
    id,
    template,
    inbound: [...inbound, ...templateRules(template, 'inbound', id, inbound.length, ctx)],
    outbound: [...outbound, ...templateRules(template, 'outbound', id, outbound.length, ctx)],
  });
  if (typeof raw.name === 'string') group.name = raw.name;
  return group;
}

function tencentRules(set: Record<string, unknown>, base: Path, groupId: string, label: string, ctx: Ctx): [Rule[], Rule[]] {
  const converted = convertPolicySet(set, base, label, ctx.issues, ctx.warnings, ctx.names);
  const one = (dir: Direction): Rule[] =>
    converted[dir].flatMap((tr, i) => {
      const src: RuleSource = {
        path: tr.path,
        label: `${label} ${dir === 'inbound' ? 'Ingress' : 'Egress'}[${tr.path[tr.path.length - 1]}]`,
        fieldPath: (f) => [...tr.path, ...(tr.fields.get(f) ?? [f])],
        fieldName: (f) => tr.fields.get(f)?.join('.') ?? f,
      };
      const rule = validateRule(tr.rule, dir, groupId, i, src, ctx.issues, ctx.warnings, ctx.names);
      if (rule && tr.policyIndex !== undefined) rule.policyIndex = tr.policyIndex;
      return rule ? [rule] : [];
    });
  return [one('inbound'), one('outbound')];
}

/**
 * Validates one instance at `path` (`where` names it in messages, e.g. "instances[0]").
 * With `groups`, every bound group must be one of them; with `seen` (id → index),
 * duplicate instance ids are issues and new ids are recorded.
 */
export function validateInstanceInput(
  inst: unknown, path: Path, where: string, issues: Issue[], groups?: Map<string, unknown>, seen?: Map<string, number>,
): Instance | undefined {
  inst = ownFields(inst);
  if (!isObj(inst)) {
    issues.push({ code: 'INVALID_TYPE', path, given: inst, message: `${where}: an instance must be an object {id, securityGroups}, got ${show(inst)}` });
    return undefined;
  }
  const before = issues.length;
  for (const k of Object.keys(inst)) {
    if (!INSTANCE_FIELDS.includes(k)) issues.push(unknownFieldIssue([...path, k], where, k, INSTANCE_FIELDS));
  }
  for (const f of ['name', 'description'] as const) {
    if (inst[f] !== undefined && typeof inst[f] !== 'string') {
      issues.push({ code: 'INVALID_TYPE', path: [...path, f], given: inst[f], message: `${where}: ${f} must be a string, got ${show(inst[f])}` });
    }
  }
  const last = path.at(-1);
  let id = typeof last === 'number' ? `#${last}` : '(no id)';
  if (typeof inst.id !== 'string' || inst.id.trim() === '') {
    issues.push({ code: inst.id === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', path: [...path, 'id'], given: inst.id, message: `${where}: id must be a non-empty string${inst.id === undefined ? '' : `, got ${show(inst.id)}`}` });
  } else {
    id = inst.id;
    const first = seen?.get(id);
    if (first !== undefined) {
      issues.push({ code: 'DUPLICATE_INSTANCE', path: [...path, 'id'], given: id, message: `${where}: id ${quote(id)} is already used by instances[${first}]; instance ids must be unique` });
    } else seen?.set(id, Number(last));
  }
  const list = inst.securityGroups;
  if (!Array.isArray(list)) {
    issues.push({ code: list === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', path: [...path, 'securityGroups'], given: list, message: `instance ${quote(id)}: securityGroups must be a list of group ids in priority order (first = highest)` });
    return undefined;
  }
  const bound = new Set<string>();
  list.forEach((g, k) => {
    const p = [...path, 'securityGroups', k];
    if (typeof g !== 'string') {
      issues.push({ code: 'INVALID_TYPE', path: p, given: g, message: `instance ${quote(id)}: securityGroups[${k}] must be a group id string, got ${show(g)}` });
    } else if (groups && !groups.has(g)) {
      const known = quotedList(keysOf(groups));
      issues.push({ code: 'UNKNOWN_GROUP', path: p, given: g, allowed: known, message: `instance ${quote(id)}: securityGroups[${k}] names group ${quote(g)}, which the config does not define (defined: ${known})` });
    } else if (bound.has(g)) {
      issues.push({ code: 'DUPLICATE_BINDING', path: p, given: g, message: `instance ${quote(id)}: group ${quote(g)} is listed twice; list each group once, in priority order` });
    } else bound.add(g);
  });
  const addresses = inst.addresses === undefined ? undefined : parseOwnAddresses(inst.addresses, [...path, 'addresses'], `instance "${id}": addresses`, issues);
  if (issues.length !== before) return undefined;
  const out: Instance = { id, securityGroups: list as string[] };
  if (addresses) out.addresses = addresses;
  return out;
}

/**
 * Reads an instance's own addresses (SPEC §7, §9): a list of addresses, CIDRs or
 * ranges a-b, with the address parser of rule peers (so one address has one meaning
 * everywhere). `any` is refused: an instance that owns every address has no outside.
 * Pushes an issue per bad entry (path `path` + index) and returns undefined on any.
 */
export function parseOwnAddresses(raw: unknown, path: Path, where: string, issues: Issue[]): AddressSet | undefined {
  if (!Array.isArray(raw)) {
    issues.push({ code: 'INVALID_TYPE', path, given: raw, message: `${where}: must be a list of addresses or CIDRs (e.g. ["10.0.0.5", "2001:db8::5"]), got ${show(raw)}` });
    return undefined;
  }
  const before = issues.length;
  const set: AddressSet = { v4: [], v6: [] };
  raw.forEach((a, k) => {
    if (typeof a !== 'string') {
      issues.push({ code: 'INVALID_TYPE', path: [...path, k], given: a, message: `${where}[${k}]: must be an address or CIDR string, got ${show(a)}` });
      return;
    }
    if (a.trim().toLowerCase() === 'any') {
      issues.push({ code: 'INVALID_ADDRESS', path: [...path, k], given: a, message: `${where}[${k}]: "any" is not an instance's own address; list its addresses or CIDRs` });
      return;
    }
    const p = parsePeer(a);
    if (!p.ok) {
      issues.push({ code: p.code, path: [...path, k], given: a, message: `${where}[${k}]: ${p.message}` });
      return;
    }
    set.v4.push(...p.value.v4);
    set.v6.push(...p.value.v6);
  });
  return issues.length === before ? set : undefined;
}

function validateInstances(raw: unknown, groups: Map<string, number>, ctx: Ctx): Instance[] {
  if (!Array.isArray(raw)) {
    ctx.issues.push({ code: 'INVALID_TYPE', path: ['instances'], given: raw, message: `instances: must be a list of {id, securityGroups}, got ${show(raw)}` });
    return [];
  }
  const seen = new Map<string, number>();
  const out: Instance[] = [];
  raw.forEach((inst, ii) => {
    const instance = validateInstanceInput(inst, ['instances', ii], `instances[${ii}]`, ctx.issues, groups, seen);
    if (instance) out.push(instance);
  });
  return out;
}

/** One document of a policy, with the name messages give it (its file name). */
export interface PolicyDocumentSource {
  /** The document, parsed from JSON / YAML or built in JS. */
  document: unknown;
  /** Its name in issues (`Issue.file`): a file name, or `documents[i]`. */
  file?: string;
}

/** Reads native `addressSets` / `serviceSets` entries into set definitions (members are checked by buildSets, with every document's sets). */
function readNativeSets(raw: unknown, field: 'addressSets' | 'serviceSets', issues: Issue[], file: string | undefined): SetDefinition[] {
  if (raw === undefined) return [];
  const kind = field === 'addressSets' ? 'address' : 'service';
  if (!Array.isArray(raw)) {
    issues.push({ code: 'INVALID_TYPE', path: [field], given: raw, message: `config: ${field} must be a list of {id, ${kind === 'address' ? 'addresses' : 'services'}} (or {id, sets}), got ${show(raw)}` });
    return [];
  }
  return raw.flatMap((entry, i) => {
    const def = readSetEntry(entry, kind, [field, i], `${field}[${i}]`, issues, file);
    return def ? [def] : [];
  });
}

/**
 * A Tencent Cloud API error response (`{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`:
 * what the API returns when the call failed, e.g. AuthFailure) as one issue quoting its
 * Code and Message, or undefined for any other document.
 */
function tencentApiError(doc: unknown): Issue | undefined {
  const response = isObj(doc) ? ownField(doc, 'Response') : undefined;
  if (!isObj(response) || !Object.hasOwn(response, 'Error')) return undefined;
  const error = ownField(response, 'Error');
  const code = isObj(error) ? ownField(error, 'Code') : undefined;
  const message = isObj(error) ? ownField(error, 'Message') : undefined;
  const said = [typeof code === 'string' ? `Code ${quote(code)}` : '', typeof message === 'string' ? `Message ${quote(message)}` : ''].filter(Boolean).join(', ');
  return {
    code: 'API_ERROR_RESPONSE', path: ['Response', 'Error'], given: isObj(error) ? { Code: code, Message: message } : error,
    message: `this is a Tencent Cloud API error response${said ? ` (${said})` : ''}, not a policy or template output: the call that wrote it failed; fix what the error says and save the output of a successful call`,
  };
}

/** Tags the issues and warnings pushed since `i0` / `w0` with the document they are in. */
function tagFile(ctx: Ctx, i0: number, w0: number, file: string | undefined): void {
  if (file === undefined) return;
  // Own fields only: an issue without a file must get one even if Object.prototype.file is set.
  for (let i = i0; i < ctx.issues.length; i++) if (!Object.hasOwn(ctx.issues[i]!, 'file') || ctx.issues[i]!.file === undefined) ctx.issues[i]!.file = file;
  for (let i = w0; i < ctx.warnings.length; i++) if (!Object.hasOwn(ctx.warnings[i]!, 'file') || ctx.warnings[i]!.file === undefined) ctx.warnings[i]!.file = file;
}

/** What one document gives the policy, read in the first pass (before any rule is validated). */
interface DocumentPart {
  file: string | undefined;
  /** Native groups (raw), or a bare Tencent policy set made into one. */
  groups?: unknown[];
  /** Where the groups were: securityGroups, or the misspelt key that stands in for it (standIns). */
  groupsKey?: string;
  /** A Tencent policy-set document: where its set is, so paths start at the document's root. */
  tencentPath?: Path;
  instances?: unknown[];
  aws?: Record<string, unknown>;
}

/**
 * Validates the documents that together make one policy (SPEC §9; `sgfilter check
 * policies.json templates.json groups.json`): native configs or parts of one
 * (securityGroups, instances, addressSets, serviceSets), Tencent Cloud
 * DescribeSecurityGroupPolicies outputs, the four Tencent template outputs, and AWS
 * describe-security-groups outputs, in any mix. A group, an instance or a set defined
 * twice (in one document or two) is an issue; so is a reference to a set or group
 * that no document defines. Every issue and warning carries its path inside its
 * document and, when there are several, `file`. Never throws.
 */
export function safeParseConfigDocuments(documents: readonly PolicyDocumentSource[]): ParseResult {
  const ctx: Ctx = { issues: [], warnings: [] };
  const parts: DocumentPart[] = [];
  const defs: SetDefinition[] = [];
  /** Every group id some document defines (valid or not), for references and instances. */
  const groupIds = new Map<string, number>();
  const noteGroupId = (id: unknown) => {
    if (typeof id === 'string' && id.trim() !== '' && !groupIds.has(id)) groupIds.set(id, groupIds.size);
  };
  // Pass 1: what each document is, its sets, the ids of its groups.
  documents.forEach((source) => {
    // Own fields only: a source without a file has none, whatever Object.prototype holds.
    const document = ownField(source, 'document');
    const file = ownField(source, 'file') as string | undefined;
    const i0 = ctx.issues.length;
    const w0 = ctx.warnings.length;
    const part: DocumentPart = plainObject({ file }); // own fields only: a part without instances has none, whatever Object.prototype holds
    const apiError = tencentApiError(document);
    const tencent = apiError ? undefined : findPolicySet(document);
    const templates = tencent || apiError ? undefined : findTemplateLists(document);
    if (apiError) {
      ctx.issues.push(apiError);
    } else if (tencent) {
      part.groups = [{ id: TENCENT_GROUP_ID, SecurityGroupPolicySet: tencent.set }];
      part.tencentPath = tencent.path;
      noteGroupId(TENCENT_GROUP_ID);
    } else if (templates) {
      for (const d of readTemplateLists(document as Record<string, unknown>, templates, ctx.issues, file, ctx.warnings)) defs.push(d);
    } else if (isAwsDocument(document)) {
      part.aws = document;
      for (const id of awsGroupIds(document)) noteGroupId(id);
    } else if (!isObj(document)) {
      ctx.issues.push({ code: 'INVALID_TYPE', path: [], given: document, message: `a config must be an object with securityGroups (or a Tencent Cloud or AWS API output), got ${show(document)}` });
    } else {
      const doc = document;
      for (const k of Object.keys(doc)) {
        if (!CONFIG_FIELDS.includes(k)) ctx.issues.push(unknownFieldIssue([k], 'config', k, CONFIG_FIELDS));
      }
      for (const [f, what, ok] of [
        ['$schema', 'a string (the URL or path of the JSON Schema)', (v: unknown) => typeof v === 'string'],
        ['description', 'a string', (v: unknown) => typeof v === 'string'],
        ['version', 'a string or a number', (v: unknown) => typeof v === 'string' || typeof v === 'number'],
      ] as const) {
        const v = doc[f];
        if (v !== undefined && !ok(v)) ctx.issues.push({ code: 'INVALID_TYPE', path: [f], given: v, message: `config: ${f} must be ${what}, got ${show(v)}` });
      }
      // A misspelt securityGroups still has its groups checked (standIns): one typo hides nothing.
      const groupsKey = doc.securityGroups === undefined ? standIns(doc, CONFIG_FIELDS).get('securityGroups') ?? 'securityGroups' : 'securityGroups';
      const groupsRaw = doc[groupsKey];
      if (groupsRaw !== undefined && !Array.isArray(groupsRaw)) {
        ctx.issues.push({ code: 'INVALID_TYPE', path: [groupsKey], given: groupsRaw, message: `config: ${groupsKey} must be a list, got ${show(groupsRaw)}` });
      } else if (groupsRaw !== undefined) {
        part.groups = groupsRaw;
        part.groupsKey = groupsKey;
        for (const g of groupsRaw) if (isObj(g)) noteGroupId(g.id);
      }
      const instancesRaw = doc.instances;
      if (instancesRaw !== undefined && !Array.isArray(instancesRaw)) {
        ctx.issues.push({ code: 'INVALID_TYPE', path: ['instances'], given: instancesRaw, message: `instances: must be a list of {id, securityGroups}, got ${show(instancesRaw)}` });
      } else if (instancesRaw !== undefined) part.instances = instancesRaw;
      for (const d of readNativeSets(doc.addressSets, 'addressSets', ctx.issues, file)) defs.push(d);
      for (const d of readNativeSets(doc.serviceSets, 'serviceSets', ctx.issues, file)) defs.push(d);
      if (groupsRaw === undefined && instancesRaw === undefined && doc.addressSets === undefined && doc.serviceSets === undefined) {
        ctx.issues.push({
          code: 'MISSING_FIELD', path: ['securityGroups'],
          message: documents.length > 1
            ? 'config: the document gives none of securityGroups, instances, addressSets, serviceSets; a document of a policy gives at least one'
            : 'config: no securityGroups; a config lists its security groups under securityGroups',
        });
      }
    }
    tagFile(ctx, i0, w0, file);
    parts.push(part);
  });

  // The sets, every document's together, and the names rules may use.
  const sets = buildSets(defs, new Set(groupIds.keys()), ctx.issues, ctx.warnings);
  ctx.names = new PolicyNames(sets.addressSets, sets.serviceSets, new Set(groupIds.keys()), sets.broken, failedSets(defs, sets));

  // Pass 2: the groups and their rules.
  const groups: SecurityGroup[] = [];
  const groupFirst = new Map<string, string>();
  const addGroup = (group: SecurityGroup, idPath: Path, where: string, file: string | undefined) => {
    const first = groupFirst.get(group.id);
    if (first !== undefined) {
      const hint = group.id === TENCENT_GROUP_ID && where === 'the Tencent policy set'
        ? `; a bare DescribeSecurityGroupPolicies output becomes group ${quote(TENCENT_GROUP_ID)}: give each its group's id ({"securityGroups": [{"id": "sg-…", "SecurityGroupPolicySet": …}]})`
        : '';
      const issue: Issue = { code: 'DUPLICATE_GROUP', path: idPath, given: group.id, message: `${where}: group id ${quote(group.id)} is already defined by ${first}; a group is defined once in a policy${hint}` };
      if (file !== undefined) issue.file = file;
      ctx.issues.push(issue);
      return;
    }
    groupFirst.set(group.id, file === undefined ? where : `${where} in ${file}`);
    groups.push(group);
  };
  for (const part of parts) {
    const i0 = ctx.issues.length;
    const w0 = ctx.warnings.length;
    if (part.groups) {
      const seen = new Map<string, number>();
      const key = part.groupsKey ?? 'securityGroups';
      part.groups.forEach((g, gi) => {
        const group = validateGroup(g, [key, gi], `${key}[${gi}]`, ctx, seen);
        if (group) addGroup(group, part.tencentPath ?? ['securityGroups', gi, 'id'], part.tencentPath ? 'the Tencent policy set' : `securityGroups[${gi}]`, part.file);
      });
      // A Tencent document's paths start at its own root, not at securityGroups[0].
      if (part.tencentPath) {
        const base = part.tencentPath;
        for (const list of [ctx.issues.slice(i0), ctx.warnings.slice(w0)]) {
          for (const item of list) {
            const p = item.path;
            if (p[0] === 'securityGroups' && p[2] === 'SecurityGroupPolicySet') item.path = [...base, ...p.slice(3)];
          }
        }
      }
    }
    if (part.aws) {
      for (const cg of convertAwsDocument(part.aws, ctx.issues, ctx.warnings, ctx.names)) {
        const g0 = ctx.issues.length;
        const one = (dir: Direction): Rule[] => cg[dir].flatMap((cr, ri) => {
          const rule = validateRule(cr.rule, dir, cg.id, ri, cr.src, ctx.issues, ctx.warnings, ctx.names);
          return rule ? [rule] : [];
        });
        const inbound = one('inbound');
        const outbound = one('outbound');
        if (ctx.issues.length > g0) continue;
        const group: SecurityGroup = plainObject<SecurityGroup>({ id: cg.id, template: 'custom', inbound: numberedRules(inbound), outbound: numberedRules(outbound) });
        if (cg.name !== undefined) group.name = cg.name;
        addGroup(group, [...cg.path, 'GroupId'], cg.label, part.file);
      }
    }
    tagFile(ctx, i0, w0, part.file);
  }
  if (!parts.some((p) => p.groups !== undefined || p.aws !== undefined) && ctx.issues.length === 0) {
    ctx.issues.push({ code: 'MISSING_FIELD', path: ['securityGroups'], message: 'config: no document of the policy defines a security group; give securityGroups (or a Tencent or AWS policy output)' });
  }

  // Instances, from every document.
  const instancesGiven = parts.some((p) => p.instances !== undefined && p.instances.length > 0);
  const instances: Instance[] = [];
  if (!instancesGiven) instances.push({ id: 'default', securityGroups: groups.map((g) => g.id) });
  else {
    const instanceFirst = new Map<string, string>();
    for (const part of parts) {
      if (!part.instances) continue;
      const i0 = ctx.issues.length;
      const w0 = ctx.warnings.length;
      const seen = new Map<string, number>();
      part.instances.forEach((raw, ii) => {
        const inst = validateInstanceInput(raw, ['instances', ii], `instances[${ii}]`, ctx.issues, groupIds, seen);
        if (!inst) return;
        const first = instanceFirst.get(inst.id);
        if (first !== undefined) {
          ctx.issues.push({ code: 'DUPLICATE_INSTANCE', path: ['instances', ii, 'id'], given: inst.id, message: `instances[${ii}]: id ${quote(inst.id)} is already defined by ${first}; an instance is defined once in a policy` });
          return;
        }
        instanceFirst.set(inst.id, part.file === undefined ? `instances[${ii}]` : `instances[${ii}] in ${part.file}`);
        instances.push(inst);
      });
      tagFile(ctx, i0, w0, part.file);
    }
  }
  if (ctx.issues.length > 0) return { success: false, issues: capIssues(ctx.issues) };

  // Group references: the addresses of every instance bound to the group (SPEC §9).
  resolveGroupReferences(groups, instances, ctx.warnings);
  const config: Config = plainObject<Config>({ securityGroups: groups, instances, implicitInstance: !instancesGiven, warnings: ctx.warnings });
  if (sets.addressSets.size > 0) config.addressSets = [...sets.addressSets.values()];
  if (sets.serviceSets.size > 0) config.serviceSets = [...sets.serviceSets.values()];
  return { success: true, config: ownConfig(config) };
}

/** Rules numbered by their position (AWS rules are made in permission order). */
function numberedRules(list: Rule[]): Rule[] {
  list.forEach((r, i) => {
    r.ruleIndex = i;
  });
  return list;
}

/**
 * Gives every rule that names a security group as its peer (a group reference) the
 * addresses of the instances bound to that group, one merged AddressSet per group
 * shared by all its rules, and warns about references that match nothing. The rules
 * must be fresh objects (not yet frozen).
 */
export function resolveGroupReferences(groups: readonly SecurityGroup[], instances: readonly Instance[], warnings: Warning[]): void {
  const referenced = new Set<string>();
  for (const g of groups) for (const dir of ['inbound', 'outbound'] as const) for (const r of g[dir]) if (r.peerGroup !== undefined) referenced.add(r.peerGroup);
  if (referenced.size === 0) return;
  const peers = groupPeers(instances, referenced);
  groups.forEach((g, gi) => {
    for (const dir of ['inbound', 'outbound'] as const) {
      g[dir].forEach((r, ri) => {
        if (r.peerGroup === undefined) return;
        r.peer = peers.get(r.peerGroup)!;
        const why = ruleNeverMatches(r);
        if (why) warnings.push({ path: ['securityGroups', gi, dir, ri], message: `group ${quote(g.id)} ${dir} rule ${ri} (peer: group ${quote(r.peerGroup)}): ${why}` });
      });
    }
  });
}

/**
 * Validates a config document (a ConfigInput, a Tencent or AWS output, parsed from
 * JSON / YAML or built in JS; typed `unknown` because it is checked, not trusted), or
 * a list of documents that together make one policy (SPEC §9: policies beside their
 * template outputs; see safeParseConfigDocuments; issues then name the document as
 * `documents[i]`). Returns `{ success: true, config }` or `{ success: false, issues }`
 * with every issue, each with a code and a path; never throws. The input is first
 * read into plain data (plain.ts): values only the JS API can pass (BigInt,
 * functions, cycles, throwing getters, holes, huge strings, nesting past 64 levels)
 * are issues with their path, never exceptions.
 */
export function safeParseConfig(input: unknown): ParseResult {
  if (isOwnedConfig(input)) return { success: true, config: input };
  if (looksLikeConfig(input)) {
    // Meant as a Config (it has implicitInstance), not made here (or changed since):
    // copied as it is read, then checked; the frozen copy is what is used (owned.ts).
    const adopted = adoptConfig(input);
    if (adopted.ok) return { success: true, config: adopted.config };
    const problem = adopted.problem;
    return { success: false, issues: [{ code: 'INVALID_TYPE', path: problem.path, message: `a Config object (with implicitInstance, as parseConfig returns) that is not well-formed at ${formatPath(problem.path)}: ${problem.message}; pass the config as written, or a Config that parseConfig or update() made` }] };
  }
  const plain = plainData(input, [], 'config');
  if (!plain.ok) return { success: false, issues: capIssues(plain.issues) };
  const doc = plain.value;
  if (Array.isArray(doc)) {
    if (doc.length === 0) return { success: false, issues: [{ code: 'MISSING_FIELD', path: [], message: 'an empty list of documents; give a config, or the documents that together make one policy' }] };
    return safeParseConfigDocuments(doc.map((document, i) => ({ document, file: `documents[${i}]` })));
  }
  return safeParseConfigDocuments([{ document: doc }]);
}

/**
 * Validates a config (as safeParseConfig) and returns the validated Config, or throws
 * an SgfilterError with code CONFIG_INVALID and every issue in `error.issues`.
 * `source` names the document in the message (a file name). The Config returned is
 * the library's own and deep-frozen: an engine, an update or a worker uses it as it
 * is, and nobody can change it afterwards.
 */
export function parseConfig(doc: unknown, source?: string): Config {
  const r = safeParseConfig(doc);
  if (!r.success) throw configError(r.issues, source);
  return r.config;
}

/**
 * True when `x` is a well-formed Config (so APIs accept both a Config and a config
 * as written): one this library made, or one that passes the field-by-field check of
 * config-shape.ts. Never throws; an object that only looks like a Config is not one,
 * and parseConfig refuses it with the first problem. To use a Config from outside,
 * pass it through parseConfig: that returns the library's own frozen copy, checked
 * as it was copied (`x` itself may change after this answer).
 */
export function isConfig(x: unknown): x is Config {
  return isOwnedConfig(x) || (looksLikeConfig(x) && adoptConfig(x).ok);
}
