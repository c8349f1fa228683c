/**
 * Tencent policies: every field is one Tencent defines (attack finding 9). `Prot: "22"`
 * (a typo of Port) loaded as a rule for every port; a misspelt `Egres` dropped its list.
 * Generated Tencent documents (the three shapes the API output comes in) with fields
 * renamed at random (typos one or two letters off, other case, names of other formats,
 * hostile names) in policies, template references and the policy set are refused with
 * UNKNOWN_FIELD at the renamed field, suggesting the field it was closest to; the same
 * documents unrenamed load; Tencent's own CLI examples still load (or, for the one
 * that references templates, are still refused only for that).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEngine, safeParseConfig } from '../src/index.js';
import { TENCENT_POLICY_FIELDS, TENCENT_SET_FIELDS } from '../src/config/tencent.js';
import { closest } from '../src/config/rule.js';
import { dataFile } from './data.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0x7e9c);
const RUNS = Number(process.env.SGFILTER_FUZZ_RUNS ?? 200);

const policy = fc.record({
  PolicyIndex: fc.nat({ max: 50 }),
  Protocol: fc.constantFrom('TCP', 'tcp', 'UDP'),
  Port: fc.constantFrom('22', '80,443', 'ALL', '1-1024'),
  CidrBlock: fc.constantFrom('0.0.0.0/0', '10.0.0.0/8', '192.0.2.10'),
  Action: fc.constantFrom('ACCEPT', 'DROP'),
  PolicyDescription: fc.constantFrom('', 'web'),
  ModifyTime: fc.constantFrom('2017-03-12 10:00:00'),
  ServiceTemplate: fc.constant({ ServiceId: '', ServiceGroupId: '' }),
  AddressTemplate: fc.constant({ AddressId: '', AddressGroupId: '' }),
}, { requiredKeys: ['Protocol', 'CidrBlock', 'Action'] });

const document = fc.record({
  ingress: fc.array(policy, { minLength: 1, maxLength: 4 }),
  egress: fc.array(policy, { maxLength: 3 }),
  shape: fc.constantFrom('response', 'set', 'bare'),
});

/** A name one or two edits from `name`, or in other case, or another format's name for it, or hostile. */
const misspelling = (name: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.nat({ max: name.length - 1 }).map((i) => name.slice(0, i) + name.slice(i + 1)), // a letter dropped
    fc.nat({ max: name.length - 2 }).map((i) => name.slice(0, i) + name[i + 1] + name[i] + name.slice(i + 2)), // two swapped
    fc.tuple(fc.nat({ max: name.length }), fc.constantFrom('s', 'x', '_', ' ')).map(([i, c]) => name.slice(0, i) + c + name.slice(i)), // one added
    fc.constant(name.toLowerCase()),
    fc.constant(name.toUpperCase()),
    fc.constantFrom('port', 'protocol', 'source', 'action', '__proto__', 'constructor', 'Prot', 'Egres', 'Cidr', ''),
  ).filter((n) => n !== name);

function build(d: { ingress: object[]; egress: object[]; shape: string }): { doc: unknown; set: Record<string, unknown>; base: (string | number)[] } {
  const set: Record<string, unknown> = { Version: '1', Ingress: structuredClone(d.ingress), Egress: structuredClone(d.egress) };
  if (d.shape === 'response') return { doc: { Response: { SecurityGroupPolicySet: set, RequestId: 'x' } }, set, base: ['Response', 'SecurityGroupPolicySet'] };
  if (d.shape === 'set') return { doc: { SecurityGroupPolicySet: set }, set, base: ['SecurityGroupPolicySet'] };
  return { doc: set, set, base: [] };
}

/** Renames `from` to `to` in `o`, keeping its place among the keys. */
function rename(o: Record<string, unknown>, from: string, to: string): void {
  const entries = Object.entries(o);
  for (const k of Object.keys(o)) delete o[k];
  for (const [k, v] of entries) Object.defineProperty(o, k === from ? to : k, { value: v, enumerable: true, writable: true, configurable: true });
}

describe(`Tencent policies refuse fields Tencent does not define (seed ${SEED})`, () => {
  it('generated documents load; a renamed field anywhere is UNKNOWN_FIELD at its path, with the closest name', () => {
    fc.assert(
      fc.property(document, fc.nat(), fc.nat(), fc.constantFrom('policy', 'template', 'set'), fc.nat(), (d, pick, pickField, where, typo) => {
        const { doc, set, base } = build(d);
        const before = safeParseConfig(doc);
        expect(before.success, before.success ? '' : JSON.stringify(before.issues)).toBe(true);

        let holder: Record<string, unknown>;
        let at: (string | number)[];
        let known: readonly string[];
        if (where === 'set') {
          holder = set;
          at = base;
          known = TENCENT_SET_FIELDS;
        } else {
          const list = d.egress.length > 0 && pick % 2 ? 'Egress' : 'Ingress';
          const entries = set[list] as Record<string, unknown>[];
          const i = pick % entries.length;
          holder = entries[i]!;
          at = [...base, list, i];
          known = TENCENT_POLICY_FIELDS;
          if (where === 'template') {
            const tpl = pickField % 2 ? 'ServiceTemplate' : 'AddressTemplate';
            holder[tpl] = tpl === 'ServiceTemplate' ? { ServiceId: '', ServiceGroupId: '' } : { AddressId: '', AddressGroupId: '' };
            holder = holder[tpl] as Record<string, unknown>;
            at = [...at, tpl];
            known = Object.keys(holder);
          }
        }
        const fields = Object.keys(holder);
        const from = fields[pickField % fields.length]!;
        const to = fc.sample(misspelling(from), { seed: typo, numRuns: 1 })[0]!;
        if (known.includes(to)) return; // renamed into another real field: not a typo
        rename(holder, from, to);
        const after = safeParseConfig(doc);
        expect(after.success, `${from} → ${JSON.stringify(to)} was accepted`).toBe(false);
        if (after.success) return;
        const issue = after.issues.find((i) => i.code === 'UNKNOWN_FIELD' && i.given === to);
        expect(issue, JSON.stringify(after.issues)).toBeDefined();
        expect(issue!.path).toEqual([...at, to]);
        const hint = closest(to, known);
        if (hint) expect(issue!.message).toContain(`did you mean "${hint}"`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('the probes: Prot is not Port, Egres is not Egress', async () => {
    const prot = { SecurityGroupPolicySet: { Ingress: [{ Protocol: 'TCP', Prot: '22', CidrBlock: '0.0.0.0/0', Action: 'ACCEPT' }] } };
    await expect(createEngine(prot)).rejects.toThrow(expect.objectContaining({
      code: 'CONFIG_INVALID',
      issues: [expect.objectContaining({ code: 'UNKNOWN_FIELD', path: ['SecurityGroupPolicySet', 'Ingress', 0, 'Prot'], message: expect.stringContaining('did you mean "Port"') })],
    }));
    const egres = { Ingress: [], Egres: [{ Protocol: 'ALL', CidrBlock: '0.0.0.0/0', Action: 'DROP' }] };
    const r = safeParseConfig(egres);
    expect(r.success).toBe(false);
    if (!r.success) expect(r.issues).toEqual([expect.objectContaining({ code: 'UNKNOWN_FIELD', path: ['Egres'], message: expect.stringContaining('did you mean "Egress"') })]);
  });

  it("Tencent's own CLI examples: the ECM one loads, the VPC one is refused for its templates only", () => {
    const ecm = dataFile('tencent', 'ecm-DescribeSecurityGroupPolicies.json');
    const vpc = dataFile('tencent', 'vpc-DescribeSecurityGroupPolicies.json');
    if (!ecm || !vpc) return; // $SGFILTER_DATA not set (test/data.ts)
    expect(safeParseConfig(JSON.parse(readFileSync(ecm, 'utf8'))).success).toBe(true);
    const r = safeParseConfig(JSON.parse(readFileSync(path.resolve(vpc), 'utf8')));
    expect(r.success).toBe(false);
    if (!r.success) expect(new Set(r.issues.map((i) => i.code))).toEqual(new Set(['UNDEFINED_TEMPLATE']));
  });

  it('Direction, where given, agrees with the list the policy is in', () => {
    const ok = safeParseConfig({ Ingress: [{ Direction: 'INGRESS', Protocol: 'TCP', Port: '22', CidrBlock: '10.0.0.0/8', Action: 'ACCEPT' }] });
    expect(ok.success).toBe(true);
    const bad = safeParseConfig({ Ingress: [{ Direction: 'EGRESS', Protocol: 'TCP', Port: '22', CidrBlock: '10.0.0.0/8', Action: 'ACCEPT' }] });
    expect(bad.success).toBe(false);
    if (!bad.success) expect(bad.issues).toEqual([expect.objectContaining({ code: 'CONFLICTING_FIELDS', path: ['Ingress', 0, 'Direction'] })]);
  });
});
