/**
 * Edge build numbers: bundle sizes (as wrangler would upload them) and the time from
 * starting workerd (Miniflare, loopback) to the first verdict of the example worker.
 * Run after `npm run build`: `tsx bench/edge-startup.ts [runs]`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';
import { createEngine, loadConfigFile } from '../src/index.js';
import { ROOT, bundleWorker } from '../test/edge-bundle.js';

const runs = Number(process.argv[2] ?? 7);
const wasm = readFileSync(join(ROOT, 'build/sgfilter.wasm'));
const snapshot = (await createEngine(await loadConfigFile(join(ROOT, 'examples/edge/policy.yaml')))).snapshot();
const bundle = await bundleWorker(join(ROOT, 'examples/edge/src/bundled-worker.js'));
const min = await bundleWorker(join(ROOT, 'examples/edge/src/bundled-worker.js'), { minify: true });
const gz = (b: string | Uint8Array) => gzipSync(b).length;
console.log(`worker bundle: ${bundle.code.length} B (gzip ${gz(bundle.code)}), minified ${min.code.length} B (gzip ${gz(min.code)})`);
console.log(`sgfilter.wasm: ${wasm.length} B (gzip ${gz(wasm)}); policy.bin (examples/edge/policy.yaml): ${snapshot.length} B (gzip ${gz(snapshot)})`);
console.log(`upload total, minified: ${min.code.length + wasm.length + snapshot.length} B (gzip ${gz(min.code) + gz(wasm) + gz(snapshot)})`);

const times: number[] = [];
const firstReq: number[] = [];
const warmReq: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    compatibilityDate: '2026-04-26',
    modulesRoot: ROOT,
    modules: [
      { type: 'ESModule', path: join(ROOT, 'worker.js'), contents: min.code },
      { type: 'CompiledWasm', path: join(ROOT, 'sgfilter.wasm'), contents: wasm },
      { type: 'Data', path: join(ROOT, 'policy.bin'), contents: snapshot },
    ],
  });
  const res = await mf.dispatchFetch('https://example.com/', { headers: { 'CF-Connecting-IP': '198.51.100.7' } });
  await res.arrayBuffer();
  times.push(performance.now() - t0);
  if (res.status !== 200) throw new Error(`unexpected status ${res.status}`);
  await mf.dispose();
  // The same, with workerd already up: the first request (isolate start, engine from
  // the snapshot, first verdict), then a warm one.
  const mf2 = new Miniflare({ host: '127.0.0.1', port: 0, compatibilityDate: '2026-04-26', modulesRoot: ROOT, modules: [
    { type: 'ESModule', path: join(ROOT, 'worker.js'), contents: min.code },
    { type: 'CompiledWasm', path: join(ROOT, 'sgfilter.wasm'), contents: wasm },
    { type: 'Data', path: join(ROOT, 'policy.bin'), contents: snapshot },
  ] });
  await mf2.ready;
  for (const into of [firstReq, warmReq]) {
    const t1 = performance.now();
    await (await mf2.dispatchFetch('https://example.com/', { headers: { 'CF-Connecting-IP': '198.51.100.7' } })).arrayBuffer();
    into.push(performance.now() - t1);
  }
  await mf2.dispose();
}
const med = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!.toFixed(1);
console.log(`after ready: first request ${med(firstReq)} ms, warm request ${med(warmReq)} ms (medians, through Miniflare's loopback HTTP)`);
times.sort((a, b) => a - b);
console.log(`workerd start → first verdict (${runs} runs): median ${times[runs >> 1]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms, max ${times[runs - 1]!.toFixed(0)} ms`);
