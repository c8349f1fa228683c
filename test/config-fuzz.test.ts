/**
 * Generated hostile configs and edits (issue 9, items 1 and 6/7 for the config side).
 *
 * Text that names what Object.prototype and Function.prototype hold (any case, with
 * spaces), other strings, and values only the JS API can pass are put into random
 * places of random valid documents in every input format: native config objects,
 * the same documents as JSON and YAML text, Terraform lite strings, Tencent API
 * JSON, update() edits as data and as transaction method calls. Each case must be
 * either refused with an SgfilterError whose issues carry a known code and a path,
 * or accepted with every rule written kept, and then the compiled engine and the
 * reference matcher must give the same verdict on generated flows. Object.prototype
 * must be unchanged after every case.
 *
 * Seeded and reproducible: SGFILTER_FUZZ_SEED and SGFILTER_FUZZ_SCALE (see
 * test/fuzz/settings.ts).
 */
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEngine, createFlowBatch, parseConfigText, parseFlow, PolicyTransaction, referenceClassify, safeParseConfig,
  type Config, type Engine, type PolicyEdit,
} from '../src/index.js';
import { asCalls, mulberry32, randomConfig, randomEdits, randomFlows, randomTencentDoc, randomTerraformConfig, type Rng } from './random.js';
import {
  editMutation, expectCodedIssues, hostileText, inject, mutation, PROTOTYPE_NAMES, refusedOr, WEIRD_VALUES, weirdValueName,
} from './hostile.js';
import type { FlowInput } from '../src/index.js';
import { expectNoPoisoning, restoreRunnerGlobals } from './fuzz/poisoning.js';
import { FUZZ_SEED, fuzzParams, fuzzSeed, fuzzTimeout } from './fuzz/settings.js';

let engine: Engine;

beforeAll(async () => {
  engine = await createEngine({ securityGroups: [{ id: 'sg-boot', inbound: ['DROP#any#ALL#ALL'] }] });
});
afterAll(restoreRunnerGlobals);

/** The engine (reloaded with `config`) and the reference agree on generated flows. */
async function expectSameVerdicts(config: Config, r: Rng, n = 150): Promise<void> {
  await engine.reload(config);
  const flows = randomFlows(r, config, n);
  if (config.instances.length === 0) {
    // Edits may remove every instance: then every flow names an unknown one, for both.
    for (const f of flows.slice(0, 5)) {
      expect(() => referenceClassify(config, parseFlow(f))).toThrow(/unknown instance/);
      expect(() => engine.classify(f)).toThrow(/unknown instance/);
    }
    return;
  }
  const batch = createFlowBatch(flows);
  expect(batch.length).toBe(flows.length);
  engine.classifyBatch(batch);
  flows.forEach((f, i) => {
    const want = referenceClassify(config, parseFlow(f));
    const got = batch.verdict(i);
    if (want.action !== got.action || want.groupId !== got.groupId || want.ruleIndex !== got.ruleIndex) {
      throw new Error(`engine ${JSON.stringify(got)} but reference ${JSON.stringify(want)} for ${JSON.stringify(f)}`);
    }
  });
  for (const f of flows.slice(0, 5)) expect(engine.classify(f)).toEqual(referenceClassify(config, parseFlow(f)));
}

/**
 * An accepted Config holds only what SPEC §2-3 allows, whatever the flows exercise:
 * a protocol that is a number 0-255, ALL or ping (not a function found on
 * Object.prototype), an action that is accept or drop, well-formed port intervals
 * and addresses, and instances bound to groups that exist.
 */
function expectWellFormed(config: Config): void {
  const bad = (what: string, v: unknown) => {
    throw new Error(`accepted Config holds ${what}: ${typeof v === 'function' ? 'a function' : String(v)}`);
  };
  const byte = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255;
  const intervals = (list: unknown, what: string) => {
    if (list === null) return;
    if (!Array.isArray(list)) return bad(what, list);
    for (const i of list as { lo: unknown; hi: unknown }[]) {
      if (!Number.isInteger(i.lo) || !Number.isInteger(i.hi) || (i.lo as number) < 0 || (i.hi as number) > 65535 || (i.lo as number) > (i.hi as number)) bad(what, JSON.stringify(i));
    }
  };
  const addresses = (set: unknown, what: string) => {
    const s = set as { v4: { lo: unknown; hi: unknown }[]; v6: { lo: unknown; hi: unknown }[] };
    for (const [list, max] of [[s.v4, 2n ** 32n - 1n], [s.v6, 2n ** 128n - 1n]] as const) {
      if (!Array.isArray(list)) bad(what, list);
      for (const rg of list) if (typeof rg.lo !== 'bigint' || typeof rg.hi !== 'bigint' || rg.lo < 0n || rg.hi > max || rg.lo > rg.hi) bad(what, rg.lo);
    }
  };
  const ids = new Set<string>();
  for (const g of config.securityGroups) {
    if (typeof g.id !== 'string' || g.id.trim() === '') bad('a group id', g.id);
    ids.add(g.id);
    if (!['open-all', 'open-common', 'custom'].includes(g.template)) bad('a template', g.template);
    for (const dir of ['inbound', 'outbound'] as const) {
      g[dir].forEach((r, i) => {
        if (r.groupId !== g.id || r.direction !== dir || r.ruleIndex !== i) bad('a misplaced rule', `${r.groupId} ${r.direction} ${r.ruleIndex}`);
        if (r.action !== 'accept' && r.action !== 'drop') bad('an action', r.action);
        if (r.protocol !== 'all' && r.protocol !== 'ping' && !byte(r.protocol)) bad('a protocol', r.protocol);
        intervals(r.ports, 'ports');
        intervals(r.sourcePorts, 'source ports');
        addresses(r.peer, 'a peer');
        if (r.local !== null) addresses(r.local, 'a local address');
        if (r.icmpType !== null && !byte(r.icmpType)) bad('an icmpType', r.icmpType);
        if (r.icmpCode !== null && !byte(r.icmpCode)) bad('an icmpCode', r.icmpCode);
        for (const t of [r.text.protocol, r.text.port, r.text.peer]) if (typeof t !== 'string') bad('rule text', t);
      });
    }
  }
  for (const inst of config.instances) {
    if (typeof inst.id !== 'string' || inst.id.trim() === '') bad('an instance id', inst.id);
    for (const gid of inst.securityGroups) if (!ids.has(gid)) bad('a binding to a missing group', gid);
  }
}

/** Rules written per group and direction in a native document (undefined when not countable). */
function writtenCounts(doc: unknown): number[][] | undefined {
  const groups = (doc as { securityGroups?: unknown })?.securityGroups;
  if (!Array.isArray(groups) || groups.length > 10_000) return undefined; // (a list of length 2^31 is refused; do not walk it here)
  return groups.map((g) => ['inbound', 'outbound'].map((d) => {
    const list = (g as Record<string, unknown>)?.[d];
    return Array.isArray(list) ? list.length : 0;
  }));
}

/** No rule written in the document went missing from the accepted Config (`type: __proto__` once dropped one). */
function expectEveryRuleKept(config: Config, counts: number[][] | undefined): void {
  if (!counts) return;
  expect(config.securityGroups.length).toBe(counts.length);
  config.securityGroups.forEach((g, i) => {
    expect(g.inbound.filter((r) => r.template === undefined).length).toBe(counts[i]![0]);
    expect(g.outbound.filter((r) => r.template === undefined).length).toBe(counts[i]![1]);
  });
}

/**
 * One document through every door: safeParseConfig and engine.reload must agree;
 * a refusal is coded and leaves the engine's policy alone; an acceptance keeps every
 * rule and classifies as the reference does.
 */
async function checkDocument(doc: unknown, r: Rng, counts = countsOf('native', doc)): Promise<'accepted' | 'refused'> {
  const parsed = await refusedOr(() => safeParseConfig(doc));
  if (!parsed.ok) throw new Error(`safeParseConfig threw ${parsed.error.code}: it returns issues`);
  const before = engine.version;
  const reloaded = await refusedOr(() => engine.reload(doc as never));
  if (!parsed.value.success) {
    expectCodedIssues(parsed.value.issues);
    expect(reloaded.ok).toBe(false);
    if (!reloaded.ok) {
      // A bare string is not read as a config at all: reload wants { text } or { file } said explicitly.
      expect(reloaded.error.code).toBe(typeof doc === 'string' ? 'INVALID_ARGUMENT' : 'CONFIG_INVALID');
      if (typeof doc !== 'string') expectCodedIssues(reloaded.error.issues);
    }
    expect(engine.version).toBe(before);
    return 'refused';
  }
  expect(reloaded.ok).toBe(true);
  expectWellFormed(parsed.value.config);
  expectEveryRuleKept(parsed.value.config, counts);
  await expectSameVerdicts(parsed.value.config, r);
  return 'accepted';
}

/** The same document written as JSON and as YAML text reads the same (or is refused with a code). */
function checkAsText(doc: unknown): void {
  for (const [name, text] of [['fuzz.json', JSON.stringify(doc)], ['fuzz.yaml', toYaml(doc)]] as const) {
    let fromText: unknown;
    try {
      fromText = parseConfigText(text, name);
    } catch (e) {
      if (!(e instanceof Error && 'code' in e)) throw e;
      expect((e as { code: string }).code).toBe('CONFIG_PARSE');
      expectCodedIssues((e as unknown as { issues: never[] }).issues);
      continue;
    }
    const a = safeParseConfig(doc);
    const b = safeParseConfig(fromText);
    expect(b.success, `${name}: ${text.slice(0, 300)}`).toBe(a.success);
    if (!a.success && !b.success) expect(b.issues.map((i) => i.code)).toEqual(a.issues.map((i) => i.code));
  }
}

// ------------------------------------------------------------------ documents

function tencentCounts(doc: unknown): number[][] | undefined {
  const d = doc as Record<string, Record<string, Record<string, unknown>>>;
  const set = (d?.Response?.SecurityGroupPolicySet ?? d?.SecurityGroupPolicySet ?? d) as Record<string, unknown> | undefined;
  const n = (k: string) => (Array.isArray(set?.[k]) ? (set![k] as unknown[]).length : 0);
  return [[n('Ingress'), n('Egress')]];
}

const FORMATS = {
  native: (r: Rng) => randomConfig(r, 6) as unknown,
  terraform: randomTerraformConfig,
  tencent: randomTencentDoc,
};
type Format = keyof typeof FORMATS;
const format = fc.constantFrom(...(Object.keys(FORMATS) as Format[]));
const countsOf = (f: Format, doc: unknown) => {
  try {
    return f === 'tencent' ? tencentCounts(doc) : writtenCounts(doc);
  } catch {
    return undefined; // a value that throws when read: the document must be refused anyway
  }
};

describe(`hostile text in every field of every config format (seed ${FUZZ_SEED})`, () => {
  it('is refused with a coded issue, or kept whole and classified as the reference does', async () => {
    const seen = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(format, fc.integer(), fc.array(fc.tuple(mutation, hostileText), { minLength: 1, maxLength: 4 }), async (f, seed, edits) => {
        try {
          const r = mulberry32(seed);
          const doc = FORMATS[f](r);
          for (const [m, text] of edits) inject(doc, m, text);
          seen[await checkDocument(doc, r, countsOf(f, doc))]++;
          checkAsText(doc);
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('config: hostile text in every field of every format', 400),
    );
    // Both outcomes must occur, or the property tested nothing.
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, fuzzTimeout(600_000));

  const prototypeName = hostileText.filter((t) => PROTOTYPE_NAMES.some((n) => n.toLowerCase() === t.trim().toLowerCase()));

  it('prototype names where a word is looked up (protocol, action, type, template, edit op, direction) are refused in every format', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('protocol', 'action', 'type', 'template', 'terraform-protocol', 'terraform-action', 'tencent-protocol', 'tencent-action', 'edit-op', 'edit-direction', 'edit-rule-protocol', 'edit-rule-terraform'),
        prototypeName,
        async (field, text) => {
          try {
            const rule: Record<string, unknown> = { protocol: 'TCP', port: 22, source: 'any', action: 'accept' };
            if (field.startsWith('edit-')) {
              const edit: Record<string, unknown> = { op: 'addRule', groupId: 'sg', direction: 'inbound', rule: { protocol: 'ALL', source: 'any', action: 'accept' } };
              if (field === 'edit-op') edit.op = text;
              else if (field === 'edit-direction') edit.direction = text;
              else if (field === 'edit-rule-protocol') edit.rule = { protocol: text, source: 'any', action: 'accept' };
              else edit.rule = `ACCEPT#any#ALL#${text}`;
              const base = safeParseConfig({ securityGroups: [{ id: 'sg' }] });
              if (!base.success) throw new Error('base');
              const r = await refusedOr(() => new PolicyTransaction(base.config).apply(edit as PolicyEdit).commit());
              expect(r.ok).toBe(false);
              if (!r.ok) expectCodedIssues(r.error.issues, ['update', 0]);
              return;
            }
            let doc: unknown;
            if (field === 'terraform-protocol') doc = { securityGroups: [{ id: 'sg', inbound: [`ACCEPT#any#ALL#${text}`] }] };
            else if (field === 'terraform-action') doc = { securityGroups: [{ id: 'sg', inbound: [`${text}#any#ALL#ALL`] }] };
            else if (field === 'tencent-protocol') doc = { Ingress: [{ Protocol: text, CidrBlock: '0.0.0.0/0', Action: 'ACCEPT' }] };
            else if (field === 'tencent-action') doc = { Ingress: [{ Protocol: 'ALL', CidrBlock: '0.0.0.0/0', Action: text }] };
            else if (field === 'template') doc = { securityGroups: [{ id: 'sg', template: text, inbound: [rule] }] };
            else {
              if (field === 'type') delete rule.protocol;
              rule[field] = text;
              doc = { securityGroups: [{ id: 'sg', inbound: [rule] }] };
            }
            const r = safeParseConfig(doc);
            expect(r.success).toBe(false);
            if (!r.success) expectCodedIssues(r.issues);
          } finally {
            expectNoPoisoning();
          }
        },
      ),
      fuzzParams('config: prototype names where a word is looked up', 200),
    );
  }, fuzzTimeout(120_000));

  it('prototype names as group and instance ids are ordinary ids: bound, edited and named in verdicts', async () => {
    await fc.assert(
      fc.asyncProperty(prototypeName, prototypeName, prototypeName, async (g1, g2, inst) => {
        try {
          fc.pre(g1.trim() !== '' && g2.trim() !== '' && inst.trim() !== '' && g1 !== g2);
          const doc = {
            securityGroups: [
              { id: g1, inbound: [{ protocol: 'TCP', port: 22, source: '10.0.0.0/8', action: 'drop' }] },
              { id: g2, inbound: ['ACCEPT#any#22#TCP'] },
            ],
            instances: [{ id: inst, securityGroups: [g1, g2] }],
          };
          const r = await refusedOr(() => engine.reload(doc as never));
          if (!r.ok) throw new Error(`refused ids ${JSON.stringify([g1, g2, inst])}: ${r.error.message}`);
          const flow = (remote: string): FlowInput => ({ direction: 'inbound', protocol: 'TCP', port: 22, remote, instance: inst });
          expect(engine.classify(flow('10.1.2.3'))).toEqual({ action: 'drop', groupId: g1, ruleIndex: 0 });
          expect(engine.classify(flow('192.0.2.1'))).toEqual({ action: 'accept', groupId: g2, ruleIndex: 0 });
          await engine.update([{ op: 'setGroupOrder', instanceId: inst, securityGroups: [g2, g1] }, { op: 'removeRule', groupId: g1, direction: 'inbound', index: 0 }]);
          expect(engine.classify(flow('10.1.2.3'))).toEqual({ action: 'accept', groupId: g2, ruleIndex: 0 });
          await expectSameVerdicts(engine.config, mulberry32(g1.length * 31 + g2.length), 40);
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('config: prototype names as group and instance ids', 50),
    );
  }, fuzzTimeout(120_000));

  it('values only the JS API can pass are coded issues with a path, anywhere in the document', async () => {
    const seen = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(format, fc.integer(), mutation, weirdValueName, async (f, seed, m, weird) => {
        try {
          const r = mulberry32(seed);
          const doc = FORMATS[f](r);
          inject(doc, { ...m, kind: 'replace' }, WEIRD_VALUES[weird]!());
          seen[await checkDocument(doc, r, countsOf(f, doc))]++;
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('config: values only the JS API can pass, anywhere', 200),
    );
    expect(seen.refused).toBeGreaterThan(0);
  }, fuzzTimeout(600_000));

  it('a weird value as the whole document, a group or a rule list is refused with a code', async () => {
    await fc.assert(
      fc.asyncProperty(weirdValueName, fc.constantFrom('root', 'groups', 'group', 'rules'), async (weird, where) => {
        try {
          const v = WEIRD_VALUES[weird]!();
          const doc = where === 'root' ? v
            : where === 'groups' ? { securityGroups: v }
              : where === 'group' ? { securityGroups: [v] }
                : { securityGroups: [{ id: 'sg', inbound: v }] };
          await checkDocument(doc, mulberry32(1));
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('config: a weird value as the document, a group or a rule list', 200),
    );
  }, fuzzTimeout(120_000));
});

// ------------------------------------------------------------------ edits

/**
 * Edits through update() (as data and as calls) and an offline PolicyTransaction:
 * all three agree; a refusal is coded under ["update", n] and changes nothing; an
 * acceptance applies every edit and classifies as the reference does.
 */
async function checkEdits(base: Config, edits: unknown[], r: Rng): Promise<'accepted' | 'refused'> {
  const offline = await refusedOr(() => {
    const tx = new PolicyTransaction(base);
    for (const e of edits) tx.apply(e as PolicyEdit);
    return tx.commit();
  });
  let outcome: 'accepted' | 'refused' = offline.ok ? 'accepted' : 'refused';
  if (offline.ok) {
    expect(offline.value.changes.length).toBe(edits.length);
    expectWellFormed(offline.value.config);
    await expectSameVerdicts(offline.value.config, r, 80);
  } else {
    expect(offline.error.code).toBe('CONFIG_INVALID');
    expectCodedIssues(offline.error.issues, ['update']);
    for (const i of offline.error.issues) expect(typeof i.path[1]).toBe('number');
  }
  for (const form of ['data', 'calls'] as const) {
    await engine.reload(base);
    const before = engine.version;
    const run = await refusedOr(() => engine.update(form === 'data' ? (edits as PolicyEdit[]) : asCalls(edits)));
    if (form === 'calls' && !run.ok && offline.ok) {
      // Method calls cannot carry fields their method does not take; they never add refusals of their own.
      throw new Error(`update as calls refused what the data form accepted: ${run.error.message}`);
    }
    if (form === 'data') expect(run.ok).toBe(offline.ok);
    if (!run.ok) {
      expect(run.error.code).toBe('CONFIG_INVALID');
      expectCodedIssues(run.error.issues, ['update']);
      expect(engine.version).toBe(before);
      expect(engine.config).toBe(base);
    } else if (form === 'data') {
      outcome = 'accepted';
    }
  }
  return outcome;
}

describe(`hostile text and values in update() edits (seed ${FUZZ_SEED})`, () => {
  it('edit ops, fields and rules with hostile text: coded refusal or applied whole and classified as the reference does', async () => {
    const seen = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.array(fc.tuple(editMutation, hostileText), { minLength: 1, maxLength: 2 }), async (seed, muts) => {
        try {
          const r = mulberry32(seed);
          const base = safeParseConfig(randomConfig(r, 5));
          if (!base.success) throw new Error('randomConfig gave an invalid config');
          const edits = randomEdits(r, base.config);
          for (const [m, text] of muts) inject(edits, m, text);
          seen[await checkEdits(base.config, edits, r)]++;
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('edits: hostile text in update() edits', 400),
    );
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, fuzzTimeout(600_000));

  it('edits holding values only the JS API can pass are coded refusals', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), mutation, weirdValueName, fc.boolean(), async (seed, m, weird, whole) => {
        try {
          const r = mulberry32(seed);
          const base = safeParseConfig(randomConfig(r, 5));
          if (!base.success) throw new Error('randomConfig gave an invalid config');
          const edits: unknown[] = randomEdits(r, base.config);
          if (whole) edits[m.at % edits.length] = WEIRD_VALUES[weird]!();
          else inject(edits, { ...m, kind: 'replace' }, WEIRD_VALUES[weird]!());
          await checkEdits(base.config, edits, r);
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('edits: values only the JS API can pass', 200),
    );
  }, fuzzTimeout(600_000));
});

describe(`the update() list itself (seed ${FUZZ_SEED})`, () => {
  it('a value only the JS API can pass as the whole list is a coded refusal that changes nothing', async () => {
    await fc.assert(
      // (Functions are update's other form: called with the transaction, their own exceptions propagate as they are.)
      fc.asyncProperty(weirdValueName.filter((w) => w !== 'function' && w !== 'class'), async (weird) => {
        try {
          await engine.reload({ securityGroups: [{ id: 'sg', inbound: ['ACCEPT#any#ALL#TCP'] }] });
          const before = engine.version;
          const run = await refusedOr(() => engine.update(WEIRD_VALUES[weird]!() as PolicyEdit[]));
          if (run.ok) {
            // Only a list of harmless entries may pass (none of the weird values is one).
            throw new Error(`update accepted ${weird}`);
          }
          expect(['CONFIG_INVALID', 'INVALID_ARGUMENT']).toContain(run.error.code);
          if (run.error.code === 'CONFIG_INVALID') expectCodedIssues(run.error.issues, ['update']);
          expect(engine.version).toBe(before);
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('edits: a weird value as the whole update() list', 200),
    );
  }, fuzzTimeout(120_000));
});

// ------------------------------------------------------------------ flows (the protocol table is shared)

describe(`hostile text in flow fields (seed ${FUZZ_SEED})`, () => {
  it('a batch has one answer per flow, or the batch is refused with a code', async () => {
    const config = safeParseConfig(randomConfig(mulberry32(fuzzSeed('flows: hostile text in flow fields, the config')), 8));
    if (!config.success) throw new Error('invalid base config');
    await engine.reload(config.config);
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.constantFrom('protocol', 'direction', 'instance'), hostileText, async (seed, field, text) => {
        try {
          const r = mulberry32(seed);
          const flows: Record<string, unknown>[] = randomFlows(r, config.config, 6) as never;
          const k = Math.floor(r() * flows.length);
          flows[k]![field] = text;
          const made = await refusedOr(() => createFlowBatch(flows as never));
          if (!made.ok) {
            expectCodedIssues(made.error.issues);
            return;
          }
          expect(made.value.length).toBe(flows.length);
          const classified = await refusedOr(() => engine.classifyBatch(made.value));
          if (!classified.ok) {
            // An instance the policy does not have: coded, and the reference refuses it too.
            expect(classified.error.code).toBe('UNKNOWN_INSTANCE');
            expect(() => flows.forEach((f) => referenceClassify(config.config, parseFlow(f as never)))).toThrow(/unknown instance/);
            return;
          }
          flows.forEach((f, i) => expect(made.value.verdict(i)).toEqual(referenceClassify(config.config, parseFlow(f as never))));
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('flows: hostile text in flow fields', 200),
    );
  }, fuzzTimeout(120_000));
});

// ------------------------------------------------------------------ Configs built or changed by hand

describe(`a Config object that is not what parseConfig made (seed ${FUZZ_SEED})`, () => {
  const garbage = fc.oneof(
    hostileText.map((t) => ({ t })),
    weirdValueName.map((w) => ({ w })),
    fc.constantFrom(-1, 256, 2 ** 31 + 47, 65536, 1.5, NaN, Infinity, -1n, 2n ** 129n, 0n, true, null, [], {}).map((v) => ({ v })),
  );
  it('is compiled only when well-formed, else refused with a coded issue; a structured clone still works', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), mutation, garbage, async (seed, m, g) => {
        try {
          const r = mulberry32(seed);
          const parsed = safeParseConfig(randomConfig(r, 5));
          if (!parsed.success) throw new Error('randomConfig gave an invalid config');
          const clone = structuredClone(parsed.config);
          expect(safeParseConfig(clone).success).toBe(true);
          const value = 't' in g ? g.t : 'w' in g ? WEIRD_VALUES[g.w]!() : g.v;
          inject(clone, { ...m, kind: 'replace' }, value);
          const before = engine.version;
          const reloaded = await refusedOr(() => engine.reload(clone));
          if (!reloaded.ok) {
            expect(reloaded.error.code).toBe('CONFIG_INVALID');
            expectCodedIssues(reloaded.error.issues);
            expect(engine.version).toBe(before);
            return;
          }
          // Accepted as it is (a harmless change, e.g. to a description or a warning): it must be well-formed and agree.
          expectWellFormed(clone as Config);
          await expectSameVerdicts(clone as Config, r, 80);
        } finally {
          expectNoPoisoning();
        }
      }),
      fuzzParams('config: a Config object changed by hand', 200),
    );
  }, fuzzTimeout(300_000));
});
