// Security groups on real sockets (loopback only): the inbound server guard and the
// egress guards (net/tls connect, http/https Agent, undici dispatcher and fetch).
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request as undiciRequest } from 'undici';
import { createEngine, type ConfigInput, type Engine, type RuleInput } from '../src/index.js';
import {
  ConnectionDroppedError, guardServer, guardedAgent, guardedConnect, guardedDispatcher, type InboundDecision,
} from '../src/node/index.js';
import { Sockets, TLS_CERT, TLS_KEY, canListen, exchange, listen, tableLookup } from './net-helpers.js';
import type { RuleSpec, ActionInput } from '../src/index.js';

const HAS_IPV6 = await canListen('::1');
const HAS_MAPPED = await canListen('::ffff:127.0.0.1');

const reg = new Sockets();
afterEach(() => reg.closeAll());

const policy = (inbound: RuleSpec[], outbound: RuleSpec[] = []): ConfigInput => ({
  securityGroups: [{ id: 'sg-test', inbound, outbound }],
});
const tcp = (source: string, action: ActionInput, extra: Partial<RuleInput> = {}): RuleInput => ({ protocol: 'TCP', port: 'ALL', source, action, ...extra });
const out = (destination: string, action: ActionInput, extra: Partial<RuleInput> = {}): RuleInput => ({ protocol: 'TCP', port: 'ALL', destination, action, ...extra });

/** An echo server whose app-level handlers record every socket they see. */
function echoServer(): { server: net.Server; seen: net.Socket[]; received: string[] } {
  const seen: net.Socket[] = [];
  const received: string[] = [];
  const server = net.createServer((s) => {
    seen.push(s);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      received.push(d);
      s.end(d);
    });
    s.on('error', () => {});
  });
  return { server, seen, received };
}

describe('guardServer (inbound)', () => {
  it('lets accepted peers exchange data and closes dropped ones before any handler or byte', async () => {
    const engine = await createEngine(policy([tcp('127.0.0.3', 'drop'), tcp('127.0.0.0/8', 'accept')]));
    const { server, seen, received } = echoServer();
    const drops: InboundDecision[] = [];
    const guard = guardServer(server, engine, { onDrop: (d) => drops.push(d) });
    const late: net.Socket[] = [];
    server.on('connection', (s) => late.push(s)); // added after the guard: still guarded
    const port = await listen(reg, server);

    const ok = await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'hello' });
    expect(ok.error).toBeUndefined();
    expect(ok.received).toBe('hello');

    const bad = await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.3', payload: 'secret' });
    expect(bad.received).toBe('');
    expect(seen.map((s) => s.remoteAddress)).toEqual(['127.0.0.2']);
    expect(late.map((s) => s.remoteAddress)).toEqual(['127.0.0.2']);
    expect(received).toEqual(['hello']);

    expect(drops).toHaveLength(1);
    expect(drops[0]!.verdict).toEqual({ action: 'drop', groupId: 'sg-test', ruleIndex: 0 });
    expect(drops[0]!.flow).toMatchObject({ direction: 'inbound', protocol: 'TCP', remote: '127.0.0.3', port, local: '127.0.0.1' });
    const stats = guard.stats();
    expect(stats.accepted).toBe(1);
    expect(stats.dropped).toBe(1);
    expect(stats.byRule).toEqual(
      new Map([
        ['sg-test#inbound#1', { accepted: 1, dropped: 0 }],
        ['sg-test#inbound#0', { accepted: 0, dropped: 1 }],
      ]),
    );
  });

  it("counts the default drop under 'default', and dropWith 'close' ends with a FIN", async () => {
    const engine = await createEngine(policy([tcp('127.0.0.2', 'accept')]));
    const { server, seen } = echoServer();
    const guard = guardServer(server, engine, { dropWith: 'close' });
    const port = await listen(reg, server);
    const r = await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.9', payload: 'x' });
    expect(r.received).toBe('');
    expect(seen).toHaveLength(0);
    expect(guard.stats().byRule.get('default')).toEqual({ accepted: 0, dropped: 1 });
  });

  it('guards http.Server: no connection or request handler runs for a dropped peer', async () => {
    const engine = await createEngine(policy([tcp('127.0.0.2', 'accept')]));
    const calls: string[] = [];
    const server = http.createServer((req, res) => {
      calls.push(`request ${req.socket.remoteAddress}`);
      res.end('ok');
    });
    server.on('connection', (s: net.Socket) => calls.push(`connection ${s.remoteAddress}`));
    guardServer(server, engine);
    const port = await listen(reg, server);

    const get = (localAddress: string) =>
      new Promise<{ status?: number; body?: string; error?: NodeJS.ErrnoException }>((resolve) => {
        http
          .get({ host: '127.0.0.1', port, localAddress, path: '/', agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }));
          })
          .on('error', (error) => resolve({ error }));
      });
    expect(await get('127.0.0.2')).toEqual({ status: 200, body: 'ok' });
    const dropped = await get('127.0.0.3');
    expect(dropped.status).toBeUndefined();
    expect(dropped.error?.code).toMatch(/ECONNRESET|EPIPE/);
    expect(calls).toEqual(['connection 127.0.0.2', 'request 127.0.0.2']);
  });

  it('guards https.Server and tls.Server: no secureConnection/request for a dropped peer', async () => {
    const engine = await createEngine(policy([tcp('127.0.0.2', 'accept'), tcp('127.0.0.3', 'drop')]));
    const calls: string[] = [];
    const httpsServer = https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => {
      calls.push(`request ${req.socket.remoteAddress}`);
      res.end('secure');
    });
    httpsServer.on('secureConnection', (s: tls.TLSSocket) => calls.push(`secureConnection ${s.remoteAddress}`));
    const tlsServer = tls.createServer({ key: TLS_KEY, cert: TLS_CERT }, (s) => {
      calls.push(`tls ${s.remoteAddress}`);
      s.end('tls-hello');
    });
    guardServer(httpsServer, engine);
    guardServer(tlsServer, engine);
    const httpsPort = await listen(reg, httpsServer);
    const tlsPort = await listen(reg, tlsServer);

    const get = (localAddress: string) =>
      new Promise<{ body?: string; error?: NodeJS.ErrnoException }>((resolve) => {
        https
          .get({ host: '127.0.0.1', port: httpsPort, localAddress, ca: TLS_CERT, agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ body }));
          })
          .on('error', (error) => resolve({ error }));
      });
    const tlsTalk = (localAddress: string) =>
      new Promise<{ body: string; secured: boolean; error?: Error }>((resolve) => {
        const r = { body: '', secured: false, error: undefined as Error | undefined };
        const s = reg.track(tls.connect({ host: '127.0.0.1', port: tlsPort, localAddress, ca: TLS_CERT, servername: 'localhost' } as tls.ConnectionOptions));
        s.setEncoding('utf8');
        s.on('secureConnect', () => (r.secured = true));
        s.on('data', (d: string) => (r.body += d));
        s.on('error', (e) => (r.error = e));
        s.on('close', () => resolve(r));
      });

    expect(await get('127.0.0.2')).toEqual({ body: 'secure' });
    expect((await get('127.0.0.3')).error?.code).toMatch(/ECONNRESET|EPIPE/);
    expect(await tlsTalk('127.0.0.2')).toMatchObject({ body: 'tls-hello', secured: true });
    const dropped = await tlsTalk('127.0.0.3');
    expect(dropped).toMatchObject({ body: '', secured: false });
    expect(calls.sort()).toEqual(['request 127.0.0.2', 'secureConnection 127.0.0.2', 'tls 127.0.0.2']);
  });

  it.skipIf(!HAS_MAPPED)('reads an IPv4-mapped remote on a dual-stack listener as IPv4', async () => {
    const engine = await createEngine(policy([tcp('127.0.0.3', 'drop'), tcp('127.0.0.2', 'accept')]));
    const { server, seen } = echoServer();
    const guard = guardServer(server, engine);
    const port = await listen(reg, server, '::ffff:127.0.0.1');
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'v4' })).received).toBe('v4');
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.3', payload: 'v4' })).received).toBe('');
    expect(seen.map((s) => s.remoteAddress)).toEqual(['::ffff:127.0.0.2']);
    expect(guard.stats()).toMatchObject({ accepted: 1, dropped: 1 });
  });

  it('drops ::ffff:203.0.113.7 with a rule for 203.0.113.7 (a socket handed over with emit)', async () => {
    const engine = await createEngine(policy([tcp('203.0.113.7', 'drop', { port: 443 }), tcp('0.0.0.0/0', 'accept')]));
    const server = net.createServer(); // not listening: sockets are handed over, as proxies do
    const seen: string[] = [];
    server.on('connection', (s: net.Socket) => seen.push(s.remoteAddress!));
    guardServer(server, engine);
    const handOver = (remoteAddress: string) => {
      const s = new net.Socket();
      Object.defineProperties(s, {
        remoteAddress: { value: remoteAddress },
        remotePort: { value: 50000 },
        localAddress: { value: '::ffff:198.51.100.1' },
        localPort: { value: 443 },
      });
      server.emit('connection', s);
      return s;
    };
    const dropped = handOver('::ffff:203.0.113.7');
    const accepted = handOver('::ffff:203.0.113.8');
    expect(seen).toEqual(['::ffff:203.0.113.8']);
    expect(dropped.destroyed).toBe(true);
    expect(accepted.destroyed).toBe(false);
    accepted.destroy();
    await new Promise((r) => setImmediate(r)); // a reset of a handle-less socket must not throw
  });

  it('applies a reload to the next connection without restarting the server', async () => {
    const engine = await createEngine(policy([tcp('127.0.0.2', 'accept')]));
    const { server } = echoServer();
    const guard = guardServer(server, engine);
    const port = await listen(reg, server);
    const talk = () => exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'p' });
    expect((await talk()).received).toBe('p');
    await engine.reload(policy([tcp('127.0.0.2', 'drop')]));
    expect((await talk()).received).toBe('');
    await engine.reload(policy([tcp('127.0.0.0/24', 'accept')]));
    expect((await talk()).received).toBe('p');
    expect(guard.stats()).toMatchObject({ accepted: 2, dropped: 1 });
  });

  it.skipIf(!HAS_IPV6)('classifies IPv6 peers (::1), across a reload', async () => {
    const engine = await createEngine(policy([tcp('::1', 'accept', { port: 'ALL' })]));
    const { server } = echoServer();
    guardServer(server, engine);
    const port = await listen(reg, server, '::1');
    expect((await exchange(reg, { host: '::1', port, payload: 'six' })).received).toBe('six');
    await engine.reload(policy([tcp('0.0.0.0/0', 'accept'), tcp('::/0', 'drop')]));
    expect((await exchange(reg, { host: '::1', port, payload: 'six' })).received).toBe('');
  });

  it("refuses an unknown instance at setup; fails closed (counted as 'error') when a reload removes it; unguard stops filtering", async () => {
    const engine = await createEngine({ ...policy([tcp('127.0.0.0/8', 'accept')]), instances: [{ id: 'web-1', securityGroups: ['sg-test'] }] });
    const { server, seen } = echoServer();
    const drops: InboundDecision[] = [];
    expect(() => guardServer(server, engine, { instance: 'nope' })).toThrow(expect.objectContaining({ code: 'UNKNOWN_INSTANCE', message: expect.stringContaining('"web-1"') }));
    expect(Object.prototype.hasOwnProperty.call(server, 'emit')).toBe(false); // nothing half set up
    const guard = guardServer(server, engine, { instance: 'web-1', onDrop: (d) => drops.push(d) });
    const port = await listen(reg, server);
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'a' })).received).toBe('a');
    await engine.reload({ ...policy([tcp('127.0.0.0/8', 'accept')]), instances: [{ id: 'web-2', securityGroups: ['sg-test'] }] });
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'a' })).received).toBe('');
    expect(drops[0]!.error).toMatchObject({ code: 'UNKNOWN_INSTANCE' });
    expect(guard.stats().byRule.get('error')).toEqual({ accepted: 0, dropped: 1 });
    guard.unguard();
    expect(guard.active).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(server, 'emit')).toBe(false);
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'a' })).received).toBe('a');
    expect(seen).toHaveLength(2);
  });
});

describe('egress guards', () => {
  let engine: Engine;
  let allowed: ReturnType<typeof echoServer>; // on 127.0.0.1: accepted
  let blocked: ReturnType<typeof echoServer>; // on 127.0.0.4: must never be dialled
  let allowedPort: number;
  let blockedPort: number;
  const lookup = tableLookup({
    'api.test': ['127.0.0.1'],
    'blocked.test': ['127.0.0.4'],
    'mixed.test': ['127.0.0.4', '127.0.0.1'],
    'both-dropped.test': ['127.0.0.4', '127.0.0.5'],
  });

  beforeEach(async () => {
    engine = await createEngine(policy([], [out('127.0.0.4', 'drop'), out('127.0.0.5', 'drop', { port: 'ALL' }), out('127.0.0.1', 'accept')]));
    allowed = echoServer();
    blocked = echoServer();
    allowedPort = await listen(reg, allowed.server, '127.0.0.1');
    blockedPort = await listen(reg, blocked.server, '127.0.0.4');
  });

  /** Resolves with the socket's error, or null once it connected (and is closed). */
  const outcome = (s: net.Socket, event = 'connect') =>
    new Promise<Error | null>((resolve) => {
      reg.track(s);
      s.on('error', resolve);
      s.on(event, () => {
        s.destroy();
        resolve(null);
      });
    });

  it('guardedConnect: accepted literals and names exchange data; dropped ones fail with ERR_SGFILTER_DROPPED without dialling', async () => {
    const connect = guardedConnect(engine, { lookup });
    for (const host of ['127.0.0.1', 'api.test']) {
      const s = reg.track(connect({ host, port: allowedPort }));
      s.setEncoding('utf8').write('hi');
      const [data] = await once(s, 'data');
      expect(data).toBe('hi');
      s.destroy();
    }
    let listenerCalled = false;
    const e1 = (await outcome(connect(blockedPort, '127.0.0.4', () => (listenerCalled = true)))) as ConnectionDroppedError;
    expect(e1).toBeInstanceOf(ConnectionDroppedError);
    expect(e1).toMatchObject({ code: 'ERR_SGFILTER_DROPPED', groupId: 'sg-test', ruleIndex: 0, address: '127.0.0.4', port: blockedPort });
    expect(e1.message).toBe(`outbound connection to 127.0.0.4:${blockedPort} dropped by sg-test outbound rule 0`);
    const e2 = (await outcome(connect({ host: 'blocked.test', port: blockedPort }))) as ConnectionDroppedError;
    expect(e2).toMatchObject({ code: 'ERR_SGFILTER_DROPPED', groupId: 'sg-test', ruleIndex: 0, address: '127.0.0.4', host: 'blocked.test' });
    expect(e2.message).toContain('(blocked.test)');
    expect(listenerCalled).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(blocked.seen).toHaveLength(0);
    expect(connect.stats()).toMatchObject({ accepted: 2, dropped: 2 });
    expect(connect.stats().byRule.get('sg-test#outbound#0')).toEqual({ accepted: 0, dropped: 2 });
  });

  it('multi-address names: only accepted addresses are dialled; strict refuses the name', async () => {
    for (const autoSelectFamily of [true, false]) {
      const connect = guardedConnect(engine, { lookup });
      const s = connect({ host: 'mixed.test', port: allowedPort, autoSelectFamily });
      let remote: string | undefined;
      s.on('connect', () => (remote = s.remoteAddress));
      expect(await outcome(s)).toBeNull();
      expect(remote).toBe('127.0.0.1');
    }
    const strict = guardedConnect(engine, { lookup, strict: true });
    const e = (await outcome(strict({ host: 'mixed.test', port: allowedPort }))) as ConnectionDroppedError;
    expect(e.code).toBe('ERR_SGFILTER_DROPPED');
    expect(e.address).toBe('127.0.0.4');
    expect(e.addresses.map((a) => [a.address, a.verdict.action])).toEqual([['127.0.0.4', 'drop'], ['127.0.0.1', 'accept']]);
    expect(e.message).toContain('1 of its 2 addresses dropped (strict)');

    const all = (await outcome(guardedConnect(engine, { lookup })({ host: 'both-dropped.test', port: blockedPort }))) as ConnectionDroppedError;
    expect(all.message).toBe(
      `outbound connection to both-dropped.test:${blockedPort} dropped: every address is dropped: 127.0.0.4:${blockedPort} by sg-test outbound rule 0; 127.0.0.5:${blockedPort} by sg-test outbound rule 1`,
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(blocked.seen).toHaveLength(0);
  });

  it('guardedConnect.tls keeps SNI and certificate checks on the name', async () => {
    const secure = tls.createServer({ key: TLS_KEY, cert: TLS_CERT }, (s) => s.end('tls-ok'));
    const port = await listen(reg, secure, '127.0.0.1');
    const connect = guardedConnect(engine, { lookup });
    const s = reg.track(connect.tls({ host: 'api.test', port, ca: TLS_CERT }));
    s.setEncoding('utf8');
    const [data] = await once(s, 'data');
    expect(data).toBe('tls-ok');
    expect(s.authorized).toBe(true);
    const e = await outcome(connect.tls({ host: 'blocked.test', port, ca: TLS_CERT }), 'secureConnect');
    expect(e).toMatchObject({ code: 'ERR_SGFILTER_DROPPED', address: '127.0.0.4' });
    const e2 = await outcome(connect.tls({ host: '127.0.0.4', port, ca: TLS_CERT }), 'secureConnect');
    expect(e2).toMatchObject({ code: 'ERR_SGFILTER_DROPPED', address: '127.0.0.4' });
  });

  it('refuses an unknown instance at setup, and fails closed when a reload removes it', async () => {
    for (const make of [
      () => guardedConnect(engine, { instance: 'nope' }),
      () => guardedAgent(engine, { instance: 'nope' }),
      () => guardedAgent(engine, { instance: 'nope', https: true }),
      () => guardedDispatcher(engine, { instance: 'nope' }),
    ]) {
      expect(make).toThrow(expect.objectContaining({ code: 'UNKNOWN_INSTANCE' }));
    }
    const connect = guardedConnect(engine, { instance: 'default' });
    expect(await outcome(connect({ host: '127.0.0.1', port: allowedPort }))).toBeNull();
    await engine.reload({ ...policy([], [out('127.0.0.1', 'accept')]), instances: [{ id: 'other', securityGroups: ['sg-test'] }] });
    expect(await outcome(connect({ host: '127.0.0.1', port: allowedPort }))).toMatchObject({ code: 'UNKNOWN_INSTANCE' });
    expect(await outcome(connect({ host: 'api.test', port: allowedPort, lookup }))).toMatchObject({ code: 'UNKNOWN_INSTANCE' });
    expect(connect.stats().byRule.get('error')).toEqual({ accepted: 0, dropped: 2 });
    expect(allowed.seen).toHaveLength(1);
  });

  it('guardedAgent (http and https): requests to dropped addresses and names fail with ERR_SGFILTER_DROPPED', async () => {
    const web = http.createServer((req, res) => res.end(`hello ${req.url}`));
    const webPort = await listen(reg, web, '127.0.0.1');
    const secure = https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => res.end(`secure ${req.url}`));
    const securePort = await listen(reg, secure, '127.0.0.1');
    const agent = guardedAgent(engine, { lookup, keepAlive: true });
    const sAgent = guardedAgent(engine, { lookup, https: true, ca: TLS_CERT });
    try {
      const get = (mod: typeof http | typeof https, url: string, a: http.Agent) =>
        new Promise<string>((resolve, reject) => {
          mod
            .get(url, { agent: a }, (res) => {
              let body = '';
              res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
            })
            .on('error', reject);
        });
      expect(await get(http, `http://api.test:${webPort}/a`, agent)).toBe('hello /a');
      expect(await get(http, `http://127.0.0.1:${webPort}/b`, agent)).toBe('hello /b');
      await expect(get(http, `http://blocked.test:${blockedPort}/`, agent)).rejects.toMatchObject({ code: 'ERR_SGFILTER_DROPPED', address: '127.0.0.4' });
      await expect(get(http, `http://127.0.0.4:${blockedPort}/`, agent)).rejects.toMatchObject({ code: 'ERR_SGFILTER_DROPPED', groupId: 'sg-test', ruleIndex: 0 });
      expect(await get(https, `https://api.test:${securePort}/c`, sAgent)).toBe('secure /c');
      await expect(get(https, `https://blocked.test:${securePort}/`, sAgent)).rejects.toMatchObject({ code: 'ERR_SGFILTER_DROPPED' });
      await expect(get(https, `https://127.0.0.4:${securePort}/`, sAgent)).rejects.toMatchObject({ code: 'ERR_SGFILTER_DROPPED' });
      expect(agent.stats()).toMatchObject({ dropped: 2 });
      expect(sAgent.stats()).toMatchObject({ accepted: 1, dropped: 2 });
      expect(blocked.seen).toHaveLength(0);
    } finally {
      agent.destroy();
      sAgent.destroy();
    }
  });

  it('guardedDispatcher: undici.request and global fetch fail with ERR_SGFILTER_DROPPED for dropped destinations', async () => {
    const web = http.createServer((req, res) => res.end(`hello ${req.url}`));
    const webPort = await listen(reg, web, '127.0.0.1');
    const secure = https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => res.end(`secure ${req.url}`));
    const securePort = await listen(reg, secure, '127.0.0.1');
    const dispatcher = guardedDispatcher(engine, { lookup, connect: { ca: TLS_CERT } });
    try {
      const r = await undiciRequest(`http://api.test:${webPort}/u`, { dispatcher });
      expect(await r.body.text()).toBe('hello /u');
      const f = await fetch(`http://127.0.0.1:${webPort}/f`, { dispatcher } as RequestInit);
      expect(await f.text()).toBe('hello /f');
      const m = await fetch(`http://mixed.test:${webPort}/m`, { dispatcher } as RequestInit);
      expect(await m.text()).toBe('hello /m');
      const s = await fetch(`https://api.test:${securePort}/s`, { dispatcher } as RequestInit);
      expect(await s.text()).toBe('secure /s');

      await expect(undiciRequest(`http://blocked.test:${blockedPort}/`, { dispatcher })).rejects.toMatchObject({ code: 'ERR_SGFILTER_DROPPED', address: '127.0.0.4' });
      const viaFetch = await fetch(`http://127.0.0.4:${blockedPort}/`, { dispatcher } as RequestInit).catch((e: Error) => e);
      expect((viaFetch as Error & { cause?: unknown }).cause).toMatchObject({ code: 'ERR_SGFILTER_DROPPED', groupId: 'sg-test', ruleIndex: 0, address: '127.0.0.4' });
      const tlsFetch = await fetch(`https://blocked.test:${securePort}/`, { dispatcher } as RequestInit).catch((e: Error) => e);
      expect((tlsFetch as Error & { cause?: unknown }).cause).toMatchObject({ code: 'ERR_SGFILTER_DROPPED' });
      expect(dispatcher.stats()).toMatchObject({ accepted: 4, dropped: 3 });
      expect(blocked.seen).toHaveLength(0);
    } finally {
      await dispatcher.close();
    }
  });

  it.skipIf(!HAS_IPV6)('classifies IPv6 destinations (::1)', async () => {
    const engine6 = await createEngine(policy([], [out('::1', 'accept'), out('::/0', 'drop')]));
    const { server } = echoServer();
    const port = await listen(reg, server, '::1');
    const connect = guardedConnect(engine6, { lookup: tableLookup({ 'six.test': ['::1'] }) });
    expect(await outcome(connect({ host: '::1', port }))).toBeNull();
    expect(await outcome(connect({ host: 'six.test', port }))).toBeNull();
    await engine6.reload(policy([], [out('::1', 'drop')]));
    expect(await outcome(connect({ host: 'six.test', port }))).toMatchObject({ code: 'ERR_SGFILTER_DROPPED', address: '::1' });
  });
});

describe("the 'sgfilter/node' entry", () => {
  it('resolves through package.json exports to the built guards', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const root = fileURLToPath(new URL('..', import.meta.url));
    const script = "Promise.all([import('sgfilter/node'), import('sgfilter')]).then(([n, m]) => console.log(JSON.stringify([Object.keys(n).sort(), ['guardServer', 'guardedAgent', 'guardedConnect', 'guardedDispatcher'].every((k) => m[k] === n[k])])))";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([
      [
        'ConnectionDroppedError', 'closeCompileWorker', 'compileInWorker', 'createClassifierPool', 'guardServer', 'guardedAgent', 'guardedConnect',
        'guardedDispatcher', 'parseHostPort', 'reloadInWorker', 'startProxy', 'watchConfig',
      ],
      true,
    ]);
  });
});
