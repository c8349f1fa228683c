// The edge build in the real runtime: workerd (through Miniflare, loopback only)
// runs the example worker with a bundled policy (examples/edge/src/bundled-worker.js;
// the KV-backed one is in test/edge-kv-workerd.test.ts) bundled as wrangler would, with the
// matcher as a CompiledWasm module and a snapshot compiled here in Node as its
// Data module. Verdicts are checked against the reference matcher, a snapshot is
// swapped at runtime, and Node and workerd must agree flow for flow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Miniflare } from 'miniflare';
import { Agent, request as undiciRequest } from 'undici';
import { createEngine, createFlowBatch, loadConfigFile, parseConfig, parseFlow, referenceClassify, type Config, type FlowInput, type Verdict } from '../src/index.js';
import { ROOT, bundleWorker } from './edge-bundle.js';
import { mulberry32, randomConfig, randomFlows } from './random.js';
import { serveWorkerd, type Workerd, type WorkerdModule } from './workerd-serve.js';
import { createPacketBatch } from '../src/index.js';
import { LOCAL_OPTION, buildPackets, policyArb, sequenceArb } from './packet-scenarios.js';
import { fuzzRuns, fuzzSeed } from './fuzz/settings.js';

const ADMIN_TOKEN = 'test-admin-token';
const COMPAT_DATE = '2026-04-26';

let mf: Miniflare | undefined;
let config: Config;
let startupMs = 0;
let filterBundle: Awaited<ReturnType<typeof bundleWorker>>;

/** A Miniflare worker definition: the bundle plus the modules it imports by name. */
async function workerModules(entry: string, data: Record<string, Uint8Array>) {
  const b = await bundleWorker(entry);
  const modules: { type: 'ESModule' | 'CompiledWasm' | 'Data'; path: string; contents: string | Uint8Array }[] = [
    { type: 'ESModule', path: join(ROOT, 'worker.js'), contents: b.code },
  ];
  for (const [name, path] of b.modules) {
    if (name.endsWith('.wasm')) modules.push({ type: 'CompiledWasm', path: join(ROOT, name), contents: readFileSync(path) });
    else modules.push({ type: 'Data', path: join(ROOT, name), contents: data[name]! });
  }
  return { modules, modulesRoot: ROOT };
}

function request(remote: string, url: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  return mf!.dispatchFetch(url, { ...init, headers: { 'CF-Connecting-IP': remote, ...init.headers } } as never);
}

function portOf(url: string): number {
  const u = new URL(url);
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

beforeAll(async () => {
  config = await loadConfigFile(join(ROOT, 'examples/edge/policy.yaml'));
  const snapshot = (await createEngine(config)).snapshot();
  const filter = await workerModules(join(ROOT, 'examples/edge/src/bundled-worker.js'), { 'policy.bin': snapshot });
  filterBundle = await bundleWorker(join(ROOT, 'examples/edge/src/bundled-worker.js'));
  const classify = await workerModules(join(ROOT, 'test/fixtures/edge/classify-worker.js'), {});
  const t0 = performance.now();
  mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    workers: [
      { name: 'filter', compatibilityDate: COMPAT_DATE, ...filter, bindings: { ADMIN_TOKEN } },
      { name: 'classify', compatibilityDate: COMPAT_DATE, ...classify },
      { name: 'filter-xff', compatibilityDate: COMPAT_DATE, ...filter, bindings: { CLIENT_ADDRESS: 'x-forwarded-for', TRUSTED_PROXIES: '2' } },
      { name: 'filter-misconfigured', compatibilityDate: COMPAT_DATE, ...filter, bindings: { CLIENT_ADDRESS: 'leftmost-x-forwarded-for' } },
      { name: 'filter-bad-hops', compatibilityDate: COMPAT_DATE, ...filter, bindings: { CLIENT_ADDRESS: 'x-forwarded-for', TRUSTED_PROXIES: '0' } },
      { name: 'filter-pinned-port', compatibilityDate: COMPAT_DATE, ...filter, bindings: { SERVICE_PORT: '443' } },
    ],
  });
  const first = await request('198.51.100.7', 'https://example.com/');
  await first.arrayBuffer();
  startupMs = performance.now() - t0;
  console.log(`[edge] workerd start → first verdict: ${startupMs.toFixed(0)} ms`);
  expect((await mf.ready).hostname).toBe('127.0.0.1');
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
});

// Clients and ports around the example policy's edges (examples/edge/policy.yaml).
const CASES: [remote: string, url: string][] = [
  ['198.51.100.7', 'https://example.com/'],
  ['198.51.100.7', 'http://example.com/index.html'],
  ['198.51.100.7', 'https://example.com:8443/admin'],
  ['192.0.2.1', 'https://example.com:8443/admin'],
  ['203.0.113.0', 'https://example.com/'],
  ['203.0.113.15', 'http://example.com/'],
  ['203.0.113.16', 'https://example.com/'],
  ['2001:db8::1', 'https://example.com/'],
  ['2001:db9::1', 'https://example.com/'],
  ['::ffff:203.0.113.5', 'https://example.com/'],
  ['10.0.0.1', 'http://example.com:8080/'],
  ['10.0.0.1', 'https://example.com:443/x?y=1'],
];

describe('sgfilter in workerd (Miniflare)', () => {
  it('accepts and drops requests exactly as the reference matcher decides', async () => {
    let accepted = 0;
    for (const [remote, url] of CASES) {
      const expected = referenceClassify(config, parseFlow({ direction: 'inbound', protocol: 'TCP', port: portOf(url), remote }));
      const res = await request(remote, url);
      const body = await res.text();
      expect(res.status, `${remote} → ${url}`).toBe(expected.action === 'accept' ? 200 : 403);
      if (res.status === 403) {
        expect(body).toBe('Forbidden\n');
        expect(body).not.toMatch(/sg-|rule|sgfilter|group/i);
      } else accepted++;
    }
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(CASES.length);
    // Not classifiable (a malformed address): fail closed, with the same plain 403.
    const bad = await request('not-an-ip', 'https://example.com/');
    expect(bad.status).toBe(403);
    expect(await bad.text()).toBe('Forbidden\n');
  });

  it('hot-swaps the snapshot at runtime through the guarded admin POST', async () => {
    const client = '198.51.100.7';
    expect((await request(client, 'https://example.com/')).status).toBe(200);
    const closed = parseConfig({ securityGroups: [{ id: 'sg-closed', inbound: [{ protocol: 'TCP', port: 443, source: client, action: 'drop' }, { protocol: 'TCP', port: 443, source: 'any', action: 'accept' }] }] });
    const snap = (await createEngine(closed)).snapshot();
    const post = (headers: Record<string, string>, body: Uint8Array) =>
      request(client, 'https://example.com/__sgfilter/policy', { method: 'POST', headers, body });

    // Without the secret (or with a wrong one) nothing changes and nothing is told.
    for (const headers of [{}, { 'x-sgfilter-admin-token': 'wrong' }] as Record<string, string>[]) {
      const res = await post(headers, snap);
      expect(res.status).toBe(403);
      expect(await res.text()).toBe('Forbidden\n');
    }
    expect((await request(client, 'https://example.com/')).status).toBe(200);
    // A damaged snapshot is refused whole; the policy stays.
    const broken = await post({ 'x-sgfilter-admin-token': ADMIN_TOKEN }, snap.slice(0, 40));
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: string }).error).toBe('SNAPSHOT_INVALID');
    expect((await request(client, 'https://example.com/')).status).toBe(200);

    const ok = await post({ 'x-sgfilter-admin-token': ADMIN_TOKEN }, snap);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { version: number }).version).toBe(2);
    for (const [remote, url] of [[client, 'https://example.com/'], ['192.0.2.1', 'https://example.com/'], ['192.0.2.1', 'http://example.com/']] as const) {
      const expected = referenceClassify(closed, parseFlow({ direction: 'inbound', protocol: 'TCP', port: portOf(url), remote }));
      expect((await request(remote, url)).status, `${remote} → ${url}`).toBe(expected.action === 'accept' ? 200 : 403);
    }
    // Swap back so the tests stay independent of order.
    const back = await post({ 'x-sgfilter-admin-token': ADMIN_TOKEN, 'x-sgfilter-expected-version': '2' }, (await createEngine(config)).snapshot());
    expect(back.status).toBe(200);
    expect((await request(client, 'https://example.com/')).status).toBe(200);
  });

  it('gives the same verdicts in workerd as in Node for the same snapshot (random policies and flows)', async () => {
    // Miniflare's Fetcher type mixes workers-types and undici; its fetch is this:
    const worker = (await mf!.getWorker('classify')) as unknown as { fetch(url: string, init: RequestInit): Promise<Response> };
    const r = mulberry32(0xed6e);
    let total = 0;
    for (let c = 0; c < 8; c++) {
      const cfg = parseConfig(randomConfig(r, 20));
      const node = await createEngine(cfg);
      const snapshot = node.snapshot();
      const flows: FlowInput[] = randomFlows(r, cfg, 400);
      const batch = createFlowBatch(flows);
      const actions = [...node.classifyBatch(batch)];
      const verdicts = flows.map((_, i) => batch.verdict(i));
      const res = await worker.fetch('http://classify/', {
        method: 'POST',
        body: JSON.stringify({ snapshot: Buffer.from(snapshot).toString('base64'), flows }),
      });
      expect(res.status).toBe(200);
      const edge = (await res.json()) as { actions: number[]; verdicts: Verdict[] };
      expect(edge.actions).toEqual(actions);
      expect(edge.verdicts).toEqual(verdicts);
      // And both agree with the reference matcher.
      for (let i = 0; i < flows.length; i++) expect(verdicts[i]).toEqual(referenceClassify(cfg, parseFlow(flows[i])));
      total += flows.length;
    }
    expect(total).toBe(3200);
  });

  it('runs the stateful packet path in workerd with the same verdicts as in Node (generated packet sequences)', async () => {
    const worker = (await mf!.getWorker('classify')) as unknown as { fetch(url: string, init: RequestInit): Promise<Response> };
    const samples = fc.sample(fc.tuple(policyArb, sequenceArb(40)), { seed: 0xed6e, numRuns: 6 });
    for (const [policy, specs] of samples) {
      const node = await createEngine(parseConfig(policy.config));
      const tracker = node.createTracker({ local: LOCAL_OPTION });
      let t = 1_700_000_000;
      const packets = buildPackets(specs).map((p) => ({ data: p.data, timestamp: (t += p.dt), linkType: p.linkType }));
      const v = tracker.classifyPackets(createPacketBatch(packets));
      const res = await worker.fetch('http://classify/', {
        method: 'POST',
        body: JSON.stringify({
          snapshot: Buffer.from(node.snapshot()).toString('base64'),
          local: LOCAL_OPTION,
          packets: packets.map((p) => ({ ...p, data: Buffer.from(p.data).toString('base64') })),
        }),
      });
      expect(res.status).toBe(200);
      const edge = (await res.json()) as { verdicts: unknown[]; stats: { tracked: number } };
      expect(edge.verdicts).toEqual(packets.map((_, i) => v.verdict(i)));
      expect(edge.stats.tracked).toBe(tracker.stats().tracked);
    }
  });
});

// ------------------------------------------------------------------ client addresses

/** Addresses around the example policy's edges: accepted and dropped ones, both families, and junk. */
const ADDRESSES = ['198.51.100.7', '192.0.2.1', '203.0.113.5', '203.0.113.15', '203.0.113.16', '2001:db8::1', '2001:db9::1', '::ffff:203.0.113.5', '10.0.0.1'];
const JUNK = ['not-an-ip', '', 'unknown', '203.0.113.5:443', '[2001:db8::1]', '1.2.3.4 5.6.7.8'];

/** The status the example must answer when `remote` (what the platform or a trusted proxy wrote) decides. */
function expectedStatus(remote: string | null, port = 443): number {
  if (remote === null) return 403;
  try {
    return referenceClassify(config, parseFlow({ direction: 'inbound', protocol: 'TCP', port, remote })).action === 'accept' ? 200 : 403;
  } catch {
    return 403;
  }
}

/** Headers a client writes to choose its address: every one of them must be ignored. */
const spoofHeaders = fc.record(
  {
    'X-Forwarded-For': fc.array(fc.constantFrom(...ADDRESSES, ...JUNK), { minLength: 1, maxLength: 4 }).map((a) => a.join(', ')),
    'X-Real-IP': fc.constantFrom(...ADDRESSES),
    'True-Client-IP': fc.constantFrom(...ADDRESSES),
    'X-Client-IP': fc.constantFrom(...ADDRESSES),
    Forwarded: fc.constantFrom(...ADDRESSES).map((a) => `for="${a.includes(':') ? `[${a}]` : a}"`),
    'CF-Connecting-IP': fc.constantFrom(...ADDRESSES),
  },
  { requiredKeys: [] },
);

type Fetcher = { fetch(url: string, init: RequestInit): Promise<Response> };
const workerFetch = async (name: string) => (await mf!.getWorker(name)) as unknown as Fetcher;

describe('the example worker takes the client address only from the platform or trusted proxies', () => {
  it('platform mode (Cloudflare, simulated by Miniflare): CF-Connecting-IP decides; no other header ever does', async () => {
    const cases = fc.sample(fc.tuple(fc.constantFrom(...ADDRESSES), spoofHeaders), { seed: fuzzSeed('edge: platform mode headers'), numRuns: fuzzRuns(60) });
    let accepted = 0;
    for (const [trusted, spoof] of cases) {
      // Miniflare stands for Cloudflare's edge here: the CF-Connecting-IP given is the one the edge wrote.
      const res = await request(trusted, 'https://example.com/', { headers: { ...spoof, 'CF-Connecting-IP': trusted } });
      await res.arrayBuffer();
      expect(res.status, `${trusted} with ${JSON.stringify(spoof)}`).toBe(expectedStatus(trusted));
      if (res.status === 200) accepted++;
    }
    expect(accepted).toBeGreaterThan(5);
    expect(accepted).toBeLessThan(cases.length - 5);
    // One address only: a list or anything with spaces is not what the edge writes.
    for (const bad of ['198.51.100.7, 203.0.113.5', '198.51.100.7 203.0.113.5', '198.51.100.7,']) {
      expect((await request(bad, 'https://example.com/')).status, JSON.stringify(bad)).toBe(403);
    }
  });

  it('x-forwarded-for with 2 trusted proxies: the 2nd entry from the right decides; what the client prepends never does', async () => {
    const xff = await workerFetch('filter-xff');
    const cases = fc.sample(
      fc.tuple(fc.array(fc.constantFrom(...ADDRESSES, ...JUNK), { maxLength: 4 }), fc.constantFrom(...ADDRESSES), fc.constantFrom(...ADDRESSES), spoofHeaders),
      { seed: fuzzSeed('edge: x-forwarded-for, 2 trusted proxies'), numRuns: fuzzRuns(60) },
    );
    let accepted = 0;
    for (const [prepended, client, proxy, spoof] of cases) {
      const entries = [...prepended, client, proxy];
      const res = await xff.fetch('https://example.com/', { headers: { ...spoof, 'X-Forwarded-For': entries.join(', ') } });
      await res.arrayBuffer();
      expect(res.status, entries.join(', ')).toBe(expectedStatus(client));
      if (res.status === 200) accepted++;
    }
    expect(accepted).toBeGreaterThan(5);
    expect(accepted).toBeLessThan(cases.length - 5);
    // Fewer entries than trusted proxies: the request did not come through them.
    for (const headers of [{}, { 'X-Forwarded-For': '198.51.100.7' }, { 'X-Forwarded-For': '' }, { 'CF-Connecting-IP': '198.51.100.7' }] as Record<string, string>[]) {
      expect((await xff.fetch('https://example.com/', { headers })).status, JSON.stringify(headers)).toBe(403);
    }
  });

  it('a misconfigured address source refuses every request; SERVICE_PORT pins the port whatever the Host says', async () => {
    for (const name of ['filter-misconfigured', 'filter-bad-hops']) {
      const w = await workerFetch(name);
      for (const remote of ADDRESSES) {
        const res = await w.fetch('https://example.com/', { headers: { 'CF-Connecting-IP': remote, 'X-Forwarded-For': `${remote}, ${remote}` } });
        expect(res.status, `${name} ${remote}`).toBe(403);
      }
    }
    const pinned = await workerFetch('filter-pinned-port');
    for (const url of ['https://example.com/', 'https://example.com:8443/', 'http://example.com:8080/']) {
      for (const remote of ['198.51.100.7', '192.0.2.1']) {
        const res = await pinned.fetch(url, { headers: { 'CF-Connecting-IP': remote } });
        expect(res.status, `${url} from ${remote}`).toBe(expectedStatus(remote, 443));
      }
    }
  });
});

describe('the example worker in plain workerd (no Miniflare in front)', () => {
  let wd: Workerd | undefined;
  // Loopback peers: 127.0.0.2 accepted on port 80, every other address dropped.
  const policy = parseConfig({ securityGroups: [{ id: 'sg-loop', inbound: [{ protocol: 'TCP', port: 80, source: '127.0.0.2', action: 'accept' }] }] });
  const expected = (remote: string | null) => {
    if (remote === null) return 403;
    try {
      return referenceClassify(policy, parseFlow({ direction: 'inbound', protocol: 'TCP', port: 80, remote })).action === 'accept' ? 200 : 403;
    } catch {
      return 403;
    }
  };

  beforeAll(async () => {
    const snapshot = (await createEngine(policy)).snapshot();
    const modules: WorkerdModule[] = [{ name: 'worker.js', kind: 'esModule', contents: filterBundle.code }];
    for (const [name, path] of filterBundle.modules) {
      modules.push(name.endsWith('.wasm') ? { name, kind: 'wasm', contents: readFileSync(path) } : { name, kind: 'data', contents: snapshot });
    }
    wd = await serveWorkerd(
      [
        { name: 'platform', modules, bindings: { SERVICE_PORT: '80' } },
        { name: 'xff', modules, bindings: { CLIENT_ADDRESS: 'x-forwarded-for', TRUSTED_PROXIES: '1', SERVICE_PORT: '80' } },
      ],
      COMPAT_DATE,
    );
  }, 60_000);
  afterAll(async () => {
    await wd?.close();
  });

  const LOOP = ['127.0.0.2', '127.0.0.3', '203.0.113.5', '2001:db8::1'];
  const send = async (service: string, peer: string, headers: Record<string, string>) => {
    const dispatcher = new Agent({ localAddress: peer }); // undici dials from this peer address
    try {
      const res = await undiciRequest(`${wd!.urls.get(service)}/`, { dispatcher, headers });
      await res.body.text();
      return res.statusCode;
    } finally {
      await dispatcher.close();
    }
  };

  it('platform mode: the socket peer decides; CF-Connecting-IP and every other header are the client\'s', async () => {
    const cases = fc.sample(
      fc.tuple(fc.constantFrom('127.0.0.2', '127.0.0.3'), fc.record({ 'CF-Connecting-IP': fc.constantFrom(...LOOP), 'X-Forwarded-For': fc.constantFrom(...LOOP), 'X-Real-IP': fc.constantFrom(...LOOP) }, { requiredKeys: [] })),
      { seed: fuzzSeed('edge: workerd platform mode'), numRuns: fuzzRuns(24) },
    );
    const seen = new Set<number>();
    for (const [peer, headers] of cases) {
      const status = await send('platform', peer, headers);
      expect(status, `from ${peer} with ${JSON.stringify(headers)}`).toBe(expected(peer));
      seen.add(status);
    }
    expect([...seen].sort()).toEqual([200, 403]);
  });

  it('x-forwarded-for with 1 trusted proxy: the rightmost entry decides, not the peer nor what the client prepended', async () => {
    const cases = fc.sample(fc.tuple(fc.constantFrom('127.0.0.2', '127.0.0.3'), fc.array(fc.constantFrom(...LOOP), { maxLength: 3 }), fc.constantFrom(...LOOP)), {
      seed: fuzzSeed('edge: workerd x-forwarded-for'),
      numRuns: fuzzRuns(24),
    });
    const seen = new Set<number>();
    for (const [peer, prepended, proxyWrote] of cases) {
      const status = await send('xff', peer, { 'X-Forwarded-For': [...prepended, proxyWrote].join(', '), 'CF-Connecting-IP': '127.0.0.2' });
      expect(status, `${[...prepended, proxyWrote].join(', ')} from ${peer}`).toBe(expected(proxyWrote));
      seen.add(status);
    }
    expect([...seen].sort()).toEqual([200, 403]);
    expect(await send('xff', '127.0.0.2', { 'CF-Connecting-IP': '127.0.0.2' })).toBe(403); // no X-Forwarded-For: no address
  });
});
