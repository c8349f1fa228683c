/**
 * classifyBatch (WASM) against the reference matcher (linear scan) on synthetic
 * policies of 10, 100, 1,000 and 10,000 rules. Prints ns per flow (median of the
 * samples) and the ratio, measured side by side in the same run.
 *
 *   npm run bench              (all sizes)     SGFILTER_BENCH_QUICK=1 for a short run
 */
import b from 'benny';
import { writeFileSync, mkdirSync } from 'node:fs';
import { createEngine, createFlowBatch, parseConfig, parseFlow, referenceClassify } from '../src/index.js';
import { syntheticFlows, syntheticPolicy } from './policies.js';

const quick = !!process.env.SGFILTER_BENCH_QUICK;
const sizes = [10, 100, 1000, 10000];
const BATCH = 4096;
const rows: { rules: number; wasmNs: number; refNs: number; compileMs: number; tableBytes: number }[] = [];

for (const n of sizes) {
  const { config: doc, prefixes } = syntheticPolicy(n);
  const config = parseConfig(doc);
  const t0 = performance.now();
  const engine = await createEngine(config);
  const compileMs = performance.now() - t0;
  const inputs = syntheticFlows(prefixes, BATCH);
  const batch = createFlowBatch(inputs);
  const out = new Uint8Array(BATCH);
  const flows = inputs.map(parseFlow);
  // The reference gets a slice small enough to finish a sample at 10K rules.
  const refFlows = flows.slice(0, n >= 1000 ? 64 : 1024);
  let sink = 0;
  const summary = await b.suite(
    `classify, ${n} rules`,
    b.configure({ cases: { minSamples: quick ? 5 : 20, maxTime: quick ? 0.5 : 2 } }),
    b.add(`wasm classifyBatch (${BATCH} flows/call)`, () => {
      engine.classifyBatch(batch, out);
    }),
    b.add(`reference linear scan (${refFlows.length} flows/call)`, () => {
      for (const f of refFlows) sink += referenceClassify(config, f).action === 'accept' ? 1 : 0;
    }),
    b.cycle(),
  );
  const [w, r] = summary.results;
  const wasmNs = (w!.details.median * 1e9) / BATCH;
  const refNs = (r!.details.median * 1e9) / refFlows.length;
  rows.push({ rules: n, wasmNs, refNs, compileMs, tableBytes: engine.stats.total });
  if (sink < 0) console.log(sink);
}

console.log('\nrules   wasm ns/flow   reference ns/flow   speed-up   compile ms   table bytes');
for (const r of rows) {
  console.log(
    `${String(r.rules).padStart(5)}   ${r.wasmNs.toFixed(1).padStart(12)}   ${r.refNs.toFixed(0).padStart(17)}   ${(r.refNs / r.wasmNs).toFixed(0).padStart(7)}×   ${r.compileMs.toFixed(1).padStart(10)}   ${String(r.tableBytes).padStart(11)}`,
  );
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/classify.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2));
