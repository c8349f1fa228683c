/**
 * ClassBench (acl1, fw1, ipc1 at 1K and 10K rules; 100 and 5K with --all): the
 * standard first-match benchmark, on the very files `bench/dpdk-acl.mjs` gives to
 * DPDK's rte_acl.
 *
 * Per set: parse, compile (compilePolicy, median of several runs), table bytes by
 * structure; then every trace line through classifyBatch is checked against the
 * rule the trace names (and the naive scan too) before anything is timed. Timed
 * side by side in one benny suite:
 *   - sgfilter   engine.classifyBatch(batch, out) on the whole trace;
 *   - naive JS   a plain first-match loop over the rules as numbers in a typed array
 *                (the "naive JS" of issue #3), on an evenly spaced sample of the trace;
 *   - reference  referenceClassify (the bigint oracle) on a smaller sample.
 * ns/lookup = benny's median seconds per call × 1e9 ÷ lookups per call. rte_acl
 * figures come from bench/results/dpdk-acl.json when `npm run bench:dpdk` ran.
 *
 *   npm run bench:classbench [-- --all | set ...]      SGFILTER_BENCH_QUICK=1 for a short run
 */
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { compilePolicy, createEngine, parseClassBench, parseClassBenchTrace, referenceClassify } from '../src/index.js';
import { CLASSBENCH_100K_DIR, CLASSBENCH_DIR, QUICK, fmtBytes, fmtNs, fmtX, readResults, suite, textTable, timeRuns, writeResults, type DpdkResults } from './lib.js';

const args = process.argv.slice(2);
const FAMILIES = ['acl1', 'fw1', 'ipc1'];
const SIZES = args.includes('--all') ? ['100', '1K', '5K', '10K'] : ['1K', '10K'];
/** The 100K-rule sets (ClassBench's generator, ../shared/data/classbench-100k), run by default. */
const SETS_100K = ['acl2_100K', 'fw3_100K', 'ipc2_100K'];
const sets = args.filter((a) => !a.startsWith('--')).length
  ? args.filter((a) => !a.startsWith('--'))
  : [...SIZES.flatMap((s) => FAMILIES.map((f) => `${f}_${s}`)), ...SETS_100K];
const is100K = (set: string) => SETS_100K.includes(set);
/** A set's file: plain in CLASSBENCH_DIR, or gzip in CLASSBENCH_100K_DIR. */
const setPath = (file: string, set: string) => (is100K(set) ? `${CLASSBENCH_100K_DIR}${file}.gz` : `${CLASSBENCH_DIR}${file}`);
const readSet = (file: string, set: string) => (is100K(set) ? gunzipSync(readFileSync(setPath(file, set))).toString('utf8') : readFileSync(setPath(file, set), 'utf8'));

/**
 * Peak memory of compiling `set`: a child process that only reads, parses and compiles
 * it reports its peak RSS (process.resourceUsage().maxRSS), which bounds the compile's.
 */
function compilePeakRss(set: string): number | null {
  const code = `
    const { readFileSync } = await import('node:fs');
    const { gunzipSync } = await import('node:zlib');
    const { parseClassBench, compilePolicy } = await import(${JSON.stringify(new URL('../dist/src/index.js', import.meta.url).href)});
    const path = ${JSON.stringify(setPath(set, set))};
    const text = path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
    compilePolicy(parseClassBench(text));
    console.log(process.resourceUsage().maxRSS * 1024);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 600_000 });
  const n = Number(r.stdout.trim());
  return r.status === 0 && Number.isFinite(n) ? n : null;
}

/** Lookups per call of the naive scan and the reference (evenly spaced trace lines). */
const naiveSample = (rules: number) => (rules > 20000 ? 200 : 5000);
const refSample = (rules: number) => (rules > 20000 ? 10 : rules > 2000 ? 50 : 200);

// ---------------------------------------------------------------------------------
// The naive JS baseline: ClassBench rules as 8 numbers each in one Uint32Array, a
// trace as one Uint32Array per column, and a first-match loop. Written the way one
// would write it by hand in JavaScript: no index, no tricks, no bigints.
// ---------------------------------------------------------------------------------
const STRIDE = 8; // srcLo srcHi dstLo dstHi sport(lo<<16|hi) dport(lo<<16|hi) protoValue protoMask

function ipv4(s: string): number {
  const [a, b, c, d] = s.split('.').map(Number);
  return ((a! << 24) | (b! << 16) | (c! << 8) | d!) >>> 0;
}

function prefixRange(s: string): [number, number] {
  const [addr, lenText] = s.split('/');
  const len = Number(lenText ?? 32);
  const host = len === 0 ? 0xffffffff : len === 32 ? 0 : (0xffffffff >>> len);
  const lo = (ipv4(addr!) & ~host) >>> 0;
  return [lo, (lo | host) >>> 0];
}

export function naiveRules(text: string): Uint32Array {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const r = new Uint32Array(lines.length * STRIDE);
  lines.forEach((line, i) => {
    const t = line.trim().split(/\s+/);
    const [sLo, sHi] = prefixRange(t[0]!.slice(1));
    const [dLo, dHi] = prefixRange(t[1]!);
    const [pv, pm] = t[8]!.split('/').map((x) => parseInt(x, 16));
    r.set([sLo, sHi, dLo, dHi, ((Number(t[2]) << 16) | Number(t[4])) >>> 0, ((Number(t[5]) << 16) | Number(t[7])) >>> 0, pv! & pm!, pm!], i * STRIDE);
  });
  return r;
}

export interface NaiveTrace {
  src: Uint32Array;
  dst: Uint32Array;
  sport: Uint32Array;
  dport: Uint32Array;
  proto: Uint32Array;
}

function naiveTrace(text: string, every: number): NaiveTrace {
  const lines = text.split('\n').filter((l) => l.trim() !== '').filter((_, i) => i % every === 0);
  const cols = [0, 1, 2, 3, 4].map(() => new Uint32Array(lines.length));
  lines.forEach((l, i) => l.trim().split(/\s+/).slice(0, 5).forEach((v, k) => (cols[k]![i] = Number(v))));
  return { src: cols[0]!, dst: cols[1]!, sport: cols[2]!, dport: cols[3]!, proto: cols[4]! };
}

/** First matching rule (0-based) of one header, or -1. */
export function naiveFirstMatch(r: Uint32Array, src: number, dst: number, sport: number, dport: number, proto: number): number {
  for (let i = 0, at = 0; at < r.length; i++, at += STRIDE) {
    if (src < r[at]! || src > r[at + 1]!) continue;
    if (dst < r[at + 2]! || dst > r[at + 3]!) continue;
    const sp = r[at + 4]!;
    if (sport < sp >>> 16 || sport > (sp & 0xffff)) continue;
    const dp = r[at + 5]!;
    if (dport < dp >>> 16 || dport > (dp & 0xffff)) continue;
    if ((proto & r[at + 7]!) !== r[at + 6]!) continue;
    return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------

export interface ClassBenchRow {
  set: string;
  date: string;
  rules: number;
  traceLines: number;
  parseMs: number;
  compileMs: number;
  compileRunsMs: number[];
  /** 100K sets: peak RSS in bytes of a process that only parsed and compiled the set. */
  compilePeakRss?: number | null;
  stats: Record<string, number>;
  mismatches: number;
  naiveMismatches: number;
  referenceMismatches: number;
  sgfilterNs: number;
  naiveNs: number;
  referenceNs: number;
  naiveSample: number;
  referenceSample: number;
  rme: { sgfilter: number; naive: number; reference: number };
}

const dpdk = readResults<DpdkResults>('dpdk-acl');
const rows: ClassBenchRow[] = [];
let sink = 0;

for (const set of sets) {
  const rulesPath = setPath(set, set);
  if (!existsSync(rulesPath)) {
    console.log(`${set}: not found (${rulesPath}), skipped`);
    continue;
  }
  const rulesText = readSet(set, set);
  const traceText = readSet(`${set}_trace`, set);

  const parsed = timeRuns(1, () => parseClassBench(rulesText));
  const config = parsed.last;
  const rules = config.securityGroups[0]!.inbound.length;
  const compile = timeRuns(QUICK ? 2 : rules > 20000 ? 3 : rules > 2000 ? 5 : 9, () => compilePolicy(config));
  const peakRss = is100K(set) ? compilePeakRss(set) : null;
  const engine = await createEngine(config);
  const { batch, flows, expected } = parseClassBenchTrace(traceText);
  const out = new Uint8Array(batch.length);

  // Correctness first: every trace line, engine and naive scan.
  engine.classifyBatch(batch, out);
  let mismatches = 0;
  const ruleIds = batch.ruleIds; // a copy: read it once
  for (let i = 0; i < batch.length; i++) if (ruleIds[i]! + 1 !== expected[i]) mismatches++;
  const nr = naiveRules(rulesText);
  // Every line at 10K; at 100K an evenly spaced twentieth (the scan is linear in rules).
  const all = naiveTrace(traceText, is100K(set) ? 20 : 1);
  const allEvery = is100K(set) ? 20 : 1;
  let naiveMismatches = 0;
  for (let i = 0; i < all.src.length; i++) {
    if (naiveFirstMatch(nr, all.src[i]!, all.dst[i]!, all.sport[i]!, all.dport[i]!, all.proto[i]!) + 1 !== expected[i * allEvery]) naiveMismatches++;
  }
  const every = Math.max(1, Math.floor(batch.length / naiveSample(rules)));
  const nt = naiveTrace(traceText, every);
  const refEvery = Math.max(1, Math.floor(batch.length / refSample(rules)));
  const refIdx = flows.map((_, i) => i).filter((i) => i % refEvery === 0).slice(0, refSample(rules));
  const refFlows = refIdx.map((i) => flows[i]!);
  let referenceMismatches = 0;
  refIdx.forEach((i) => {
    if ((referenceClassify(config, flows[i]!).ruleIndex ?? -1) + 1 !== expected[i]) referenceMismatches++;
  });
  if (mismatches || naiveMismatches || referenceMismatches) {
    console.log(`!! ${set}: ${mismatches} engine, ${naiveMismatches} naive, ${referenceMismatches} reference mismatches against the trace`);
  }

  const [s, n, r] = await suite(`ClassBench ${set} (${rules} rules, ${batch.length} trace lines)`, `classbench-${set}`, [
    { name: `sgfilter classifyBatch (${batch.length} lookups/call)`, perCall: batch.length, fn: () => void engine.classifyBatch(batch, out) },
    {
      name: `naive JS first-match scan (${nt.src.length} lookups/call)`,
      perCall: nt.src.length,
      fn: () => {
        for (let i = 0; i < nt.src.length; i++) sink += naiveFirstMatch(nr, nt.src[i]!, nt.dst[i]!, nt.sport[i]!, nt.dport[i]!, nt.proto[i]!);
      },
    },
    {
      name: `reference matcher (${refFlows.length} lookups/call)`,
      perCall: refFlows.length,
      fn: () => {
        for (const f of refFlows) sink += referenceClassify(config, f).ruleIndex ?? -1;
      },
    },
  ]);
  rows.push({
    set,
    date: new Date().toISOString(),
    rules,
    traceLines: batch.length,
    parseMs: parsed.medianMs,
    compileMs: compile.medianMs,
    compileRunsMs: compile.runsMs,
    compilePeakRss: peakRss,
    stats: { ...engine.stats },
    mismatches,
    naiveMismatches,
    referenceMismatches,
    sgfilterNs: s!.nsPerItem,
    naiveNs: n!.nsPerItem,
    referenceNs: r!.nsPerItem,
    naiveSample: nt.src.length,
    referenceSample: refFlows.length,
    rme: { sgfilter: s!.rme, naive: n!.rme, reference: r!.rme },
  });
}
if (sink === 0.5) console.log(sink);

// rte_acl: the median of its runs (bench/dpdk-acl.mjs), beside sgfilter's median.
const acl = (set: string, alg: string) => dpdk?.sets[set]?.algs[alg]?.nsMedian;
console.log('\nClassBench: ns/lookup (median), ratios measured in this run');
console.log(
  textTable(
    ['set', 'rules', 'compile ms', 'peak RSS', 'table', 'sgfilter ns', 'naive JS ns', 'reference ns', 'naive/sg', 'ref/sg', 'rte_acl sse ns', 'sg/sse', 'avx512x16 ns', 'sg/avx512', 'mismatch'],
    rows.map((x) => {
      const sse = acl(x.set, 'sse');
      const avx = acl(x.set, 'avx512x16');
      return [
        x.set, x.rules, x.compileMs.toFixed(1), x.compilePeakRss ? fmtBytes(x.compilePeakRss) : '-', fmtBytes(x.stats.total!), fmtNs(x.sgfilterNs), fmtNs(x.naiveNs), fmtNs(x.referenceNs),
        fmtX(x.naiveNs / x.sgfilterNs), fmtX(x.referenceNs / x.sgfilterNs), sse ? fmtNs(sse) : '-', sse ? fmtX(x.sgfilterNs / sse) : '-', avx ? fmtNs(avx) : '-', avx ? fmtX(x.sgfilterNs / avx) : '-', x.mismatches,
      ];
    }),
  ),
);
console.log('\nTable bytes by structure');
console.log(
  textTable(
    ['set', 'total', 'header', 'rules', 'bitmaps', 'summaries', 'tries', 'intervals', 'rte_acl', 'sg/rte_acl'],
    rows.map((x) => {
      const t = dpdk?.sets[x.set]?.tableBytes;
      const st = x.stats;
      return [x.set, st.total!, st.header!, st.rules!, st.bitmaps!, st.summaries!, st.tries!, st.intervals!, t ?? '-', t ? (st.total! / t).toFixed(3) : '-'];
    }),
  ),
);
if (!dpdk) console.log('\n(no bench/results/dpdk-acl.json: run `npm run bench:dpdk` for the rte_acl columns)');

// Keep results of sets not re-run this time (e.g. a single-set run).
const prev = readResults<{ rows: ClassBenchRow[] }>('classbench');
const merged = [...(prev?.rows ?? []).filter((p) => !rows.some((x) => x.set === p.set)), ...rows];
writeResults('classbench', { quick: QUICK, rows: merged });
