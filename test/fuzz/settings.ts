/**
 * The one seed and the one budget of every property test in the suite (the fuzz
 * layer): fast-check properties, fc.sample draws and seeded generators alike.
 *
 *   SGFILTER_FUZZ_SEED   the root seed (decimal or 0x hex; default fixed, so CI is
 *                        reproducible). Each property derives its own seed from it and
 *                        its label, so properties do not share one random stream.
 *   SGFILTER_FUZZ_SCALE  runs, as a multiple of each property's CI runs (default 1;
 *                        0.2 for a quick pass, 10 for ten times as many cases).
 *   SGFILTER_FUZZ_COUNTS a file each finished property appends one JSON line to
 *                        (label, runs, failure, and the counts it kept with `count`):
 *                        what `npm run fuzz` (scripts/fuzz.mjs) reads and sums.
 *
 * A failing property prints the root seed and the command that runs it again, e.g.
 *   reproduce: SGFILTER_FUZZ_SEED=1510918366 npx vitest run test/address.test.ts -t "..."
 * (fast-check's own `{ seed, path }` above it is the derived seed: the root is what
 * to set).
 *
 * Using it, in a new property test (the packets tests, say):
 *   import { fuzzParams, fuzzSeed, fuzzRuns, fuzzTimeout } from './fuzz/settings.js';
 *   fc.assert(fc.property(arb, check), fuzzParams('packets: decode', 300));
 *   test.prop([arb], fuzzParams('packets: tracker', 100))('...', check, fuzzTimeout(60_000));
 *   fc.sample(arb, { seed: fuzzSeed('packets: fixtures'), numRuns: fuzzRuns(20) });
 *   const r = mulberry32(fuzzSeed('packets: differential'));  // seeded generators too,
 *   ... recordRun('packets: differential', cases);             // counted by hand
 * Labels are unique in the suite (they pick the seed and name the counts); `count(key)`
 * adds to what `npm run fuzz` prints for the running property. A test file that
 * imports this module is part of the fuzz layer: `npm run fuzz` runs it with fresh
 * seeds, round after round, and prints seconds per property. Choose CI runs so the
 * whole layer stays within its budget (about a minute of property tests on the 2-core
 * CI machine; README, Fuzzing).
 */
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';

/** Names earlier versions of these tests read; set, they would be silently ignored. */
const RENAMED: Record<string, string> = {
  FC_SEED: 'SGFILTER_FUZZ_SEED',
  SGFILTER_SEED: 'SGFILTER_FUZZ_SEED',
  FC_RUNS: 'SGFILTER_FUZZ_SCALE (a multiple of the CI runs)',
  SGFILTER_FUZZ_RUNS: 'SGFILTER_FUZZ_SCALE (a multiple of the CI runs)',
};
for (const [old, now] of Object.entries(RENAMED)) {
  if (process.env[old] !== undefined) throw new Error(`${old} is no longer read; set ${now}`);
}

function readSeed(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 0x5afec0de;
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) throw new Error(`SGFILTER_FUZZ_SEED=${text}: not an integer (decimal or 0x hex)`);
  return n;
}

function readScale(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 1;
  const n = Number(text.trim());
  if (!Number.isFinite(n) || n <= 0) throw new Error(`SGFILTER_FUZZ_SCALE=${text}: not a positive number`);
  return n;
}

/** The root seed of this run. */
export const FUZZ_SEED: number = readSeed(process.env.SGFILTER_FUZZ_SEED);
/** Runs, as a multiple of the CI runs. */
export const FUZZ_SCALE: number = readScale(process.env.SGFILTER_FUZZ_SCALE);
const COUNTS_FILE = process.env.SGFILTER_FUZZ_COUNTS || undefined;

/** The seed of the property (or generator) called `label`: the root seed mixed with the label (FNV-1a, then a finaliser). */
export function fuzzSeed(label: string): number {
  let h = (0x811c9dc5 ^ FUZZ_SEED ^ Math.floor(FUZZ_SEED / 2 ** 32)) >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** `ciRuns` scaled by SGFILTER_FUZZ_SCALE (at least 1). */
export function fuzzRuns(ciRuns: number): number {
  return Math.max(1, Math.round(ciRuns * FUZZ_SCALE));
}

/** A test timeout that grows with the runs (never below `ms`). */
export function fuzzTimeout(ms: number): number {
  return Math.round(ms * Math.max(1, FUZZ_SCALE));
}

/** The command that runs the current test again with this run's settings. */
export function reproduceCommand(): string {
  const state = expect.getState();
  const env = `SGFILTER_FUZZ_SEED=${FUZZ_SEED}${FUZZ_SCALE === 1 ? '' : ` SGFILTER_FUZZ_SCALE=${FUZZ_SCALE}`}`;
  const file = state.testPath ? relative(process.cwd(), state.testPath) : '<file>';
  const title = (state.currentTestName ?? '').split(' > ').pop() ?? '';
  const pattern = title.replace(/[.*+?^${}()|[\]\\"]/g, '\\$&');
  return `${env} npx vitest run ${file}${pattern ? ` -t "${pattern}"` : ''}`;
}

// ------------------------------------------------------------------ counts

const counts = new Map<string, number>();
const events: string[] = [];

/**
 * Adds `n` to the count `key` of the running property (e.g. 'refused CONFIG_INVALID',
 * 'flows compared'); `npm run fuzz` prints the sums. Cheap: a Map update.
 */
export function count(key: string, n = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + n);
}

/** Something `npm run fuzz` should print as it is (a slow step and its data, say); at most 20 per record. */
export function fuzzEvent(text: string): void {
  if (events.length < 20) events.push(text);
}

/**
 * Appends what a property (or a seeded loop) did to SGFILTER_FUZZ_COUNTS, with the
 * counts kept since the last record; nothing without that variable.
 */
export function recordRun(label: string, runs: number, failure?: string): void {
  if (!COUNTS_FILE) {
    counts.clear();
    events.length = 0;
    return;
  }
  const state = expect.getState();
  const line = {
    label,
    file: state.testPath ? relative(process.cwd(), state.testPath) : undefined,
    test: state.currentTestName,
    seed: FUZZ_SEED,
    scale: FUZZ_SCALE,
    runs,
    failed: failure !== undefined,
    failure,
    reproduce: failure !== undefined ? reproduceCommand() : undefined,
    counts: Object.fromEntries(counts),
    events: events.splice(0),
  };
  counts.clear();
  appendFileSync(COUNTS_FILE, `${JSON.stringify(line)}\n`);
}

// ------------------------------------------------------------------ fast-check parameters

/**
 * fast-check parameters for the property `label` (unique in the suite), run
 * `ciRuns` times in CI: the derived seed, the scaled runs, and a reporter that
 * records the run and, on a failure, adds the root seed and the command that
 * reproduces it to fast-check's report (counterexample, path, shrunk error).
 */
// `any`: the parameters fit a property of any value type (fast-check's Parameters<T> is invariant in T).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fuzzParams<T = any>(label: string, ciRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  return {
    seed: fuzzSeed(label),
    numRuns: fuzzRuns(ciRuns),
    ...extra,
    reporter: (details: fc.RunDetails<T>) => {
      if (!details.failed) {
        recordRun(label, details.numRuns);
        return;
      }
      // The error of the shrunk counterexample goes into the message too, not only into
      // `cause`: reports that keep messages only (vitest's JSON, npm run fuzz) show it.
      const error = details.errorInstance as Error | undefined;
      const got = String(error?.stack ?? error).split('\n').slice(0, 12).join('\n');
      const report = `${fc.defaultReportMessage(details) ?? 'property failed'}\n\nGot ${got}`;
      const reproduce = `reproduce: ${reproduceCommand()}`;
      recordRun(label, details.numRuns, `${report}\n${reproduce}`);
      throw new Error(`${report}\n\n${reproduce}\n(root seed ${FUZZ_SEED}; fast-check's seed above is derived from it and "${label}")`, {
        cause: details.errorInstance,
      });
    },
  };
}
