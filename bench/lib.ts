/**
 * Shared helpers of the benchmarks: one benny suite per measurement with ns per
 * item (median of benny's samples ÷ items per call), medians of repeated compile
 * timings, the machine description every results file carries, and the paths.
 *
 * Every bench writes bench/results/<name>.json (gitignored); bench/report.ts turns
 * the JSON into BENCHMARKS tables. Tracked files (benny's charts in bench/charts/,
 * BENCHMARKS.md) are written only when asked: SGFILTER_BENCH_WRITE=1
 * (`npm run bench:write`), so a plain `npm run bench` leaves the checkout clean.
 */
import b from 'benny';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const RESULTS_DIR = `${BENCH_DIR}results/`;
export const CHARTS_DIR = `${BENCH_DIR}charts/`;
/**
 * ClassBench sets: SGFILTER_CLASSBENCH_DIR, else $SGFILTER_DATA/classbench (as the tests
 * read it), else ../shared/data/classbench beside the repository.
 */
export const CLASSBENCH_DIR =
  process.env.SGFILTER_CLASSBENCH_DIR ??
  (process.env.SGFILTER_DATA ? `${process.env.SGFILTER_DATA.replace(/\/$/, '')}/classbench/` : fileURLToPath(new URL('../../shared/data/classbench/', import.meta.url)));

/** The 100K-rule sets (gzip), found like CLASSBENCH_DIR: SGFILTER_CLASSBENCH_100K_DIR, $SGFILTER_DATA/classbench-100k, ../shared/data/classbench-100k. */
export const CLASSBENCH_100K_DIR =
  process.env.SGFILTER_CLASSBENCH_100K_DIR ??
  (process.env.SGFILTER_DATA ? `${process.env.SGFILTER_DATA.replace(/\/$/, '')}/classbench-100k/` : fileURLToPath(new URL('../../shared/data/classbench-100k/', import.meta.url)));

/** SGFILTER_BENCH_WRITE=1: also write the tracked charts and BENCHMARKS.md section. */
export const WRITE = process.env.SGFILTER_BENCH_WRITE === '1';

/** SGFILTER_BENCH_QUICK=1: fewer samples and compile runs, for a smoke run. */
export const QUICK = !!process.env.SGFILTER_BENCH_QUICK;

export interface Machine {
  cpu: string;
  cores: number;
  memGiB: number;
  node: string;
  v8: string;
  platform: string;
  date: string;
  /** Commit of the engine measured, "+dirty" when src/ or assembly/ had local changes. */
  commit: string;
}

function commit(): string {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: BENCH_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--', '../src', '../assembly') ? '+dirty' : '');
  } catch {
    return 'unknown';
  }
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    commit: commit(),
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `runs` times and returns the median and all timings in ms. */
export function timeRuns<T>(runs: number, fn: () => T): { medianMs: number; runsMs: number[]; last: T } {
  const runsMs: number[] = [];
  let last!: T;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = fn();
    runsMs.push(performance.now() - t0);
  }
  return { medianMs: median(runsMs), runsMs, last };
}

/** Like timeRuns, but stops repeating once `budgetMs` is spent (slow compiles run once). */
export function timeRunsWithin<T>(maxRuns: number, budgetMs: number, fn: () => T): { medianMs: number; runsMs: number[]; last: T } {
  const runsMs: number[] = [];
  let last!: T;
  let spent = 0;
  do {
    const t0 = performance.now();
    last = fn();
    runsMs.push(performance.now() - t0);
    spent += runsMs[runsMs.length - 1]!;
  } while (runsMs.length < maxRuns && spent < budgetMs);
  return { medianMs: median(runsMs), runsMs, last };
}

export interface Case {
  name: string;
  /** Items (flows, lookups) one call of `fn` handles. */
  perCall: number;
  fn: () => void;
}

export interface CaseResult {
  name: string;
  perCall: number;
  /** Median seconds per call × 1e9 ÷ perCall. */
  nsPerItem: number;
  /** benny's relative margin of error, percent. */
  rme: number;
  samples: number;
}

/**
 * One benny suite: each case timed on its own, same process, same run, so their
 * ratios are meaningful even on shared cores. With WRITE, saves benny's chart.html
 * as bench/charts/<chart>.chart.html (a stable name: re-runs overwrite it).
 */
export async function suite(title: string, chart: string, cases: Case[], opts: { minSamples?: number; maxTime?: number } = {}): Promise<CaseResult[]> {
  const minSamples = QUICK ? 5 : (opts.minSamples ?? 15);
  const maxTime = QUICK ? 0.5 : (opts.maxTime ?? 2);
  if (WRITE) mkdirSync(CHARTS_DIR, { recursive: true });
  const summary = await b.suite(
    title,
    b.configure({ cases: { minSamples, maxTime } }),
    ...cases.map((c) => b.add(c.name, c.fn)),
    b.cycle(),
    ...(WRITE ? [b.save({ file: chart, folder: CHARTS_DIR, format: 'chart.html' })] : []),
  );
  return summary.results.map((r, i) => ({
    name: cases[i]!.name,
    perCall: cases[i]!.perCall,
    nsPerItem: (r.details.median * 1e9) / cases[i]!.perCall,
    rme: r.details.relativeMarginOfError,
    samples: r.samples,
  }));
}

export function writeResults(name: string, data: object): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = `${RESULTS_DIR}${name}.json`;
  writeFileSync(path, JSON.stringify({ machine: machine(), ...data }, null, 2) + '\n');
  console.log(`\nwrote ${path}`);
  return path;
}

export function readResults<T>(name: string): T | null {
  const path = `${RESULTS_DIR}${name}.json`;
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
}

/** A plain text table, columns right-aligned except the first. */
export function textTable(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n');
}

export const fmtNs = (ns: number): string => (ns >= 1e5 ? ns.toExponential(2) : ns >= 100 ? ns.toFixed(0) : ns.toFixed(1));
export const fmtX = (x: number): string => (x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`);
/** A figure, or '–' when it was not measured. */
export const dash = (x: number | undefined, f: (n: number) => string = fmtNs): string => (x === undefined ? '–' : f(x));
export const fmtBytes = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);

/** bench/results/dpdk-acl.json, written by bench/dpdk-acl.mjs. */
export interface DpdkResults {
  machine: { cpu: string; cores: number; date: string };
  tool: { binary: string; dpdkVersion: string | null; eal: string[]; runs: number; iter: number; algs: string[]; unsupported: { alg: string; why: string }[] };
  sets: Record<string, {
    rules: number;
    traceLines: number;
    mismatches: number;
    tableBytes: number | null;
    buildBytes: number | null;
    algs: Record<string, { nsBest: number; nsMedian: number; cyclesPerPktBest: number; tscHz: number; runsNs: number[] }>;
  }>;
}
