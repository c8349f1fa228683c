// diffPolicies against the reference matcher: on generated policy pairs, a generated
// flow is in a change box exactly when its reference action differs between the two,
// in one box only, with the box's old and new verdicts; every witness shows its box.
// Boxes are read back from their printed form (test/analysis-check.ts), so the check
// does not share the library's interval code.
import { describe, expect, it } from 'vitest';
import { fc } from '@fast-check/vitest';
import { createEngine, diffPolicies, parseConfig, parseFlow, referenceClassify, SgfilterError, type Config, type ConfigInput, type FlowInput, type PolicyDiff, type RuleSpec } from '../src/index.js';
import { classBenchConfig, edited, mutateClassBench, mutateTencent, randomClassBench, randomSetEdits, randomSetPolicy, randomTencentPolicy } from './analysis-policies.js';
import { mulberry32, pick, randomConfig, randomFlows, type Rng } from './random.js';
import { boxHolds, onInstance } from './analysis-check.js';
import { fuzzSeed } from './fuzz/settings.js';

// One root seed for the suite (test/fuzz/settings.ts: SGFILTER_FUZZ_SEED, fixed by default so CI is reproducible).
const SEED = fuzzSeed('diff: against the reference');
const PAIRS = 120;

/** A policy a few edits from `doc`: rules deleted, inserted (from `donor`), flipped, moved; group orders and bindings changed. */
function mutate(r: Rng, doc: ConfigInput, donor: ConfigInput): ConfigInput {
  const out = structuredClone(doc);
  const groups = out.securityGroups!;
  const spare = donor.securityGroups!.flatMap((g) => [...(g.inbound ?? []).map((x) => ['inbound', x] as const), ...(g.outbound ?? []).map((x) => ['outbound', x] as const)]);
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const g = pick(r, groups);
    const dir = r() < 0.5 ? 'inbound' : 'outbound';
    const list = (g[dir] ??= []) as unknown[];
    const op = r();
    if (op < 0.25 && list.length) list.splice(Math.floor(r() * list.length), 1);
    else if (op < 0.5 && spare.length) {
      const [d, rule] = pick(r, spare);
      ((g[d] ??= []) as unknown[]).splice(Math.floor(r() * ((g[d]?.length ?? 0) + 1)), 0, structuredClone(rule));
    } else if (op < 0.65 && list.length) {
      const i = Math.floor(r() * list.length);
      const x = list[i];
      if (typeof x === 'object' && x !== null) {
        const rule = x as { action: string };
        rule.action = /^(accept|allow)$/i.test(rule.action) ? 'drop' : 'accept';
      }
    } else if (op < 0.8 && list.length > 1) {
      const i = Math.floor(r() * list.length);
      const j = Math.floor(r() * list.length);
      [list[i], list[j]] = [list[j], list[i]];
    } else if (op < 0.9 && out.instances?.length) {
      const inst = pick(r, out.instances);
      inst.securityGroups = [...inst.securityGroups].reverse();
    } else if (out.instances?.length) {
      const inst = pick(r, out.instances);
      const ids = groups.map((x) => x.id).filter(() => r() < 0.6);
      inst.securityGroups = ids;
    } else {
      g.template = pick(r, ['open-all', 'open-common', 'custom'] as const);
    }
  }
  return out;
}

/** Checks `d` against the reference on `flows`; returns what is wrong. */
function check(a: ConfigInput | Config, b: ConfigInput | Config, d: PolicyDiff, flows: FlowInput[]): string[] {
  const A = parseConfig(a);
  const B = parseConfig(b);
  const bIds = new Set(B.instances.map((i) => i.id));
  const aDefault = A.instances[0]!.id;
  const bDefault = B.instances[0]!.id;
  const problems: string[] = [];
  for (const c of d.changes) {
    const w = parseFlow(c.witness);
    const va = referenceClassify(A, w);
    const vb = referenceClassify(B, w);
    if (JSON.stringify(va) !== JSON.stringify(c.old) || JSON.stringify(vb) !== JSON.stringify(c.new)) {
      problems.push(`witness ${JSON.stringify(c.witness)} gets ${JSON.stringify(va)} → ${JSON.stringify(vb)}, the box says ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`);
    }
    if (!boxHolds(c.flows, w)) problems.push(`witness ${JSON.stringify(c.witness)} is not in its box ${JSON.stringify(c.flows)}`);
    if (c.old.action === c.new.action) problems.push(`a box that changes nothing: ${JSON.stringify(c)}`);
  }
  for (const raw of flows) {
    if (typeof raw.instance === "string" && !bIds.has(raw.instance)) continue; // refused by the new policy
    if (typeof raw.instance === "string" && !A.instances.some((i) => i.id === raw.instance)) continue;
    const f = parseFlow(raw);
    const va = referenceClassify(A, f);
    const vb = referenceClassify(B, f);
    const named = f.instance;
    const mine = d.changes.filter((c) => {
      if (c.direction !== f.direction) return false;
      if (named !== null) return c.instances.includes(named!);
      return aDefault === bDefault ? c.instances.includes(aDefault) : c.unnamedInstance === true;
    });
    const inside = mine.filter((c) => boxHolds(c.flows, f));
    if (va.action === vb.action) {
      if (inside.length) problems.push(`flow ${JSON.stringify(raw)} keeps ${va.action} but is in box ${JSON.stringify(inside[0])}`);
    } else if (inside.length !== 1) {
      problems.push(`flow ${JSON.stringify(raw)} goes ${JSON.stringify(va)} → ${JSON.stringify(vb)} and is in ${inside.length} boxes`);
    } else if (JSON.stringify(inside[0]!.old) !== JSON.stringify(va) || JSON.stringify(inside[0]!.new) !== JSON.stringify(vb)) {
      problems.push(`flow ${JSON.stringify(raw)} goes ${JSON.stringify(va)} → ${JSON.stringify(vb)}, its box says ${JSON.stringify(inside[0]!.old)} → ${JSON.stringify(inside[0]!.new)}`);
    }
  }
  return problems;
}

describe(`diffPolicies against the reference matcher (seed ${SEED})`, () => {
  it(`${PAIRS} generated policy pairs: changed flows are exactly the boxes' flows`, () => {
    let changed = 0;
    let flowsChecked = 0;
    // One fast-check run per pair: a failure names the pair's seed (FC_SEED and SGFILTER_SEED reproduce the run).
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (pairSeed) => {
        const r = mulberry32(pairSeed);
        const a = randomConfig(r, 10);
        const b = r() < 0.15 ? randomConfig(r, 10) : mutate(r, a, randomConfig(r, 6));
        const d = diffPolicies(a, b);
        changed += d.changes.length;
        // Edge flows of both policies, the witnesses, and the witnesses moved to another instance.
        const A = parseConfig(a);
        const B = parseConfig(b);
        const flows = [...randomFlows(r, A, 250), ...randomFlows(r, B, 250), ...d.changes.map((c) => c.witness)];
        for (const c of d.changes) for (const i of A.instances) flows.push(onInstance(c.witness, i.id));
        flowsChecked += flows.length;
        const bad = check(a, b, d, flows);
        expect(bad, `old ${JSON.stringify(a)}\n  new ${JSON.stringify(b)}\n  ${bad.slice(0, 5).join('\n  ')}`).toEqual([]);
      }),
      { seed: SEED, numRuns: PAIRS },
    );
    expect(changed).toBeGreaterThan(PAIRS);
    expect(flowsChecked).toBeGreaterThan(PAIRS * 500);
  });

  it('a policy against itself, and against a copy with its rules respelled, changes nothing', () => {
    const r = mulberry32(SEED + 1);
    for (let k = 0; k < 30; k++) {
      const a = randomConfig(r, 10);
      expect(diffPolicies(a, structuredClone(a)).changes).toEqual([]);
    }
    const v4 = { securityGroups: [{ id: 'g', inbound: [{ protocol: 'TCP', port: '80,81,82', source: '10.0.0.0/8', action: 'accept' }] }] } as ConfigInput;
    const v4b = { securityGroups: [{ id: 'g', inbound: [{ protocol: 6, port: '80-82', source: '10.0.0.0-10.255.255.255', action: 'ALLOW' }] }] } as ConfigInput;
    expect(diffPolicies(v4, v4b).changes).toEqual([]);
  });
});

/** Diffs A → B and checks the boxes against the reference on edge flows of both, the witnesses, and the witnesses on every instance. Returns the box count. */
function checkPair(A: Config, B: Config, where: () => string): number {
  const r = mulberry32(A.securityGroups.length * 7919 + B.instances.length);
  const d = diffPolicies(A, B);
  const flows = [...randomFlows(r, A, 250), ...randomFlows(r, B, 250), ...d.changes.map((c) => c.witness)];
  for (const c of d.changes) for (const i of A.instances) flows.push(onInstance(c.witness, i.id));
  const bad = check(A, B, d, flows);
  expect(bad, `${where()}\n  ${bad.slice(0, 5).join('\n  ')}`).toEqual([]);
  return d.changes.length;
}

describe(`diffPolicies against the reference matcher on sets, templates and ClassBench (seed ${SEED})`, () => {
  const runs = 60;
  it(`${runs} policies with sets, set groups, empty sets, group references and instance addresses, against edits of them`, () => {
    let changed = 0;
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (c) => {
      const r = mulberry32(c);
      const docs = randomSetPolicy(r);
      const A = parseConfig(docs as never);
      const edits = randomSetEdits(r, A);
      const B = r() < 0.1 ? parseConfig(randomSetPolicy(r) as never) : edited(A, edits);
      if (!B) return;
      changed += checkPair(A, B, () => `config ${c}: ${JSON.stringify(docs)}\n  edits ${JSON.stringify(edits)}`);
    }), { seed: SEED, numRuns: runs });
    expect(changed).toBeGreaterThan(runs / 2);
  });

  it(`${runs} Tencent policies (templates, template groups, SecurityGroupId, PolicyIndex out of order) against edited copies`, () => {
    let changed = 0;
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (c) => {
      const r = mulberry32(c);
      const a = randomTencentPolicy(r);
      const b = mutateTencent(r, a);
      changed += checkPair(parseConfig(a as never), parseConfig(b as never), () => `old ${JSON.stringify(a)}\n  new ${JSON.stringify(b)}`);
    }), { seed: SEED, numRuns: runs });
    expect(changed).toBeGreaterThan(runs / 2);
  });

  it(`${runs} ClassBench filter sets against edited copies, and against their own rules read with security-group semantics`, () => {
    let changed = 0;
    let bySemantics = 0;
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (c) => {
      const r = mulberry32(c);
      const lines = randomClassBench(r);
      const next = mutateClassBench(r, lines);
      const A = classBenchConfig(lines);
      changed += checkPair(A, classBenchConfig(next), () => `old\n${lines.join('\n')}\n  new\n${next.join('\n')}`);
      // The very rule objects, read with the ICMP/ICMPv6 family pairing: ICMPv6 over IPv4 closes.
      const { semantics: _s, ...paired } = A;
      bySemantics += checkPair(A, paired as Config, () => `classbench → security-group semantics\n${lines.join('\n')}`);
    }), { seed: SEED, numRuns: runs });
    expect(changed).toBeGreaterThan(runs / 2);
    expect(bySemantics).toBeGreaterThan(0);
  });
});

describe('diffPolicies on a written change', () => {
  const before: ConfigInput = {
    securityGroups: [
      { id: 'sg-web', inbound: [{ protocol: 'TCP', port: '80,443', source: '0.0.0.0/0', action: 'accept' }, { protocol: 'TCP', port: 22, source: '10.0.0.0/8', action: 'accept' }] },
    ],
    instances: [{ id: 'ins-1', securityGroups: ['sg-web'] }, { id: 'ins-2', securityGroups: ['sg-web'] }],
  };
  const after: ConfigInput = structuredClone(before);
  (after.securityGroups![0]!.inbound as RuleSpec[]).push({ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'accept' });
  (after.securityGroups![0]!.inbound as RuleSpec[]).splice(0, 1, { protocol: 'TCP', port: 443, source: '0.0.0.0/0', action: 'accept' });

  it('lists the opened and closed boxes, with deciders, per instance and direction', () => {
    const d = diffPolicies(before, after);
    expect(d.changes).toHaveLength(2);
    const opened = d.changes.find((c) => c.change === 'opened')!;
    expect(opened).toMatchObject({
      instances: ['ins-1', 'ins-2'], direction: 'inbound', openToWorld: true,
      old: { action: 'drop', groupId: null, ruleIndex: null }, new: { action: 'accept', groupId: 'sg-web', ruleIndex: 2 },
    });
    expect(opened.flows).toMatchObject({ protocol: 'TCP', port: '22', remote: ['0.0.0.0-9.255.255.255', '11.0.0.0-255.255.255.255'] });
    const closed = d.changes.find((c) => c.change === 'closed')!;
    expect(closed).toMatchObject({ old: { action: 'accept', ruleIndex: 0 }, new: { action: 'drop', groupId: null }, openToWorld: false });
    expect(closed.flows).toMatchObject({ protocol: 'TCP', port: '80', remote: ['0.0.0.0/0'] });
    expect(d).toMatchObject({ opened: 1, closed: 1, openToWorld: true });
  });

  it('a change that moves a flow between accepting rules is not a change', () => {
    const moved = structuredClone(before);
    (moved.securityGroups![0]!.inbound as RuleSpec[]).unshift({ protocol: 'TCP', port: 443, source: '0.0.0.0/0', action: 'accept' });
    expect(diffPolicies(before, moved).changes).toEqual([]);
  });

  it('tells instances apart when their groups differ, and names added and removed instances', () => {
    const b2 = structuredClone(after);
    b2.instances = [{ id: 'ins-1', securityGroups: ['sg-web'] }, { id: 'ins-3', securityGroups: ['sg-web'] }];
    const a2 = structuredClone(after);
    const d = diffPolicies(a2, b2);
    expect(d.changes).toEqual([]);
    expect(d.instancesAdded).toEqual(['ins-3']);
    expect(d.instancesRemoved).toEqual(['ins-2']);
  });

  it('refuses past its budget with ANALYSIS_TOO_LARGE, never a partial diff', () => {
    const big = (shift: number): ConfigInput => ({
      securityGroups: [{ id: 'sg', inbound: Array.from({ length: 300 }, (_, i) => ({ protocol: 'TCP' as const, port: `${i}-${i + 300 + shift}`, source: `10.${i % 256}.0.0/16`, action: (i % 2 ? 'accept' : 'drop') as 'accept' })).concat(
        // What is left after 300 staggered rules is hundreds of boxes.
        [{ protocol: 'TCP' as const, port: 'ALL' as never, source: 'any', action: 'accept' as const }],
      ) }],
    });
    const t0 = Date.now();
    expect(() => diffPolicies(big(0), big(1), { maxWork: 10_000 })).toThrow(expect.objectContaining({ code: 'ANALYSIS_TOO_LARGE' }));
    expect(() => diffPolicies(big(0), big(1), { maxRegionBoxes: 2 })).toThrow(expect.objectContaining({ code: 'ANALYSIS_TOO_LARGE' }));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(() => diffPolicies(big(0), big(1), { maxWork: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('engine.previewUpdate', () => {
  it('diffs an update() transaction before it is published, and update() with its baseVersion publishes it', async () => {
    const doc: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: '10.0.0.0/8', action: 'accept' }] }] };
    const engine = await createEngine(doc);
    const v0 = engine.version;
    const edit = [{ op: 'addRule', groupId: 'sg', direction: 'inbound', rule: { protocol: 'TCP', port: 3389, source: '0.0.0.0/0', action: 'accept' } }] as const;
    const preview = await engine.previewUpdate(edit as never);
    expect(engine.version).toBe(v0); // nothing published
    expect(preview.baseVersion).toBe(v0);
    expect(preview.diff.openToWorld).toBe(true);
    expect(preview.diff.changes).toHaveLength(1);
    const w = preview.diff.changes[0]!.witness;
    expect(engine.classify(w).action).toBe('drop');
    await engine.update(edit as never, { expectedVersion: preview.baseVersion });
    expect(engine.classify(w).action).toBe('accept');
    await expect(engine.previewUpdate(edit as never)).resolves.toBeDefined();
    await expect(engine.previewUpdate('nope' as never)).rejects.toThrow(SgfilterError);
  });

  it(`set edits (instance addresses, sets added, replaced, removed, bindings): the preview's diff is the diff to what update() publishes (seed ${SEED})`, async () => {
    const r = mulberry32(SEED ^ 0x9e3);
    const strip = (d: PolicyDiff) => ({ ...d, stats: null });
    let previews = 0;
    let changed = 0;
    for (let c = 0; c < 30; c++) {
      const engine = await createEngine(randomSetPolicy(r) as never);
      for (let step = 0; step < 4; step++) {
        const before = engine.config;
        const edits = randomSetEdits(r, before);
        if (!edited(before, edits)) continue; // refused: previewUpdate and update refuse it alike
        const preview = await engine.previewUpdate(edits);
        expect(engine.config).toBe(before); // nothing published
        await engine.update(edits, { expectedVersion: preview.baseVersion });
        const after = engine.config;
        const where = `policy ${c} step ${step} edits ${JSON.stringify(edits)}`;
        expect(strip(preview.diff), where).toEqual(strip(diffPolicies(before, after)));
        // And the boxes are the reference's changes between the two published policies.
        const flows = [...randomFlows(r, before, 150), ...randomFlows(r, after, 150), ...preview.diff.changes.map((x) => x.witness)];
        const bad = check(before, after, preview.diff, flows);
        expect(bad, `${where}\n  ${bad.slice(0, 3).join('\n  ')}`).toEqual([]);
        previews++;
        changed += preview.diff.changes.length;
      }
    }
    expect(previews).toBeGreaterThan(60);
    expect(changed).toBeGreaterThan(30);
  }, 60_000);
});

describe('diffPolicies on service sets whose services overlap', () => {
  it('a flow two services of one set match is in one box, not one per service', () => {
    const doc = (withRule: boolean): ConfigInput => ({
      serviceSets: [{ id: 'mixed', services: ['udp:53', 'ALL', 'tcp:0-100'] }],
      securityGroups: [{ id: 'sg', inbound: withRule ? [{ serviceSet: 'mixed', source: '10.0.0.0/8', action: 'accept' }] as never : [] }],
    } as never);
    const d = diffPolicies(doc(true), doc(false));
    const flows: FlowInput[] = [
      { direction: 'inbound', protocol: 'UDP', port: 53, remote: '10.1.2.3' },
      { direction: 'inbound', protocol: 'TCP', port: 80, remote: '10.1.2.3' },
      { direction: 'inbound', protocol: 'UDP', port: 54, remote: '10.1.2.3' },
      { direction: 'inbound', protocol: 'ICMP', remote: '10.1.2.3' },
    ];
    expect(check(doc(true), doc(false), d, flows)).toEqual([]);
    expect(d.changes.length).toBeGreaterThan(0);
  });
});
