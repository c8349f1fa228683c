/**
 * File to file: sgfilter's capture reader and writer against
 * `tcpdump -r CAPTURE -w OUT 'FILTER'` (issue 12, item 7), on a large generated
 * capture (bench/capture-traffic.ts; seed recorded) and a stateless policy that
 * bench/bpf.ts turns into the equivalent BPF filter.
 *
 *   npm run bench:capture                      2,000,000 packets
 *   SGFILTER_BENCH_PACKETS=500000 SGFILTER_BENCH_SEED=7 npm run bench:capture
 *   SGFILTER_BENCH_QUICK=1 npm run bench:capture
 *
 * The capture and the outputs are in /dev/shm (or SGFILTER_BENCH_DIR), so that disk
 * writeback does not decide the write timings.
 * What is timed (wall clock, median of RUNS rounds after a warm-up, the cases taking
 * turns within each round; the capture is in the page cache for every run, tcpdump's
 * and ours alike):
 *   - tcpdump -r CAP -w OUT FILTER      libpcap reads, BPF filters, writes the accepted packets
 *   - tcpdump -r CAP -w OUT             the same without a filter (copies every packet)
 *   - ours: read                        openCaptureFile, every batch
 *   - ours: read pcapng                 the same traffic as pcapng with three link types
 *   - ours: write                       encode + write the same number of packets
 *   - ours: read + write all            a copy, like tcpdump without a filter
 *   - ours: read + write accepted       keep flags precomputed from the reference matcher:
 *                                       the writing tcpdump's filter leads to, without classifying
 *   - ours: read + classify + write     the CLASSIFY hook below, once it is set
 *
 * CLASSIFY is the hook for the packet tracker (issue 12 items 1-3): a function from
 * a batch to its keep flags (1 = write the packet). Until it is set that row is
 * skipped; `classifyHook` can also be set by a script that imports this module.
 * Before timing, the bench checks that tcpdump's filtered output is exactly the
 * packets the reference matcher accepts, one by one (so the BPF translation and
 * the generator agree), and that our accepted output is the same packets.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type ConfigInput } from '../src/index.js';
import type { CaptureBatch } from '../src/capture/batch.js';
import type { CaptureReader } from '../src/capture/reader.js';
import { openCaptureFile, createCaptureFileWriter } from '../src/node/capture-file.js';
import { generateCapture, LOCAL_V4, LOCAL_V6 } from './capture-traffic.js';
import { policyToBpf } from './bpf.js';
import { QUICK, median, textTable, writeResults } from './lib.js';

/** The hook: keep flags for a batch (see the file comment). */
export type ClassifyHook = (batch: CaptureBatch, reader: CaptureReader) => Uint8Array;
export let classifyHook: ClassifyHook | undefined;
export function setClassifyHook(hook: ClassifyHook): void {
  classifyHook = hook;
}

const PACKETS = Number(process.env.SGFILTER_BENCH_PACKETS ?? (QUICK ? 200_000 : 2_000_000));
const SEED = Number(process.env.SGFILTER_BENCH_SEED ?? 20261130);
const RUNS = QUICK ? 3 : 11;
const INSTANCE = 'web-1';

/** The benchmark policy: stateless-translatable rules only (see bench/bpf.ts). */
export const BENCH_POLICY: ConfigInput = {
  securityGroups: [
    {
      id: 'sg-web',
      inbound: [
        { protocol: 'TCP', port: 22, source: '203.0.113.0/24', action: 'accept', description: 'ssh from the office' },
        { protocol: 'TCP', port: '80,443', source: 'any', action: 'accept' },
        { protocol: 'TCP', port: 8080, source: '198.51.100.0/24', action: 'drop' },
        { protocol: 'TCP', port: '8000-8100', source: '0.0.0.0/0', action: 'accept' },
        { protocol: 'UDP', port: 53, source: 'any', action: 'accept' },
        { type: 'ping', source: '0.0.0.0/0', action: 'accept' },
        { protocol: 'ICMPv6', source: '::/0', action: 'accept' },
      ],
      outbound: [
        { protocol: 'TCP', port: 5432, destination: '0.0.0.0/0', action: 'drop' },
        { protocol: 'TCP', port: '80,443', destination: 'any', action: 'accept' },
        { protocol: 'UDP', port: 53, destination: '2001:db8:53::/48', action: 'accept' },
        { protocol: 'UDP', port: 53, destination: '0.0.0.0/0', action: 'accept' },
        { protocol: 'ICMP', destination: '0.0.0.0/0', action: 'accept' },
      ],
    },
  ],
  instances: [{ id: INSTANCE, securityGroups: ['sg-web'] }],
};

function tcpdump(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync('tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`tcpdump ${args.join(' ')}: ${r.stderr}`);
  return ms;
}

async function readOnly(path: string, expected: number): Promise<number> {
  let n = 0;
  for await (const b of openCaptureFile(path)) n += b.count;
  if (n !== expected) throw new Error(`read ${n} packets of ${path}, expected ${expected}`);
  return n;
}

async function copy(path: string, out: string, keep?: (b: CaptureBatch, r: CaptureReader) => Uint8Array | undefined): Promise<number> {
  const reader = openCaptureFile(path);
  const writer = await createCaptureFileWriter(out, { format: 'pcap' });
  for await (const b of reader) await writer.write(b, keep?.(b, reader));
  await writer.close();
  return writer.packetsWritten;
}

/** Timestamps (µs) of every packet of a capture, to compare two captures packet by packet. */
async function packetDigest(path: string): Promise<{ count: number; stamps: Float64Array; bytes: number }> {
  const stamps: number[] = [];
  let bytes = 0;
  for await (const b of openCaptureFile(path)) {
    for (let i = 0; i < b.count; i++) {
      stamps.push(b.timestampSeconds[i]! * 1e6 + b.timestampNanoseconds[i]! / 1000);
      bytes += b.capturedLengths[i]!;
    }
  }
  return { count: stamps.length, stamps: Float64Array.from(stamps), bytes };
}

async function main(): Promise<void> {
  const hasTcpdump = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0;
  const config = parseConfig(BENCH_POLICY);
  const filter = policyToBpf(config, INSTANCE, [LOCAL_V4, LOCAL_V6]);
  // In memory (tmpfs) where there is one: writing hundreds of MB to a disk-backed
  // file soon waits for writeback, which would time the disk, not the programs.
  const base = process.env.SGFILTER_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const dir = mkdtempSync(join(base, 'sgfilter-bench-capture-'));
  const cap = join(dir, 'bench.pcap');
  const out = join(dir, 'out.pcap');
  try {
    let t0 = performance.now();
    const gen = generateCapture(cap, { packets: PACKETS, seed: SEED }, config, INSTANCE);
    const accepted = gen.accepted.reduce((a, b) => a + b, 0);
    console.log(`files in ${dir}`);
    console.log(`generated ${gen.packets} packets, ${(gen.bytes / 1e6).toFixed(1)} MB (seed ${SEED}) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${accepted} accepted as new flows`);
    console.log(`BPF filter (${filter.length} chars): ${filter}`);

    // The accepted packets, as the reference matcher says, by timestamp.
    const want: number[] = [];
    {
      let n = 0;
      for await (const b of openCaptureFile(cap)) {
        for (let i = 0; i < b.count; i++, n++) if (gen.accepted[n]) want.push(b.timestampSeconds[i]! * 1e6 + b.timestampNanoseconds[i]! / 1000);
      }
    }
    const keepOf = (b: CaptureBatch) => gen.accepted.subarray(b.firstPacketIndex, b.firstPacketIndex + b.count);

    t0 = performance.now();
    await copy(cap, out, keepOf);
    const ours = await packetDigest(out);
    if (ours.count !== want.length || ours.stamps.some((s, i) => s !== want[i])) throw new Error('our accepted output is not the accepted packets');
    if (hasTcpdump) {
      tcpdump(['-r', cap, '-w', out, filter]);
      const theirs = await packetDigest(out);
      const firstDiff = theirs.stamps.findIndex((s, i) => s !== want[i]);
      if (theirs.count !== want.length || firstDiff >= 0) {
        throw new Error(`tcpdump kept ${theirs.count} packets, the reference matcher accepts ${want.length}; first difference at accepted packet ${firstDiff}`);
      }
      console.log(`checked: tcpdump's filter keeps exactly the ${want.length} packets the reference matcher accepts, as our writer does`);
    } else {
      console.log('tcpdump is not installed: its rows are skipped');
    }

    // Cases run round-robin, one run of each per round, so that on shared cores every
    // case sees the same load; each is warmed up once first.
    const cases: { name: string; packetsOut: number; fn: () => Promise<unknown> | unknown }[] = [];
    const add = (name: string, packetsOut: number, fn: () => Promise<unknown> | unknown) => cases.push({ name, packetsOut, fn });
    if (hasTcpdump) {
      add('tcpdump -r CAP -w OUT FILTER', accepted, () => tcpdump(['-r', cap, '-w', out, filter]));
      add('tcpdump -r CAP -w OUT (no filter)', PACKETS, () => tcpdump(['-r', cap, '-w', out]));
    }
    add('sgfilter: read', 0, () => readOnly(cap, PACKETS));
    // The same traffic as pcapng with three link types (Ethernet, raw IP, Linux cooked v2),
    // which tcpdump cannot read: our pcapng reading alone.
    const ng = join(dir, 'bench.pcapng');
    const ngBytes = generateCapture(ng, { packets: PACKETS, seed: SEED, mixed: true }, config, INSTANCE).bytes;
    add('sgfilter: read pcapng, 3 link types', 0, () => readOnly(ng, PACKETS));
    add('sgfilter: write (encode + write, no read)', PACKETS, async () => {
      // The first 8192 packets, written again and again: the cost of writing alone.
      const reader = openCaptureFile(cap, { batchSize: 8192 });
      const writer = await createCaptureFileWriter(out, { format: 'pcap' });
      for await (const b of reader) {
        for (let n = 0; n < PACKETS; n += b.count) await writer.write(b);
        break;
      }
      await writer.close();
    });
    add('sgfilter: read + write all', PACKETS, () => copy(cap, out));
    add('sgfilter: read + write accepted (flags precomputed)', accepted, () => copy(cap, out, keepOf));
    if (classifyHook) {
      const hook = classifyHook;
      add('sgfilter: read + classify + write', accepted, () => copy(cap, out, hook));
    } else {
      console.log('sgfilter: read + classify + write: skipped (no classify hook yet: setClassifyHook)');
    }
    const rows = cases.map((c) => ({ name: c.name, packetsOut: c.packetsOut, ms: [] as number[] }));
    for (const c of cases) await c.fn();
    for (let round = 0; round < RUNS; round++) {
      for (const [i, c] of cases.entries()) {
        const t = performance.now();
        await c.fn();
        rows[i]!.ms.push(performance.now() - t);
      }
    }
    for (const r of rows) console.log(`${r.name}: median ${median(r.ms).toFixed(0)} ms (${r.ms.map((x) => x.toFixed(0)).join(', ')})`);

    const capBytes = statSync(cap).size;
    const table = rows.map((r) => {
      const m = median(r.ms) / 1000;
      const inputBytes = r.name.includes('pcapng') ? ngBytes : capBytes;
      return [r.name, (m * 1000).toFixed(0), (PACKETS / m / 1e6).toFixed(2), (inputBytes / m / 1e6).toFixed(0), r.packetsOut ? String(r.packetsOut) : '—'];
    });
    const head = ['', 'median ms', 'M packets/s', 'MB/s (input)', 'packets written'];
    console.log(`\n${textTable(head, table)}`);
    console.log(`\n| ${head.join(' | ')} |\n|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|\n${table.map((r) => `| ${r.join(' | ')} |`).join('\n')}`);
    writeResults('capture', {
      packets: PACKETS, seed: SEED, bytes: capBytes, accepted, filter, runs: RUNS,
      rows: rows.map((r) => ({ name: r.name, runsMs: r.ms, medianMs: median(r.ms), packetsPerSecond: PACKETS / (median(r.ms) / 1000), bytesPerSecond: capBytes / (median(r.ms) / 1000), packetsWritten: r.packetsOut })),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
