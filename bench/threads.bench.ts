/**
 * Classification throughput of a classifier pool (src/node/workers.ts) with 1, 2 and
 * os.availableParallelism() threads, against one engine in this thread:
 *   - ClassBench acl1_10K (its 97,000-line trace, packed once as a FlowBatch): the
 *     engine's classifyBatch vs pool.classify(batch) (the packed arrays are split,
 *     copied and transferred to the threads, answers transferred back);
 *   - the cloud policy (bench/cloud-policy.ts, 5 groups × 100 rules per direction)
 *     from flow objects: createFlowBatch + classifyBatch in this thread vs
 *     pool.classify(flows), where each thread validates and packs its share.
 * Each case: calls one after another, and (pools) with 2 calls per thread in flight.
 * Flows/s = flows classified ÷ wall time over a fixed window (median of rounds).
 * Every pool answer is checked against the in-thread engine first.
 *
 *   npm run bench:threads            SGFILTER_BENCH_QUICK=1 for a short run
 */
import { readFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import {
  closeCompileWorker, createClassifierPool, createEngine, createFlowBatch, parseClassBench, parseClassBenchTrace, parseConfig,
  type ClassifierPool, type Engine, type FlowBatch, type FlowInput,
} from '../src/index.js';
import { cloudFlows, cloudPolicy } from './cloud-policy.js';
import { CLASSBENCH_DIR, QUICK, fmtX, median, textTable, writeResults } from './lib.js';

const ROUND_MS = QUICK ? 300 : 1500;
const ROUNDS = QUICK ? 3 : 5;
const cores = availableParallelism();
const threadCounts = [...new Set([1, 2, cores])];

/** Flows per second of `call` (resolving to flows done), `inFlight` calls at a time, over ROUNDS windows. */
async function rate(call: () => number | Promise<number>, inFlight = 1): Promise<number> {
  await call(); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let flows = 0;
    const t0 = performance.now();
    const end = t0 + ROUND_MS;
    const lane = async () => {
      while (performance.now() < end) {
        const done = await call(); // (not `flows += await call()`: that reads `flows` before the await)
        flows += done;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    rates.push(flows / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

interface Row {
  workload: string;
  how: string;
  threads: number;
  inFlight: number;
  flowsPerSec: number;
  vsInThread: number;
}
const rows: Row[] = [];

async function measure(
  workload: string,
  engine: Engine,
  inThread: () => number,
  snapshot: Uint8Array,
  poolCall: (pool: ClassifierPool) => Promise<number>,
  check: (pool: ClassifierPool) => Promise<void>,
): Promise<void> {
  const base = await rate(inThread);
  rows.push({ workload, how: 'one engine, this thread', threads: 0, inFlight: 1, flowsPerSec: base, vsInThread: 1 });
  console.log(`${workload}: in-thread ${(base / 1e6).toFixed(2)} M flows/s`);
  for (const threads of threadCounts) {
    const pool = await createClassifierPool({ snapshot }, { threads });
    try {
      await check(pool);
      for (const inFlight of [1, 2 * threads]) {
        const r = await rate(() => poolCall(pool), inFlight);
        rows.push({ workload, how: `pool`, threads, inFlight, flowsPerSec: r, vsInThread: r / base });
        console.log(`${workload}: pool ${threads} thread(s), ${inFlight} in flight: ${(r / 1e6).toFixed(2)} M flows/s (${fmtX(r / base)})`);
      }
    } finally {
      await pool.close();
    }
  }
  void engine;
}

// ClassBench acl1_10K, packed batch.
const set = 'acl1_10K';
if (existsSync(`${CLASSBENCH_DIR}${set}`)) {
  const config = parseClassBench(readFileSync(`${CLASSBENCH_DIR}${set}`, 'utf8'));
  const { batch } = parseClassBenchTrace(readFileSync(`${CLASSBENCH_DIR}${set}_trace`, 'utf8'));
  const engine = await createEngine(config);
  const out = new Uint8Array(batch.length);
  engine.classifyBatch(batch, out);
  const want = Int32Array.from(batch.ruleIds);
  await measure(
    `ClassBench ${set} (${batch.length} flows/call, packed)`,
    engine,
    () => (engine.classifyBatch(batch, out), batch.length),
    engine.snapshot(),
    async (pool) => (await pool.classify(batch as FlowBatch)).actions.length,
    async (pool) => {
      const r = await pool.classify(batch);
      for (let i = 0; i < want.length; i++) if (r.ruleIds[i] !== want[i]) throw new Error(`pool differs from the engine at flow ${i}`);
    },
  );
} else {
  console.log(`(ClassBench ${set} not found in ${CLASSBENCH_DIR}: skipped)`);
}

// Cloud policy from flow objects.
{
  const { config: doc, aims } = cloudPolicy();
  const config = parseConfig(doc);
  const engine = await createEngine(config);
  const flows: FlowInput[] = cloudFlows(aims, 16384);
  const out = new Uint8Array(flows.length);
  const ref = createFlowBatch(flows);
  engine.classifyBatch(ref);
  await measure(
    `cloud policy (${flows.length} flow objects/call)`,
    engine,
    () => (engine.classifyBatch(createFlowBatch(flows), out), flows.length),
    engine.snapshot(),
    async (pool) => (await pool.classify(flows)).actions.length,
    async (pool) => {
      const r = await pool.classify(flows);
      const want = ref.ruleIds; // a copy: read it once
      for (let i = 0; i < flows.length; i++) if (r.ruleIds[i] !== want[i]) throw new Error(`pool differs from the engine at flow ${i}`);
    },
  );
}
await closeCompileWorker();

console.log(`\n${cores} cores available (os.availableParallelism)\n`);
console.log(
  textTable(
    ['workload', 'how', 'threads', 'calls in flight', 'M flows/s', 'vs this thread'],
    rows.map((r) => [r.workload, r.how, r.threads || '-', r.inFlight, (r.flowsPerSec / 1e6).toFixed(2), fmtX(r.vsInThread)]),
  ),
);
writeResults('threads', { availableParallelism: cores, roundMs: ROUND_MS, rounds: ROUNDS, rows });
