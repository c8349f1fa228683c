/**
 * Requests per second with and without the request guard (sgfilter/http), per
 * framework, on loopback: `npm run bench:http` (after `npm run build`).
 *
 * Each server runs in its own process (bench/http-server.mjs); autocannon drives it
 * from this one. Per framework three servers run side by side — no guard, the guard
 * with the socket peer as the client (direct), the guard behind a trusted proxy
 * (X-Forwarded-For, trustProxy 'loopback') — and are measured in turns, round after
 * round, so that drift of the shared machine hits all three alike; the figures are
 * medians over the rounds. Every request carries X-Forwarded-For with the next of
 * 256 clients of 203.0.113.0/24 (ignored where nothing is trusted; behind the proxy,
 * another client than the last on the connection every time), and every answer must
 * be a 200. autocannon keeps its connections open: in the direct case the guard
 * classifies once per connection; behind the proxy it remembers each client's
 * verdict (see src/http/guard.ts). The guard's time for a client never seen before
 * is measured in this process.
 *
 * The cost is the median over rounds of each round's (none - guarded) / none: each
 * round measures the variants back to back, so a paired ratio cancels most of the
 * machine's drift. On 2 shared cores end-to-end figures still move by several
 * percent; the guard's own time per request is also measured in this process
 * (guard.check on the same requests, no server), and the cost it implies at the
 * measured request rate is printed beside the end-to-end cost.
 *
 * Environment: SGFILTER_HTTP_ROUNDS (default 15), SGFILTER_HTTP_SECONDS per
 * measurement (default 1), SGFILTER_HTTP_CONNECTIONS (default 10),
 * SGFILTER_HTTP_FRAMEWORKS (comma-separated; default all four).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { createEngine } from '../dist/src/index.js';
import { createRequestGuard } from '../dist/src/http/index.js';
import { BENCH_DIR, RESULTS_DIR, machine, median } from './lib.js';
// @ts-expect-error: a plain .mjs module shared with the server processes
import { BENCH_POLICY } from './http-policy.mjs';

const ROUNDS = Number(process.env.SGFILTER_HTTP_ROUNDS ?? 15);
const SECONDS = Number(process.env.SGFILTER_HTTP_SECONDS ?? 1);
const CONNECTIONS = Number(process.env.SGFILTER_HTTP_CONNECTIONS ?? 10);
const FRAMEWORKS = (process.env.SGFILTER_HTTP_FRAMEWORKS ?? 'express5,express4,fastify,hono').split(',');
const VARIANTS = ['none', 'direct', 'proxied'] as const;
type Variant = (typeof VARIANTS)[number];

interface Server {
  child: ChildProcess;
  url: string;
}

async function startServer(framework: string, variant: Variant): Promise<Server> {
  const child = spawn(process.execPath, [`${BENCH_DIR}http-server.mjs`, framework, variant], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${framework}/${variant} did not start`)), 20_000);
    createInterface({ input: child.stdout! }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`${framework}/${variant} exited (${code})`)));
  });
  return { child, url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}/` };
}

/** Clients a proxy in front would forward for: a new one on each request (so no verdict is reused). */
const CLIENTS = Array.from({ length: 256 }, (_, i) => `203.0.113.${i}`);
let next = 0;

async function measure(url: string, seconds: number): Promise<number> {
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        path: '/',
        setupRequest: (req) => {
          req.headers = { ...req.headers, 'x-forwarded-for': CLIENTS[next++ & 255]! };
          return req;
        },
      },
    ],
  });
  if (r.non2xx !== 0 || r.errors !== 0 || r.timeouts !== 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  return r.requests.total / seconds;
}

const results: Record<string, Record<Variant, number[]>> = {};
for (const framework of FRAMEWORKS) {
  const servers = {} as Record<Variant, Server>;
  for (const v of VARIANTS) servers[v] = await startServer(framework, v);
  try {
    for (const v of VARIANTS) await measure(servers[v].url, 2); // warm-up: JIT, pools
    const runs = { none: [], direct: [], proxied: [] } as Record<Variant, number[]>;
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so that no variant always goes first.
      for (let k = 0; k < VARIANTS.length; k++) {
        const v = VARIANTS[(round + k) % VARIANTS.length]!;
        runs[v].push(await measure(servers[v].url, SECONDS));
      }
      process.stderr.write(`${framework} round ${round + 1}/${ROUNDS}: ${VARIANTS.map((v) => `${v} ${Math.round(runs[v].at(-1)!)}`).join(', ')}\n`);
    }
    results[framework] = runs;
  } finally {
    for (const v of VARIANTS) servers[v].child.kill('SIGTERM');
  }
}

// ---- The guard's own time per request, in this process (no server, no sockets).
const engine = await createEngine(BENCH_POLICY);
const socket = { remoteAddress: '127.0.0.1', remotePort: 50000, localAddress: '127.0.0.1', localPort: 3000 };
const direct = createRequestGuard(engine, {});
const proxied = createRequestGuard(engine, { trustProxy: 'loopback' });
const newSockets = Array.from({ length: 256 }, (_, i) => ({ ...socket, remotePort: 40000 + i }));
const viaProxy = CLIENTS.map((c) => ({ socket, headers: { 'x-forwarded-for': c } }));
const sameClient = { socket, headers: { 'x-forwarded-for': CLIENTS[7]! } };
const MICRO: [string, () => void][] = [
  ['direct, keep-alive (verdict reused)', () => direct.check({ socket, headers: {} })],
  ['direct, a new connection each request', () => direct.check({ socket: { ...newSockets[next++ & 255]! }, headers: {} })],
  ['proxied, the same client', () => proxied.check(sameClient)],
  ['proxied, 256 clients in turn', () => proxied.check(viaProxy[next++ & 255]!)],
  ['proxied, a client never seen before', () => {
    const n = next++;
    proxied.check({ socket, headers: { 'x-forwarded-for': `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}` } });
  }],
];
const microUs: Record<string, number> = {};
for (const [name, fn] of MICRO) {
  const samples: number[] = [];
  for (let k = 0; k < 7; k++) {
    const n = 100_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    samples.push(((performance.now() - t0) * 1000) / n);
  }
  microUs[name] = median(samples.slice(2));
}

const m = machine();
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
console.log(`\nMachine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB; Node ${m.node}; ${m.date.slice(0, 10)}; commit ${m.commit}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`autocannon: ${CONNECTIONS} connections, ${SECONDS} s per measurement, ${ROUNDS} rounds\n`);
console.log('| framework | no guard (req/s) | guard, direct (req/s) | cost | implied by µs | guard, behind a proxy (req/s) | cost | implied by µs |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
const summary: Record<string, Record<string, number>> = {};
for (const [framework, runs] of Object.entries(results)) {
  const none = median(runs.none);
  const costDirect = median(runs.none.map((x, i) => (x - runs.direct[i]!) / x));
  const costProxied = median(runs.none.map((x, i) => (x - runs.proxied[i]!) / x));
  const impliedDirect = (microUs['direct, keep-alive (verdict reused)']! * none) / 1e6;
  const impliedProxied = (microUs['proxied, 256 clients in turn']! * none) / 1e6;
  summary[framework] = { none, direct: median(runs.direct), proxied: median(runs.proxied), costDirect, costProxied, impliedDirect, impliedProxied };
  console.log(
    `| ${framework} | ${Math.round(none)} | ${Math.round(median(runs.direct))} | ${pct(costDirect)} | ${pct(impliedDirect)} | ${Math.round(median(runs.proxied))} | ${pct(costProxied)} | ${pct(impliedProxied)} |`,
  );
}
console.log('\n| the guard alone, per request | µs |');
console.log('|---|---:|');
for (const [name, us] of Object.entries(microUs)) console.log(`| ${name} | ${us.toFixed(2)} |`);
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(`${RESULTS_DIR}http.json`, JSON.stringify({ machine: m, rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, runs: results, medians: summary, microUs }, null, 2));
