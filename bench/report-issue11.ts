/**
 * The issue #11 part of the generated BENCHMARKS.md section: every target of the
 * issue, the figure measured for it in this `npm run bench` run (bench/results/*.json:
 * flow, guard, classbench, dpdk-acl), met or not, and for a target not met the gap
 * and its cause.
 *
 * A status is computed from the results files, never written by hand. The causes
 * (CAUSES below) are the measured explanations recorded when the gap was studied
 * (docs/DESIGN.md, the hand-written sections of BENCHMARKS.md); they are printed
 * only beside a target this run did not meet.
 */
import { dash, fmtBytes, fmtNs, fmtX, readResults, type DpdkResults, type Machine } from './lib.js';
import type { ClassBenchRow } from './classbench.bench.js';

interface FlowFamily {
  wallNs: Record<'classify' | 'createFlowBatch' | 'fromBytes' | 'blockList' | 'cidrMatcher' | 'arkimeIptrie' | 'reference', number>;
  cpuNs: FlowFamily['wallNs'];
  targets: { classify: number; batch: number };
}
interface FlowResults {
  machine: Machine; quick: boolean; flows: number; mismatches: number; loadavg: number[];
  IPv4: FlowFamily; IPv6: FlowFamily;
  allocation: Record<'IPv4' | 'IPv6', { calls: number; gcs: number; heapGrowthBytes: number; bytesPerCall?: number; chunks?: number }>;
}
interface GuardSummary {
  baseline: number; guarded: number; cost: number; implied: number;
  cpuUsPerRequest: { baseline: number; guarded: number }; cpuCost: number;
}
interface GuardResults {
  machine: Machine; quick: boolean; rounds: number; seconds: number; connections: number;
  summary: { guarded?: GuardSummary; proxy?: GuardSummary }; guardUs: number; loadavg: number[];
}
interface ClassBenchResults { machine: Machine; quick: boolean; rows: ClassBenchRow[] }

/**
 * Why a target is missed, as measured; keyed by target id. Printed only when this
 * run does not meet the target. Keep each to what was measured, with where.
 */
const CAUSES: Record<string, string> = {
  classifyV4: 'reading the flow object and its address text (~35–42 ns for the address) and one call into WASM per flow; see "The boundary" in this file',
  classifyV6: 'as for IPv4, with up to 8 hex groups to read (~87 ns for the address)',
  batchV4: 'per flow: reading the address characters (~35 ns), the other fields and their checks, and the loop that catches misspelt field names (~10 ns); a batch of several instances or both families is regrouped (a counting sort and a copy of the columns)',
  batchV6: 'as for IPv4 with IPv6 address text',
  guardServer: 'per connection the guard reads both ends of the socket (getpeername and getsockname, ~0.6 µs each: the remote address is the flow, and the local end is read rather than inferred from the listener, because a socket handed over by a TLS front end must be classified as the connection it is) and classifies (~0.3 µs of JavaScript and WASM), against a ~46 µs request; on 2 shared cores the CPU-per-request figure moved by about ±2 µs (±4%) between identical servers in one run (an engine loaded but no guard: +1.2 µs; a bare extra connection listener: +2 µs), as much as the guard\'s own work',
  proxy: 'per connection the proxy does what the relay does not: the inbound guard (getpeername, getsockname and a classification), a classification before dialling, the egress guard\'s per-socket wrapper and its check as the upstream connects; the server-CPU figures in this row are its cost per request',
  lookup10K: 'about 40% of the time is the two address prefix-trie walks, each five dependent loads (a direct entry, up to three nodes, the leaf; ~18 ns even with every line in cache), then the AND of 4–5 class bitmaps, one flow at a time in WASM (no prefetch); rte_acl\'s SSE path walks one byte-wise automaton for four flows at once. Closing it needs fewer trie levels per address (e.g. 8-bit strides below the 16-bit direct level), a larger layout and compiler change (docs/DESIGN.md §2, "The measurements behind the choices")',
  lookup100K: 'not the cut into parts (docs/DESIGN.md §2, "Partitions"): the whole classifier measured 927 ns against 951 ns in parts in one process (BENCHMARKS.md, the earlier 100K section), so the time is the lookup over 100,000 boxes itself (prefix-trie walks, 10.3 MB of tries on this set against 1.3 MB on acl2_100K, and the AND of class bitmaps, one flow at a time); which of the two dominates was not profiled. rte_acl walks one DFA over a 100 MB table. Under load rte_acl\'s figure on this set rose several times more than sgfilter\'s (1,017–2,189 ns in earlier runs at load 5–18), which is why earlier runs showed it met',
  compile100K: 'building the bit-per-node binary address tries (2.1 million nodes on ipc2_100K, ~330 ms of CPU), making the rule boxes (~150 ms), and garbage collection (about a quarter); on 2 shared cores wall time is CPU time times the load (docs/DESIGN.md, "Compile time at 100K rules")',
  memory100K: 'the whole-classifier bitmaps before partitioning (docs/DESIGN.md §2, "Partitions")',
  table100K: 'dense class bitmaps (docs/DESIGN.md §2, "Partitions")',
  allocation: 'an object allocated per call (a verdict, a parsed flow or an address)',
  mismatch: 'a defect: a fast path disagrees with the reference matcher (the test suite must fail too)',
};

const SETS_10K = ['acl1_10K', 'fw1_10K', 'ipc1_10K'];
const SETS_100K = ['acl2_100K', 'fw3_100K', 'ipc2_100K'];

/** Markdown lines of the issue #11 targets table, or a note when no results are there. */
export function issue11Section(): string[] {
  const flow = readResults<FlowResults>('flow');
  const guard = readResults<GuardResults>('guard');
  const cb = readResults<ClassBenchResults>('classbench');
  const dpdk = readResults<DpdkResults>('dpdk-acl');
  const out: string[] = [];
  const p = (s = '') => out.push(s);
  const rows: string[][] = [];
  const status = (met: boolean | undefined, cause: string, how = '') =>
    met === undefined ? 'not measured in this run' : met ? `**met**${how}` : `**not met**${how}. Cause: ${CAUSES[cause]}`;
  const miss = (what: string, why: string) => rows.push([what, why, 'not measured in this run']);

  p('## Issue #11 targets: one `npm run bench` run');
  p();
  const runs = [flow, guard, cb].filter((r): r is NonNullable<typeof r> => r !== null);
  if (runs.length) {
    const m = runs[0]!.machine;
    const dates = [...new Set([...runs.map((r) => r.machine.date), ...(dpdk ? [dpdk.machine.date] : [])].map((d) => d.slice(0, 16).replace('T', ' ')))].sort();
    const loads = [flow ? `at the flow bench ${flow.loadavg.map((x) => x.toFixed(1)).join(' ')}` : '', guard ? `at the guard bench ${guard.loadavg.map((x) => x.toFixed(1)).join(' ')}` : ''].filter(Boolean);
    p(`Machine: ${m.cores} shared vCPUs, ${m.cpu}, ${m.memGiB} GiB; Node ${m.node} (V8 ${m.v8}); ${m.platform}. ` +
      `Runs from ${dates[0]} to ${dates[dates.length - 1]} UTC; sgfilter at commit ${[...new Set(runs.map((r) => r.machine.commit))].join(' / ')}` +
      `${runs.some((r) => r.quick) ? ' (**quick mode**: SGFILTER_BENCH_QUICK was set, few samples)' : ''}.` +
      `${loads.length ? ` Load average (1, 5, 15 min) ${loads.join(', ')}.` : ''}`);
    p('Every status below is computed by bench/report-issue11.ts from this run\'s bench/results/*.json; rte_acl (`bench/dpdk-acl.mjs`, best of its runs) and sgfilter (medians) are measured in the same `npm run bench`.');
    p();
  }

  // 1-2: the boundary (bench/flow.bench.ts)
  if (flow) {
    for (const fam of ['IPv4', 'IPv6'] as const) {
      const f = flow[fam];
      const w = f.wallNs.classify;
      const c = f.cpuNs.classify;
      rows.push([`1. \`classify(flow)\` from strings ≤ ${f.targets.classify} ns, ${fam}`,
        `${fmtNs(w)} ns wall (benny median), ${fmtNs(c)} ns CPU; net.BlockList.check ${fmtNs(f.wallNs.blockList)} ns (${fmtX(f.wallNs.blockList / w)}), reference matcher ${fmtNs(f.wallNs.reference)} ns (${fmtX(f.wallNs.reference / w)})`,
        status(w <= f.targets.classify, fam === 'IPv4' ? 'classifyV4' : 'classifyV6', w <= f.targets.classify ? '' : c <= f.targets.classify ? ' by wall clock (met by CPU time)' : '')]);
    }
    const a4 = flow.allocation.IPv4;
    const a6 = flow.allocation.IPv6;
    // Heap left per call, measured over chunks of calls during which no collection ran
    // (bench/flow.bench.ts); one 16-byte object per call would read >= 16.
    const perCall = (a: typeof a4) => a.bytesPerCall ?? a.heapGrowthBytes / a.calls;
    const noAlloc = perCall(a4) < 1 && perCall(a6) < 1;
    rows.push(['1. no allocation per `classify` call in the steady state',
      `IPv4 ${perCall(a4).toFixed(2)} B/call, IPv6 ${perCall(a6).toFixed(2)} B/call of heap left (median of chunks of calls without a collection); ${a4.gcs} and ${a6.gcs} collections in ${a4.calls.toLocaleString('en')} calls each`,
      status(noAlloc, 'allocation')]);
    for (const fam of ['IPv4', 'IPv6'] as const) {
      const f = flow[fam];
      const w = f.wallNs.createFlowBatch;
      const c = f.cpuNs.createFlowBatch;
      rows.push([`2. \`createFlowBatch\` from objects ≤ ${f.targets.batch} ns per flow, ${fam}`, `${fmtNs(w)} ns wall, ${fmtNs(c)} ns CPU`,
        status(w <= f.targets.batch, fam === 'IPv4' ? 'batchV4' : 'batchV6', w <= f.targets.batch ? '' : c <= f.targets.batch ? ' by wall clock (met by CPU time)' : '')]);
    }
    rows.push(['2. a batch from raw address bytes, no per-flow object (`createFlowBatchFromBytes`)',
      `IPv4 ${fmtNs(flow.IPv4.wallNs.fromBytes)} ns, IPv6 ${fmtNs(flow.IPv6.wallNs.fromBytes)} ns per flow (wall)`, status(Number.isFinite(flow.IPv4.wallNs.fromBytes), 'batchV4')]);
    rows.push(['1–2. verdicts equal the reference matcher\'s', `${flow.mismatches} mismatches over ${flow.flows.toLocaleString('en')} flows per family`, status(flow.mismatches === 0, 'mismatch')]);
  } else miss('1–2. flows from strings and bytes', 'no bench/results/flow.json');

  // 3: the guards (bench/guard.bench.ts)
  if (guard) {
    const g = (key: 'guarded' | 'proxy', title: string, cause: string) => {
      const s = guard.summary[key];
      if (!s) return miss(title, 'no figure');
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      const met = s.cost <= 0.03 && s.cpuCost <= 0.03;
      const how = met ? '' : s.cost <= 0.03 ? ' by server CPU (met by requests per second)' : s.cpuCost <= 0.03 ? ' by requests per second (met by server CPU)' : '';
      rows.push([title,
        `${pct(s.cost)} fewer requests/s (median of ${guard.rounds} paired rounds: ${Math.round(s.baseline)} → ${Math.round(s.guarded)}); server CPU ${s.cpuUsPerRequest.baseline.toFixed(1)} → ${s.cpuUsPerRequest.guarded.toFixed(1)} µs/request (${pct(s.cpuCost)})`,
        status(met, cause, how)]);
    };
    g('guarded', '3. `guardServer` ≤ 3%, a new connection per request', 'guardServer');
    g('proxy', '3. `sgfilter proxy` ≤ 3% vs a plain Node TCP relay', 'proxy');
  } else miss('3. the guards on a real server', 'no bench/results/guard.json');

  // 4-5: ClassBench against rte_acl
  const cbRow = (set: string) => cb?.rows.find((r) => r.set === set);
  const acl = (set: string, alg: string) => dpdk?.sets[set]?.algs[alg]?.nsBest;
  for (const set of SETS_100K) {
    const r = cbRow(set);
    const sse = acl(set, 'sse');
    if (!r) { miss(`4. 100K: ${set}`, 'no ClassBench result for the set (data absent?)'); continue; }
    rows.push([`4. 100K lookup ≤ rte_acl SSE, ${set}`, sse === undefined ? `${fmtNs(r.sgfilterNs)} ns; rte_acl not run` :
      `${fmtNs(r.sgfilterNs)} vs ${fmtNs(sse)} ns (${fmtX(r.sgfilterNs / sse)}); AVX-512x16 ${dash(acl(set, 'avx512x16'))} ns; ${r.mismatches} mismatches`,
    status(sse === undefined ? undefined : r.sgfilterNs <= sse && r.mismatches === 0, 'lookup100K')]);
    const tb = dpdk?.sets[set]?.tableBytes ?? undefined;
    rows.push([`4. 100K table bytes ≤ rte_acl's, ${set}`, tb ? `${fmtBytes(r.stats.total!)} vs ${fmtBytes(tb)} (${(r.stats.total! / tb).toFixed(3)})` : fmtBytes(r.stats.total!),
      status(tb ? r.stats.total! <= tb : undefined, 'table100K')]);
    rows.push([`4. 100K compile ≤ 2 s, ${set}`, `${(r.compileMs / 1000).toFixed(2)} s (median of ${r.compileRunsMs.length} runs, wall)`, status(r.compileMs <= 2000, 'compile100K')]);
    rows.push([`4. 100K peak memory while compiling ≤ 1 GB, ${set}`, r.compilePeakRss ? `${fmtBytes(r.compilePeakRss)} peak RSS (a process that only parses and compiles)` : 'not measured',
      status(r.compilePeakRss ? r.compilePeakRss <= 1e9 : undefined, 'memory100K')]);
  }
  for (const set of SETS_10K) {
    const r = cbRow(set);
    const sse = acl(set, 'sse');
    if (!r) { miss(`5. 10K: ${set}`, 'no ClassBench result for the set'); continue; }
    rows.push([`5. 10K lookup ≤ rte_acl SSE, ${set}`, sse === undefined ? `${fmtNs(r.sgfilterNs)} ns; rte_acl not run` :
      `${fmtNs(r.sgfilterNs)} vs ${fmtNs(sse)} ns (${fmtX(r.sgfilterNs / sse)}); ${r.mismatches} mismatches`,
    status(sse === undefined ? undefined : r.sgfilterNs <= sse && r.mismatches === 0, 'lookup10K')]);
    const x16 = acl(set, 'avx512x16');
    const x32 = acl(set, 'avx512x32');
    rows.push([`5. (stretch) rte_acl AVX-512 beside it, ${set}`, x16 === undefined ? 'not run' :
      `AVX-512x16 ${fmtNs(x16)} ns (sgfilter ${fmtX(r.sgfilterNs / x16)}), AVX-512x32 ${dash(x32)} ns${x32 ? ` (sgfilter ${fmtX(r.sgfilterNs / x32)})` : ''}`,
    x16 === undefined ? 'not measured in this run' : r.sgfilterNs <= x16 ? '**met** (≤ AVX-512x16)' : 'reported (stretch goal: not reached)']);
  }
  p('| target | measured in this run | status |');
  p('|---|---|---|');
  for (const r of rows) p(`| ${r.join(' | ')} |`);
  p();
  return out;
}

