/**
 * Where `sgfilter replay`'s CPU time goes, stage by stage, in process (issue 12,
 * item 7; BENCHMARKS.md "Replay"): each row adds one stage to the one before, on the
 * capture and policy of bench/replay.bench.ts.
 *
 *   npx tsx bench/replay-stages.ts [CAPTURE.pcap]    (default: generate 2M packets in /dev/shm)
 *
 * Rows: the file's reads alone (1 MiB FileHandle reads, no decoding); + decoding
 * (every batch of openCaptureFile); + createPacketBatch and classifyPackets (WASM
 * decode + track + classify); + writing the accepted packets (createCaptureFileWriter).
 * CPU time of this process (user + system), median of 5 runs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, createPacketBatch, parseConfig, type PacketVerdicts } from '../src/index.js';
import { createCaptureFileWriter, openCaptureFile } from '../src/node/capture-file.js';
import { BENCH_POLICY } from './capture.bench.js';
import { generateCapture, LOCAL_V4, LOCAL_V6 } from './capture-traffic.js';
import { median } from './lib.js';

const config = parseConfig(BENCH_POLICY);
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sgfilter-bench-stages-'));
const cap = process.argv[2] ?? join(dir, 'bench.pcap');
if (process.argv[2] === undefined) generateCapture(cap, { packets: 2_000_000, seed: 20261130 }, config, 'web-1');
const out = join(dir, 'out.pcap');
const engine = await createEngine(config);

async function cpu(name: string, fn: () => Promise<void>): Promise<void> {
  const runs: number[] = [];
  for (let k = 0; k < 5; k++) {
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / 1000);
  }
  console.log(`${name.padEnd(40)} ${median(runs).toFixed(0).padStart(5)} ms CPU  (${runs.map((x) => x.toFixed(0)).join(', ')})`);
}

async function pipeline(write: boolean): Promise<void> {
  const tracker = engine.createTracker({ instance: 'web-1', local: [LOCAL_V4, LOCAL_V6], capacity: 1 << 18 });
  const writer = write ? await createCaptureFileWriter(out, { format: 'pcap' }) : undefined;
  let v: PacketVerdicts | undefined;
  for await (const b of openCaptureFile(cap, { batchSize: 8192 })) {
    const n = b.count;
    const batch = createPacketBatch({
      bytes: b.data, offsets: b.offsets.subarray(0, n), lengths: b.capturedLengths.subarray(0, n),
      timestamps: b.timestamps.subarray(0, n), linkType: b.linkTypes.subarray(0, n), wireLengths: b.originalLengths.subarray(0, n),
    });
    v = tracker.classifyPackets(batch, v);
    if (writer) await writer.write(b, v.actions);
  }
  await writer?.close();
  tracker.close();
}

try {
  await cpu('read (1 MiB reads, no decoding)', async () => {
    const h = await open(cap);
    const buf = new Uint8Array(1 << 20);
    while ((await h.read(buf, 0, buf.length, null)).bytesRead > 0);
    await h.close();
  });
  await cpu('+ decode records (openCaptureFile)', async () => {
    for await (const b of openCaptureFile(cap, { batchSize: 8192 })) void b.count;
  });
  await cpu('+ decode/track/classify (WASM)', () => pipeline(false));
  await cpu('+ write accepted', () => pipeline(true));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
