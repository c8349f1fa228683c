/**
 * Tencent Cloud parameter templates as the API returns them (SPEC §9): the outputs of
 * DescribeAddressTemplates (`ipm-…`), DescribeAddressTemplateGroups (`ipmg-…`),
 * DescribeServiceTemplates (`ppm-…`) and DescribeServiceTemplateGroups (`ppmg-…`),
 * with or without their `{"Response": …}` wrapper, read into set definitions
 * (sets.ts) that the policies of the same policy name.
 *
 * What Tencent itself stores is accepted as it is: an address template CIDR with host
 * bits (`192.128.8.8/17` in Tencent's own example) is its network, with a warning
 * naming the network. A group is defined by its id set (`AddressTemplateIdSet`,
 * `ServiceTemplateIdSet`); the member details beside it (`AddressTemplateSet`, which
 * Tencent's example fills with odd `{From, To}` objects) are not read. A group member
 * that no document defines is a warning until a rule names the group (the API's lists
 * are paged). Fields Tencent does not define are refused with the closest name: a
 * misspelt `AddressSet` must never read as an empty template.
 */
import type { Issue, Path } from '../errors.js';
import type { Warning } from '../types.js';
import { fieldNames, SHAPES, TENCENT_TEMPLATE_DOCUMENT_FIELDS, TENCENT_TEMPLATE_LISTS, type ObjectShape } from './fields.js';
import { show, unknownFieldIssue } from './rule.js';
import type { Member, SetDefinition } from './sets.js';
import { plainObject, quote } from './plain.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface ListKind {
  kind: 'address' | 'service';
  /** What one entry is called in messages. */
  noun: string;
  shape: ObjectShape;
  id: string;
  name: string;
  /** A plain template: its member list, and the described copy of it ([list field, item field]). */
  members?: string;
  extra?: [string, string];
  /** A template group: its id set. */
  sets?: string;
}

/** The four lists, by field name (a Map: looked up with the keys a document has). */
const LISTS: ReadonlyMap<string, ListKind> = new Map<string, ListKind>([
  ['AddressTemplateSet', { kind: 'address', noun: 'address template', shape: SHAPES.tencentAddressTemplate, id: 'AddressTemplateId', name: 'AddressTemplateName', members: 'AddressSet', extra: ['AddressExtraSet', 'Address'] }],
  ['AddressTemplateGroupSet', { kind: 'address', noun: 'address template group', shape: SHAPES.tencentAddressTemplateGroup, id: 'AddressTemplateGroupId', name: 'AddressTemplateGroupName', sets: 'AddressTemplateIdSet' }],
  ['ServiceTemplateSet', { kind: 'service', noun: 'service template', shape: SHAPES.tencentServiceTemplate, id: 'ServiceTemplateId', name: 'ServiceTemplateName', members: 'ServiceSet', extra: ['ServiceExtraSet', 'Service'] }],
  ['ServiceTemplateGroupSet', { kind: 'service', noun: 'service template group', shape: SHAPES.tencentServiceTemplateGroup, id: 'ServiceTemplateGroupId', name: 'ServiceTemplateGroupName', sets: 'ServiceTemplateIdSet' }],
]);

const hasList = (o: Record<string, unknown>): boolean => TENCENT_TEMPLATE_LISTS.some((k) => Object.hasOwn(o, k));

/** The object holding the template lists of `doc`, and its path; undefined when `doc` is not a template output. */
export function findTemplateLists(doc: unknown): { holder: Record<string, unknown>; path: Path } | undefined {
  if (!isObj(doc)) return undefined;
  if (isObj(doc.Response) && hasList(doc.Response)) return { holder: doc.Response, path: ['Response'] };
  if (hasList(doc)) return { holder: doc, path: [] };
  return undefined;
}

/**
 * Reads a template output into set definitions; problems of its shape are issues with
 * their paths (members are checked by buildSets, with every other document's sets).
 */
export function readTemplateLists(doc: Record<string, unknown>, found: { holder: Record<string, unknown>; path: Path }, issues: Issue[], file: string | undefined, warnings: Warning[] = []): SetDefinition[] {
  const out: SetDefinition[] = [];
  const { holder, path: base } = found;
  if (base.length > 0) {
    for (const k of Object.keys(doc)) if (k !== 'Response') issues.push(unknownFieldIssue([k], 'Tencent API output', k, ['Response']));
  }
  for (const k of Object.keys(holder)) {
    if (!TENCENT_TEMPLATE_DOCUMENT_FIELDS.includes(k)) issues.push(unknownFieldIssue([...base, k], 'Tencent template output', k, TENCENT_TEMPLATE_DOCUMENT_FIELDS));
  }
  if (holder.TotalCount !== undefined && !(typeof holder.TotalCount === 'number' && Number.isInteger(holder.TotalCount) && holder.TotalCount >= 0)) {
    issues.push({ code: 'INVALID_TYPE', path: [...base, 'TotalCount'], given: holder.TotalCount, message: `TotalCount must be a whole number >= 0, got ${show(holder.TotalCount)}` });
  }
  else if (typeof holder.TotalCount === 'number') {
    // The Describe* calls page (Limit, Offset): a TotalCount above what is listed means
    // this is one page of several, and rules naming a template on another page are refused.
    let listed = 0;
    for (const [listName] of LISTS) if (Array.isArray(holder[listName])) listed += (holder[listName] as unknown[]).length;
    if (holder.TotalCount > listed) {
      warnings.push({ path: [...base, 'TotalCount'], message: `TotalCount is ${holder.TotalCount} but this output lists ${listed}: it is one page of several (the call takes Limit and Offset); give the other pages too (as more files), or templates on them are undefined` });
    }
  }
  if (holder.RequestId !== undefined && typeof holder.RequestId !== 'string') {
    issues.push({ code: 'INVALID_TYPE', path: [...base, 'RequestId'], given: holder.RequestId, message: `RequestId must be a string, got ${show(holder.RequestId)}` });
  }
  for (const [listName, kind] of LISTS) {
    const list = holder[listName];
    if (list === undefined) continue;
    const lpath = [...base, listName];
    if (!Array.isArray(list)) {
      issues.push({ code: 'INVALID_TYPE', path: lpath, given: list, message: `${listName} must be a list of ${kind.noun}s, got ${show(list)}` });
      continue;
    }
    list.forEach((entry, i) => {
      const path = [...lpath, i];
      const def = readEntry(entry, kind, path, `${listName}[${i}]`, issues, file);
      if (def) out.push(def);
    });
  }
  return out;
}

function readEntry(entry: unknown, kind: ListKind, path: Path, where: string, issues: Issue[], file: string | undefined): SetDefinition | undefined {
  if (!isObj(entry)) {
    issues.push({ code: 'INVALID_TYPE', path, given: entry, message: `${where}: a ${kind.noun} must be an object, got ${show(entry)}` });
    return undefined;
  }
  const before = issues.length;
  const known = fieldNames(kind.shape);
  for (const k of Object.keys(entry)) {
    if (!known.includes(k)) issues.push(unknownFieldIssue([...path, k], where, k, known));
  }
  const id = entry[kind.id];
  if (typeof id !== 'string' || id.trim() === '') {
    issues.push({ code: id === undefined ? 'MISSING_FIELD' : 'INVALID_TYPE', path: [...path, kind.id], given: id, message: `${where}: ${kind.id} must be the ${kind.noun}'s id (a non-empty string)${id === undefined ? '' : `, got ${show(id)}`}` });
    return undefined;
  }
  const label = `${where} (${kind.noun} ${quote(id)})`;
  const name = entry[kind.name];
  if (name !== undefined && typeof name !== 'string') issues.push({ code: 'INVALID_TYPE', path: [...path, kind.name], given: name, message: `${label}: ${kind.name} must be a string, got ${show(name)}` });
  for (const f of ['CreatedTime', 'UpdatedTime'] as const) {
    if (entry[f] !== undefined && typeof entry[f] !== 'string') issues.push({ code: 'INVALID_TYPE', path: [...path, f], given: entry[f], message: `${label}: ${f} must be a string, got ${show(entry[f])}` });
  }
  if (entry.TagSet !== undefined && !Array.isArray(entry.TagSet)) issues.push({ code: 'INVALID_TYPE', path: [...path, 'TagSet'], given: entry.TagSet, message: `${label}: TagSet must be a list, got ${show(entry.TagSet)}` });
  const def: SetDefinition = plainObject<SetDefinition>({
    kind: kind.kind, id, path, idPath: [...path, kind.id], label, hostBits: 'network', lenient: true, noun: `${kind.noun}`,
  });
  if (typeof name === 'string' && name !== '') def.name = name;
  if (file !== undefined) def.file = file;
  const strings = (field: string): Member[] | undefined => {
    const v = entry[field];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      issues.push({ code: 'INVALID_TYPE', path: [...path, field], given: v, message: `${label}: ${field} must be a list, got ${show(v)}` });
      return undefined;
    }
    return v.map((value, k) => ({ value, path: [...path, field, k] }));
  };
  if (kind.sets) {
    const sets = strings(kind.sets);
    if (entry[kind.sets] === undefined) issues.push({ code: 'MISSING_FIELD', path: [...path, kind.sets], message: `${label}: no ${kind.sets}; a template group lists its member templates there` });
    const detail = kind.kind === 'address' ? 'AddressTemplateSet' : 'ServiceTemplateSet';
    if (entry[detail] !== undefined && !Array.isArray(entry[detail])) issues.push({ code: 'INVALID_TYPE', path: [...path, detail], given: entry[detail], message: `${label}: ${detail} must be a list, got ${show(entry[detail])}` });
    if (sets) def.sets = sets;
  } else {
    const members = strings(kind.members!);
    const [extraField, itemField] = kind.extra!;
    const extraRaw = entry[extraField];
    let extra: Member[] | undefined;
    if (extraRaw !== undefined) {
      if (!Array.isArray(extraRaw)) issues.push({ code: 'INVALID_TYPE', path: [...path, extraField], given: extraRaw, message: `${label}: ${extraField} must be a list, got ${show(extraRaw)}` });
      else {
        extra = [];
        extraRaw.forEach((x, k) => {
          const p = [...path, extraField, k];
          if (!isObj(x)) {
            issues.push({ code: 'INVALID_TYPE', path: p, given: x, message: `${label}: ${extraField}[${k}] must be an object {${itemField}, Description}, got ${show(x)}` });
            return;
          }
          for (const key of Object.keys(x)) {
            if (key !== itemField && key !== 'Description') issues.push(unknownFieldIssue([...p, key], `${label} ${extraField}[${k}]`, key, [itemField, 'Description']));
          }
          if (x.Description !== undefined && typeof x.Description !== 'string') issues.push({ code: 'INVALID_TYPE', path: [...p, 'Description'], given: x.Description, message: `${label}: Description must be a string, got ${show(x.Description)}` });
          if (x[itemField] === undefined) issues.push({ code: 'MISSING_FIELD', path: [...p, itemField], message: `${label}: ${extraField}[${k}] has no ${itemField}` });
          else extra!.push({ value: x[itemField], path: [...p, itemField] });
        });
      }
    }
    if (entry[kind.members!] === undefined && extraRaw === undefined) {
      issues.push({ code: 'MISSING_FIELD', path: [...path, kind.members!], message: `${label}: no ${kind.members} (or ${extraField}); a template lists its members there` });
    }
    if (members && extra) {
      // Both lists say what the template holds: they must say the same (a hand-edited copy otherwise decides silently).
      const norm = (l: Member[]) => l.map((m) => (typeof m.value === 'string' ? m.value.trim() : JSON.stringify(m.value) ?? '')).sort();
      const a = norm(members);
      const b = norm(extra);
      if (a.length !== b.length || a.some((x, k) => x !== b[k])) {
        issues.push({ code: 'CONFLICTING_FIELDS', path: [...path, extraField], message: `${label}: ${kind.members} and ${extraField} list different members; give one, or make them agree` });
      }
    }
    def.members = members ?? extra ?? [];
  }
  // Kept even with issues (the policy is refused anyway): a rule naming it then gets no second, misleading "undefined" issue.
  void before;
  return def;
}
