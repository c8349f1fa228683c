/**
 * The stateful packet path in memory (issue #12): packets per second for decode +
 * track + classify over a large generated batch (bench/packets-traffic.ts: the cloud
 * policy, concurrent TCP/UDP/echo conversations, IPv4 and IPv6, Ethernet frames),
 * one classifyPackets call per batch. Target: ≥ 10 million packets per second on one
 * core. Medians of benny samples. The packets are streamed as a capture reader would,
 * in batches of 4,096 (SGFILTER_BENCH_BATCH), one WASM call per batch.
 *
 * Before timing, the first packets are checked against the independent model of the
 * tests (test/packet-model.ts).
 *
 *   npm run bench:packets        SGFILTER_BENCH_QUICK=1 for a short run;
 *                                SGFILTER_BENCH_PACKETS / _LIVE to change the traffic
 */
import { PacketVerdicts, createEngine, createFlowBatch, createPacketBatch, parseConfig, parseFlow, type PacketBatch, type Tracker } from '../src/index.js';
import { PacketModel } from '../test/packet-model.js';
import { cloudFlows, cloudPolicy, CLOUD_INSTANCE } from './cloud-policy.js';
import { loadavg } from 'node:os';
import { QUICK, fmtNs, machine, median, suite, textTable, writeResults } from './lib.js';
import { BENCH_LOCAL, generateTraffic, withAddresses, type Traffic, type TrafficProfile } from './packets-traffic.js';

const PACKETS = Number(process.env.SGFILTER_BENCH_PACKETS ?? (QUICK ? 200_000 : 1_000_000));
// About 100 packets per live conversation over the batch, so long conversations run their course.
const LIVE = Number(process.env.SGFILTER_BENCH_LIVE ?? Math.round(PACKETS / 100));
const TARGET_PPS = 10e6;
/** Packets per classifyPackets call (a capture streamed in batches). */
const BATCH = Number(process.env.SGFILTER_BENCH_BATCH ?? 4096);
const CHECKED = 4_000;

const loadAtStart = loadavg()[0]!;
const { config: doc, aims } = cloudPolicy();
const config = parseConfig(withAddresses(doc));
const engine = await createEngine(config);

/** The first packets against the independent model; returns how many differ. */
function check(traffic: Traffic, capacity: number): number {
  const tracker = engine.createTracker({ capacity });
  const model = new PacketModel({
    config, instance: CLOUD_INSTANCE, capacity, fragments: 4096, recheckOnPublish: false,
    own: [{ v6: false, lo: 0x0ac80000n, hi: 0x0ac8ffffn }, { v6: true, lo: 0xfd00ffffn << 96n, hi: (0xfd00ffffn << 96n) | ((1n << 64n) - 1n) }],
    timeouts: { ...tracker.timeouts },
  });
  const sample = createPacketBatch({ bytes: traffic.bytes, offsets: traffic.offsets.subarray(0, CHECKED), lengths: traffic.lengths.subarray(0, CHECKED), timestamps: traffic.timestamps.subarray(0, CHECKED), linkType: 1 });
  const v = tracker.classifyPackets(sample);
  let mismatches = 0;
  for (let i = 0; i < sample.length; i++) {
    const want = model.packet(sample.packet(i), 1, sample.timestamp(i));
    const got = v.verdict(i);
    if (want.action !== got.action || want.reason !== got.reason || want.groupId !== got.groupId || want.ruleIndex !== got.ruleIndex) mismatches++;
  }
  tracker.close();
  return mismatches;
}

const profiles: Record<string, unknown>[] = [];
for (const profile of ['typical', 'short'] as TrafficProfile[]) {
  const t0 = performance.now();
  const traffic = generateTraffic(engine, aims, PACKETS, LIVE, profile);
  const genMs = performance.now() - t0;
  // Room for every conversation of the batch: none of them times out within it.
  const capacity = 2 * traffic.conversations + 1024;
  const mismatches = check(traffic, capacity);
  console.log(mismatches ? `!! ${profile}: ${mismatches} of the first ${CHECKED} packets differ from the model` : `${profile}: the first ${CHECKED} packets agree with the independent model`);
  // Streamed as a capture reader would: batches of BATCH packets, one WASM call each.
  const n = traffic.packets;
  const batches: PacketBatch[] = [];
  for (let s = 0; s < n; s += BATCH) {
    const e = Math.min(n, s + BATCH);
    batches.push(createPacketBatch({ bytes: traffic.bytes, offsets: traffic.offsets.subarray(s, e), lengths: traffic.lengths.subarray(s, e), timestamps: traffic.timestamps.subarray(s, e), linkType: 1 }));
  }
  const outs = batches.map((b) => new PacketVerdicts(b.length));
  const stream = (t: Tracker) => batches.forEach((b, i) => t.classifyPackets(b, outs[i]));
  const probe = engine.createTracker({ capacity });
  stream(probe);
  const stats = probe.stats();
  probe.close();
  const warm = engine.createTracker({ capacity });
  stream(warm);
  const stateless = engine.createTracker({ capacity: 0 });
  const cases = await suite(`packets in memory (${profile}): ${n.toLocaleString('en')} packets in batches of ${BATCH}, ${LIVE.toLocaleString('en')} live conversations`, `packets-${profile}`, [
    {
      name: 'classifyPackets, fresh tracker (new + established)',
      perCall: n,
      fn: () => {
        const t = engine.createTracker({ capacity });
        stream(t);
        t.close();
      },
    },
    { name: 'classifyPackets, warm tracker (the packets again: established)', perCall: n, fn: () => stream(warm) },
    { name: 'classifyPackets, no state (capacity 0: every packet classified)', perCall: n, fn: () => stream(stateless) },
  ], { minSamples: QUICK ? 5 : 10, maxTime: QUICK ? 1 : 4 });
  // CPU time per packet (user + system of this process, median of runs): what "on one
  // core" means, and unaffected by waiting for a CPU when the shared machine is busy.
  const cpu = (fn: () => void): number => {
    const runs: number[] = [];
    for (let r = 0; r < (QUICK ? 5 : 15); r++) {
      const c0 = process.cpuUsage();
      fn();
      const c = process.cpuUsage(c0);
      runs.push(((c.user + c.system) * 1000) / n);
    }
    return median(runs);
  };
  const cpuNs = [
    cpu(() => {
      const t = engine.createTracker({ capacity });
      stream(t);
      t.close();
    }),
    cpu(() => stream(warm)),
    cpu(() => stream(stateless)),
  ];
  warm.close();
  stateless.close();
  const newShare = (stats.accepted.rule + stats.dropped.rule + stats.dropped.default) / n;
  const rows = cases.map((r, k) => ({ ...r, pps: 1e9 / r.nsPerItem, cpuNs: cpuNs[k]!, cpuPps: 1e9 / cpuNs[k]! }));
  console.log(`\n${profile}: ${n.toLocaleString('en')} packets of ${traffic.conversations.toLocaleString('en')} conversations (${JSON.stringify(traffic.mix)}), ${(traffic.bytes.length / 1e6).toFixed(1)} MB, generated in ${genMs.toFixed(0)} ms`);
  console.log(`verdicts: accepted ${JSON.stringify(stats.accepted)}, dropped ${JSON.stringify(stats.dropped)}; packets decided by the rules: ${(100 * newShare).toFixed(1)}%\n`);
  console.log(textTable(['case', 'wall ns/packet', 'Mpackets/s', '±%', 'CPU ns/packet', 'Mpackets/CPU-s'], rows.map((r) => [r.name, fmtNs(r.nsPerItem), (r.pps / 1e6).toFixed(2), r.rme.toFixed(1), fmtNs(r.cpuNs), (r.cpuPps / 1e6).toFixed(2)])));
  profiles.push({ profile, packets: n, capacity, conversations: traffic.conversations, mix: traffic.mix, megabytes: traffic.bytes.length / 1e6, newShare, mismatches, stats, cases: rows });
}

// For scale: the flow API (parsed flows, no packets, no state) on the cloud flow mix.
const flows = cloudFlows(aims, 4096).map(parseFlow);
const flowBatch = createFlowBatch(flows);
const flowOut = new Uint8Array(flows.length);
const [flowCase] = await suite('classifyBatch on the cloud flow mix', 'packets-flows', [
  { name: 'classifyBatch, parsed flows (4096 flows/call)', perCall: flows.length, fn: () => void engine.classifyBatch(flowBatch, flowOut) },
]);
const flowRuns: number[] = [];
for (let r = 0; r < 15; r++) {
  const c0 = process.cpuUsage();
  for (let k = 0; k < 50; k++) engine.classifyBatch(flowBatch, flowOut);
  const c = process.cpuUsage(c0);
  flowRuns.push(((c.user + c.system) * 1000) / (50 * flows.length));
}
const flowCpuNs = median(flowRuns);
console.log(`\nclassifyBatch: ${fmtNs(flowCase!.nsPerItem)} ns per flow (wall), ${fmtNs(flowCpuNs)} ns of CPU`);
const typical = (profiles[0]!.cases as { pps: number; cpuPps: number }[])[0]!;
console.log(`target ≥ ${TARGET_PPS / 1e6} million packets/s on one core (typical traffic, fresh tracker): ${typical.cpuPps >= TARGET_PPS ? 'met' : 'not met'} (${(typical.cpuPps / 1e6).toFixed(2)} per CPU-second; wall clock ${(typical.pps / 1e6).toFixed(2)} with the machine's load ${loadavg()[0]!.toFixed(1)})`);
// The BENCHMARKS.md rows of this run.
const m = machine();
console.log(`\n--- BENCHMARKS.md (${m.date.slice(0, 10)}, ${m.cores} vCPUs ${m.cpu}, Node ${m.node}, commit ${m.commit}) ---`);
console.log(`load average during the run: ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (${m.cores} vCPUs)`);
console.log('| traffic | packets (conversations) | decided by the rules | fresh tracker | warm tracker | no state (every packet classified) |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const p of profiles) {
  const c = p.cases as { nsPerItem: number; pps: number; cpuNs: number; cpuPps: number }[];
  const cell = (k: number) => `**${(c[k]!.cpuPps / 1e6).toFixed(1)} M/CPU-s** (${fmtNs(c[k]!.cpuNs)} ns) · wall ${(c[k]!.pps / 1e6).toFixed(1)} M/s`;
  console.log(`| ${p.profile} | ${(p.packets as number).toLocaleString('en')} (${(p.conversations as number).toLocaleString('en')}) | ${(100 * (p.newShare as number)).toFixed(1)}% | ${cell(0)} | ${cell(1)} | ${cell(2)} |`);
}
writeResults('packets', { quick: QUICK, packets: PACKETS, batch: BATCH, live: LIVE, loadAverage: [loadAtStart, loadavg()[0]], instanceAddresses: BENCH_LOCAL, profiles, flowNs: flowCase!.nsPerItem, flowCpuNs, targetPps: TARGET_PPS });
