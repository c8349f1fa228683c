/**
 * The fuzz layer end to end (issue 9): attacker sessions that string the library's
 * surfaces together (test/fuzz/surfaces/): an engine made from a generated config,
 * then, in any order, configs loaded through every door (native, Terraform, Tencent;
 * objects, JSON and YAML text; mutated fields and values, prototype names, JS-only
 * values), update() edits, flows in every address spelling singly and in batches,
 * and snapshots mutated and loaded, keyed and not. After every step: the outcome is a
 * coded refusal that changed nothing, or an acceptance after which the engine
 * classifies generated flows exactly as referenceClassify does; and Object.prototype
 * and every other built-in are unchanged.
 *
 * Seed and runs: test/fuzz/settings.ts (SGFILTER_FUZZ_SEED, SGFILTER_FUZZ_SCALE);
 * `npm run fuzz` runs it, with the rest of the fuzz layer, for as long as asked.
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { closeCompileWorker } from '../../src/index.js';
import { expectNoPoisoning, restoreRunnerGlobals } from './poisoning.js';
import { note, seen, startSession } from './session.js';
import { FUZZ_SEED, fuzzEvent, fuzzParams, fuzzRuns, fuzzTimeout } from './settings.js';
import { SURFACES } from './surfaces/index.js';

/** Sessions per CI run (about 15 s on the shared 2-core CI machine). */
const SESSIONS = 500;
/** A step this slow is reported by npm run fuzz (most take a few milliseconds). */
const SLOW_STEP_MS = 5000;

const step = fc.oneof(...SURFACES.map((s) => ({ weight: s.weight, arbitrary: s.arbitrary.map((data: object) => ({ surface: s.name, ...data })) })));
const bySurface = new Map(SURFACES.map((s) => [s.name, s]));

afterAll(async () => {
  restoreRunnerGlobals();
  await closeCompileWorker();
});

describe(`the fuzz layer, end to end (seed ${FUZZ_SEED})`, () => {
  test.prop([fc.integer(), fc.array(step, { minLength: 1, maxLength: 6 })], fuzzParams('end-to-end: attacker sessions', SESSIONS))(
    'attacker sessions: every step is a coded refusal that changes nothing, or classifies as the reference',
    async (start, steps) => {
      try {
        const s = await startSession(start);
        for (const { surface, ...data } of steps) {
          const t0 = performance.now();
          await bySurface.get(surface)!.run(s, data);
          const ms = performance.now() - t0;
          if (ms > SLOW_STEP_MS) {
            // Not a failure (the machine is shared): npm run fuzz prints it, with the data to run it again.
            note(`slow steps: ${surface}`);
            fuzzEvent(`slow step (${Math.round(ms)} ms) in a session from ${start}: ${fc.stringify({ surface, ...data }).slice(0, 2000)}`);
          }
          expect(s.engine.version, `after a ${surface} step the engine's version is not the model's`).toBe(s.version);
          expectNoPoisoning();
        }
      } finally {
        expectNoPoisoning();
      }
    },
    fuzzTimeout(300_000),
  );

  // Each outcome happened, or the sessions tested less than they say (counts of the property above).
  it.runIf(fuzzRuns(SESSIONS) >= SESSIONS)('the sessions reached every outcome', () => {
    for (const key of ['config: accepted', 'config: refused', 'config: file', 'config: worker file', 'edits: accepted', 'edits: refused', 'snapshots: loaded', 'snapshots: refused', 'keyed: changed, refused', 'flows: hostile field']) {
      expect(seen(key), `no step ended "${key}"`).toBeGreaterThan(0);
    }
    expect(seen('refused FLOW_INVALID')).toBeGreaterThan(0);
    expect(seen('refused CONFIG_PARSE')).toBeGreaterThan(0);
    expect(seen('flows compared')).toBeGreaterThan(SESSIONS * 100);
  });
});
