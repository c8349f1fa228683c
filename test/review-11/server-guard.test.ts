// Review at11g: guardServer takes a socket's local port (and, on a one-address
// listener, its local address) from server.address() whenever socket.server is the
// guarded server (commit d5fae31). These tests look for sockets whose real local end
// is not the listener's while socket.server still names the guarded server, and
// compare the guard's verdict with the engine's verdict for the real five-tuple.
// Loopback only.
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type ConfigInput, type RuleInput } from '../../src/index.js';
import { guardServer, type InboundDecision } from '../../src/node/index.js';
import { Sockets, canListen, exchange, listen, TLS_CERT, TLS_KEY } from '../net-helpers.js';

const HAS_IPV6 = await canListen('::');
const reg = new Sockets();
afterEach(() => reg.closeAll());
// Outside review of issue 11 (guards and flows); each finding is written as the behaviour SPEC asks for.
const finding = it; // fixed: each was an it.fails while the finding stood

const policy = (inbound: RuleInput[]): ConfigInput => ({ securityGroups: [{ id: 'sg-a', inbound }], instances: [{ id: 'web', securityGroups: ['sg-a'] }] });
const tcp = (extra: Partial<RuleInput>): RuleInput => ({ protocol: 'TCP', port: 'ALL', source: '127.0.0.0/8', action: 'accept', ...extra });

function echo(s: net.Socket): void {
  s.on('error', () => {});
  s.on('data', (d) => s.end(d));
}

describe('review at11g: guardServer local end from the listener', () => {
  finding('FINDING: a socket handed over by hand whose `server` names the guarded server (TLSSocket { server }) is classified with the listener\'s port and address, not its own', async () => {
    // The guarded server listens on 127.0.0.1:P1 and the policy accepts only P1 on
    // 127.0.0.1. A front server on 127.0.0.3:P2 terminates TLS and hands each
    // TLSSocket to the guarded server with emit('connection') -- the documented
    // "handed over from elsewhere" case. new tls.TLSSocket(raw, { server }) sets
    // tlsSocket.server = server (Node does so for its own tls.Server too), so the
    // guard takes the listener's end (P1, 127.0.0.1) for a connection that really
    // arrived at 127.0.0.3:P2.
    const guarded = http.createServer((req, res) => res.end('ok'));
    const decisions: InboundDecision[] = [];
    const engine = await createEngine(policy([]));
    guardServer(guarded, engine, { instance: 'web', onAccept: (d) => decisions.push(d), onDrop: (d) => decisions.push(d) });
    const p1 = await listen(reg, guarded, '127.0.0.1');
    const ctx = tls.createSecureContext({ key: TLS_KEY, cert: TLS_CERT });
    const front = net.createServer((raw) => {
      reg.track(raw);
      const t = new tls.TLSSocket(raw, { isServer: true, server: guarded as unknown as net.Server, secureContext: ctx });
      guarded.emit('connection', t);
    });
    const p2 = await listen(reg, front, '127.0.0.3');
    await engine.reload(policy([tcp({ port: String(p1), localCidr: '127.0.0.1/32' })]));

    const real = { direction: 'inbound' as const, protocol: 'TCP' as const, remote: '127.0.0.2', port: p2, local: '127.0.0.3', instance: 'web' };
    expect(engine.classify(real).action).toBe('drop'); // the policy drops the real flow

    const got = await new Promise<string>((resolve) => {
      const c = tls.connect({ host: '127.0.0.3', port: p2, localAddress: '127.0.0.2', rejectUnauthorized: false, servername: 'localhost' } as tls.ConnectionOptions, () => {
        c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      reg.track(c);
      let body = '';
      c.on('data', (d) => (body += d));
      c.on('error', () => resolve('error'));
      c.on('close', () => resolve(body.includes('ok') ? 'served' : 'refused'));
    });
    const last = decisions.at(-1)!;
    // Expected (the guard's own docs, SPEC §6: the flow as it really is): dropped, port p2, local 127.0.0.3.
    expect({ served: got === 'served', action: last.verdict?.action, port: last.flow?.port, local: last.flow?.local }).toEqual({ served: false, action: 'drop', port: p2, local: '127.0.0.3' });
  });

  finding('FINDING (low): a server subclass whose address() answers another port decides the verdict', async () => {
    // address() is user code, the socket is the kernel's: the guard used to read the socket.
    class Fronted extends net.Server {
      override address(): net.AddressInfo {
        return { address: '127.0.0.1', port: 443, family: 'IPv4' }; // e.g. the port a load balancer publishes
      }
    }
    const engine = await createEngine(policy([tcp({ port: '443' })]));
    const server = new Fronted(echo);
    guardServer(server, engine, { instance: 'web' });
    reg.servers.add(server);
    server.on('connection', (s: net.Socket) => reg.track(s));
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
    const port = net.Server.prototype.address.call(server) as net.AddressInfo;
    const r = await exchange(reg, { host: '127.0.0.1', port: port.port, localAddress: '127.0.0.2', payload: 'x' });
    const want = engine.classify({ direction: 'inbound', protocol: 'TCP', remote: '127.0.0.2', port: port.port, local: '127.0.0.1', instance: 'web' }).action;
    expect({ accepted: r.received === 'x' }).toEqual({ accepted: want === 'accept' });
  });

  it('held: re-listen on another address and port while old connections stay open', async () => {
    const engine = await createEngine(policy([]));
    const server = net.createServer(echo);
    guardServer(server, engine, { instance: 'web' });
    const p1 = await listen(reg, server, '127.0.0.4');
    await engine.reload(policy([tcp({ port: String(p1), localCidr: '127.0.0.4/32' })]));
    // hold a connection open so 'close' is not emitted
    const held = reg.track(net.connect({ host: '127.0.0.4', port: p1, localAddress: '127.0.0.2' }));
    await new Promise((r) => held.on('connect', r));
    await new Promise((r) => setTimeout(r, 20));
    server.close();
    const p2 = await new Promise<number>((resolve) => server.listen({ host: '127.0.0.5', port: 0 }, () => resolve((server.address() as net.AddressInfo).port)));
    await engine.reload(policy([tcp({ port: String(p1), localCidr: '127.0.0.4/32' }), tcp({ port: String(p2), localCidr: '127.0.0.6/32' })]));
    const r = await exchange(reg, { host: '127.0.0.5', port: p2, localAddress: '127.0.0.2', payload: 'x' });
    expect(r.received).toBe('');
    await engine.reload(policy([tcp({ port: String(p2), localCidr: '127.0.0.5/32' })]));
    const r2 = await exchange(reg, { host: '127.0.0.5', port: p2, localAddress: '127.0.0.2', payload: 'x' });
    expect(r2.received).toBe('x');
    held.destroy();
  });

  it.runIf(HAS_IPV6)('held: IPv4-mapped connections to a :: listener, a reload that adds localCidr and sourcePort rules', async () => {
    const engine = await createEngine(policy([tcp({})]));
    const server = net.createServer(echo);
    guardServer(server, engine, { instance: 'web' });
    const port = await listen(reg, server, '::');
    expect((await exchange(reg, { host: '127.0.0.3', port, localAddress: '127.0.0.2', payload: 'x' })).received).toBe('x');
    await engine.reload(policy([tcp({ action: 'drop', localCidr: '127.0.0.3/32' }), tcp({})]));
    expect((await exchange(reg, { host: '127.0.0.3', port, localAddress: '127.0.0.2', payload: 'x' })).received).toBe('');
    expect((await exchange(reg, { host: '::ffff:127.0.0.4', port, localAddress: '::ffff:127.0.0.2', payload: 'x' })).received).toBe('x');
    await engine.reload(policy([tcp({ action: 'drop', sourcePort: '40000' }), tcp({})]));
    expect((await exchange(reg, { host: '127.0.0.3', port, localAddress: '127.0.0.2', localPort: 40000, payload: 'x' })).received).toBe('');
  });
});
