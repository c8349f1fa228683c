// The request guard (sgfilter/http) in real servers on loopback: express 5, express
// 4, fastify and hono (@hono/node-server). Every verdict is checked against the
// reference matcher on the true client address; the headers a client can write
// (X-Forwarded-For and Forwarded entries left of what trusted proxies wrote, other
// client-IP headers, X-Forwarded-Port) are generated and must never decide; a
// dropped request never reaches a route handler.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, parseConfig, parseFlow, referenceClassify, type Config, type ConfigInput, type Engine } from '../src/index.js';
import { createRequestGuard, expressGuard, fastifyGuard, honoGuard, type RequestDecision, type RequestGuardOptions } from '../src/http/index.js';
import { FRAMEWORKS, send, sendKeepAlive, startApp, type App, type Framework } from './http-helpers.js';
import { canListen } from './net-helpers.js';

const POLICY: ConfigInput = {
  securityGroups: [
    {
      id: 'sg-edge',
      inbound: [
        { protocol: 'TCP', port: 'ALL', source: '127.0.0.2', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', source: '203.0.113.0/24', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', source: '2001:db8::/32', action: 'accept' },
        { protocol: 'TCP', port: 8443, source: '198.51.100.0/24', action: 'accept' },
        { protocol: 'TCP', port: 8443, source: '127.0.0.5', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', source: '::1', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', source: '192.0.2.0/24', action: 'drop' },
      ],
    },
  ],
};

let config: Config;
let engine: Engine;
let mappedOk = false;
let v6Ok = false;
beforeAll(async () => {
  config = parseConfig(POLICY);
  engine = await createEngine(config);
  mappedOk = await canListen('::ffff:127.0.0.1');
  v6Ok = await canListen('::1');
});

/** The status a request from `client` to `port` must get: the reference matcher's verdict (403 when not an address). */
function expected(client: string, port: number): number {
  try {
    return referenceClassify(config, parseFlow({ direction: 'inbound', protocol: 'TCP', remote: client, port })).action === 'accept' ? 200 : 403;
  } catch {
    return 403;
  }
}

// Proxies the operator runs (trusted) and peers that are clients themselves.
const PROXIES = ['127.0.0.3', '127.0.0.4'];
const TRUST = '127.0.0.3, 127.0.0.4';
const DIRECT = ['127.0.0.2', '127.0.0.5'];
/** What a proxy writes for the peer it saw: real clients of both families (none of them a trusted proxy). */
const CLIENTS = ['203.0.113.7', '198.51.100.9', '192.0.2.1', '10.1.2.3', '2001:db8::5', '2001:db9::5', '::ffff:203.0.113.8', '::ffff:198.51.100.7', '127.0.0.2', '127.0.0.6'];
/** What a client writes to choose its address: addresses (including trusted proxies' and accepted ones) and garbage. */
const SPOOF = [...CLIENTS, ...PROXIES, '::ffff:127.0.0.3', '127.0.0.1', 'unknown', '203.0.113.7:80', '[2001:db8::1]', '0x7f.0.0.3', '127.3', '2130706435', 'fe80::1%eth0', '203.0.113.7;x', '_hidden', '::1'];

const spoofHeaders = fc.record(
  {
    'X-Real-IP': fc.constantFrom(...SPOOF),
    'True-Client-IP': fc.constantFrom(...SPOOF),
    'CF-Connecting-IP': fc.constantFrom(...SPOOF),
    'X-Client-IP': fc.constantFrom(...SPOOF),
    'X-Forwarded-Port': fc.constantFrom('8443', '443', '80', 'x'),
  },
  { requiredKeys: [] },
);

/** `entries` as X-Forwarded-For lines: split at `cuts` (several header lines), with the separators proxies and clients use. */
function xffLines(entries: string[], cuts: number[], sep: string): [string, string][] {
  const lines: string[][] = [[]];
  entries.forEach((e, i) => {
    if (i > 0 && cuts.includes(i)) lines.push([]);
    lines[lines.length - 1]!.push(e);
  });
  return lines.map((l) => ['X-Forwarded-For', l.join(sep)] as [string, string]);
}

/** A `for` node as a proxy writes it in Forwarded (IPv6 in brackets and quotes; sometimes a port). */
function forNode(address: string, port?: number): string {
  if (address.includes(':')) return `"[${address}]${port === undefined ? '' : `:${port}`}"`;
  return port === undefined ? address : `"${address}:${port}"`;
}

describe.each(FRAMEWORKS)('%s with the request guard', (framework: Framework) => {
  const apps: App[] = [];
  const start = async (guard: RequestGuardOptions, host = '127.0.0.1', opts = {}) => {
    const app = await startApp(framework, engine, guard, host, opts);
    apps.push(app);
    return app;
  };
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  it('without trusted proxies: the socket peer decides; every header the client writes is ignored', async () => {
    const targets = [await start({}), ...(mappedOk ? [await start({}, '::ffff:127.0.0.1')] : []), ...(v6Ok ? [await start({}, '::1')] : [])];
    const cases = fc.sample(
      fc.record({
        peer: fc.constantFrom(...PROXIES, ...DIRECT, '127.0.0.1'),
        xff: fc.array(fc.constantFrom(...SPOOF), { minLength: 1, maxLength: 4 }),
        forwarded: fc.array(fc.constantFrom(...SPOOF), { maxLength: 3 }),
        spoof: spoofHeaders,
      }),
      { seed: 0x11a, numRuns: 30 },
    );
    const seen = new Set<number>();
    for (const app of targets) {
      const before = app.handled;
      let ok = 0;
      for (const c of cases) {
        const peer = app.host === '::1' ? '::1' : c.peer;
        const headers: [string, string][] = [['X-Forwarded-For', c.xff.join(', ')], ...Object.entries(c.spoof)];
        if (c.forwarded.length) headers.push(['Forwarded', c.forwarded.map((a) => `for=${forNode(a)}`).join(', ')]);
        const res = await send(app, peer, headers);
        expect(res.status, `${app.host} from ${peer} with ${JSON.stringify(headers)}`).toBe(expected(peer, app.port));
        if (res.status === 200) ok++;
        seen.add(res.status);
      }
      expect(app.handled - before).toBe(ok);
    }
    expect([...seen].sort()).toEqual([200, 403]);
  });

  it('behind trusted proxies (X-Forwarded-For): the entry the outermost trusted proxy wrote decides, never what the client prepended', async () => {
    const targets = [await start({ trustProxy: TRUST }), ...(mappedOk ? [await start({ trustProxy: TRUST }, '::ffff:127.0.0.1')] : [])];
    const cases = fc.sample(
      fc.record({
        peer: fc.constantFrom(...PROXIES, ...PROXIES, ...DIRECT),
        prefix: fc.array(fc.constantFrom(...SPOOF, ''), { maxLength: 4 }),
        client: fc.constantFrom(...CLIENTS),
        hops: fc.array(fc.constantFrom(...PROXIES, '::ffff:127.0.0.4'), { maxLength: 2 }),
        cuts: fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 2 }),
        sep: fc.constantFrom(', ', ',', ' , ', ',  '),
        spoof: spoofHeaders,
      }),
      { seed: 0x11b, numRuns: 50 },
    );
    const seen = new Set<number>();
    for (const app of targets) {
      const before = app.handled;
      let ok = 0;
      for (const c of cases) {
        const entries = [...c.prefix, c.client, ...c.hops];
        const headers = [...xffLines(entries, c.cuts, c.sep), ...Object.entries(c.spoof)];
        const trusted = PROXIES.includes(c.peer);
        const res = await send(app, c.peer, headers);
        expect(res.status, `${app.host} from ${c.peer} with ${JSON.stringify(headers)}`).toBe(expected(trusted ? c.client : c.peer, app.port));
        if (res.status === 200) ok++;
        seen.add(res.status);
      }
      expect(app.handled - before).toBe(ok);
    }
    expect([...seen].sort()).toEqual([200, 403]);
  });

  it('behind trusted proxies (Forwarded, RFC 7239): the same, with quoted, bracketed, ported and obfuscated nodes', async () => {
    const app = await start({ trustProxy: TRUST, forwardedHeader: 'forwarded' });
    const element = (address: string, port: number | undefined, extra: string) => `for=${forNode(address, port)}${extra}`;
    const cases = fc.sample(
      fc.record({
        peer: fc.constantFrom(...PROXIES, ...PROXIES, ...DIRECT),
        prefix: fc.array(
          fc.oneof(
            fc.tuple(fc.constantFrom(...CLIENTS, ...PROXIES), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), fc.constantFrom('', ';proto=https', ';by=_lb1;host="a,b;c"')).map(([a, p, x]) => element(a, p, x)),
            fc.constantFrom('for=unknown', 'for=_hidden', 'proto=http', 'for="_x,for=203.0.113.7"', 'by=127.0.0.3', ''),
          ),
          { maxLength: 3 },
        ),
        client: fc.constantFrom(...CLIENTS),
        clientPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        hops: fc.array(fc.constantFrom(...PROXIES), { maxLength: 2 }),
        xff: fc.array(fc.constantFrom(...SPOOF), { maxLength: 3 }),
        twoLines: fc.boolean(),
      }),
      { seed: 0x11c, numRuns: 50 },
    );
    const seen = new Set<number>();
    for (const c of cases) {
      const elements = [...c.prefix, element(c.client, c.clientPort, ';proto=https'), ...c.hops.map((h) => element(h, undefined, ''))];
      const cut = c.twoLines ? c.prefix.length + 1 : elements.length;
      const headers: [string, string][] = [['Forwarded', elements.slice(0, cut).join(', ')]];
      if (cut < elements.length) headers.push(['Forwarded', elements.slice(cut).join(', ')]);
      // X-Forwarded-For is not the header this deployment's proxies write: whatever it says is the client's.
      if (c.xff.length) headers.push(['X-Forwarded-For', c.xff.join(', ')]);
      const trusted = PROXIES.includes(c.peer);
      const res = await send(app, c.peer, headers);
      expect(res.status, `from ${c.peer} with ${JSON.stringify(headers)}`).toBe(expected(trusted ? c.client : c.peer, app.port));
      seen.add(res.status);
    }
    expect([...seen].sort()).toEqual([200, 403]);
    // A header that breaks the grammar is refused whole when a trusted proxy passed it on
    // (an unterminated quote would swallow the elements appended after it) …
    const broken = ['for="203.0.113.7, for=127.0.0.3', 'for=203.0.113.7;for=203.0.113.8', 'for=203.0.113.7 ;; by = x', 'for=203.0.113.7, for="x\\'];
    for (const f of broken) {
      expect((await send(app, '127.0.0.3', [['Forwarded', f]])).status, f).toBe(403);
      // … and ignored when the peer is not trusted: it is the client's.
      expect((await send(app, '127.0.0.2', [['Forwarded', f]])).status, f).toBe(200);
    }
    // What a trusted proxy wrote that is not an address (unknown, obfuscated, IPv6 without brackets): fail closed.
    for (const f of ['for=unknown', 'for=_hidden', 'for="2001:db8::5"', 'proto=https', 'for="[203.0.113.7]"']) {
      expect((await send(app, '127.0.0.3', [['Forwarded', f]])).status, f).toBe(403);
    }
  });

  it('a hop count trusts that many hops nearest the server, whatever their address (express semantics)', async () => {
    const two = await start({ trustProxy: 2 });
    const cases = fc.sample(
      fc.record({ prefix: fc.array(fc.constantFrom(...SPOOF), { maxLength: 3 }), client: fc.constantFrom(...CLIENTS), second: fc.constantFrom(...CLIENTS, ...PROXIES), peer: fc.constantFrom(...PROXIES, ...DIRECT) }),
      { seed: 0x11d, numRuns: 20 },
    );
    for (const c of cases) {
      const res = await send(two, c.peer, [['X-Forwarded-For', [...c.prefix, c.client, c.second].join(', ')]]);
      expect(res.status).toBe(expected(c.client, two.port));
    }
  });

  it('garbage, ports, brackets and zones written by a trusted proxy are not addresses: fail closed', async () => {
    const app = await start({ trustProxy: TRUST });
    for (const entry of ['garbage', '203.0.113.7:443', '[2001:db8::5]', '2001:db8::5%eth0', '0xcb.0.113.7', '203.0.113.07', '3405803783', 'unknown']) {
      const res = await send(app, '127.0.0.3', [['X-Forwarded-For', entry]]);
      expect(res.status, entry).toBe(403);
      expect(res.body).toBe('Forbidden\n');
    }
    // An IPv4-mapped entry is the IPv4 address: accepted by 203.0.113.0/24, dropped by 192.0.2.0/24.
    expect((await send(app, '127.0.0.3', [['X-Forwarded-For', '::ffff:203.0.113.9']])).status).toBe(200);
    expect((await send(app, '127.0.0.3', [['X-Forwarded-For', '::ffff:cb00:7109']])).status).toBe(200);
    expect((await send(app, '127.0.0.3', [['X-Forwarded-For', '::ffff:192.0.2.1']])).status).toBe(403);
    // The IPv4-compatible form is IPv6 (::cb00:7109), not 203.0.113.9.
    expect((await send(app, '127.0.0.3', [['X-Forwarded-For', '::203.0.113.9']])).status).toBe(403);
    // Empty header: the trusted proxy is itself the client.
    expect((await send(app, '127.0.0.3', [['X-Forwarded-For', '']])).status).toBe(expected('127.0.0.3', app.port));
  });

  it('answers a drop with a plain 403 that names nothing internal (or the configured response)', async () => {
    const app = await start({});
    const before = app.handled;
    const res = await send(app, '127.0.0.5', [], '/admin');
    expect(res.status).toBe(403);
    expect(res.body).toBe('Forbidden\n');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.stringify(res.headers) + res.body).not.toMatch(/sg-|rule|sgfilter|group|verdict/i);
    expect(app.handled).toBe(before);
    const custom = await start({ dropResponse: { status: 451, body: 'no', headers: { 'X-Reason': 'policy', 'Content-Type': 'text/x-custom' } } });
    const res2 = await send(custom, '127.0.0.5');
    expect(res2.status).toBe(451);
    expect(res2.body).toBe('no');
    expect(res2.headers['x-reason']).toBe('policy');
    expect(res2.headers['content-type']).toMatch(/^text\/x-custom/);
    // Unknown routes: a dropped client learns nothing about which exist.
    expect((await send(app, '127.0.0.5', [], '/no/such/route')).status).toBe(403);
  });

  it('counts each decision by deciding rule and reports it to onDrop/onAccept with the rule, the address and the chain', async () => {
    const decisions: RequestDecision[] = [];
    const app = await start({ trustProxy: TRUST, onDrop: (d) => decisions.push(d), onAccept: (d) => decisions.push(d) });
    await send(app, '127.0.0.3', [['X-Forwarded-For', '192.0.2.9, 203.0.113.7, 127.0.0.4']]);
    await send(app, '127.0.0.3', [['X-Forwarded-For', '192.0.2.9']]);
    await send(app, '127.0.0.5', [['X-Forwarded-For', '203.0.113.7']]);
    await send(app, '127.0.0.3', [['X-Forwarded-For', 'nope']]);
    expect(decisions.map((d) => [d.accepted, d.rule, d.address, d.chain, d.key])).toEqual([
      [true, 'sg-edge inbound rule 1', '203.0.113.7', ['127.0.0.3', '127.0.0.4', '203.0.113.7'], 'sg-edge#inbound#1'],
      [false, 'sg-edge inbound rule 6', '192.0.2.9', ['127.0.0.3', '192.0.2.9'], 'sg-edge#inbound#6'],
      [false, 'the default drop (no rule matched)', '127.0.0.5', ['127.0.0.5'], 'default'],
      [false, 'not classified', 'nope', ['127.0.0.3', 'nope'], 'error'],
    ]);
    expect(decisions[0]!.flow).toEqual({ direction: 'inbound', protocol: 'TCP', remote: '203.0.113.7', port: app.port, local: '127.0.0.1' });
    // A request that came without a proxy carries the client's source port.
    expect(decisions[2]!.flow!.sourcePort).toBeGreaterThan(0);
    expect(decisions[3]!.error!.message).toMatch(/"nope".*not an address/);
    const stats = app.stats();
    expect(stats.accepted).toBe(1);
    expect(stats.dropped).toBe(3);
    expect(Object.fromEntries(stats.byRule)).toEqual({
      'sg-edge#inbound#1': { accepted: 1, dropped: 0 },
      'sg-edge#inbound#6': { accepted: 0, dropped: 1 },
      default: { accepted: 0, dropped: 1 },
      error: { accepted: 0, dropped: 1 },
    });
  });

  it("port: 'forwarded' takes X-Forwarded-Port from trusted proxies only; a number pins the port", async () => {
    const app = await start({ trustProxy: TRUST, port: 'forwarded' });
    const xfp = (peer: string, client: string, port?: string) => send(app, peer, [['X-Forwarded-For', client], ...(port === undefined ? [] : [['X-Forwarded-Port', port] as [string, string]])]);
    expect((await xfp('127.0.0.3', '198.51.100.9', '8443')).status).toBe(200);
    expect((await xfp('127.0.0.3', '198.51.100.9', '443')).status).toBe(403);
    expect((await xfp('127.0.0.3', '198.51.100.9', '443, 8443')).status).toBe(200); // the nearest proxy's value
    expect((await xfp('127.0.0.3', '198.51.100.9', '8443, 443')).status).toBe(403);
    for (const bad of [undefined, '', 'https', '99999', '8443 ', '-1']) expect((await xfp('127.0.0.3', '198.51.100.9', bad)).status, String(bad)).toBe(bad === '8443 ' ? 200 : 403);
    // A direct client's X-Forwarded-Port is its own: the local port decides (rule 4 is 8443 from 127.0.0.5).
    expect((await xfp('127.0.0.5', '198.51.100.9', '8443')).status).toBe(403);
    const pinned = await start({ port: 8443 });
    expect((await send(pinned, '127.0.0.5')).status).toBe(200);
    expect((await send(pinned, '127.0.0.6')).status).toBe(403);
  });

  it('on a kept-alive connection, every request is classified on its own: other clients, ports and policy versions', async () => {
    const own = await createEngine(POLICY);
    const app = await startApp(framework, own, { trustProxy: TRUST, port: 'forwarded' });
    apps.push(app);
    const clients = fc.sample(fc.tuple(fc.constantFrom(...CLIENTS), fc.option(fc.constantFrom('8443', '443'), { nil: undefined })), { seed: 0x11e, numRuns: 24 });
    const requests = clients.map(([c, p]) => [['X-Forwarded-For', c], ...(p === undefined ? [] : [['X-Forwarded-Port', p]])] as [string, string][]);
    const answers = await sendKeepAlive(app, '127.0.0.3', requests);
    answers.forEach((a, i) => {
      const [client, port] = clients[i]!;
      expect(a.status, `${client} ${port}`).toBe(port === undefined ? 403 : expected(client, Number(port)));
    });
    expect(answers.slice(1).every((a) => a.reused)).toBe(true);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200, 403]));
    // Verdicts remembered for proxied clients (across connections) follow a publish.
    const again = async () => (await sendKeepAlive(app, '127.0.0.4', [[['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-Port', '443']]]))[0]!.status;
    expect(await again()).toBe(200);
    expect(await again()).toBe(200);
    await own.reload({ securityGroups: [{ id: 'sg-closed', inbound: [{ protocol: 'TCP', port: 'ALL', source: '127.0.0.5', action: 'accept' }] }] });
    expect(await again()).toBe(403);
    await own.reload(POLICY);
    expect(await again()).toBe(200);
    // Direct: the verdict of the connection's first request is kept until the policy changes under it.
    const direct = await startApp(framework, own, {});
    apps.push(direct);
    const closed: ConfigInput = { securityGroups: [{ id: 'sg-closed', inbound: [{ protocol: 'TCP', port: 'ALL', source: '127.0.0.5', action: 'accept' }] }] };
    const seq = await sendKeepAlive(direct, '127.0.0.2', [[], [], [], []], async (i) => {
      if (i === 2) await own.reload(closed);
      if (i === 3) await own.reload(POLICY);
    });
    expect(seq.map((a) => a.status)).toEqual([200, 200, 403, 200]);
    expect(seq.slice(1).every((a) => a.reused)).toBe(true);
  });

  it('fails closed when the instance is gone after a reload, and follows the engine\'s reloads', async () => {
    const own = await createEngine({ securityGroups: POLICY.securityGroups, instances: [{ id: 'web', securityGroups: ['sg-edge'] }] });
    const app = await startApp(framework, own, { instance: 'web' });
    apps.push(app);
    expect((await send(app, '127.0.0.2')).status).toBe(200);
    await own.reload({ securityGroups: [{ id: 'sg-closed', inbound: [{ protocol: 'TCP', port: 'ALL', source: '127.0.0.5', action: 'accept' }] }], instances: [{ id: 'web', securityGroups: ['sg-closed'] }] });
    expect((await send(app, '127.0.0.2')).status).toBe(403);
    expect((await send(app, '127.0.0.5')).status).toBe(200);
    await own.reload({ securityGroups: POLICY.securityGroups });
    expect((await send(app, '127.0.0.2')).status).toBe(403);
    expect(app.stats().byRule.get('error')).toEqual({ accepted: 0, dropped: 1 });
  });
});

describe('the framework\'s own trust setting', () => {
  const apps: App[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  it("express: without the guard's trustProxy, the app's `trust proxy` decides, as for req.ip", async () => {
    for (const framework of ['express5', 'express4'] as const) {
      const app = await startApp(framework, engine, {}, '127.0.0.1', { frameworkTrust: TRUST });
      apps.push(app);
      const res = await send(app, '127.0.0.3', [['X-Forwarded-For', '127.0.0.2, 203.0.113.7']]);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).ip).toBe('203.0.113.7');
      expect((await send(app, '127.0.0.5', [['X-Forwarded-For', '203.0.113.7']])).status).toBe(403);
    }
  });

  it("fastify: with fastify's trustProxy set, the guard classifies request.ip; a second trustProxy is refused", async () => {
    for (const trustProxy of [TRUST, ['127.0.0.3', '127.0.0.4'], true, 2, (a: string) => a === '127.0.0.3']) {
      const decisions: RequestDecision[] = [];
      const app = await startApp('fastify', engine, { onAccept: (d) => decisions.push(d), onDrop: (d) => decisions.push(d) }, '127.0.0.1', { frameworkTrust: trustProxy });
      apps.push(app);
      for (const [peer, xff] of [['127.0.0.3', '198.51.100.1, 203.0.113.7'], ['127.0.0.4', '203.0.113.7, 127.0.0.3'], ['127.0.0.5', '203.0.113.7'], ['127.0.0.2', '192.0.2.1']]) {
        const res = await send(app, peer, [['X-Forwarded-For', xff!]]);
        const d = decisions.at(-1)!;
        const ip = (d.request as { ip: string }).ip;
        expect(d.address, `${String(trustProxy)} ${peer} ${xff}`).toBe(ip);
        expect(res.status).toBe(expected(ip, app.port));
      }
    }
    for (const guard of [{ trustProxy: 'loopback' }, { forwardedHeader: 'forwarded' as const }]) {
      const f = Fastify({ trustProxy: true });
      f.register(fastifyGuard, { engine, ...guard });
      await expect(f.ready()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await f.close();
    }
  });

  it('fastify: the plugin guards the scope it is registered in and its children (fastify-plugin), 404s included', async () => {
    const f = Fastify();
    let handled = 0;
    f.get('/open', async () => (handled++, 'open'));
    await f.register(async (child) => {
      await child.register(fastifyGuard, { engine });
      child.get('/guarded', async () => (handled++, 'guarded'));
      await child.register(async (grandchild) => {
        grandchild.get('/deeper', async () => (handled++, 'deeper'));
      });
    });
    await f.listen({ host: '127.0.0.1', port: 0 });
    const app = { host: '127.0.0.1', port: (f.server.address() as AddressInfo).port };
    try {
      expect((await send(app, '127.0.0.5', [], '/open')).status).toBe(200);
      expect((await send(app, '127.0.0.5', [], '/guarded')).status).toBe(403);
      expect((await send(app, '127.0.0.5', [], '/deeper')).status).toBe(403);
      expect((await send(app, '127.0.0.2', [], '/guarded')).status).toBe(200);
      expect(handled).toBe(2);
    } finally {
      await f.close();
    }
    const root = Fastify();
    await root.register(fastifyGuard, { engine });
    await root.listen({ host: '127.0.0.1', port: 0 });
    const r = { host: '127.0.0.1', port: (root.server.address() as AddressInfo).port };
    try {
      expect((await send(r, '127.0.0.5', [], '/nothing')).status).toBe(403);
      expect((await send(r, '127.0.0.2', [], '/nothing')).status).toBe(404);
    } finally {
      await root.close();
    }
  });
});

describe('createRequestGuard on a plain http server', () => {
  it('classifies Node requests; the server answers drops with guard.dropResponse', async () => {
    const guard = createRequestGuard(engine, { trustProxy: 'loopback' });
    const server = http.createServer((req, res) => {
      const d = guard.check(req);
      if (!d.accepted) {
        res.writeHead(guard.dropResponse.status, guard.dropResponse.headers);
        res.end(guard.dropResponse.body);
        return;
      }
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const app = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
    try {
      expect((await send(app, '127.0.0.5', [['X-Forwarded-For', '203.0.113.7']])).status).toBe(200);
      expect((await send(app, '127.0.0.5', [['X-Forwarded-For', '192.0.2.7']])).status).toBe(403);
      expect(guard.stats()).toMatchObject({ accepted: 1, dropped: 1 });
      // checkFacts: what a platform says, for other runtimes.
      const facts = { peer: '::ffff:203.0.113.5', localPort: 443, header: () => undefined };
      expect(guard.checkFacts(facts, null)).toMatchObject({ accepted: true, flow: { remote: '203.0.113.5', port: 443 } });
      expect(guard.checkFacts({ peer: undefined, localPort: 443, header: () => undefined }, null)).toMatchObject({ accepted: false, key: 'error' });
      expect(guard.checkFacts({ peer: '203.0.113.5', header: () => undefined }, null)).toMatchObject({ accepted: false, key: 'error' });
      expect(guard.checkFacts({ peer: '203.0.113.5:80', localPort: 80, header: () => undefined }, null)).toMatchObject({ accepted: false, key: 'error' });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('edge cases', () => {
  it('hono without a Node request or a platform address (app.request in tests, other runtimes): 403, counted as error', async () => {
    const { Hono } = await import('hono');
    const app = new Hono();
    const g = honoGuard(engine, {});
    let handled = 0;
    app.use(g);
    app.get('/', (c) => (handled++, c.text('ok')));
    for (const headers of [{}, { 'CF-Connecting-IP': '127.0.0.2' }, { 'X-Forwarded-For': '127.0.0.2' }] as Record<string, string>[]) {
      const res = await app.request('/', { headers });
      expect(res.status).toBe(403);
      expect(await res.text()).toBe('Forbidden\n');
    }
    expect(handled).toBe(0);
    expect(g.stats().byRule.get('error')).toEqual({ accepted: 0, dropped: 3 });
  });

  it("hono's worker path (request.cf) outside workerd: clientIp, CF-Connecting-IP, pinned port; a polluted prototype pins nothing", async () => {
    const { Hono } = await import('hono');
    const make = (options: RequestGuardOptions) => {
      const app = new Hono();
      app.use(honoGuard(engine, options));
      app.get('*', (c) => c.text('ok'));
      return app;
    };
    const withCf = (url: string, cf: unknown, headers: Record<string, string> = {}) => {
      const r = new Request(url, { headers });
      Object.defineProperty(r, 'cf', { value: cf });
      return r;
    };
    const plain = make({});
    const pinned = make({ port: 8443 });
    const status = async (app: ReturnType<typeof make>, r: Request) => (await app.fetch(r)).status;
    expect(await status(plain, withCf('http://w.test/', { clientIp: '127.0.0.2:5000' }, { 'CF-Connecting-IP': '127.0.0.5' }))).toBe(200);
    expect(await status(plain, withCf('http://w.test/', { clientIp: '127.0.0.5:5000' }, { 'CF-Connecting-IP': '127.0.0.2' }))).toBe(403);
    expect(await status(plain, withCf('http://w.test/', { clientIp: '[::1]:5000' }))).toBe(200);
    expect(await status(plain, withCf('http://w.test/', { clientIp: 'garbage' }))).toBe(403);
    expect(await status(plain, withCf('https://w.test/', { colo: 'FRA' }, { 'CF-Connecting-IP': '203.0.113.9' }))).toBe(200);
    expect(await status(plain, withCf('https://w.test/', { colo: 'FRA' }, { 'CF-Connecting-IP': ' 203.0.113.9 ' }))).toBe(200);
    expect(await status(plain, withCf('https://w.test/', { colo: 'FRA' }))).toBe(403);
    expect(await status(plain, withCf('https://w.test:8443/', { clientIp: '127.0.0.5:1' }))).toBe(403);
    expect(await status(pinned, withCf('https://w.test/', { clientIp: '127.0.0.5:1' }))).toBe(200);
    const proto = Object.prototype as Record<string, unknown>;
    proto.port = 8443;
    try {
      expect(await status(make({}), withCf('https://w.test/', { clientIp: '127.0.0.5:1' }))).toBe(403);
    } finally {
      delete proto.port;
    }
  });

  it('a trust function that throws drops the request (fail closed), with the error', async () => {
    const decisions: RequestDecision[] = [];
    const app = await startApp('express5', engine, {
      trustProxy: () => {
        throw new Error('trust store unavailable');
      },
      onDrop: (d) => decisions.push(d),
    });
    try {
      expect((await send(app, '127.0.0.2', [['X-Forwarded-For', '203.0.113.7']])).status).toBe(403);
      expect(decisions[0]!.error!.message).toBe('trust store unavailable');
      expect(decisions[0]!.key).toBe('error');
    } finally {
      await app.close();
    }
  });

  it('IPv6 peers: a trusted ::1 proxy hands over to its entry; an untrusted ::1 client is itself the client', async () => {
    if (!(await canListen('::1'))) return;
    for (const framework of FRAMEWORKS) {
      const proxied = await startApp(framework, engine, { trustProxy: '::1' }, '::1');
      const direct = await startApp(framework, engine, { trustProxy: '127.0.0.3' }, '::1');
      try {
        expect((await send(proxied, '::1', [['X-Forwarded-For', '2001:db9::1, 2001:db8::7']])).status, framework).toBe(200);
        expect((await send(proxied, '::1', [['X-Forwarded-For', '2001:db8::7, 2001:db9::1']])).status, framework).toBe(403);
        expect((await send(proxied, '::1', [['X-Forwarded-For', '::ffff:192.0.2.1']])).status, framework).toBe(403);
        expect((await send(direct, '::1', [['X-Forwarded-For', '2001:db9::1']])).status, framework).toBe(200); // ::1 is accepted by rule 5
      } finally {
        await proxied.close();
        await direct.close();
      }
    }
  });
});

describe('options are checked when the guard is set up', () => {
  const bad: [string, unknown][] = [
    ['trustProxy', 'not-an-ip'],
    ['trustProxy', ''],
    ['trustProxy', 'loopback,'],
    ['trustProxy', '10.0.0.0/33'],
    ['trustProxy', ['127.0.0.1', 5]],
    ['trustProxy', -1],
    ['trustProxy', 1.5],
    ['trustProxy', Number.NaN],
    ['trustProxy', {}],
    ['trustProxy', null],
    ['forwardedHeader', 'x-real-ip'],
    ['forwardedHeader', 'Forwarded'],
    ['port', 70000],
    ['port', -1],
    ['port', 'remote'],
    ['port', '443'],
    ['dropResponse', { status: 200 }],
    ['dropResponse', { status: 403.5 }],
    ['dropResponse', { body: 5 }],
    ['dropResponse', { headers: { 'bad name': 'x' } }],
    ['dropResponse', { headers: { 'x-a': 'x\r\nSet-Cookie: a=b' } }],
    ['dropResponse', { headers: { 'x-a': 5 } }],
    ['dropResponse', { extra: 1 }],
    ['dropResponse', 'Forbidden'],
    ['onDrop', 'log'],
    ['onAccept', 5],
    ['instance', 5],
    ['instnace', 'web'],
  ];
  const factories: [string, (opts: unknown) => unknown][] = [
    ['expressGuard', (o) => expressGuard(engine, o as RequestGuardOptions)],
    ['honoGuard', (o) => honoGuard(engine, o as RequestGuardOptions)],
    ['createRequestGuard', (o) => createRequestGuard(engine, o as RequestGuardOptions)],
  ];
  const code = (f: () => unknown) => {
    try {
      f();
      return undefined;
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`;
    }
  };

  it.each(factories)('%s refuses bad options with INVALID_ARGUMENT naming the option, an unknown instance with UNKNOWN_INSTANCE', (name, make) => {
    for (const [key, value] of bad) {
      const got = code(() => make({ [key]: value }));
      expect(got, `${key}: ${String(value)}`).toMatch(new RegExp(`^INVALID_ARGUMENT: ${name}.*${key === 'instnace' ? 'unknown option' : key}`));
    }
    expect(code(() => make({ instance: 'nope' }))).toMatch(/^UNKNOWN_INSTANCE: .*"nope"/);
    expect(code(() => make('loopback'))).toMatch(/^INVALID_ARGUMENT/);
    expect(code(() => make({ trustProxy: 'loopback, 10.0.0.0/8, fc00::/7, 10.0.0.0/255.0.0.0', port: 'forwarded', dropResponse: { status: 503 } }))).toBeUndefined();
  });

  it('refuses an engine that is not one', () => {
    for (const e of [undefined, null, {}, { classify: () => ({ action: 'accept' }) }]) {
      expect(code(() => expressGuard(e as never))).toMatch(/^INVALID_ARGUMENT: expressGuard: engine/);
      expect(code(() => honoGuard(e as never))).toMatch(/^INVALID_ARGUMENT: honoGuard: engine/);
    }
  });

  it('fastify: a bad option makes registration (ready) fail with the code; register() options pass through', async () => {
    for (const [key, value] of [...bad.slice(0, 6), ['instance', 'nope'], ['engine', {}]] as [string, unknown][]) {
      const f = Fastify();
      f.register(fastifyGuard, { engine, [key]: value } as never);
      await expect(f.ready(), `${key}`).rejects.toMatchObject({ code: key === 'instance' ? 'UNKNOWN_INSTANCE' : 'INVALID_ARGUMENT' });
      await f.close();
    }
    const f = Fastify();
    f.register(fastifyGuard, { engine, prefix: '/x', logLevel: 'warn' } as never);
    await expect(f.ready()).resolves.toBeDefined();
    await f.close();
  });

  it('a polluted Object.prototype sets no option', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.trustProxy = true;
    proto.port = 8443;
    try {
      const app = await startApp('express5', engine, {});
      try {
        // Were trustProxy or port read from the prototype, 203.0.113.7 (or port 8443) would be accepted.
        expect((await send(app, '127.0.0.5', [['X-Forwarded-For', '203.0.113.7']])).status).toBe(403);
      } finally {
        await app.close();
      }
      // Nor a header: a proxy that wrote no X-Forwarded-For is itself the client.
      // (Options off the prototype first: fastify itself would read trustProxy there.)
      delete proto.trustProxy;
      delete proto.port;
      proto['x-forwarded-for'] = '203.0.113.7';
      for (const framework of FRAMEWORKS) {
        const proxied = await startApp(framework, engine, { trustProxy: TRUST });
        try {
          expect((await send(proxied, '127.0.0.3')).status, framework).toBe(403);
        } finally {
          await proxied.close();
        }
      }
    } finally {
      delete proto.trustProxy;
      delete proto.port;
      delete proto['x-forwarded-for'];
    }
  });
});
