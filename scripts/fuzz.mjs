#!/usr/bin/env node
// `npm run fuzz`: the fuzz layer (every test file that imports test/fuzz/settings.ts:
// the end-to-end sessions and every other property test) for as long as asked, one
// round after another, each round with a fresh root seed, then the counts.
//
//   npm run fuzz                              10 minutes, CI runs per round
//   npm run fuzz -- --minutes 60              (or SGFILTER_FUZZ_MINUTES=60)
//   npm run fuzz -- --rounds 3 --scale 4      3 rounds of 4x the CI runs each
//   npm run fuzz -- --seed 1526644958         the first round's seed (then fresh ones)
//   npm run fuzz -- end-to-end address        only test files whose path contains these
//
// A round is `vitest run <files>` with SGFILTER_FUZZ_SEED, SGFILTER_FUZZ_SCALE and
// SGFILTER_FUZZ_COUNTS set: every property appends what it did to the counts file
// (test/fuzz/settings.ts), which this script sums. A round that fails prints each
// failure (fast-check's counterexample and the command that reproduces it with one
// seed) and the fuzzing goes on with the next seed; the exit status is 1 if any round
// failed. Rounds start while time is left, so the last one may end up to a round late.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

const { values: opts, positionals: filters } = parseArgs({
  allowPositionals: true,
  options: {
    minutes: { type: 'string' },
    rounds: { type: 'string' },
    scale: { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opts.help) {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
  console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

function positive(name, text) {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`fuzz: --${name} ${text}: not a positive number`);
    process.exit(2);
  }
  return n;
}
const minutesText = opts.minutes ?? process.env.SGFILTER_FUZZ_MINUTES;
const minutes = minutesText !== undefined ? positive('minutes', minutesText) : opts.rounds ? Infinity : 10;
const maxRounds = opts.rounds ? positive('rounds', opts.rounds) : Infinity;
const scale = positive('scale', opts.scale ?? process.env.SGFILTER_FUZZ_SCALE ?? '1');
let nextSeed = opts.seed !== undefined ? Number(opts.seed) : undefined;
if (nextSeed !== undefined && !Number.isSafeInteger(nextSeed)) {
  console.error(`fuzz: --seed ${opts.seed}: not an integer`);
  process.exit(2);
}

/** Test files in the fuzz layer: those that import test/fuzz/settings.ts. */
function fuzzFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts') && /from '[./]*(fuzz\/)?settings\.js'/.test(readFileSync(p, 'utf8'))) out.push(relative(root, p));
    }
  };
  walk(join(root, 'test'));
  return out.sort().filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
}

const files = fuzzFiles();
if (files.length === 0) {
  console.error(`fuzz: no test file of the fuzz layer matches ${filters.join(' ')}`);
  process.exit(2);
}
if (!existsSync(join(root, 'build', 'sgfilter.wasm'))) {
  console.error('fuzz: build/sgfilter.wasm is missing: run npm run build first');
  process.exit(2);
}

// ------------------------------------------------------------------ totals

const totals = {
  rounds: 0,
  failedRounds: [],
  properties: new Map(), // label -> { runs, failed }
  counts: new Map(),
  failures: [],
};

const fmt = (n) => n.toLocaleString('en-US');

function addRound(seed, lines) {
  for (const line of lines) {
    const p = totals.properties.get(line.label) ?? { runs: 0, failed: 0, ms: 0 };
    p.runs += line.runs;
    p.ms += line.ms ?? 0;
    if (line.failed) p.failed++;
    totals.properties.set(line.label, p);
    for (const [k, v] of Object.entries(line.counts ?? {})) totals.counts.set(k, (totals.counts.get(k) ?? 0) + v);
  }
}

function summary() {
  const cases = [...totals.properties.values()].reduce((n, p) => n + p.runs, 0);
  const out = [];
  out.push('');
  out.push(`fuzz: ${totals.rounds} round${totals.rounds === 1 ? '' : 's'} of ${files.length} test files, scale ${scale}: ${fmt(cases)} cases in ${totals.properties.size} properties, ${totals.failedRounds.length} round(s) failed`);
  const groups = new Map();
  for (const [k, v] of [...totals.counts].sort(([a], [b]) => a.localeCompare(b))) {
    const m = /^(refused|issue) (.*)$/.exec(k) ?? /^([^:]+): (.*)$/.exec(k);
    const [group, what] = m ? [m[1], m[2]] : ['', k];
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(`${what} ${fmt(v)}`);
  }
  const title = { refused: 'refused (by error code)', issue: 'issues (by issue code)', '': 'totals' };
  for (const [group, items] of groups) out.push(`  ${(title[group] ?? group).padEnd(24)} ${items.join(', ')}`);
  const ms = [...totals.properties.values()].reduce((n, p) => n + p.ms, 0);
  out.push(`  cases and seconds per property (${(ms / 1000).toFixed(1)} s in all, one after another; vitest runs files in parallel):`);
  for (const [label, p] of [...totals.properties].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`    ${fmt(p.runs).padStart(10)} ${(p.ms / 1000).toFixed(1).padStart(7)} s  ${label}${p.failed ? `  (failed ${p.failed}x)` : ''}`);
  }
  for (const f of totals.failures) {
    out.push('', `FAILED in round ${f.round} (SGFILTER_FUZZ_SEED=${f.seed}): ${f.test}`, f.message);
  }
  if (totals.failedRounds.length) out.push('', `failing seeds: ${totals.failedRounds.join(', ')}`);
  return out.join('\n');
}

// ------------------------------------------------------------------ rounds

let child = null;
let stopping = false;
process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  stopping = true;
  console.error('\nfuzz: interrupted; the round under way does not count');
  if (child) child.kill('SIGTERM');
});

function runRound(seed, dir) {
  const counts = join(dir, 'counts.jsonl');
  const report = join(dir, 'report.json');
  const env = { ...process.env, SGFILTER_FUZZ_SEED: String(seed), SGFILTER_FUZZ_SCALE: String(scale), SGFILTER_FUZZ_COUNTS: counts };
  delete env.CI; // the CI JSON reporter of vitest.config.ts: this script brings its own
  const timeout = String(Math.round(60_000 * Math.max(1, scale)));
  const args = [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files, '--reporter=json', `--outputFile=${report}`, `--testTimeout=${timeout}`, `--hookTimeout=${timeout}`];
  return new Promise((resolve) => {
    let log = '';
    child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // A test stuck in a synchronous loop outlives every vitest timeout: stop the round.
    let hung = false;
    const watchdog = setTimeout(() => {
      hung = true;
      child?.kill('SIGKILL');
    }, ROUND_LIMIT_MS);
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('close', (code, signal) => {
      child = null;
      clearTimeout(watchdog);
      if (hung) {
        const lines = existsSync(counts) ? readFileSync(counts, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
        const message = `the round ran past ${ROUND_LIMIT_MS / 60_000} minutes and was stopped: a hang, or a machine far busier than usual. ` +
          `Run the files one by one with SGFILTER_FUZZ_SEED=${seed}${scale === 1 ? '' : ` SGFILTER_FUZZ_SCALE=${scale}`} npx vitest run <file> to find it.`;
        resolve({ lines, failed: [{ test: '(round)', message }], interrupted: false });
        return;
      }
      const lines = existsSync(counts) ? readFileSync(counts, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
      let failed = [];
      const durations = new Map(); // "file > describe > test" -> ms
      try {
        const r = JSON.parse(readFileSync(report, 'utf8'));
        for (const file of r.testResults ?? []) {
          for (const t of file.assertionResults ?? []) durations.set([relative(root, file.name), ...(t.ancestorTitles ?? []), t.title].join(' > '), t.duration ?? 0);
          if (file.status === 'failed' && (file.assertionResults ?? []).every((t) => t.status !== 'failed')) {
            failed.push({ test: relative(root, file.name), message: file.message || '(the file failed outside its tests)' });
          }
          for (const t of file.assertionResults ?? []) {
            if (t.status !== 'failed') continue;
            const message = (t.failureMessages ?? []).join('\n');
            const reproduce = /reproduce: /.test(message) ? '' : `\nreproduce: SGFILTER_FUZZ_SEED=${seed}${scale === 1 ? '' : ` SGFILTER_FUZZ_SCALE=${scale}`} npx vitest run ${relative(root, file.name)} -t "${t.title.replace(/[.*+?^${}()|[\]\\"]/g, '\\$&')}"`;
            failed.push({ test: `${relative(root, file.name)} > ${t.fullName}`, message: `${message}${reproduce}` });
          }
        }
      } catch {
        if (!signal) failed.push({ test: '(vitest)', message: `no report (exit ${code}):\n${log.slice(-4000)}` });
      }
      if (code !== 0 && failed.length === 0 && !signal) failed.push({ test: '(vitest)', message: `exit ${code}:\n${log.slice(-4000)}` });
      // Each property's time: the duration of the test it ran in (a test with several properties: shared out by cases).
      const perTest = new Map();
      for (const l of lines) perTest.set(`${l.file} > ${l.test}`, (perTest.get(`${l.file} > ${l.test}`) ?? 0) + l.runs);
      for (const l of lines) l.ms = ((durations.get(`${l.file} > ${l.test}`) ?? 0) * l.runs) / Math.max(1, perTest.get(`${l.file} > ${l.test}`));
      resolve({ lines, failed, interrupted: signal !== null });
    });
  });
}

/** A round that takes this long is stopped and counted as failed (a CI round takes 1-2 minutes). */
const ROUND_LIMIT_MS = Math.round(15 * 60_000 * Math.max(1, scale));

const started = Date.now();
const deadline = started + minutes * 60_000;
console.log(`fuzz: ${files.length} test files (${files.map((f) => f.replace(/^test\//, '').replace(/\.test\.ts$/, '')).join(', ')})`);
console.log(`fuzz: ${Number.isFinite(maxRounds) ? `${maxRounds} round(s)` : `${minutes} minute(s)`}, scale ${scale}; Ctrl-C stops after printing the counts`);

while (!stopping && totals.rounds < maxRounds && (totals.rounds === 0 || Date.now() < deadline)) {
  const seed = nextSeed ?? randomInt(0, 2 ** 31);
  nextSeed = undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sgfilter-fuzz-'));
  const t0 = Date.now();
  const { lines, failed, interrupted } = await runRound(seed, dir);
  rmSync(dir, { recursive: true, force: true });
  if (interrupted || stopping) break;
  totals.rounds++;
  addRound(seed, lines);
  const cases = lines.reduce((n, l) => n + l.runs, 0);
  const flows = lines.reduce((n, l) => n + (l.counts?.['flows compared'] ?? 0), 0);
  const inProperties = lines.reduce((n, l) => n + (l.ms ?? 0), 0) / 1000;
  console.log(
    `round ${String(totals.rounds).padStart(3)}  seed ${String(seed).padStart(10)}  ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s  ` +
      `${fmt(cases)} cases, ${fmt(flows)} flows compared, ${inProperties.toFixed(0)} s in properties  ${failed.length ? `FAILED (${failed.length})` : 'ok'}`,
  );
  for (const l of lines) for (const e of l.events ?? []) console.log(`  ${l.label}: ${e}`);
  if (failed.length) {
    totals.failedRounds.push(seed);
    for (const f of failed) {
      totals.failures.push({ ...f, round: totals.rounds, seed });
      console.log(`\n  ${f.test}\n${f.message.split('\n').slice(0, 40).map((l) => `    ${l}`).join('\n')}\n`);
    }
  }
}

console.log(summary());
process.exit(totals.failedRounds.length ? 1 : stopping ? 130 : 0);
