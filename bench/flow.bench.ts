/**
 * The boundary at lookup speed (issue #11, items 1-2): what a caller pays to go from
 * what it holds to a verdict, on the cloud policy of bench/cloud-policy.ts (5 groups
 * × 100 rules per direction, IPv4 + IPv6, one instance).
 *
 *   - engine.classify(flow), string addresses, one flow per call, IPv4 and IPv6
 *     (targets ≤ 250 / ≤ 400 ns), with no allocation per call (counted below: the
 *     garbage collections and heap growth over a million calls);
 *   - createFlowBatch from flow objects with string addresses, per flow (targets
 *     ≤ 150 / ≤ 300 ns), and createFlowBatchFromBytes from address bytes and typed
 *     arrays (no object per flow);
 *   - side by side, on the same address strings: node:net BlockList.check over two
 *     subnets (one per family), the npm matchers bench/blocklist.bench.ts uses
 *     (cidr-matcher; arkime-iptrie when installed) over the same two subnets, and the
 *     reference matcher (referenceClassify of the same flow objects).
 *
 * Every verdict is checked against the reference first (all paths, all flows).
 *
 *   npm run bench:flow               SGFILTER_BENCH_QUICK=1 for a short run
 */
import { BlockList } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import {
  createEngine, createFlowBatch, createFlowBatchFromBytes, parseConfig, parseFlow, referenceClassify,
  type FlowBytes, type FlowInput, type ParsedFlow,
} from '../src/index.js';
import { cloudFlows, cloudPolicy } from './cloud-policy.js';
import { QUICK, fmtNs, fmtX, median, suite, textTable, writeResults, type Case } from './lib.js';
import { loadavg } from 'node:os';

const FLOWS = 4096;
const ONE_PER_CALL = 256; // classify cases: this many single-flow calls per benny sample
const REF_FLOWS = 64;
const TARGET = { classifyV4: 250, classifyV6: 400, batchV4: 150, batchV6: 300 };

const { config: doc, aims } = cloudPolicy();
const config = parseConfig(doc);
const engine = await createEngine(config);
const all = cloudFlows(aims, 4 * FLOWS);
const isV6 = (f: FlowInput) => String(f.remote).includes(':');
const v4 = all.filter((f) => !isV6(f)).slice(0, FLOWS);
const v6 = all.filter(isV6).slice(0, FLOWS);
// Address text as a server has it (socket.remoteAddress): flat strings, not ropes.
for (const f of [...v4, ...v6]) f.remote = JSON.parse(JSON.stringify(f.remote)) as string;
const parsed4 = v4.map(parseFlow);
const parsed6 = v6.map(parseFlow);

/** The flows as FlowBytes (one instance, as cloudFlows gives every flow). */
function toBytes(flows: readonly ParsedFlow[]): FlowBytes {
  const n = flows.length;
  const bytes = new Uint8Array(32 * n);
  const dv = new DataView(bytes.buffer);
  const remoteOffset = new Uint32Array(n);
  const remoteLength = new Uint8Array(n);
  const localOffset = new Uint32Array(n);
  const localLength = new Uint8Array(n);
  const protocol = new Uint8Array(n);
  const port = new Int32Array(n);
  const sourcePort = new Int32Array(n);
  const icmpType = new Int16Array(n);
  const icmpCode = new Int16Array(n);
  const direction = new Uint8Array(n);
  let at = 0;
  const put = (a: ParsedFlow['remote']) => {
    const len = a.v6 ? 16 : 4;
    for (let k = 0; k < len / 4; k++) dv.setUint32(at + 4 * k, a.words[k]!);
    at += len;
    return len;
  };
  flows.forEach((f, i) => {
    remoteOffset[i] = at;
    remoteLength[i] = put(f.remote);
    if (f.local) {
      localOffset[i] = at;
      localLength[i] = put(f.local);
    }
    protocol[i] = f.protocol;
    port[i] = f.port ?? -1;
    sourcePort[i] = f.sourcePort ?? -1;
    icmpType[i] = f.icmpType ?? -1;
    icmpCode[i] = f.icmpCode ?? -1;
    direction[i] = f.direction === 'outbound' ? 1 : 0;
  });
  const instance = flows[0]!.instance;
  if (flows.some((f) => f.instance !== instance)) throw new Error('bench flows: one instance expected');
  return { bytes, remoteOffset, remoteLength, localOffset, localLength, protocol, port, sourcePort, icmpType, icmpCode, direction, instance };
}
const bytes4 = toBytes(parsed4);
const bytes6 = toBytes(parsed6);

// Correctness first: every path, every flow, against the reference.
let mismatches = 0;
for (const [inputs, parsed, bytes] of [[v4, parsed4, bytes4], [v6, parsed6, bytes6]] as const) {
  const a = createFlowBatch(inputs);
  const b = createFlowBatchFromBytes(bytes);
  engine.classifyBatch(a);
  engine.classifyBatch(b);
  parsed.forEach((f, i) => {
    const want = JSON.stringify(referenceClassify(config, f));
    for (const got of [engine.classify(inputs[i]!), a.verdict(i), b.verdict(i)]) if (JSON.stringify(got) !== want) mismatches++;
  });
}
if (mismatches) console.log(`!! ${mismatches} verdicts differ from the reference`);

// Two subnets for the address-membership baselines: what a server's allow list
// of one IPv4 and one IPv6 network looks like.
const NET4 = { addr: '10.0.0.0', len: 8 };
const NET6 = { addr: '2001:db8::', len: 32 };
const blockList = new BlockList();
blockList.addSubnet(NET4.addr, NET4.len, 'ipv4');
blockList.addSubnet(NET6.addr, NET6.len, 'ipv6');
let cidrMatcher: { contains(a: string): boolean } | null = null;
try {
  const CidrMatcher = (await import('cidr-matcher')).default;
  cidrMatcher = new CidrMatcher([`${NET4.addr}/${NET4.len}`, `${NET6.addr}/${NET6.len}`]);
} catch (e) {
  console.log(`cidr-matcher not available (${(e as Error).message})`);
}
let ipTrie: { find(a: string): unknown } | null = null;
try {
  const { IPTrie } = (await import('arkime-iptrie')).default;
  const t = new IPTrie();
  t.add(NET4.addr, NET4.len, 1);
  t.add(NET6.addr, NET6.len, 1);
  ipTrie = t;
} catch {
  console.log('arkime-iptrie not available (a native addon, not a dependency: npm install --no-save arkime-iptrie to include it)');
}

// Allocation per classify call in the steady state: garbage collections and heap
// growth over CALLS calls after a warm-up. Zero collections over a million calls
// means nothing (or nearly nothing) is allocated per call.
/**
 * Heap bytes one classify call leaves behind, in the steady state: the calls run in
 * chunks, and a chunk's heap growth counts only when no collection ran during it (the
 * heap did not shrink); bytesPerCall is the median over those chunks. A call that
 * allocated even one 16-byte object would show as >= 16 here; GCs are counted too.
 */
async function allocation(inputs: readonly FlowInput[]): Promise<{ calls: number; gcs: number; heapGrowthBytes: number; bytesPerCall: number; chunks: number }> {
  const calls = QUICK ? 200_000 : 1_000_000;
  const chunk = 25_000;
  for (let i = 0; i < 20_000; i++) engine.classify(inputs[i % inputs.length]!);
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const start = process.memoryUsage().heapUsed;
  const perCall: number[] = [];
  let s = 0;
  for (let done = 0; done < calls; done += chunk) {
    const before = process.memoryUsage().heapUsed;
    for (let i = done; i < done + chunk; i++) s += engine.classify(inputs[i % inputs.length]!).ruleIndex ?? 0;
    const grew = process.memoryUsage().heapUsed - before;
    if (grew >= 0) perCall.push(grew / chunk);
  }
  const heapGrowthBytes = process.memoryUsage().heapUsed - start;
  await new Promise((r) => setTimeout(r, 50)); // let the observer deliver
  obs.disconnect();
  if (s === -1) console.log(s);
  return { calls, gcs, heapGrowthBytes, bytesPerCall: perCall.length ? median(perCall) : NaN, chunks: perCall.length };
}

let sink = 0;
const one = (inputs: readonly FlowInput[]) => {
  const slice = inputs.slice(0, ONE_PER_CALL);
  return () => {
    for (let i = 0; i < slice.length; i++) sink += engine.classify(slice[i]!).action === 'accept' ? 1 : 0;
  };
};
const addrs4 = v4.slice(0, ONE_PER_CALL).map((f) => f.remote as string);
const addrs6 = v6.slice(0, ONE_PER_CALL).map((f) => f.remote as string);
const cases: Case[] = [];
const add = (name: string, perCall: number, fn: () => void) => cases.push({ name, perCall, fn });
for (const [fam, inputs, addrs, bytes] of [['IPv4', v4, addrs4, bytes4], ['IPv6', v6, addrs6, bytes6]] as const) {
  const famName = fam === 'IPv4' ? 'ipv4' : 'ipv6';
  add(`classify(flow), string address, ${fam}`, ONE_PER_CALL, one(inputs));
  add(`createFlowBatch from objects, ${fam} (${FLOWS}/call)`, FLOWS, () => void (sink += createFlowBatch(inputs).length));
  add(`createFlowBatchFromBytes, ${fam} (${FLOWS}/call)`, FLOWS, () => void (sink += createFlowBatchFromBytes(bytes).length));
  add(`node:net BlockList.check, 2 subnets, ${fam}`, ONE_PER_CALL, () => {
    for (let i = 0; i < addrs.length; i++) sink += blockList.check(addrs[i]!, famName) ? 1 : 0;
  });
  if (cidrMatcher) {
    const m = cidrMatcher;
    add(`cidr-matcher contains, 2 subnets, ${fam}`, ONE_PER_CALL, () => {
      for (let i = 0; i < addrs.length; i++) sink += m.contains(addrs[i]!) ? 1 : 0;
    });
  }
  if (ipTrie) {
    const t = ipTrie;
    add(`arkime-iptrie find, 2 subnets, ${fam}`, ONE_PER_CALL, () => {
      for (let i = 0; i < addrs.length; i++) sink += t.find(addrs[i]!) !== undefined ? 1 : 0;
    });
  }
  const ref = inputs.slice(0, REF_FLOWS);
  add(`reference matcher, string address, ${fam} (${REF_FLOWS}/call)`, REF_FLOWS, () => {
    for (let i = 0; i < ref.length; i++) sink += referenceClassify(config, ref[i]!).action === 'accept' ? 1 : 0;
  });
}

/**
 * CPU time per item (process.cpuUsage, user + system): the median of 15 samples of
 * about 20 ms of this process's CPU each. On 2 shared cores with a load average far
 * above 2, wall-clock time mostly measures how long the scheduler kept this process
 * waiting; CPU time measures the work (still inflated by the other processes'
 * cache and hyper-thread contention). Both are reported.
 */
function cpuNs(c: Case): number {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1e3; // ns
  };
  let calls = 1;
  for (;;) {
    const t0 = cpu();
    for (let k = 0; k < calls; k++) c.fn();
    if (cpu() - t0 >= 5e6 || calls >= 1 << 20) break;
    calls *= 2;
  }
  calls *= 4;
  const samples: number[] = [];
  for (let s = 0; s < (QUICK ? 5 : 15); s++) {
    const t0 = cpu();
    for (let k = 0; k < calls; k++) c.fn();
    samples.push((cpu() - t0) / calls / c.perCall);
  }
  return median(samples);
}
// CPU first (each case warmed by its own calibration), then benny's wall-clock
// samples, then the allocation count (a million calls: last, so that it does not
// shape what the JIT makes of the shared code for the cases above).
const cpuOf = new Map(cases.map((c) => [c.name, cpuNs(c)]));
const results = await suite('one flow and batches from strings and bytes (cloud policy)', 'flow', cases, { minSamples: 20 });
const alloc4 = await allocation(v4);
const alloc6 = await allocation(v6);
if (sink === 0.5) console.log(sink);

const ns = (name: string) => results.find((r) => r.name.startsWith(name))?.nsPerItem ?? NaN;
const cpuNsOf = (name: string) => [...cpuOf].find(([k]) => k.startsWith(name))?.[1] ?? NaN;
const rows: (string | number)[][] = [];
const report: Record<string, unknown> = {};
const fmt = (x: number) => (Number.isNaN(x) ? 'n/a' : fmtNs(x));
const ratio = (x: number, base: number) => (Number.isNaN(x) ? '' : fmtX(x / base));
for (const fam of ['IPv4', 'IPv6'] as const) {
  const names = {
    classify: `classify(flow), string address, ${fam}`,
    createFlowBatch: `createFlowBatch from objects, ${fam}`,
    fromBytes: `createFlowBatchFromBytes, ${fam}`,
    blockList: `node:net BlockList.check, 2 subnets, ${fam}`,
    cidrMatcher: `cidr-matcher contains, 2 subnets, ${fam}`,
    arkimeIptrie: `arkime-iptrie find, 2 subnets, ${fam}`,
    reference: `reference matcher, string address, ${fam}`,
  };
  const wall = Object.fromEntries(Object.entries(names).map(([k, n]) => [k, ns(n)])) as Record<keyof typeof names, number>;
  const cpu = Object.fromEntries(Object.entries(names).map(([k, n]) => [k, cpuNsOf(n)])) as Record<keyof typeof names, number>;
  const tc = fam === 'IPv4' ? TARGET.classifyV4 : TARGET.classifyV6;
  const tb = fam === 'IPv4' ? TARGET.batchV4 : TARGET.batchV6;
  const verdict = (x: number, t: number) => `≤ ${t}: ${x <= t ? 'met' : 'not met'}`;
  rows.push(
    [`classify(flow), ${fam}`, fmt(wall.classify), fmt(cpu.classify), '1×', '1×', `${verdict(wall.classify, tc)} (wall), ${verdict(cpu.classify, tc)} (CPU)`],
    ['  BlockList.check (2 subnets)', fmt(wall.blockList), fmt(cpu.blockList), ratio(wall.blockList, wall.classify), ratio(cpu.blockList, cpu.classify), ''],
    ['  cidr-matcher (2 subnets)', fmt(wall.cidrMatcher), fmt(cpu.cidrMatcher), ratio(wall.cidrMatcher, wall.classify), ratio(cpu.cidrMatcher, cpu.classify), ''],
    ['  arkime-iptrie (2 subnets)', fmt(wall.arkimeIptrie), fmt(cpu.arkimeIptrie), ratio(wall.arkimeIptrie, wall.classify), ratio(cpu.arkimeIptrie, cpu.classify), ''],
    ['  reference matcher', fmt(wall.reference), fmt(cpu.reference), ratio(wall.reference, wall.classify), ratio(cpu.reference, cpu.classify), ''],
    [`createFlowBatch per flow, ${fam}`, fmt(wall.createFlowBatch), fmt(cpu.createFlowBatch), '', '', `${verdict(wall.createFlowBatch, tb)} (wall), ${verdict(cpu.createFlowBatch, tb)} (CPU)`],
    [`createFlowBatchFromBytes per flow, ${fam}`, fmt(wall.fromBytes), fmt(cpu.fromBytes), ratio(wall.fromBytes, wall.createFlowBatch), ratio(cpu.fromBytes, cpu.createFlowBatch), '(ratio: ÷ createFlowBatch)'],
  );
  report[fam] = { wallNs: wall, cpuNs: cpu, targets: { classify: tc, batch: tb } };
}
console.log(`\nCloud policy (${config.securityGroups.length} groups), ${FLOWS} flows per family; mismatches vs reference: ${mismatches}`);
console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(textTable(['case', 'wall ns/flow (benny median)', 'CPU ns/flow (median)', 'wall ÷ classify', 'CPU ÷ classify', 'target'], rows));
console.log(`allocation, classify(flow): IPv4 ${alloc4.bytesPerCall.toFixed(2)} B/call (median of ${alloc4.chunks} chunks without a GC), ${alloc4.gcs} GCs over ${alloc4.calls} calls; IPv6 ${alloc6.bytesPerCall.toFixed(2)} B/call, ${alloc6.gcs} GCs`);
writeResults('flow', { quick: QUICK, flows: FLOWS, mismatches, loadavg: loadavg(), ...report, allocation: { IPv4: alloc4, IPv6: alloc6 }, cases: results.map((r) => ({ ...r, cpuNs: cpuOf.get(r.name) })) });
