// The WASM engine against the reference matcher on random configs and edge flows.
// Seeded generators (test/random.ts) under the suite's one seed and scale (test/fuzz/settings.ts).
import { describe, expect, it } from 'vitest';
import { compilePolicy, createEngine, createFlowBatch, parseConfig, parseFlow, referenceClassify } from '../src/index.js';
import * as L from '../assembly/layout.js';
import type { ConfigInput } from '../src/index.js';
import { mulberry32, randomConfig, randomFlows } from './random.js';
import { count, FUZZ_SEED, fuzzRuns, fuzzSeed, fuzzTimeout, recordRun, reproduceCommand } from './fuzz/settings.js';

const CONFIGS = fuzzRuns(200);
const FLOWS_PER_CONFIG = 500;

describe(`differential: WASM engine vs reference (seed ${FUZZ_SEED})`, () => {
  it(`agrees on ${CONFIGS} random configs × ${FLOWS_PER_CONFIG} flows`, async () => {
    const r = mulberry32(fuzzSeed('differential: random configs'));
    let engine: Awaited<ReturnType<typeof createEngine>> | undefined;
    let total = 0;
    const mismatches: string[] = [];
    for (let c = 0; c < CONFIGS; c++) {
      const doc = randomConfig(r);
      const config = parseConfig(doc);
      // One engine, reloaded per config: also exercises publish/free of tables.
      if (!engine) engine = await createEngine(config);
      else await engine.reload(config);
      const inputs = randomFlows(r, config, FLOWS_PER_CONFIG);
      const batch = createFlowBatch(inputs);
      const actions = engine.classifyBatch(batch);
      inputs.forEach((f, i) => {
        const want = referenceClassify(config, parseFlow(f));
        const got = batch.verdict(i);
        if (JSON.stringify(want) !== JSON.stringify(got) || actions[i] !== (want.action === 'accept' ? 1 : 0)) {
          if (mismatches.length < 5) {
            mismatches.push(`config ${c}: ${JSON.stringify(doc)}\nflow ${JSON.stringify(f)}\nwant ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
          }
        }
      });
      // The single-flow path too, on a sample.
      for (const f of inputs.slice(0, 20)) {
        expect(engine.classify(f)).toEqual(referenceClassify(config, parseFlow(f)));
      }
      total += inputs.length;
    }
    expect(mismatches, `${mismatches.join('\n\n')}\nreproduce: ${reproduceCommand()}`).toEqual([]);
    expect(total).toBe(CONFIGS * FLOWS_PER_CONFIG);
    count('flows compared', total);
    recordRun('differential: random configs', CONFIGS);
  }, fuzzTimeout(120_000));
});

describe(`differential at scale (seed ${FUZZ_SEED})`, () => {
  it('agrees on configs with multi-word bitmaps and summaries (up to ~6,000 boxes)', async () => {
    const r = mulberry32(fuzzSeed('differential: configs at scale'));
    const rounds = fuzzRuns(1);
    for (const maxRules of Array.from({ length: rounds }, () => [40, 200, 1500]).flat()) {
      const doc = randomConfig(r, maxRules);
      const config = parseConfig(doc);
      const engine = await createEngine(config);
      const inputs = randomFlows(r, config, 4000);
      count('flows compared', inputs.length);
      const batch = createFlowBatch(inputs);
      engine.classifyBatch(batch);
      const bad = inputs.flatMap((f, i) => {
        const want = referenceClassify(config, parseFlow(f));
        return JSON.stringify(want) === JSON.stringify(batch.verdict(i)) ? [] : [{ f, want, got: batch.verdict(i) }];
      });
      expect(bad.slice(0, 3), `reproduce: ${reproduceCommand()}`).toEqual([]);
    }
    recordRun('differential: configs at scale', rounds * 3);
  }, fuzzTimeout(120_000));
});

/** Form (layout.ts CLS_FORM_*) and consulted dimensions of the table's top-level classifiers that consult one. */
function formsOf(bytes: Uint8Array): { form: number; dims: number }[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dir = v.getUint32(L.TABLE_DIRECTORY_AT, true);
  const popcount = (x: number) => x.toString(2).replaceAll('0', '').length;
  return Array.from({ length: v.getUint32(L.TABLE_CLASSIFIERS_AT, true) }, (_, i) => v.getUint32(dir + 4 * i, true))
    .filter((c) => v.getUint32(c + L.CLS_DIMMASK_AT, true) !== 0)
    .map((c) => ({ form: v.getUint32(c + L.CLS_DENSE_AT, true), dims: popcount(v.getUint32(c + L.CLS_DIMMASK_AT, true)) }));
}

/** `doc` without ICMP type/code matches (so no classifier consults the ICMP dimensions). */
function withoutIcmpFields(doc: ConfigInput): ConfigInput {
  const keep = (x: unknown) => {
    if (typeof x === 'string') return !/icmp|ping/i.test(x);
    const rule = x as Record<string, unknown>;
    return rule.icmpType === undefined && rule.icmpCode === undefined && !/^ping/i.test(String(rule.type ?? ''));
  };
  return { ...doc, securityGroups: doc.securityGroups.map((g) => ({ ...g, inbound: g.inbound?.filter(keep), outbound: g.outbound?.filter(keep) })) };
}

describe(`differential past the flat form (seed ${FUZZ_SEED})`, () => {
  it('agrees on a classifier of more than FLAT_MAX_WORDS words (three-level aggregated bit vectors) and on flat ones', async () => {
    // Up to 256 bitmap words a classifier is FLAT; past it the lookup takes the
    // three-level path (firstBox4/5 or the loop past five dimensions): both are compared.
    const r = mulberry32(fuzzSeed('differential: past the flat form'));
    // The three-level path has straight-line code for up to five dimensions and a loop
    // past them (the ICMP fields): a config without ICMP fields takes the first.
    const cases = [
      { want: L.CLS_FORM_AGGREGATED, maxRules: 12000, strip: false, fits: (_dims: number) => true },
      { want: L.CLS_FORM_AGGREGATED, maxRules: 12000, strip: true, fits: (dims: number) => dims <= 5 },
      { want: L.CLS_FORM_FLAT, maxRules: 2500, strip: false, fits: (_dims: number) => true },
    ];
    for (const { want, maxRules, strip, fits } of cases) {
      // Random configs until one compiles to a classifier of that form (a merged list
      // past 16,384 boxes is likely, not certain, at 12,000 rules per group and direction).
      let found = false;
      for (let attempt = 0; attempt < 20 && !found; attempt++) {
        const doc = randomConfig(r, maxRules);
        const config = parseConfig(strip ? withoutIcmpFields(doc) : doc);
        if (!formsOf(compilePolicy(config).bytes).some((x) => x.form === want && fits(x.dims))) continue;
        found = true;
        const engine = await createEngine(config);
        const inputs = randomFlows(r, config, 300);
        count('flows compared', inputs.length);
        const batch = createFlowBatch(inputs);
        engine.classifyBatch(batch);
        const bad = inputs.flatMap((f, i) => {
          const want = referenceClassify(config, parseFlow(f));
          return JSON.stringify(want) === JSON.stringify(batch.verdict(i)) ? [] : [{ f, want, got: batch.verdict(i) }];
        });
        expect(bad.slice(0, 3), `reproduce: ${reproduceCommand()}`).toEqual([]);
      }
      expect(found, `a random config with a classifier of form ${want}${strip ? ' and at most five dimensions' : ''}`).toBe(true);
    }
    recordRun('differential: past the flat form', 1);
  }, fuzzTimeout(240_000));
});

describe(`differential with partitioned classifiers (seed ${FUZZ_SEED})`, () => {
  it('agrees when every big classifier is cut into parts by address openness (partitionMinBytes 0)', async () => {
    const r = mulberry32(fuzzSeed('differential: partitioned classifiers'));
    let parted = 0;
    // Random configs until two had a classifier cut (a merged list of > 2,048 boxes whose
    // peers differ in openness); every one is checked.
    for (let attempt = 0; attempt < 16 && parted < 2; attempt++) {
      const doc = randomConfig(r, 2500);
      const config = parseConfig(doc);
      const engine = await createEngine(config, { partitionMinBytes: 0 });
      const whole = await createEngine(config, { partitionMinBytes: Number.MAX_SAFE_INTEGER });
      // Parts write a part list and per-part records: the table differs when some classifier was cut.
      if (engine.stats.total !== whole.stats.total) parted++;
      const inputs = randomFlows(r, config, 4000);
      const batch = createFlowBatch(inputs);
      engine.classifyBatch(batch);
      const bad = inputs.flatMap((f, i) => {
        const want = referenceClassify(config, parseFlow(f));
        return JSON.stringify(want) === JSON.stringify(batch.verdict(i)) ? [] : [{ f, want, got: batch.verdict(i) }];
      });
      expect(bad.slice(0, 3)).toEqual([]);
    }
    expect(parted, 'classifiers were partitioned').toBe(2);
  }, 120_000);
});

describe(`differential with group chains (seed ${FUZZ_SEED})`, () => {
  it('agrees when every group is compiled alone and instances chain them (mergeMaxOrders 0)', async () => {
    const r = mulberry32(fuzzSeed('differential: group chains'));
    const configs = fuzzRuns(60);
    for (let c = 0; c < configs; c++) {
      const config = parseConfig(randomConfig(r));
      const engine = await createEngine(config, { mergeMaxOrders: 0 });
      const inputs = randomFlows(r, config, 500);
      count('flows compared', inputs.length);
      const batch = createFlowBatch(inputs);
      engine.classifyBatch(batch);
      const bad = inputs.flatMap((f, i) => {
        const want = referenceClassify(config, parseFlow(f));
        return JSON.stringify(want) === JSON.stringify(batch.verdict(i)) ? [] : [{ config: c, f, want, got: batch.verdict(i) }];
      });
      expect(bad.slice(0, 3), `reproduce: ${reproduceCommand()}`).toEqual([]);
    }
    recordRun('differential: group chains', configs);
  }, fuzzTimeout(120_000));
});
