#!/usr/bin/env node
/**
 * DPDK rte_acl on the same ClassBench files as bench/classbench.bench.ts, through
 * Debian's `dpdk-test-acl` (package dpdk-dev; `apt-get install dpdk-dev`). This
 * script installs nothing: without the binary it prints a note and exits 0.
 *
 * For each set and each classify method the CPU supports (scalar, sse, avx2,
 * avx512x16, avx512x32) it runs `dpdk-test-acl` RUNS times with --iter=ITER and
 * turns the reported pkt/sec into ns/lookup (1e9 / pkt_per_sec; the tool measures
 * with the TSC and reports cycles/pkt too). Best and median of the runs are kept
 * (the issue quotes best of 3). One extra --verbose=3 run per set checks every
 * result against the trace's expected rule (dpdk-test-acl prints it 0-based).
 * rte_acl's runtime table bytes come from its build log ("total: N bytes").
 *
 *   node bench/dpdk-acl.mjs [--all | set ...]   default: acl1/fw1/ipc1 at 1K and 10K, and the
 *                                               100K sets; --all adds 100 and 5K
 *
 * The 100K sets (acl2_100K, fw3_100K, ipc2_100K in ../shared/data/classbench-100k,
 * gzip) are unpacked into a temporary folder, run with --rulenum and `-m 8192` (the
 * tool needs both above 65,536 rules), SGFILTER_DPDK_RUNS_100K (3) runs × --iter=
 * SGFILTER_DPDK_ITER_100K (3), methods SGFILTER_DPDK_ALGS_100K (sse,avx2,avx512x16):
 * each build takes seconds and gigabytes.
 *   env: DPDK_TEST_ACL (binary), SGFILTER_DPDK_RUNS (3), SGFILTER_DPDK_ITER (20),
 *        SGFILTER_DPDK_ALGS (comma list), SGFILTER_CLASSBENCH_DIR, SGFILTER_DPDK_LCORE (0)
 *
 * EAL options: no hugepages and no PCI devices are needed for a pure-CPU test;
 * --no-shconf avoids the multi-process socket in /var/run/dpdk, and
 * --force-max-simd-bitwidth=512 is required for avx512x32 (DPDK caps SIMD at 256
 * bits by default; avx512x16 only needs 256).
 */
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const BIN = process.env.DPDK_TEST_ACL ?? 'dpdk-test-acl';
const DIR = process.env.SGFILTER_CLASSBENCH_DIR ?? fileURLToPath(new URL('../../shared/data/classbench/', import.meta.url));
const OUT = fileURLToPath(new URL('./results/dpdk-acl.json', import.meta.url));
const RUNS = Number(process.env.SGFILTER_DPDK_RUNS ?? (process.env.SGFILTER_BENCH_QUICK ? 1 : 3));
const ITER = Number(process.env.SGFILTER_DPDK_ITER ?? (process.env.SGFILTER_BENCH_QUICK ? 3 : 20));
const LCORE = process.env.SGFILTER_DPDK_LCORE ?? '0';
const ALL_ALGS = ['scalar', 'sse', 'avx2', 'avx512x16', 'avx512x32'];
const EAL = ['--no-huge', '-m', '512', '--no-pci', '-l', LCORE, '--no-shconf', '--force-max-simd-bitwidth=512', '--log-level=lib.acl:debug'];
const SETS_100K = ['acl2_100K', 'fw3_100K', 'ipc2_100K'];
const DEFAULT_SETS = ['acl1_1K', 'fw1_1K', 'ipc1_1K', 'acl1_10K', 'fw1_10K', 'ipc1_10K', ...SETS_100K];
const DIR_100K = process.env.SGFILTER_CLASSBENCH_100K_DIR ?? fileURLToPath(new URL('../../shared/data/classbench-100k/', import.meta.url));
const RUNS_100K = Number(process.env.SGFILTER_DPDK_RUNS_100K ?? (process.env.SGFILTER_BENCH_QUICK ? 1 : 3));
const ITER_100K = Number(process.env.SGFILTER_DPDK_ITER_100K ?? (process.env.SGFILTER_BENCH_QUICK ? 1 : 3));
const ALGS_100K = (process.env.SGFILTER_DPDK_ALGS_100K ?? 'sse,avx2,avx512x16').split(',');

/** Where `set`'s files are: the 100K sets unpacked once into a temporary folder. */
function setDir(set) {
  if (!SETS_100K.includes(set)) return DIR;
  const out = `${tmpdir()}/sgfilter-dpdk-100k/`;
  mkdirSync(out, { recursive: true });
  for (const f of [set, `${set}_trace`]) {
    if (!existsSync(out + f) && existsSync(`${DIR_100K}${f}.gz`)) writeFileSync(out + f, gunzipSync(readFileSync(`${DIR_100K}${f}.gz`)));
  }
  return out;
}

function which(bin) {
  if (bin.includes('/')) return existsSync(bin) ? bin : null;
  for (const d of (process.env.PATH ?? '').split(':')) if (d && existsSync(`${d}/${bin}`)) return `${d}/${bin}`;
  return null;
}

const bin = which(BIN);
if (!bin) {
  console.log(`dpdk-test-acl not found (${BIN}): skipping the rte_acl baseline.`);
  console.log('To get it on Debian/Ubuntu: apt-get install dpdk-dev (the tool ships in dpdk-dev, not in dpdk).');
  process.exit(0);
}

const setArgs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const ALL_SETS = ['100', '1K', '5K', '10K'].flatMap((n) => ['acl1', 'fw1', 'ipc1'].map((f) => `${f}_${n}`));
const sets = setArgs.length ? setArgs : process.argv.includes('--all') ? ALL_SETS : DEFAULT_SETS;
const lines = (path) => readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');

function run(set, alg, iter, verbose) {
  const dir = setDir(set);
  const big = SETS_100K.includes(set);
  const eal = big ? EAL.map((a) => (a === '512' ? '8192' : a)) : EAL;
  const args = [...eal, '--', `--rulesf=${dir}${set}`, `--tracef=${dir}${set}_trace`, '--tracenum=1000000', ...(big ? ['--rulenum=100000'] : []), `--alg=${alg}`, `--iter=${iter}`, `--verbose=${verbose}`];
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const m = /(\d+) iterations, (\d+) pkts, \d+ categories, (\d+) cycles \([\d.]+ sec\), ([\d.]+) cycles\/pkt, ([\d.]+) pkt\/sec/.exec(text);
  const total = /runtime memory footprint[\s\S]*?total: (\d+) bytes/.exec(text);
  const consumed = /memory consumed: (\d+)/.exec(text);
  return {
    ok: r.status === 0 && !!m,
    text,
    args,
    pkts: m ? Number(m[2]) : 0,
    cyclesPerPkt: m ? Number(m[4]) : NaN,
    pktPerSec: m ? Number(m[5]) : NaN,
    tableBytes: total ? Number(total[1]) : null,
    buildBytes: consumed ? Number(consumed[1]) : null,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

// Which methods does this CPU (and this DPDK build) accept? Try each on the smallest set.
const probeSet = existsSync(`${DIR}acl1_100`) ? 'acl1_100' : sets[0];
const wanted = process.env.SGFILTER_DPDK_ALGS ? process.env.SGFILTER_DPDK_ALGS.split(',') : ALL_ALGS;
const algs = [];
const unsupported = [];
for (const alg of wanted) {
  const r = run(probeSet, alg, 1, 1);
  if (r.ok) algs.push(alg);
  else unsupported.push({ alg, why: (/Cause: (.*)/.exec(r.text)?.[1] ?? r.text.trim().split('\n').pop() ?? '').trim() });
}
if (!algs.length) {
  console.log(`dpdk-test-acl is installed but no classify method ran; last output:\n${run(probeSet, 'scalar', 1, 1).text}`);
  process.exit(0);
}
const version = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'dpdk-dev'], { encoding: 'utf8' }).stdout || null;
console.log(`dpdk-test-acl ${version ?? ''} at ${bin}: methods ${algs.join(', ')}${unsupported.length ? `; not available: ${unsupported.map((u) => u.alg).join(', ')}` : ''}`);
console.log(`EAL: ${EAL.join(' ')}; ${RUNS} run(s) × --iter=${ITER} per method\n`);

const results = {};
for (const set of sets) {
  const dir = setDir(set);
  if (!existsSync(`${dir}${set}`) || !existsSync(`${dir}${set}_trace`)) {
    console.log(`${set}: not in ${SETS_100K.includes(set) ? DIR_100K : DIR}, skipped`);
    continue;
  }
  const big = SETS_100K.includes(set);
  const trace = lines(`${dir}${set}_trace`);
  const expected = trace.map((l) => Number(l.trim().split(/\s+/)[5]));
  // Correctness: every trace line's result, 0-based rule index = expected - 1.
  const check = run(set, algs.includes('sse') ? 'sse' : algs[0], 1, 3);
  const got = [...check.text.matchAll(/ipv4_5tuple: (\d+), category: 0, result: (\d+)/g)];
  let mismatches = 0;
  for (const [, i, res] of got) if (Number(res) !== expected[Number(i) - 1] - 1) mismatches++;
  mismatches += Math.max(0, trace.length - got.length);
  const entry = { rules: lines(`${dir}${set}`).length, traceLines: trace.length, checked: got.length, mismatches, tableBytes: check.tableBytes, buildBytes: check.buildBytes, algs: {} };
  for (const alg of big ? algs.filter((a) => ALGS_100K.includes(a)) : algs) {
    const runs = [];
    for (let k = 0; k < (big ? RUNS_100K : RUNS); k++) {
      const r = run(set, alg, big ? ITER_100K : ITER, 1);
      if (!r.ok) {
        console.log(`${set} ${alg}: run failed:\n${r.text.split('\n').slice(-5).join('\n')}`);
        continue;
      }
      runs.push(r);
    }
    if (!runs.length) continue;
    const ns = runs.map((r) => 1e9 / r.pktPerSec);
    const best = runs[ns.indexOf(Math.min(...ns))];
    entry.algs[alg] = {
      nsBest: Math.min(...ns),
      nsMedian: median(ns),
      cyclesPerPktBest: best.cyclesPerPkt,
      tscHz: Math.round(best.cyclesPerPkt * best.pktPerSec),
      runsNs: ns,
    };
  }
  results[set] = entry;
  const cols = algs.map((a) => (entry.algs[a] ? `${a} ${entry.algs[a].nsBest.toFixed(1)}` : `${a} -`)).join('  ');
  console.log(`${set.padEnd(9)} rules ${String(entry.rules).padStart(5)}  table ${(entry.tableBytes / 1e6).toFixed(1).padStart(5)} MB  mismatches ${mismatches}/${trace.length}  ns/lookup (best of ${RUNS}): ${cols}`);
}

mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
const prev = existsSync(OUT) ? JSON.parse(readFileSync(OUT, 'utf8')) : null;
const merged = { ...(prev?.sets ?? {}), ...results };
writeFileSync(
  OUT,
  JSON.stringify(
    {
      machine: { cpu: cpus()[0]?.model.trim(), cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() },
      tool: { binary: bin, dpdkVersion: version, eal: EAL, runs: RUNS, iter: ITER, algs, unsupported },
      sets: merged,
    },
    null,
    2,
  ) + '\n',
);
console.log(`\nwrote ${OUT}`);
