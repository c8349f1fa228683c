/** `sgfilter classbench`: check and time the engine on a ClassBench filter set and trace. */
import type { Command } from 'commander';
import { basename } from 'node:path';
import { createEngine, parseClassBench, parseClassBenchTrace } from '../index.js';
import { nodeWasmBytes } from '../wasm/node.js';
import { SgfilterError } from '../errors.js';
import { CliError, count, displayPath, grouped, median, readTextFile, writeLines } from './shared.js';
import { writeUserFile } from './output.js';
import { Progress, progressWanted } from './progress.js';

/** classbench: at most this many mismatching trace lines are listed. */
const MAX_MISMATCHES_SHOWN = 10;
/** classbench: untimed warm-up runs, then timed runs (the median is reported). */
const BENCH_WARMUP_RUNS = 3;
const BENCH_TIMED_RUNS = 9;
/** classbench: a timed run repeats a short trace until it covers at least this many lookups. */
const BENCH_MIN_LOOKUPS_PER_RUN = 100_000;

/**
 * For each trace entry (the parser skips blank lines the same way): its 1-based line
 * number in the file, and whether it has the 6th column (the expected rule).
 */
function traceLines(text: string): { lineNo: number[]; hasExpected: boolean[] } {
  const lineNo: number[] = [];
  const hasExpected: boolean[] = [];
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (t === '') return;
    lineNo.push(i + 1);
    hasExpected.push(t.split(/\s+/).length === 6);
  });
  return { lineNo, hasExpected };
}

/**
 * Runs a ClassBench filter set against its header trace: the rule the engine chooses
 * for each trace line (1-based, 0 for none) against the trace's 6th column, and the
 * median lookup time over several runs of the whole trace. A line without a 6th
 * column expects nothing and is not counted as a mismatch, whatever rule matches.
 */
async function classbenchCommand(filtersPath: string, tracePath: string, opts: { out?: string; progress?: boolean }): Promise<void> {
  const progress = Progress.create('classbench', progressWanted(opts));
  try {
    await classbench(filtersPath, tracePath, opts, progress);
  } finally {
    progress.stop();
  }
}

async function classbench(filtersPath: string, tracePath: string, opts: { out?: string }, progress: Progress): Promise<void> {
  // Steps: read, parse, compile, each warm-up and timed run, compare (and write).
  const runs = BENCH_WARMUP_RUNS + BENCH_TIMED_RUNS;
  const steps = 4 + runs + (opts.out !== undefined ? 1 : 0);
  let step = 0;
  progress.start(steps, { phase: 'reading' });
  // Both files are read before either is reported, so two bad paths are said together.
  const [filterRead, traceRead] = await Promise.allSettled([readTextFile(filtersPath, 'filter set', true), readTextFile(tracePath, 'trace')]);
  const unreadable = [filterRead, traceRead].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (unreadable.length > 0) {
    if (!unreadable.every((e) => e instanceof CliError)) throw unreadable.find((e) => !(e instanceof CliError));
    throw new CliError(unreadable.map((e) => (e as CliError).message).join('\n'));
  }
  const filterText = (filterRead as PromiseFulfilledResult<string>).value;
  const traceText = (traceRead as PromiseFulfilledResult<string>).value;
  progress.phase(++step, 'parsing');
  // Parse both files first, so a bad filter set and a bad trace are reported together.
  const errors: string[] = [];
  const parse = <T>(fn: () => T, path: string): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SgfilterError && (e.code === 'CONFIG_INVALID' || e.code === 'FLOW_INVALID')) {
        errors.push(`error: ${path}: ${e.message}`);
        return undefined;
      }
      throw e;
    }
  };
  const config = parse(() => parseClassBench(filterText), filtersPath);
  const trace = parse(() => parseClassBenchTrace(traceText), tracePath);
  if (!config || !trace) throw new CliError(errors.join('\n'));
  const { batch, expected } = trace;
  const n = batch.length;
  const { lineNo, hasExpected } = traceLines(traceText);
  const rules = config.securityGroups[0]!.inbound.length;

  // Compile (the WASM module is compiled beforehand, so this is the policy's compile and load).
  progress.phase(++step, `compiling ${count(rules, 'rule')}`);
  const wasm = await WebAssembly.compile(await nodeWasmBytes());
  const t0 = process.hrtime.bigint();
  const engine = await createEngine(config, { wasm });
  const compileMs = Number(process.hrtime.bigint() - t0) / 1e6;

  // Lookup time: warm up, then time whole-trace runs (a short trace is repeated within a run).
  const actions = new Uint8Array(n);
  const reps = n === 0 ? 1 : Math.max(1, Math.ceil(BENCH_MIN_LOOKUPS_PER_RUN / n));
  progress.phase(++step, `timing ${count(n, 'lookup')}`);
  for (let i = 0; i < BENCH_WARMUP_RUNS; i++) {
    engine.classifyBatch(batch, actions);
    progress.update(++step, { phase: `warm-up run ${i + 1} of ${BENCH_WARMUP_RUNS}` });
  }
  const samples: number[] = [];
  for (let r = 0; r < BENCH_TIMED_RUNS; r++) {
    const start = process.hrtime.bigint();
    for (let k = 0; k < reps; k++) engine.classifyBatch(batch, actions);
    samples.push(Number(process.hrtime.bigint() - start) / (reps * Math.max(1, n)));
    // Between runs, outside the timed span: the bar is redrawn at most every 100 ms.
    progress.update(++step, { phase: `timed run ${r + 1} of ${BENCH_TIMED_RUNS}` });
  }
  progress.phase(++step, 'comparing');
  const nsPerLookup = median(samples);

  // Compare: rule ids are global ids, and the set is one group with inbound rules only,
  // so id + 1 is the 1-based rule number; -1 (no rule) becomes 0.
  const chosen = new Int32Array(n);
  const mismatches: string[] = [];
  let mismatchCount = 0;
  let unchecked = 0;
  const ruleIds = batch.ruleIds; // a copy: read it once
  for (let i = 0; i < n; i++) {
    chosen[i] = ruleIds[i]! + 1;
    if (!hasExpected[i]) {
      unchecked++;
      continue;
    }
    if (chosen[i] !== expected[i]) {
      mismatchCount++;
      if (mismatches.length < MAX_MISMATCHES_SHOWN) mismatches.push(`  line ${lineNo[i]}: chosen rule ${chosen[i]}, trace expects ${expected[i]}`);
    }
  }

  if (opts.out !== undefined) {
    progress.phase(++step, `writing ${displayPath(opts.out)}`);
    await writeUserFile(opts.out, n === 0 ? '' : `${Array.from(chosen).join('\n')}\n`, '--out');
  }
  progress.stop();

  const stats = engine.stats;
  const checked = n - unchecked;
  const out: string[] = [
    `sgfilter classbench: ${basename(filtersPath)} (${count(rules, 'rule')}), ${basename(tracePath)} (${count(n, 'trace line')})`,
    `  filters: ${displayPath(filtersPath)}`,
    `  trace:   ${displayPath(tracePath)}`,
    `  compile: ${compileMs.toFixed(1)} ms, table ${grouped(stats.total)} bytes (bitmaps ${grouped(stats.bitmaps)}, tries ${grouped(stats.tries)}, intervals ${grouped(stats.intervals)})`,
    `  lookup:  ${n === 0 ? 'n/a (empty trace)' : `${nsPerLookup.toFixed(1)} ns/lookup (median of ${BENCH_TIMED_RUNS} timed runs of ${reps === 1 ? 'the trace' : `the trace ×${reps}`}, after ${BENCH_WARMUP_RUNS} warm-up runs)`}`,
    `  result:  ${count(mismatchCount, 'mismatch', 'mismatches')} in ${count(checked, 'checked line')}${unchecked ? ` (${grouped(unchecked)} without an expected rule, not checked)` : ''}`,
    ...mismatches,
  ];
  if (mismatchCount > mismatches.length) out.push(`  ... and ${grouped(mismatchCount - mismatches.length)} more`);
  if (opts.out !== undefined) out.push(`  chosen rules written to ${displayPath(opts.out)} (one line per trace line, 0 = no rule)`);
  writeLines(out);
  if (mismatchCount > 0) {
    throw new CliError(`error: ${count(mismatchCount, 'mismatch', 'mismatches')} between the engine and ${basename(tracePath)}`);
  }
}

/** Adds the `classbench` command to `program`. */
export function register(program: Command): void {
  program
    .command('classbench')
    .description(
      'classify a ClassBench header trace against its filter set: compare each line\'s chosen rule with the trace\'s ' +
        'expected rule (6th column; lines without one are not checked) and report compile time, table bytes and ns/lookup',
    )
    .argument('<filters>', 'ClassBench filter set (one "@src dst sp : sp dp : dp 0xPP/0xMM" rule per line)')
    .argument('<trace>', 'ClassBench header trace ("src dst sport dport proto [rule]" per line)')
    .option('--out <file>', 'write the 1-based rule chosen for each trace line (0 = none), one per line')
    .option('--no-progress', 'no progress bar (one is drawn on stderr only when it is a terminal)')
    .action(classbenchCommand);
}
