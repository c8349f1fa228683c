/**
 * Partitioned vs whole classifiers (docs/DESIGN.md "Partitions"), in one process: each
 * set compiled both ways (partitionMinBytes 0 / 2^53), then the whole trace classified
 * by each engine in turn, 9 rounds of 5 calls. ns/lookup is CPU time (user + system) per
 * lookup, which a machine shared with other work disturbs less than wall time; medians.
 *
 *   npx tsx bench/partitions.ts [set ...]     default: the 10K and 100K ClassBench sets
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createEngine, parseClassBench, parseClassBenchTrace, type Engine } from '../src/index.js';
import { CLASSBENCH_100K_DIR, CLASSBENCH_DIR, fmtBytes } from './lib.js';

const args = process.argv.slice(2);
const sets = args.length ? args : ['acl1_10K', 'fw1_10K', 'ipc1_10K', 'acl2_100K', 'fw3_100K', 'ipc2_100K'];
const read = (file: string) => (existsSync(`${CLASSBENCH_DIR}${file}`) ? readFileSync(`${CLASSBENCH_DIR}${file}`, 'utf8') : gunzipSync(readFileSync(`${CLASSBENCH_100K_DIR}${file}.gz`)).toString('utf8'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

for (const set of sets) {
  const config = parseClassBench(read(set));
  const { batch } = parseClassBenchTrace(read(`${set}_trace`));
  const out = new Uint8Array(batch.length);
  const ways: { name: string; engine: Engine; compileCpuMs: number; ns: number[] }[] = [];
  for (const [name, partitionMinBytes] of [['parts', 0], ['whole', Number.MAX_SAFE_INTEGER]] as const) {
    const before = process.cpuUsage();
    const engine = await createEngine(config, { partitionMinBytes });
    const used = process.cpuUsage(before);
    ways.push({ name, engine, compileCpuMs: (used.user + used.system) / 1e3, ns: [] });
  }
  for (let round = 0; round < 9; round++) {
    for (const w of ways) {
      const before = process.cpuUsage();
      for (let k = 0; k < 5; k++) w.engine.classifyBatch(batch, out);
      const used = process.cpuUsage(before);
      w.ns.push(((used.user + used.system) * 1e3) / (5 * batch.length));
    }
  }
  for (const w of ways) {
    console.log(`${set.padEnd(10)} ${w.name.padEnd(5)} create ${w.compileCpuMs.toFixed(0).padStart(6)} ms CPU  table ${fmtBytes(w.engine.stats.total).padStart(9)}  ${median(w.ns).toFixed(1).padStart(7)} ns/lookup (CPU, median of 9)`);
  }
}
