/**
 * Policies from Workers KV, in workerd (Miniflare, loopback; `npm run bench:kv` after
 * `npm run build`):
 *
 *  1. Cold start: with workerd up, the first request to a fresh isolate of the example
 *     worker that loads its policy from KV (read the version key, read the snapshot,
 *     verify HMAC-SHA-256, check, instantiate) against the same worker with the
 *     snapshot bundled in its upload (examples/edge/src/bundled-worker.js); then a warm
 *     request to each. A new Miniflare per run, so every isolate is new. Two policies:
 *     the example's (a few rules) and a cloud-realistic one (bench/cloud-policy.ts,
 *     1,000 rules).
 *  2. Publish → every isolate uses it: WORKERS example workers on one KV namespace,
 *     each getting a request every TRAFFIC_MS (as a busy fleet would); a new version
 *     that flips one client's verdict is published (publishPolicy into Miniflare's
 *     KV) at a random phase of the refresh cycle; the time from the version key's
 *     write to the first request each isolate answers with the new verdict, the last
 *     isolate's time being the figure. Per refresh interval.
 *
 * Miniflare's KV is local: on Cloudflare a new value also needs to reach each
 * location (up to about 60 s), which this cannot measure.
 *
 *   tsx bench/edge-kv.bench.ts [runs] [publishes]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { createEngine, parseConfig, publishPolicy, type Config, type PolicyWriter } from '../src/index.js';
import { loadConfigFile } from '../src/node/config-file.js';
import { ROOT, bundleWorker } from '../test/edge-bundle.js';
import { cloudPolicy } from './cloud-policy.js';
import { machine, median, QUICK } from './lib.js';

const runs = Number(process.argv[2] ?? (QUICK ? 3 : 15));
const publishes = Number(process.argv[3] ?? (QUICK ? 3 : 12));
const COMPAT = '2026-04-26';
const KEY_HEX = 'a7'.repeat(32);
const KEY = Buffer.from(KEY_HEX, 'hex');
const CLIENT = '198.51.100.7';
const WORKERS = 4;
const TRAFFIC_MS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The workers' console lines (one per load) would bury the tables: drained. */
const quiet = { handleRuntimeStdio: (out: NodeJS.ReadableStream, err: NodeJS.ReadableStream) => void (out.resume(), err.resume()), handleStructuredLogs: () => undefined };

type Module = { type: 'ESModule' | 'CompiledWasm' | 'Data'; path: string; contents: string | Uint8Array };
async function modules(entry: string, policyBin?: Uint8Array): Promise<Module[]> {
  const b = await bundleWorker(entry, { minify: true });
  const out: Module[] = [{ type: 'ESModule', path: join(ROOT, 'worker.js'), contents: b.code }];
  for (const [name, path] of b.modules) {
    out.push(name.endsWith('.wasm') ? { type: 'CompiledWasm', path: join(ROOT, name), contents: readFileSync(path) } : { type: 'Data', path: join(ROOT, name), contents: policyBin! });
  }
  return out;
}

function kvWriter(kv: unknown): PolicyWriter {
  const k = kv as { get(key: string, t: 'arrayBuffer'): Promise<ArrayBuffer | null>; put(key: string, v: Uint8Array): Promise<void> };
  return {
    name: 'Miniflare KV',
    get: async (key) => {
      const v = await k.get(key, 'arrayBuffer');
      return v === null ? null : new Uint8Array(v);
    },
    put: (key, v) => k.put(key, v),
  };
}

type Fetcher = { fetch(url: string, init?: RequestInit): Promise<Response> };
async function timedFetch(w: Fetcher): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const res = await w.fetch('https://example.com/', { headers: { 'CF-Connecting-IP': CLIENT } });
  await res.arrayBuffer();
  return { ms: performance.now() - t0, status: res.status };
}

const fmt = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

async function coldStart(label: string, config: Config): Promise<void> {
  const snapshot = (await createEngine(config)).snapshot();
  const bundled = await modules(join(ROOT, 'examples/edge/src/bundled-worker.js'), snapshot);
  const fromKv = await modules(join(ROOT, 'examples/edge/src/worker.js'));
  const first = { kv: [] as number[], bundled: [] as number[] };
  const warm = { kv: [] as number[], bundled: [] as number[] };
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const mf = new Miniflare({
      host: '127.0.0.1',
      port: 0,
      ...quiet,
      workers: [
        { name: 'kv', modules: fromKv, modulesRoot: ROOT, compatibilityDate: COMPAT, kvNamespaces: { POLICY_KV: 'bench' }, bindings: { POLICY_KEY: KEY_HEX } },
        { name: 'bundled', modules: bundled, modulesRoot: ROOT, compatibilityDate: COMPAT },
      ],
    });
    await mf.ready;
    const r = await publishPolicy(kvWriter(await mf.getKVNamespace('POLICY_KV', 'kv')), config, KEY);
    bytes = r.bytes;
    // Alternate which isolate starts first, so neither always gets the warmer process.
    const order = i % 2 ? (['kv', 'bundled'] as const) : (['bundled', 'kv'] as const);
    for (const name of order) {
      const w = (await mf.getWorker(name)) as unknown as Fetcher;
      const a = await timedFetch(w);
      const b = await timedFetch(w);
      if (a.status === 503 || b.status === 503) throw new Error(`${name}: no policy`);
      first[name].push(a.ms);
      warm[name].push(b.ms);
    }
    await mf.dispose();
  }
  console.log(
    `| ${label} | ${bytes.toLocaleString('en-US')} | ${fmt(median(first.bundled))} | ${fmt(median(first.kv))} | ${fmt(median(first.kv) - median(first.bundled))} | ${fmt(median(warm.bundled))} | ${fmt(median(warm.kv))} |`,
  );
}

async function propagation(refreshSeconds: number): Promise<void> {
  const fromKv = await modules(join(ROOT, 'examples/edge/src/worker.js'));
  const names = Array.from({ length: WORKERS }, (_, i) => `w${i}`);
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    ...quiet,
    workers: names.map((name) => ({
      name, modules: fromKv, modulesRoot: ROOT, compatibilityDate: COMPAT, kvNamespaces: { POLICY_KV: 'fleet' },
      bindings: { POLICY_KEY: KEY_HEX, POLICY_REFRESH_SECONDS: String(refreshSeconds) },
    })),
  });
  await mf.ready;
  const writer = kvWriter(await mf.getKVNamespace('POLICY_KV', 'w0'));
  const policyFor = (n: number) => parseConfig({ securityGroups: [{ id: `sg-${n}`, inbound: [{ protocol: 'TCP', port: 443, source: CLIENT, action: n % 2 ? 'accept' : 'drop' }] }] });
  await publishPolicy(writer, policyFor(1), KEY);
  const workers = await Promise.all(names.map(async (n) => (await mf.getWorker(n)) as unknown as Fetcher));
  // Traffic: every isolate gets a request every TRAFFIC_MS; the answers are watched.
  let want = 200;
  let since = 0;
  const reached = new Map<number, number>();
  let stop = false;
  const traffic = workers.map(async (w, i) => {
    while (!stop) {
      const { status } = await timedFetch(w);
      if (status === want && since > 0 && !reached.has(i)) reached.set(i, performance.now() - since);
      await sleep(TRAFFIC_MS);
    }
  });
  const deadline = performance.now() + 10_000;
  while (!(await Promise.all(workers.map(timedFetch))).every((r) => r.status === 200)) {
    if (performance.now() > deadline) throw new Error('the fleet never loaded version 1');
    await sleep(50);
  }
  const last: number[] = [];
  const each: number[] = [];
  for (let p = 2; p <= publishes + 1; p++) {
    await sleep(Math.random() * refreshSeconds * 1000); // a random phase of the refresh cycle
    reached.clear();
    const write = publishPolicy(writer, policyFor(p), KEY);
    await write;
    want = p % 2 ? 200 : 403;
    since = performance.now(); // the version key has been written
    const end = performance.now() + refreshSeconds * 1000 + 10_000;
    while (reached.size < WORKERS) {
      if (performance.now() > end) throw new Error(`publish ${p}: only ${reached.size} of ${WORKERS} isolates switched`);
      await sleep(5);
    }
    since = 0;
    const times = [...reached.values()];
    each.push(...times);
    last.push(Math.max(...times));
  }
  stop = true;
  await Promise.all(traffic);
  await mf.dispose();
  const sorted = [...last].sort((a, b) => a - b);
  console.log(
    `| ${refreshSeconds} s | ${WORKERS} | ${publishes} | ${fmt(median(each))} | ${fmt(median(last))} | ${fmt(sorted[sorted.length - 1]!)} |`,
  );
}

const m = machine();
console.log(`${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB; Node ${m.node}; ${m.date.slice(0, 10)}; sgfilter at ${m.commit}`);
console.log(`\nCold start (${runs} runs, medians, ms; first request to a new isolate with workerd up, through Miniflare's loopback HTTP):\n`);
console.log('| policy | snapshot bytes | first request, bundled | first request, from KV | KV costs | warm, bundled | warm, from KV |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
await coldStart('examples/edge/policy.yaml (4 rules)', await loadConfigFile(join(ROOT, 'examples/edge/policy.yaml')));
await coldStart('cloud policy (5 groups × 100 rules × 2 directions)', parseConfig(cloudPolicy().config));
console.log(`\nPublish → every isolate uses it (${publishes} publishes, ms from the version key's write to each isolate's first answer with the new verdict; traffic every ${TRAFFIC_MS} ms per isolate):\n`);
console.log('| refresh | isolates | publishes | median, each isolate | median, last isolate | max, last isolate |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of QUICK ? [1] : [1, 5]) await propagation(r);
