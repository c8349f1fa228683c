// The WASM tracker (decode + conntrack + classify) against the independent model of
// test/packet-model.ts, on generated packet sequences (test/packet-scenarios.ts).
// Every packet's action, reason and deciding rule must agree, and after every batch
// the tracked connections (key, state, expiry), the counts and the rule hits.
import { describe } from 'vitest';
import { test } from '@fast-check/vitest';
import type { Engine } from '../src/index.js';
import { runScenario, scenarioArb, type Scenario } from './packet-run.js';
import { fuzzSeed } from './fuzz/settings.js';

// One root seed for the suite (test/fuzz/settings.ts: SGFILTER_FUZZ_SEED, fixed by default so CI is reproducible).
const SEED = fuzzSeed('packets: differential');
const RUNS = Number(process.env.SGFILTER_PACKET_RUNS ?? 1000);

describe(`packet path: WASM tracker vs the independent model (seed ${SEED})`, () => {
  const cache: { engine?: Engine } = {};
  test.prop([scenarioArb], { seed: SEED, numRuns: RUNS, endOnFailure: !!process.env.SGFILTER_NO_SHRINK })(
    'same verdict, reason and rule for every packet; same connections, counts and rule hits after every batch',
    async (s) => {
      await runScenario(s as Scenario, cache);
    },
    300_000,
  );

  test.prop([scenarioArb.map((s) => ({ ...s, specs: Array.from({ length: 30 }, () => s.specs).flat() }))], { seed: SEED ^ 0x51de, numRuns: Math.ceil(RUNS / 10) })(
    'long sequences cross the WASM chunk boundary (1,024 packets) with state carried over',
    async (s) => {
      await runScenario({ ...(s as Scenario), cuts: [] }, cache);
    },
    300_000,
  );
});
