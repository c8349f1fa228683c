/**
 * The egress guards read connection options once (attack finding 10): guardedConnect
 * classified one read of `options.port` and dialled another (a getter answering the
 * allowed port first and a forbidden one after). Generated here: for every way in
 * (guardedConnect, connect.tls, socket.connect on a guarded socket, an http and an
 * https guardedAgent's createConnection, a guardedDispatcher's connect options), the
 * host or port given by a getter or a Proxy that switches from an allowed to a
 * forbidden destination after a generated number of reads. Loopback only: the policy
 * opens 127.0.0.1:A; a second server listens on 127.0.0.1:F and 127.0.0.2:A. Whatever
 * the reads, the forbidden servers are never reached: a connection either reaches the
 * allowed one or is refused.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as undiciRequest } from 'undici';
import { createEngine, type Engine } from '../src/index.js';
import { guardedAgent, guardedConnect, guardedDispatcher } from '../src/node/index.js';
import { Sockets, TLS_CERT, TLS_KEY, canListen, listen } from './net-helpers.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0xe9e5);

const reg = new Sockets();
let engine: Engine;
let allowed: number;
let forbidden: number;
let forbiddenHits = 0;
let tlsAllowed: number;
let tlsForbidden: number;
let otherHost = false;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-egress-once-'));
  const hit = (s: net.Socket) => {
    forbiddenHits++;
    s.on('error', () => undefined);
    s.end('forbidden');
  };
  const fine = (s: net.Socket) => {
    s.on('error', () => undefined); // clients here hang up at once
    s.end('allowed');
  };
  allowed = await listen(reg, net.createServer(fine));
  forbidden = await listen(reg, net.createServer(hit));
  tlsAllowed = await listen(reg, tls.createServer({ key: TLS_KEY, cert: TLS_CERT }, fine));
  tlsForbidden = await listen(reg, tls.createServer({ key: TLS_KEY, cert: TLS_CERT }, hit));
  for (const srv of reg.servers) srv.on('tlsClientError', () => undefined);
  // The allowed port on another loopback address: reached only by a host that changed.
  if (await canListen('127.0.0.2')) {
    otherHost = true;
    const s = net.createServer(hit);
    reg.servers.add(s);
    await new Promise<void>((r) => s.listen({ host: '127.0.0.2', port: allowed }, () => r()));
    const t = tls.createServer({ key: TLS_KEY, cert: TLS_CERT }, hit);
    reg.servers.add(t);
    await new Promise<void>((r) => t.listen({ host: '127.0.0.2', port: tlsAllowed }, () => r()));
  }
  engine = await createEngine({
    securityGroups: [{ id: 'sg', outbound: [
      { protocol: 'TCP', port: allowed, destination: '127.0.0.1', action: 'accept' },
      { protocol: 'TCP', port: tlsAllowed, destination: '127.0.0.1', action: 'accept' },
    ] }],
  });
});
afterAll(async () => {
  await reg.closeAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** Resolves when the socket connected somewhere (true) or failed (false). */
function settle(s: net.Socket, event = 'connect'): Promise<boolean> {
  return new Promise((resolve) => {
    reg.track(s);
    s.once(event, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('close', () => resolve(false));
  });
}

/** Options whose `field` answers `first` for `k` reads, then `later`; by a getter or by a Proxy over the whole object. */
function switching(base: Record<string, unknown>, field: 'host' | 'port', first: unknown, later: unknown, k: number, proxy: boolean): Record<string, unknown> {
  let reads = 0;
  const value = () => (reads++ < k ? first : later);
  if (proxy) {
    return new Proxy({ ...base, [field]: first }, {
      get: (t, key, r) => (key === field ? value() : Reflect.get(t, key, r)),
      getOwnPropertyDescriptor: (t, key) => {
        const d = Reflect.getOwnPropertyDescriptor(t, key);
        return key === field && d ? { ...d, value: value() } : d;
      },
    });
  }
  const o = { ...base };
  Object.defineProperty(o, field, { get: value, enumerable: true, configurable: true });
  return o;
}

const cases = fc.record({
  field: fc.constantFrom('host' as const, 'port' as const),
  k: fc.nat({ max: 4 }),
  proxy: fc.boolean(),
  forbiddenFirst: fc.boolean(),
});

function destinations(field: 'host' | 'port', port: number, forbiddenPort: number): [unknown, unknown] | null {
  if (field === 'port') return [port, forbiddenPort];
  return otherHost ? ['127.0.0.1', '127.0.0.2'] : null;
}

describe(`egress guards classify and dial one read of the options (seed ${SEED})`, () => {
  it('guardedConnect, connect.tls and socket.connect never reach a destination they did not classify', async () => {
    const connect = guardedConnect(engine);
    await fc.assert(
      fc.asyncProperty(cases, fc.constantFrom('net', 'tls', 'reconnect'), async ({ field, k, proxy, forbiddenFirst }, how) => {
        const isTls = how === 'tls';
        const d = destinations(field, isTls ? tlsAllowed : allowed, isTls ? tlsForbidden : forbidden);
        if (!d) return;
        const [ok, bad] = forbiddenFirst ? [d[1], d[0]] : d;
        const base = { host: '127.0.0.1', port: isTls ? tlsAllowed : allowed, ...(isTls ? { ca: TLS_CERT, servername: 'localhost' } : {}) };
        const opts = switching(base, field, ok, bad, k, proxy);
        const before = forbiddenHits;
        if (how === 'reconnect') {
          const s = connect({ host: '127.0.0.1', port: allowed });
          await settle(s);
          await new Promise((r) => setTimeout(r, 5));
          try {
            await settle(s.connect(opts as unknown as net.SocketConnectOpts));
          } catch (e) {
            expect((e as { code?: string }).code).toBe('INVALID_ARGUMENT');
          }
        } else {
          try {
            await settle(isTls ? connect.tls(opts as tls.ConnectionOptions) : connect(opts as unknown as net.TcpNetConnectOpts), isTls ? 'secureConnect' : 'connect');
          } catch (e) {
            expect((e as { code?: string }).code).toBe('INVALID_ARGUMENT');
          }
        }
        await new Promise((r) => setTimeout(r, 10));
        expect(forbiddenHits - before).toBe(0);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('http and https guardedAgent createConnection never reach a destination they did not classify', async () => {
    const agents = { http: guardedAgent(engine), https: guardedAgent(engine, { https: true, ca: TLS_CERT }) };
    await fc.assert(
      fc.asyncProperty(cases, fc.constantFrom('http' as const, 'https' as const), async ({ field, k, proxy, forbiddenFirst }, which) => {
        const isTls = which === 'https';
        const d = destinations(field, isTls ? tlsAllowed : allowed, isTls ? tlsForbidden : forbidden);
        if (!d) return;
        const [ok, bad] = forbiddenFirst ? [d[1], d[0]] : d;
        const base = { host: '127.0.0.1', port: isTls ? tlsAllowed : allowed, servername: 'localhost', ca: TLS_CERT };
        const opts = switching(base, field, ok, bad, k, proxy);
        const before = forbiddenHits;
        const agent = agents[which] as unknown as { createConnection(o: object, cb: (e: Error | null, s?: net.Socket) => void): net.Socket | undefined };
        const socket = await new Promise<net.Socket | undefined>((resolve) => {
          const s = agent.createConnection(opts, (e, sock) => resolve(e ? undefined : sock));
          if (s) resolve(s);
        });
        if (socket) await settle(socket, isTls ? 'secureConnect' : 'connect');
        await new Promise((r) => setTimeout(r, 10));
        expect(forbiddenHits - before).toBe(0);
      }),
      { seed: SEED ^ 1, numRuns: 40 },
    );
    agents.http.destroy();
    agents.https.destroy();
  });

  it('guardedDispatcher: connect options checked once are the ones undici dials with', async () => {
    const sockPath = join(tmp, 'local.sock');
    let localHits = 0;
    const local = net.createServer((s) => {
      localHits++;
      s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    reg.servers.add(local);
    await new Promise<void>((r) => local.listen(sockPath, () => r()));
    for (const key of ['socketPath', 'path']) {
      let reads = 0;
      const connect = {};
      Object.defineProperty(connect, key, { get: () => (reads++ === 0 ? undefined : sockPath), enumerable: true });
      const dispatcher = guardedDispatcher(engine, { connect });
      // The allowed server is not HTTP: the request fails after reaching it, which is fine.
      await undiciRequest(`http://127.0.0.1:${allowed}/`, { dispatcher }).then((x) => x.body.text()).catch(() => undefined);
      expect(localHits, `connect.${key} read ${reads} times`).toBe(0);
      await dispatcher.close();
    }
  });
});
