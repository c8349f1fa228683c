/**
 * File to file with the packet tracker (issue 12, item 7): `sgfilter replay CONFIG
 * CAPTURE --accepted OUT` against `tcpdump -r CAPTURE -w OUT 'FILTER'`, on the large
 * generated capture of bench/capture-traffic.ts (seed recorded) and the stateless
 * policy that bench/bpf.ts turns into the equivalent BPF filter (BENCH_POLICY of
 * bench/capture.bench.ts).
 *
 *   npm run bench:replay                      2,000,000 packets
 *   SGFILTER_BENCH_PACKETS=500000 SGFILTER_BENCH_SEED=7 npm run bench:replay
 *   SGFILTER_BENCH_QUICK=1 npm run bench:replay
 *
 * Needs the build (`npm run build`): the CLI rows run dist/src/cli.js as users do.
 * The capture and the outputs are in /dev/shm (or SGFILTER_BENCH_DIR). The cases take
 * turns within each round, RUNS rounds after a warm-up; each row reports the median
 * wall clock and the median CPU time (user + system: of the child process for the
 * process rows, read from /proc/self/stat's cutime/cstime; of this process for the
 * in-process row), because on a shared machine the wall clock also counts waiting
 * for a CPU. Rows:
 *   - tcpdump -r CAP -w OUT FILTER          libpcap reads, BPF filters (stateless), writes the kept packets
 *   - sgfilter replay … --accepted OUT      the CLI, a whole process: Node start-up, WASM
 *                                          compile, read, decode + track + classify, write
 *                                          the accepted packets, the report
 *   - sgfilter replay … --accepted --dropped --verdicts   every output at once
 *   - node dist/src/cli.js replay --help    the fixed cost of starting replay: Node and the
 *                                          modules replay loads (the CLI imports only the
 *                                          command it runs), no packet
 *   - in process: read + classify + write   the same pipeline without the process
 *
 * Not the same packets on purpose: the tracker is stateful, so besides every packet
 * the rules accept (all of which tcpdump keeps too: checked before timing) it keeps
 * the replies of accepted connections, which a stateless BPF filter cannot tell
 * from unsolicited packets. The policy is the same.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, createPacketBatch, parseConfig, type PacketVerdicts } from '../src/index.js';
import { openCaptureFile, createCaptureFileWriter } from '../src/node/capture-file.js';
import { BENCH_POLICY } from './capture.bench.js';
import { generateCapture, LOCAL_V4, LOCAL_V6 } from './capture-traffic.js';
import { policyToBpf } from './bpf.js';
import { QUICK, machine, median, textTable, writeResults } from './lib.js';

const PACKETS = Number(process.env.SGFILTER_BENCH_PACKETS ?? (QUICK ? 200_000 : 2_000_000));
const SEED = Number(process.env.SGFILTER_BENCH_SEED ?? 20261130);
const RUNS = Number(process.env.SGFILTER_BENCH_RUNS ?? (QUICK ? 3 : 9));
const INSTANCE = 'web-1';
/**
 * Connections the tracker may hold. The traffic keeps up to 2,000 conversations going
 * at once, but closed and idle ones stay tracked until their timeouts (10 s to 5 days)
 * while the capture spans ~20 s: 2M packets leave ~60,000 tracked, near the default
 * 65,536, so the bench gives room (and checks that nothing was table-full).
 */
const CAPACITY = 1 << 18;
const CLI = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));

/** CPU time (ms) of the waited-for children of this process so far (Linux /proc; 0 elsewhere). */
function childrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of proc(5) (cutime, cstime), counted from field 3 (state) here; clock ticks of 1/100 s.
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return 0;
  }
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function run(cmd: string, args: string[]): Timing & { stdout: string } {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 24 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return { wallMs, cpuMs: childrenCpuMs() - cpu0, stdout: r.stdout };
}

/** Timestamps (ns since the epoch, as bigint-free doubles of µs) of a capture's packets, in order. */
async function stamps(path: string): Promise<Float64Array> {
  const out: number[] = [];
  for await (const b of openCaptureFile(path)) {
    for (let i = 0; i < b.count; i++) out.push(b.timestampSeconds[i]! * 1e6 + b.timestampNanoseconds[i]! / 1000);
  }
  return Float64Array.from(out);
}

/** Whether every element of `sub` appears in `all`, in order (both in capture order). */
function isSubsequence(sub: Float64Array, all: Float64Array): boolean {
  let j = 0;
  for (let i = 0; i < sub.length; i++) {
    while (j < all.length && all[j] !== sub[i]) j++;
    if (j++ >= all.length) return false;
  }
  return true;
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const hasTcpdump = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0;
  const tcpdumpVersion = hasTcpdump ? spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).stdout.split('\n').slice(0, 2).join(' / ') : null;
  const config = parseConfig(BENCH_POLICY);
  const filter = policyToBpf(config, INSTANCE, [LOCAL_V4, LOCAL_V6]);
  const base = process.env.SGFILTER_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const dir = mkdtempSync(join(base, 'sgfilter-bench-replay-'));
  const cap = join(dir, 'bench.pcap');
  const out = join(dir, 'out.pcap');
  const cfg = join(dir, 'policy.json');
  writeFileSync(cfg, JSON.stringify(BENCH_POLICY));
  const replayArgs = [CLI, 'replay', cfg, cap, '--instance', INSTANCE, '--local', LOCAL_V4, '--local', LOCAL_V6, '--capacity', String(CAPACITY), '--no-progress'];
  try {
    const t0 = performance.now();
    const gen = generateCapture(cap, { packets: PACKETS, seed: SEED }, config, INSTANCE);
    const statelessAccepted = gen.accepted.reduce((a, b) => a + b, 0);
    const capBytes = statSync(cap).size;
    console.log(`files in ${dir}`);
    console.log(`generated ${gen.packets} packets, ${(gen.bytes / 1e6).toFixed(1)} MB (seed ${SEED}) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${statelessAccepted} accepted as new flows`);

    // What each keeps, checked before timing.
    const report = run(process.execPath, [...replayArgs, '--accepted', out]).stdout;
    const oursKept = await stamps(out);
    const summary = report.split('\n')[0]!;
    console.log(`sgfilter replay: ${summary}`);
    const tableFull = /drop\s+table-full\s+([\d,]+)/.exec(report);
    if (!tableFull || tableFull[1] !== '0') throw new Error(`the tracker's table filled (or the report changed): ${tableFull?.[0]}`);
    let tcpdumpKept = 0;
    if (hasTcpdump) {
      run('tcpdump', ['-r', cap, '-w', out, filter]);
      const theirs = await stamps(out);
      tcpdumpKept = theirs.length;
      if (theirs.length !== statelessAccepted) throw new Error(`tcpdump kept ${theirs.length} packets, the reference matcher accepts ${statelessAccepted} as new flows`);
      if (!isSubsequence(theirs, oursKept)) throw new Error('a packet tcpdump keeps is not in sgfilter replay\'s accepted output');
      console.log(`checked: tcpdump keeps the ${theirs.length} packets the rules accept as new flows; sgfilter replay keeps all of them and ${oursKept.length - theirs.length} more (replies and established traffic)`);
    } else {
      console.log('tcpdump is not installed: its row is skipped');
    }

    const cases: { name: string; packetsOut: number; fn: () => Promise<Timing> | Timing }[] = [];
    const add = (name: string, packetsOut: number, fn: () => Promise<Timing> | Timing) => cases.push({ name, packetsOut, fn });
    if (hasTcpdump) add('`tcpdump -r CAP -w OUT FILTER`', tcpdumpKept, () => run('tcpdump', ['-r', cap, '-w', out, filter]));
    add('`sgfilter replay CONFIG CAP --accepted OUT`', oursKept.length, () => run(process.execPath, [...replayArgs, '--accepted', out]));
    add('`sgfilter replay` with `--accepted --dropped --verdicts`', PACKETS, () =>
      run(process.execPath, [...replayArgs, '--accepted', out, '--dropped', join(dir, 'dropped.pcap'), '--verdicts', join(dir, 'verdicts.jsonl')]));
    add('`node dist/src/cli.js replay --help` (start-up alone)', 0, () => run(process.execPath, [CLI, 'replay', '--help']));
    const engine = await createEngine(config);
    add('in process: read + decode/track/classify + write accepted', oursKept.length, async () => {
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      const tracker = engine.createTracker({ instance: INSTANCE, local: [LOCAL_V4, LOCAL_V6], capacity: CAPACITY });
      const writer = await createCaptureFileWriter(out, { format: 'pcap' });
      let v: PacketVerdicts | undefined;
      for await (const b of openCaptureFile(cap)) {
        const n = b.count;
        const batch = createPacketBatch({
          bytes: b.data, offsets: b.offsets.subarray(0, n), lengths: b.capturedLengths.subarray(0, n),
          timestamps: b.timestamps.subarray(0, n), linkType: b.linkTypes.subarray(0, n), wireLengths: b.originalLengths.subarray(0, n),
        });
        v = tracker.classifyPackets(batch, v);
        await writer.write(b, v.actions);
      }
      await writer.close();
      tracker.close();
      const c = process.cpuUsage(cpu0);
      return { wallMs: performance.now() - t, cpuMs: (c.user + c.system) / 1000 };
    });

    const rows = cases.map((c) => ({ name: c.name, packetsOut: c.packetsOut, wall: [] as number[], cpu: [] as number[] }));
    for (const c of cases) await c.fn();
    for (let round = 0; round < RUNS; round++) {
      for (const [i, c] of cases.entries()) {
        const t = await c.fn();
        rows[i]!.wall.push(t.wallMs);
        rows[i]!.cpu.push(t.cpuMs);
      }
    }
    for (const r of rows) console.log(`${r.name}: wall ${r.wall.map((x) => x.toFixed(0)).join(', ')} ms; CPU ${r.cpu.map((x) => x.toFixed(0)).join(', ')} ms`);

    const table = rows.map((r) => {
      const w = median(r.wall);
      const c = median(r.cpu);
      return [r.name, w.toFixed(0), (PACKETS / w / 1e3).toFixed(2), c.toFixed(0), c > 0 ? (PACKETS / c / 1e3).toFixed(2) : '—', r.packetsOut ? r.packetsOut.toLocaleString('en-US') : '—'];
    });
    const head = ['', 'wall ms', 'M packets/s (wall)', 'CPU ms', 'M packets/CPU-s', 'packets written'];
    console.log(`\n${textTable(head, table)}`);
    console.log(`\n| ${head.join(' | ')} |\n|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|\n${table.map((r) => `| ${r.join(' | ')} |`).join('\n')}`);
    const td = rows.find((r) => r.name.startsWith('`tcpdump'));
    const ours = rows.find((r) => r.name.startsWith('`sgfilter replay CONFIG'))!;
    if (td) {
      console.log(`\nratio sgfilter replay / tcpdump: wall ${(median(ours.wall) / median(td.wall)).toFixed(2)}, CPU ${(median(ours.cpu) / median(td.cpu)).toFixed(2)} (below 1: sgfilter faster)`);
    }
    writeResults('replay', {
      machine: machine(), tcpdump: tcpdumpVersion, packets: PACKETS, seed: SEED, bytes: capBytes, filter, runs: RUNS, statelessAccepted, replayAccepted: oursKept.length,
      rows: rows.map((r) => ({ name: r.name, wallMs: r.wall, cpuMs: r.cpu, medianWallMs: median(r.wall), medianCpuMs: median(r.cpu), packetsWritten: r.packetsOut })),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
