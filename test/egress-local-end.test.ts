// The egress guards classify the connection as it really is: its local address and
// source port (picked by the kernel at connect time unless the caller binds them)
// decide rules that name localCidr or sourcePort, as they do for the packet path.
//
// Every door (guardedConnect plain and TLS, guardedAgent http and https,
// guardedDispatcher with undici and fetch) is driven against one raw TCP server on
// 127.0.0.1 that records each connection's five-tuple as the server sees it and every
// byte it receives. For generated policies with localCidr / sourcePort rules:
// - a connection that reached the server was decided exactly as referenceClassify
//   decides the real five-tuple (read from the accepted socket), with that flow;
// - a dropped one never delivered a byte (writes queued while connecting, a TLS
//   ClientHello, an HTTP request are all held back);
// - a connection refused before dialling is dropped whatever local end the kernel
//   could have picked (the early check never refuses what the real flow accepts);
// - each connection is counted and reported exactly once.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { request as undiciRequest } from 'undici';
import { createEngine, referenceClassify, type Engine, type FlowInput, type RuleInput } from '../src/index.js';
import { guardedAgent, guardedConnect, guardedDispatcher, type OutboundDecision } from '../src/node/index.js';
import { Sockets, listen } from './net-helpers.js';

/** The kernel's ephemeral port range: where unbound source ports come from. */
const [EPH_LO, EPH_HI] = (() => {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo! > 0 && hi! >= lo!) return [lo!, hi!];
  } catch {
    // not Linux: the IANA range
  }
  return [49152, 65535];
})();

interface Seen {
  /** The outbound flow this connection is, from the server's side. */
  flow: FlowInput;
  bytes: number;
  closed: Promise<void>;
}

const reg = new Sockets();
const seen = new Map<number, Seen>(); // by the client's source port
let port = 0;

beforeAll(async () => {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let close!: () => void;
    const record: Seen = {
      flow: { direction: 'outbound', protocol: 'TCP', remote: s.localAddress!, port: s.localPort!, local: s.remoteAddress!, sourcePort: s.remotePort! },
      bytes: 0,
      closed: new Promise((r) => (close = r)),
    };
    seen.set(s.remotePort!, record);
    s.on('close', close);
    // The first byte proves data flowed; the server then ends the connection.
    s.on('data', (d: Buffer) => {
      record.bytes += d.length;
      s.destroy();
    });
  });
  port = await listen(reg, server, '127.0.0.1');
});
afterAll(() => reg.closeAll());

// ---------------------------------------------------------------- generated policies
const range = fc
  .tuple(fc.integer({ min: EPH_LO - 10, max: EPH_HI + 10 }), fc.integer({ min: 0, max: EPH_HI - EPH_LO }))
  .map(([lo, width]) => `${Math.max(0, lo)}-${Math.min(65535, lo + width)}`);
const rule: fc.Arbitrary<RuleInput> = fc
  .record({
    protocol: fc.constantFrom('TCP', 'ALL'),
    destination: fc.constantFrom('127.0.0.1', '127.0.0.0/8', '0.0.0.0/0', '10.0.0.0/8', 'any'),
    sourcePort: fc.option(range, { nil: undefined }),
    localCidr: fc.option(fc.constantFrom('127.0.0.1', '127.0.0.2/32', '127.0.0.0/8', '10.0.0.0/8', '::1'), { nil: undefined }),
    action: fc.constantFrom('accept', 'drop'),
  })
  // Source ports need TCP (or UDP): a port-less protocol takes no ports.
  .map((r) => Object.fromEntries(Object.entries({ ...r, protocol: r.sourcePort === undefined ? r.protocol : 'TCP' }).filter(([, v]) => v !== undefined)) as unknown as RuleInput);
const policyArb = fc.record({
  // At least one rule names the local end.
  named: fc.array(rule.filter((r) => r.sourcePort !== undefined || r.localCidr !== undefined), { minLength: 1, maxLength: 3 }),
  rest: fc.array(rule, { maxLength: 3 }),
  tail: fc.constantFrom<('accept' | 'drop' | null)>('accept', 'drop', null),
}).chain(({ named, rest, tail }) =>
  fc.shuffledSubarray([...named, ...rest], { minLength: named.length + rest.length }).map((rules) => {
    const outbound = tail === null ? rules : [...rules, { protocol: 'ALL', destination: 'any', action: tail } as RuleInput];
    return { securityGroups: [{ id: 'sg', outbound }] };
  }),
);

/** The source ports that can decide a policy: every bound of its sourcePort intervals, and the ephemeral range's ends. */
function portsWorthTrying(engine: Engine): number[] {
  const ports = new Set([EPH_LO, EPH_HI]);
  for (const g of engine.config.securityGroups) {
    for (const r of g.outbound) {
      for (const iv of r.sourcePorts ?? []) for (const p of [iv.lo - 1, iv.lo, iv.hi, iv.hi + 1]) if (p >= EPH_LO && p <= EPH_HI) ports.add(p);
    }
  }
  return [...ports];
}

// ---------------------------------------------------------------- the doors
type Door = (
  engine: Engine,
  record: (d: OutboundDecision) => void,
  bind: string | undefined,
) => Promise<{ code: string | undefined; close(): Promise<void>; /** a caller's 'connect' / 'secureConnect' listener ran */ heard?: boolean }>;

/** The error's code (fetch: its cause's). */
const codeOf = (e: unknown): string | undefined => {
  const err = e as { code?: string; cause?: { code?: string } } | undefined;
  return err?.cause?.code ?? err?.code;
};

const guardOptions = (record: (d: OutboundDecision) => void) => ({ onAccept: record, onDrop: record });

/** A socket's outcome: the error code once it closes (undefined: closed without one). */
const socketOutcome = (s: net.Socket): Promise<string | undefined> =>
  new Promise((resolve) => {
    reg.track(s);
    let code: string | undefined;
    s.on('error', (e) => (code ??= codeOf(e)));
    s.on('close', () => resolve(code));
  });

const requestOutcome = (run: () => Promise<unknown>): Promise<string | undefined> =>
  run().then(
    () => undefined,
    (e: unknown) => codeOf(e) ?? 'error',
  );

const DOORS: Record<string, Door> = {
  'guardedConnect (net)': async (engine, record, bind) => {
    const connect = guardedConnect(engine, guardOptions(record));
    let heard = false;
    const s = connect({ host: '127.0.0.1', port, ...(bind ? { localAddress: bind } : {}) }, () => (heard = true));
    s.on('ready', () => (heard = true));
    s.write('queued while connecting'); // flushed at 'connect' unless the guard refuses first
    return { code: await socketOutcome(s), close: async () => {}, heard };
  },
  'guardedConnect.tls': async (engine, record, bind) => {
    const connect = guardedConnect(engine, guardOptions(record));
    let heard = false;
    const s = connect.tls({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(bind ? { localAddress: bind } : {}) }, () => (heard = true));
    s.on('connect', () => (heard = true));
    return { code: await socketOutcome(s), close: async () => {}, heard };
  },
  'guardedAgent (http)': async (engine, record, bind) => {
    const agent = guardedAgent(engine, guardOptions(record));
    const code = await requestOutcome(
      () => new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port, agent, ...(bind ? { localAddress: bind } : {}) }, resolve).on('error', reject)),
    );
    return { code, close: async () => agent.destroy() };
  },
  'guardedAgent (https)': async (engine, record, bind) => {
    const agent = guardedAgent(engine, { ...guardOptions(record), https: true, rejectUnauthorized: false });
    const code = await requestOutcome(
      () => new Promise((resolve, reject) => https.get({ host: '127.0.0.1', port, agent, ...(bind ? { localAddress: bind } : {}) }, resolve).on('error', reject)),
    );
    return { code, close: async () => agent.destroy() };
  },
  'guardedDispatcher (undici.request)': async (engine, record) => {
    const dispatcher = guardedDispatcher(engine, guardOptions(record));
    const code = await requestOutcome(() => undiciRequest(`http://127.0.0.1:${port}/`, { dispatcher }));
    return { code, close: () => dispatcher.destroy() };
  },
  'guardedDispatcher (fetch, https)': async (engine, record) => {
    const dispatcher = guardedDispatcher(engine, { ...guardOptions(record), connect: { rejectUnauthorized: false } });
    const code = await requestOutcome(() => fetch(`https://127.0.0.1:${port}/`, { dispatcher } as RequestInit));
    return { code, close: () => dispatcher.destroy() };
  },
};

/** Waits until the server has recorded the connection from `sourcePort` (its accept may come after the client's 'connect'). */
async function serverSaw(sourcePort: number): Promise<Seen> {
  for (let i = 0; i < 400 && !seen.has(sourcePort); i++) await new Promise((r) => setTimeout(r, 10));
  const s = seen.get(sourcePort);
  if (!s) throw new Error(`the server never saw the connection from port ${sourcePort}`);
  return s;
}

describe('egress guards: the local address and source port decide as for the real connection', () => {
  for (const [name, door] of Object.entries(DOORS)) {
    // '0.0.0.0': bound to the unspecified address, the kernel still picks the source (127.0.0.1 here).
    const binds = name.startsWith('guardedDispatcher') ? [undefined] : [undefined, '127.0.0.2', '0.0.0.0'];
    it(`${name}: decision = referenceClassify of the real five-tuple; a drop delivers no byte`, async () => {
      let dialled = 0;
      await fc.assert(
        fc.asyncProperty(policyArb, fc.constantFrom(...binds), async (config, bind) => {
          const engine = await createEngine(config);
          const decisions: OutboundDecision[] = [];
          const before = seen.size;
          const { code, close, heard } = await door(engine, (d) => decisions.push(d), bind);
          try {
            // Once per connection (a request may retry on a fresh connection: HTTP's are not retried here).
            expect(decisions).toHaveLength(1);
            const d = decisions[0]!;
            const dropped = d.error !== undefined;
            if (dropped) expect(code).toBe('ERR_SGFILTER_DROPPED');
            else expect(code).not.toBe('ERR_SGFILTER_DROPPED');
            if (d.flow === undefined) {
              // Refused before dialling: nothing reached the server, and no local end the kernel could pick is accepted.
              expect(dropped).toBe(true);
              expect(seen.size).toBe(before);
              for (const sourcePort of portsWorthTrying(engine)) {
                const flow: FlowInput = { direction: 'outbound', protocol: 'TCP', remote: '127.0.0.1', port, local: bind === '127.0.0.2' ? bind : '127.0.0.1', sourcePort };
                expect(referenceClassify(engine.config, flow).action, `source port ${sourcePort}`).toBe('drop');
              }
              return;
            }
            dialled++;
            const server = await serverSaw(d.flow.sourcePort as number);
            await server.closed;
            expect(d.flow).toMatchObject({ remote: server.flow.remote, port: server.flow.port, local: server.flow.local, sourcePort: server.flow.sourcePort });
            const want = referenceClassify(engine.config, server.flow);
            expect(d.addresses[0]!.verdict).toMatchObject(want);
            expect(dropped).toBe(want.action === 'drop');
            if (dropped) expect(server.bytes).toBe(0);
            else expect(server.bytes).toBeGreaterThan(0);
            // The caller's 'connect' listeners (and 'ready') never hear of a connection dropped as it connects.
            if (heard !== undefined) expect(heard).toBe(!dropped);
          } finally {
            await close();
          }
        }),
        { seed: 0x5eed + name.length, numRuns: 12 },
      );
      // The generated policies reached the connect-time check (not only early refusals).
      expect(dialled).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe('guardServer: the inbound side classifies the same real five-tuple', () => {
  it('decision = referenceClassify of the connection as the client sees it (its source port and the address it reached)', async () => {
    const { guardServer } = await import('../src/node/index.js');
    const inboundRule = rule.map((r) => {
      const { destination, ...rest } = r as RuleInput & { destination: string };
      return { ...rest, source: destination } as RuleInput;
    });
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(inboundRule, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.constantFrom('127.0.0.1', '127.0.0.2', '127.0.0.3'), async (rules, openTail, from) => {
        const inbound = openTail ? [...rules, { protocol: 'ALL', source: 'any', action: 'accept' } as RuleInput] : rules;
        const engine = await createEngine({ securityGroups: [{ id: 'sg', inbound }] });
        const received: number[] = [];
        const local = new Sockets();
        const server = net.createServer((s) => {
          local.track(s); // closed with the server (a net server's close waits for its connections)
          s.on('error', () => {});
          s.on('data', (d: Buffer) => received.push(d.length));
        });
        const decisions: { flow?: FlowInput; verdict: { action: string } | null }[] = [];
        // dropWith 'close' (a FIN): the client's connect always completes, so it can say what its connection was.
        guardServer(server, engine, { dropWith: 'close', onAccept: (d) => decisions.push(d), onDrop: (d) => decisions.push(d) });
        try {
          const serverPort = await listen(local, server, '127.0.0.1');
          const client = local.track(net.connect({ host: '127.0.0.1', port: serverPort, localAddress: from }));
          client.on('error', () => {});
          await new Promise((r) => client.once('connect', r));
          const real: FlowInput = { direction: 'inbound', protocol: 'TCP', remote: client.localAddress!, sourcePort: client.localPort!, local: client.remoteAddress!, port: client.remotePort! };
          client.write('x');
          for (let i = 0; i < 400 && decisions.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
          expect(decisions).toHaveLength(1);
          expect(decisions[0]!.flow).toMatchObject(real);
          const want = referenceClassify(engine.config, real);
          expect(decisions[0]!.verdict).toMatchObject(want);
          if (want.action === 'accept') accepted++;
          await new Promise((r) => setTimeout(r, 10));
          if (want.action === 'drop') expect(received).toEqual([]);
        } finally {
          await local.closeAll();
        }
      }),
      { seed: 0x1b0d, numRuns: 15 },
    );
    expect(accepted).toBeGreaterThan(0);
  }, 30_000);
});
