// hono with sgfilter's request guard in workerd (test/fixtures/edge/hono-worker.js),
// bundled as wrangler would (sgfilter and sgfilter/http resolved through package.json
// "exports" with the worker conditions), run by plain workerd on loopback and by
// Miniflare. The client address is what the platform wrote: workerd's
// request.cf.clientIp (the socket peer) when it runs by itself, CF-Connecting-IP
// where request.cf is Cloudflare's; every other header, and those where the client
// wrote them, never decides. Verdicts are the reference matcher's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Miniflare } from 'miniflare';
import { Agent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, parseConfig, parseFlow, referenceClassify, type Config } from '../src/index.js';
import { ROOT, bundleWorker, type WorkerBundle } from './edge-bundle.js';
import { serveWorkerd, type Workerd, type WorkerdModule } from './workerd-serve.js';

const COMPAT_DATE = '2026-04-26';
const ENTRY = join(ROOT, 'test/fixtures/edge/hono-worker.js');
const POLICY = {
  securityGroups: [
    {
      id: 'sg-edge',
      inbound: [
        { protocol: 'TCP', port: 'ALL', source: '127.0.0.2', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', source: '203.0.113.0/24', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', source: '2001:db8::/32', action: 'accept' },
        { protocol: 'TCP', port: 8443, source: '127.0.0.5', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', source: '192.0.2.0/24', action: 'drop' },
      ],
    },
  ],
};

let config: Config;
let bundle: WorkerBundle;
let snapshot: Uint8Array;
beforeAll(async () => {
  config = parseConfig(POLICY);
  snapshot = (await createEngine(config)).snapshot();
  bundle = await bundleWorker(ENTRY);
}, 60_000);

function expected(client: string | null, port: number): number {
  if (client === null) return 403;
  try {
    return referenceClassify(config, parseFlow({ direction: 'inbound', protocol: 'TCP', remote: client, port })).action === 'accept' ? 200 : 403;
  } catch {
    return 403;
  }
}

const SPOOF = ['127.0.0.2', '203.0.113.7', '2001:db8::1', '::ffff:203.0.113.8', '127.0.0.3', 'unknown', '203.0.113.7:1', ''];
const spoofHeaders = fc.record(
  {
    'CF-Connecting-IP': fc.constantFrom(...SPOOF),
    'X-Forwarded-For': fc.array(fc.constantFrom(...SPOOF), { minLength: 1, maxLength: 3 }).map((a) => a.join(', ')),
    Forwarded: fc.constantFrom(...SPOOF).map((a) => `for="${a.includes(':') ? `[${a}]` : a}"`),
    'X-Real-IP': fc.constantFrom(...SPOOF),
    'True-Client-IP': fc.constantFrom(...SPOOF),
    'X-Forwarded-Port': fc.constantFrom('8443', '80'),
  },
  { requiredKeys: [] },
);

describe('the hono worker bundle', () => {
  it('resolves sgfilter/http for workers and imports nothing from node:', () => {
    const inputs = Object.entries(bundle.metafile.inputs);
    for (const [file, input] of inputs) {
      for (const imp of input.imports) expect(imp.path, `${file} imports ${imp.path}`).not.toMatch(/^node:|^(fs|path|os|net|http|util|crypto|events|buffer|stream)$/);
    }
    const files = inputs.map(([f]) => f);
    expect(files).toContain('dist/src/http/index.js');
    expect(files).toContain('dist/src/edge/index.js');
    // The Node entry, the CLI and the Node-only modules stay out (options and stats are plain checks and counters).
    expect(files.filter((f) => /^dist\/src\/(index|cli)\.js$|^dist\/src\/cli\/|^dist\/src\/node\/(?!options\.js$|stats\.js$)/.test(f))).toEqual([]);
    expect([...bundle.modules.keys()].sort()).toEqual(['policy.bin', 'sgfilter.wasm']);
  });

  it('is the package export sgfilter/http in Node too, with types', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['./http']).toEqual({
      require: { types: './cjs/http.d.cts', default: './cjs/http.cjs' },
      types: './dist/src/http/index.d.ts',
      default: './dist/src/http/index.js',
    });
    const http = await import('sgfilter/http');
    for (const name of ['createRequestGuard', 'expressGuard', 'fastifyGuard', 'honoGuard']) expect(typeof (http as Record<string, unknown>)[name], name).toBe('function');
    expect(readFileSync(join(ROOT, 'dist/src/http/index.d.ts'), 'utf8')).toMatch(/expressGuard/);
    // The published types name no framework's or Node's own: they hold for any install.
    for (const f of ['index', 'guard', 'express', 'fastify', 'hono', 'trust', 'forwarded']) {
      expect(readFileSync(join(ROOT, `dist/src/http/${f}.d.ts`), 'utf8'), f).not.toMatch(/from ['"](express|fastify|hono|node:|http|proxy-addr|fastify-plugin)/);
    }
  });
});

describe('hono in plain workerd (the peer is request.cf.clientIp)', () => {
  let wd: Workerd | undefined;
  beforeAll(async () => {
    const modules: WorkerdModule[] = [{ name: 'worker.js', kind: 'esModule', contents: bundle.code }];
    for (const [name, path] of bundle.modules) modules.push(name.endsWith('.wasm') ? { name, kind: 'wasm', contents: readFileSync(path) } : { name, kind: 'data', contents: snapshot });
    wd = await serveWorkerd([{ name: 'hono', modules, bindings: {} }], COMPAT_DATE);
  }, 60_000);
  afterAll(async () => {
    await wd?.close();
  });

  const send = async (path: string, peer: string, headers: Record<string, string> = {}) => {
    const dispatcher = new Agent({ localAddress: peer });
    try {
      const res = await undiciRequest(`${wd!.urls.get('hono')}${path}`, { dispatcher, headers });
      return { status: res.statusCode, body: await res.body.text() };
    } finally {
      await dispatcher.close();
    }
  };

  it('the socket peer decides; CF-Connecting-IP and every other header are the client\'s', async () => {
    const cases = fc.sample(fc.tuple(fc.constantFrom('127.0.0.2', '127.0.0.3', '127.0.0.5'), spoofHeaders), { seed: 0x40e0, numRuns: 30 });
    const seen = new Set<number>();
    for (const [peer, headers] of cases) {
      const res = await send('/plain', peer, headers);
      expect(res.status, `from ${peer} with ${JSON.stringify(headers)}`).toBe(expected(peer, 80));
      expect(res.body).toBe(res.status === 200 ? 'plain ok' : 'Forbidden\n');
      seen.add(res.status);
    }
    expect([...seen].sort()).toEqual([200, 403]);
  });

  it('behind trusted proxies: the entry the outermost trusted proxy wrote decides; what the client prepended never does', async () => {
    const cases = fc.sample(
      fc.record({
        peer: fc.constantFrom('127.0.0.3', '127.0.0.4', '127.0.0.2', '127.0.0.5'),
        prefix: fc.array(fc.constantFrom(...SPOOF), { maxLength: 3 }),
        client: fc.constantFrom('203.0.113.7', '192.0.2.1', '2001:db8::9', '2001:db9::9', '::ffff:203.0.113.9', '10.0.0.1'),
        hops: fc.array(fc.constantFrom('127.0.0.3', '127.0.0.4'), { maxLength: 2 }),
        cf: fc.constantFrom(...SPOOF),
      }),
      { seed: 0x40e1, numRuns: 30 },
    );
    const seen = new Set<number>();
    for (const c of cases) {
      const xff = [...c.prefix, c.client, ...c.hops].join(', ');
      const trusted = c.peer === '127.0.0.3' || c.peer === '127.0.0.4';
      const res = await send('/proxied', c.peer, { 'X-Forwarded-For': xff, 'CF-Connecting-IP': c.cf });
      expect(res.status, `from ${c.peer} with ${xff}`).toBe(expected(trusted ? c.client : c.peer, 80));
      seen.add(res.status);
    }
    expect([...seen].sort()).toEqual([200, 403]);
  });

  it('the port is the scheme\'s (80 here) or the pinned one, never the Host header\'s', async () => {
    // 127.0.0.5 is accepted on 8443 only.
    expect((await send('/plain', '127.0.0.5', { Host: 'example.com:8443' })).status).toBe(403);
    expect((await send('/plain', '127.0.0.5', { 'X-Forwarded-Port': '8443' })).status).toBe(403);
    expect((await send('/pinned', '127.0.0.5')).status).toBe(200);
    expect((await send('/pinned', '127.0.0.3', { Host: 'example.com:8443' })).status).toBe(403);
  });
});

describe('hono under Miniflare (Cloudflare\'s request.cf: CF-Connecting-IP is what the edge wrote)', () => {
  let mf: Miniflare | undefined;
  beforeAll(async () => {
    const modules: { type: 'ESModule' | 'CompiledWasm' | 'Data'; path: string; contents: string | Uint8Array }[] = [
      { type: 'ESModule', path: join(ROOT, 'worker.js'), contents: bundle.code },
    ];
    for (const [name, path] of bundle.modules) {
      modules.push(name.endsWith('.wasm') ? { type: 'CompiledWasm', path: join(ROOT, name), contents: readFileSync(path) } : { type: 'Data', path: join(ROOT, name), contents: snapshot });
    }
    mf = new Miniflare({ host: '127.0.0.1', port: 0, workers: [{ name: 'hono', compatibilityDate: COMPAT_DATE, modules, modulesRoot: ROOT }] });
    await mf.ready;
  }, 60_000);
  afterAll(async () => {
    await mf?.dispose();
  });

  const fetchAs = async (path: string, headers: Record<string, string>) => {
    const res = await mf!.dispatchFetch(`https://example.com${path}`, { headers });
    return { status: res.status, body: await res.text() };
  };

  it('CF-Connecting-IP decides; no other header does; anything but one address is refused', async () => {
    const cases = fc.sample(fc.tuple(fc.constantFrom('127.0.0.2', '203.0.113.7', '192.0.2.1', '2001:db8::1', '2001:db9::1', '::ffff:203.0.113.5', '10.0.0.1'), spoofHeaders), {
      seed: 0x40e2,
      numRuns: 40,
    });
    const seen = new Set<number>();
    for (const [edge, spoof] of cases) {
      const res = await fetchAs('/plain', { ...spoof, 'CF-Connecting-IP': edge });
      expect(res.status, `${edge} with ${JSON.stringify(spoof)}`).toBe(expected(edge, 443));
      seen.add(res.status);
    }
    expect([...seen].sort()).toEqual([200, 403]);
    for (const bad of ['203.0.113.7, 127.0.0.2', '203.0.113.7 127.0.0.2', '203.0.113.7:443', '[2001:db8::1]', 'unknown']) {
      expect((await fetchAs('/plain', { 'CF-Connecting-IP': bad })).status, bad).toBe(403);
    }
    // The port is the scheme's (443), or the pinned one.
    expect((await fetchAs('/plain', { 'CF-Connecting-IP': '127.0.0.5' })).status).toBe(403);
    expect((await fetchAs('/pinned', { 'CF-Connecting-IP': '127.0.0.5' })).status).toBe(200);
  });
});
