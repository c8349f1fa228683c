/**
 * Error messages grow with what they show, never with the input (attack finding 3): a
 * config of G groups and U references to groups that do not exist made U issues that
 * each listed all G ids (132 KB of config → 370 MB of error text; 250 KB → an uncoded
 * RangeError; 573 KB → out of memory), through parseConfig, createEngine, update() and
 * watchConfig alike. Generated documents built to amplify (many groups with long,
 * hostile ids; many unknown references, duplicates, unknown instances and fields; the
 * same through update() edits and config text) must give a coded error whose message
 * stays under a fixed size, whose issues are capped at MAX_ISSUES (a last one counting
 * the rest), and whose every issue is bounded: so the whole error is linear in the
 * input at worst, whatever the input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEngine, parseConfig, parseConfigText, safeParseConfig, SgfilterError, type Issue } from '../src/index.js';
import { MAX_ISSUES, MAX_ISSUES_SHOWN } from '../src/errors.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0x3e55);
const RUNS = Number(process.env.SGFILTER_FUZZ_RUNS ?? 200);

/** Most characters one issue's message (and its `allowed`) may take, whatever it quotes. */
const PER_ISSUE = 4_000;
/** Most characters an error's message may take: its head and MAX_ISSUES_SHOWN issues, each with code and path. */
const PER_MESSAGE = 1_000 + (MAX_ISSUES_SHOWN + 1) * (PER_ISSUE + 400);

const idChar = fc.constantFrom('a', 'b', 'z', '0', '-', '_', ' ', '"', '\\', '\u001b', '[', '\u009b', '\u202e', '\u2066', '\n', '\u0000', 'é', '😀');
const id = fc.oneof(
  fc.string({ unit: idChar, minLength: 1, maxLength: 12 }),
  fc.string({ unit: idChar, minLength: 100, maxLength: 2_000 }),
);

interface Shape {
  groups: string[];
  instances: { id: string; refs: (number | string)[] }[];
}

const shape: fc.Arbitrary<Shape> = fc.record({
  groups: fc.array(id, { maxLength: 200 }),
  instances: fc.array(fc.record({ id, refs: fc.array(fc.oneof(fc.nat({ max: 250 }), id), { maxLength: 120 }) }), { minLength: 1, maxLength: 30 }),
});

function docOf(s: Shape): unknown {
  return {
    securityGroups: s.groups.map((g, i) => (i % 7 === 3 ? { id: g, inbound: [{ protocol: 'TCP', port: 'x', source: g, action: g }] } : { id: g })),
    instances: s.instances.map((inst) => ({ id: inst.id, securityGroups: inst.refs.map((r) => (typeof r === 'number' ? s.groups[r] ?? `missing-${r}` : r)) })),
  };
}

function checkError(e: unknown, inputSize: number): SgfilterError {
  expect(e).toBeInstanceOf(SgfilterError);
  const err = e as SgfilterError;
  expect(typeof err.code).toBe('string');
  checkIssues(err.issues, inputSize);
  expect(err.message.length, err.message.slice(0, 500)).toBeLessThanOrEqual(PER_MESSAGE);
  return err;
}

function checkIssues(issues: Issue[], inputSize: number): void {
  expect(issues.length).toBeLessThanOrEqual(MAX_ISSUES);
  let total = 0;
  for (const issue of issues) {
    const n = issue.message.length + (issue.allowed?.length ?? 0);
    expect(n, issue.message.slice(0, 300)).toBeLessThanOrEqual(PER_ISSUE);
    total += n;
  }
  // Linear in the input (each issue needs some of it), and bounded whatever it is.
  expect(total).toBeLessThanOrEqual(Math.min(PER_ISSUE * MAX_ISSUES, 1_000 + PER_ISSUE * inputSize));
  if (issues.length === MAX_ISSUES) expect(issues[MAX_ISSUES - 1]!.code).toBe('TOO_MANY_ISSUES');
}

describe(`error messages are bounded by what they show (seed ${SEED})`, () => {
  it('config validation: parseConfig, safeParseConfig and createEngine', async () => {
    await fc.assert(
      fc.asyncProperty(shape, async (s) => {
        const doc = docOf(s);
        const size = JSON.stringify(doc).length;
        const r = safeParseConfig(doc);
        if (r.success) return;
        checkIssues(r.issues, size);
        let thrown: unknown;
        try {
          parseConfig(doc, 'policy.yaml');
        } catch (e) {
          thrown = e;
        }
        const err = checkError(thrown, size);
        expect(err.code).toBe('CONFIG_INVALID');
        const viaEngine = await createEngine(doc as never).then(() => null, (e: unknown) => e);
        checkError(viaEngine, size);
      }),
      { seed: SEED, numRuns: Math.max(30, RUNS / 4) },
    );
  });

  it('update() edits naming groups and instances that do not exist', async () => {
    const engine = await createEngine({
      securityGroups: Array.from({ length: 300 }, (_, i) => ({ id: `group-number-${i}-${'x'.repeat(i % 50)}` })),
      instances: Array.from({ length: 50 }, (_, i) => ({ id: `instance-${i}`, securityGroups: [`group-number-${i}-${'x'.repeat(i % 50)}`] })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('bindGroup', 'unbindGroup', 'removeGroup', 'addRule', 'setGroupOrder', 'removeInstance'), id, id), { minLength: 1, maxLength: 400 }), async (list) => {
        const edits = list.map(([op, a, b]) => ({ op, instanceId: `instance-${a.length % 60}`, groupId: b, ...(op === 'addRule' ? { direction: 'inbound', rule: { protocol: a, source: b, action: 'accept' } } : {}), ...(op === 'setGroupOrder' ? { securityGroups: [a, b, a] } : {}) }));
        for (const e of edits) {
          if (e.op === 'removeGroup' || e.op === 'removeInstance') delete (e as { instanceId?: string }).instanceId;
          if (e.op === 'setGroupOrder' || e.op === 'removeInstance') delete (e as { groupId?: string }).groupId;
          if (e.op === 'removeInstance') (e as { instanceId?: string }).instanceId = list[0]![1];
        }
        const size = JSON.stringify(edits).length;
        const err = await engine.update(edits as never).then(() => null, (e: unknown) => e);
        if (err === null) return;
        checkError(err, size);
        expect(engine.version).toBe(1);
      }),
      { seed: SEED ^ 1, numRuns: Math.max(30, RUNS / 4) },
    );
  });

  it('config text: thousands of duplicate keys', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.boolean(), id, (n, yaml, key) => {
        const k = JSON.stringify(key);
        const text = yaml ? `${Array.from({ length: n + 1 }, () => `${k}: 1`).join('\n')}\n` : `{${Array.from({ length: n + 1 }, () => `${k}: 1`).join(',')}}`;
        let thrown: unknown;
        try {
          parseConfigText(text, yaml ? 'dup.yaml' : 'dup.json');
        } catch (e) {
          thrown = e;
        }
        const err = checkError(thrown, text.length);
        expect(err.code).toBe('CONFIG_PARSE');
        if (n >= MAX_ISSUES) expect(err.issues[MAX_ISSUES - 1]).toEqual(expect.objectContaining({ code: 'TOO_MANY_ISSUES', given: n }));
      }),
      { seed: SEED ^ 2, numRuns: Math.max(20, RUNS / 10) },
    );
  });

  it('the probe: 5,000 groups and 50,000 unknown references give a small error, quickly', () => {
    const doc = {
      securityGroups: Array.from({ length: 5000 }, (_, i) => ({ id: `group-number-${i}` })),
      instances: [{ id: 'i', securityGroups: Array.from({ length: 50_000 }, (_, i) => `x${i}`) }],
    };
    const t0 = performance.now();
    const err = checkError((() => { try { parseConfig(doc); } catch (e) { return e; } })(), JSON.stringify(doc).length);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(err.message).toMatch(/invalid config: 50,000 issues/);
    expect(err.message).toMatch(/… and 4,990 more/);
    expect(err.issues[MAX_ISSUES - 1]).toEqual(expect.objectContaining({ code: 'TOO_MANY_ISSUES', given: 50_000 }));
  });
});
