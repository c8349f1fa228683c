// guardServer reads a connection's local end from the listener when it can (issue
// #11, item 3): the listening port and, for a listener on one address, that address,
// with no getsockname per connection; on a wildcard listener the local address only
// when a rule of the instance names localCidr. These tests compare every verdict with
// the engine's verdict for the real five-tuple (the client knows both ends), on
// policies where a wrong local address or port changes the verdict: they fail if the
// guard used a wrong or missing local address, a stale port after a new listen, or
// the listener's port for a socket another server accepted. Loopback only.
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type ActionInput, type ConfigInput, type Engine, type RuleInput } from '../src/index.js';
import { guardServer, type InboundDecision } from '../src/node/index.js';
import { Sockets, canListen, exchange, listen } from './net-helpers.js';

const HAS_IPV6 = await canListen('::');
const reg = new Sockets();
afterEach(() => reg.closeAll());

const tcp = (source: string, action: ActionInput, extra: Partial<RuleInput> = {}): RuleInput => ({ protocol: 'TCP', port: 'ALL', source, action, ...extra });
const policy = (inbound: RuleInput[], other: RuleInput[] = []): ConfigInput => ({
  securityGroups: [{ id: 'sg-a', inbound }, { id: 'sg-other', inbound: other }],
  instances: [{ id: 'web', securityGroups: ['sg-a'] }, { id: 'other', securityGroups: ['sg-other'] }],
});

function echoServer(): net.Server {
  return net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (d) => s.end(d));
  });
}

/** Connects from `from` to `to`:port; whether the server echoed, and the engine's verdict for the real five-tuple. */
async function check(engine: Engine, from: string, to: string, port: number, instance = 'web'): Promise<{ accepted: boolean; want: boolean }> {
  const r = await exchange(reg, { host: to, port, localAddress: from, payload: 'x' });
  // No rule here names source ports: a connection reset before 'connect' needs none.
  const flow = { direction: 'inbound' as const, protocol: 'TCP' as const, remote: from, port, local: to, instance };
  return { accepted: r.received === 'x', want: engine.classify(flow).action === 'accept' };
}

const FROM = ['127.0.0.2', '127.0.0.5'];
const TO = ['127.0.0.1', '127.0.0.3', '127.0.0.4'];

describe('guardServer: the local end from the listener', () => {
  for (const host of ['0.0.0.0', ...(HAS_IPV6 ? ['::'] : [])]) {
    it(`a wildcard listener (${host}): localCidr rules see the real local address, across reloads that add and remove them`, async () => {
      const policies: ConfigInput[] = [
        policy([tcp('0.0.0.0/0', 'accept')]), // no localCidr: the local address is not read
        policy([tcp('0.0.0.0/0', 'drop', { localCidr: '127.0.0.3/32' }), tcp('0.0.0.0/0', 'accept')]),
        policy([tcp('127.0.0.0/8', 'accept', { localCidr: '127.0.0.4/32' })]),
        policy([tcp('127.0.0.5', 'drop'), tcp('0.0.0.0/0', 'accept', { localCidr: '127.0.0.1/32' })]),
        // A localCidr rule in another instance's group only: 'web' does not read it.
        policy([tcp('0.0.0.0/0', 'accept')], [tcp('0.0.0.0/0', 'drop', { localCidr: '127.0.0.3/32' })]),
      ];
      const engine = await createEngine(policies[0]!);
      const server = echoServer();
      const accepted: InboundDecision[] = [];
      guardServer(server, engine, { instance: 'web', onAccept: (d) => accepted.push(d) });
      const port = await listen(reg, server, host);
      let drops = 0;
      for (const p of [...policies, ...policies.slice().reverse()]) {
        await engine.reload(p);
        for (const from of FROM) {
          for (const to of TO) {
            const { accepted: got, want } = await check(engine, from, to, port);
            expect({ p: JSON.stringify(p.securityGroups), from, to, got }).toEqual({ p: JSON.stringify(p.securityGroups), from, to, got: want });
            if (!want) drops++;
          }
        }
      }
      expect(drops).toBeGreaterThan(0);
      // onAccept hears the real local address even where the verdict did not need it.
      for (const d of accepted) expect(TO).toContain(d.flow!.local);
      expect(accepted.length).toBeGreaterThan(0);
    });
  }

  it('a listener on one address: that address is the local address (localCidr rules decide by it)', async () => {
    const engine = await createEngine(policy([tcp('0.0.0.0/0', 'drop', { localCidr: '127.0.0.4/32' }), tcp('0.0.0.0/0', 'accept')]));
    const a = echoServer();
    guardServer(a, engine, { instance: 'web' });
    const portA = await listen(reg, a, '127.0.0.4');
    const b = echoServer();
    guardServer(b, engine, { instance: 'web' });
    const portB = await listen(reg, b, '127.0.0.3');
    for (const from of FROM) {
      expect(await check(engine, from, '127.0.0.4', portA)).toEqual({ accepted: false, want: false });
      expect(await check(engine, from, '127.0.0.3', portB)).toEqual({ accepted: true, want: true });
    }
  });

  it('a new listen on another port: the next connections are classified with the new port', async () => {
    const engine = await createEngine(policy([]));
    const server = echoServer();
    guardServer(server, engine, { instance: 'web' });
    const first = await listen(reg, server);
    await engine.reload(policy([tcp('127.0.0.0/8', 'accept', { port: first })]));
    expect(await check(engine, '127.0.0.2', '127.0.0.1', first)).toEqual({ accepted: true, want: true });
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of reg.sockets) s.destroy();
    });
    let second = first;
    while (second === first) {
      second = await listen(reg, server);
      if (second === first) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(await check(engine, '127.0.0.2', '127.0.0.1', second)).toEqual({ accepted: false, want: false });
    await engine.reload(policy([tcp('127.0.0.0/8', 'accept', { port: second })]));
    expect(await check(engine, '127.0.0.2', '127.0.0.1', second)).toEqual({ accepted: true, want: true });
  });

  it('a socket another server accepted and handed over is read itself (its own port and local address)', async () => {
    const engine = await createEngine(policy([]));
    const guarded = echoServer();
    guardServer(guarded, engine, { instance: 'web' });
    const guardedPort = await listen(reg, guarded, '127.0.0.1');
    // Accepts on its own port and hands every socket to the guarded server.
    const front = net.createServer((s) => guarded.emit('connection', s));
    const frontPort = await listen(reg, front, '0.0.0.0');
    await engine.reload(policy([tcp('127.0.0.0/8', 'accept', { port: guardedPort, localCidr: '127.0.0.1/32' })]));
    expect(await check(engine, '127.0.0.2', '127.0.0.1', guardedPort)).toEqual({ accepted: true, want: true });
    // The guarded server's port and address would accept; the socket's own (front's port, 127.0.0.3) do not.
    expect(await check(engine, '127.0.0.2', '127.0.0.3', frontPort)).toEqual({ accepted: false, want: false });
    await engine.reload(policy([tcp('127.0.0.0/8', 'accept', { port: frontPort, localCidr: '127.0.0.3/32' })]));
    expect(await check(engine, '127.0.0.2', '127.0.0.3', frontPort)).toEqual({ accepted: true, want: true });
    expect(await check(engine, '127.0.0.2', '127.0.0.1', frontPort)).toEqual({ accepted: false, want: false });
  });
});

describe('guardedConnect: an accept decided before connect() is taken as it connects only while it must hold', () => {
  const out = (destination: string, action: ActionInput, extra: Partial<RuleInput> = {}): RuleInput => ({ protocol: 'TCP', port: 'ALL', destination, action, ...extra });
  const egress = (outbound: RuleInput[]): ConfigInput => ({ securityGroups: [{ id: 'sg-out', outbound }], instances: [{ id: 'web', securityGroups: ['sg-out'] }] });

  /** Connects to 127.0.0.1:port; publishes `next` (a snapshot: in the calling turn) right after dialling, before the socket connects. */
  async function dialThenPublish(engine: Engine, port: number, next?: Uint8Array): Promise<{ connected: boolean; code: string | undefined; flow: unknown }> {
    const { guardedConnect } = await import('../src/node/index.js');
    const connect = guardedConnect(engine, { instance: 'web' });
    const s = reg.track(connect({ host: '127.0.0.1', port }));
    if (next) await engine.loadSnapshot(next);
    return new Promise((resolve) => {
      s.on('connect', () => {
        s.destroy();
        resolve({ connected: true, code: undefined, flow: undefined });
      });
      s.on('error', (e: NodeJS.ErrnoException & { flow?: unknown }) => resolve({ connected: false, code: e.code, flow: e.flow }));
    });
  }

  it('a policy published between dial and connect decides (a drop of the destination, a rule on the source port)', async () => {
    const server = echoServer();
    const port = await listen(reg, server, '127.0.0.1');
    const accepting = egress([out('127.0.0.1', 'accept')]);
    const engine = await createEngine(accepting);
    expect(await dialThenPublish(engine, port)).toMatchObject({ connected: true });
    for (const next of [
      egress([out('127.0.0.1', 'drop')]),
      egress([out('127.0.0.1', 'drop', { sourcePort: '1-65535' }), out('127.0.0.1', 'accept')]),
      egress([out('127.0.0.1', 'drop', { localCidr: '127.0.0.0/8' }), out('127.0.0.1', 'accept')]),
    ]) {
      await engine.reload(accepting);
      const bytes = (await createEngine(next)).snapshot();
      const r = await dialThenPublish(engine, port, bytes);
      expect(r).toMatchObject({ connected: false, code: 'ERR_SGFILTER_DROPPED' });
      expect(r.flow).toMatchObject({ remote: '127.0.0.1', port, local: '127.0.0.1' }); // dropped as it connected: the real flow
    }
  });

  it('onAccept still hears the real flow (local address and source port) when no rule needs them', async () => {
    const { guardedConnect } = await import('../src/node/index.js');
    const server = echoServer();
    const port = await listen(reg, server, '127.0.0.1');
    const engine = await createEngine(egress([out('127.0.0.1', 'accept')]));
    const flows: unknown[] = [];
    const connect = guardedConnect(engine, { instance: 'web', onAccept: (d) => flows.push(d.flow) });
    const s = reg.track(connect({ host: '127.0.0.1', port }));
    await new Promise((resolve) => s.on('connect', resolve));
    expect(flows).toEqual([expect.objectContaining({ remote: '127.0.0.1', port, local: '127.0.0.1', sourcePort: s.localPort })]);
    s.destroy();
  });
});
