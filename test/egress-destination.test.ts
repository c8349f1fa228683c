/**
 * SPEC §6, "where a connection really goes", on real loopback sockets.
 *
 * 1. reachedAddress (src/node/destination.ts) agrees with the kernel: for generated
 *    spellings of 0.0.0.0, :: and ::ffff:0.0.0.0, from unbound and bound sockets,
 *    the server that answers is the one reachedAddress names.
 * 2. No spelling gets past a guard: loopback-only services (127.0.0.1, ::1, and
 *    127.0.0.5 for sockets bound there) are never reached through the unspecified
 *    address in any spelling (literals, forms only getaddrinfo reads, a missing host,
 *    names answered by dns.lookup or a custom lookup, all/family/autoSelectFamily,
 *    URLs), by any guard (net, tls, http and https Agents, undici request and fetch,
 *    the proxy's upstream), under a policy that drops 127.0.0.0/8 and ::1 and accepts
 *    everything else — and every one of them connects under the mirror policy that
 *    accepts loopback and drops everything else. A guard that classified the
 *    spelling instead of the host it reaches fails both halves.
 */
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import fc from 'fast-check';
import { request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type ConfigInput, type Engine } from '../src/index.js';
import { canonicalAddress, reachedAddress } from '../src/node/destination.js';
import { guardedAgent, guardedConnect, guardedDispatcher, startProxy, type LookupFunction } from '../src/node/index.js';
import { Sockets, TLS_CERT, TLS_KEY, canListen, tableLookup } from './net-helpers.js';
import { fuzzParams, fuzzRuns, fuzzSeed } from './fuzz/settings.js';

const HAS_IPV6 = await canListen('::1');
const reg = new Sockets();
afterAll(() => reg.closeAll());

// ------------------------------------------------------------------ spellings

const zeroGroup = fc.constantFrom('0', '00', '000', '0000');

/** 8 groups of 16 bits written out, with at most one run compressed to '::' (RFC 4291 2.2). */
function spellGroups(groups: string[], cut: [number, number] | null): string {
  if (!cut) return groups.join(':');
  const [at, len] = cut;
  return `${groups.slice(0, at).join(':')}::${groups.slice(at + len).join(':')}`;
}
const cutOf = (n: number) =>
  fc.option(fc.integer({ min: 0, max: n }).chain((at) => fc.tuple(fc.constant(at), fc.integer({ min: 1, max: Math.max(1, n - at) }))), { nil: null });

/** `::` in generated spellings: zero groups, compression, an embedded 0.0.0.0 tail, a zone id. */
const unspecifiedV6 = fc
  .record({
    embedded: fc.boolean(),
    groups: fc.array(zeroGroup, { minLength: 8, maxLength: 8 }),
    cut: cutOf(8),
    zone: fc.constantFrom('', '', '%lo', '%1'),
  })
  .map(({ embedded, groups, cut, zone }) => {
    const head = embedded ? groups.slice(0, 6) : groups;
    const c = cut && cut[0] + cut[1] <= head.length ? cut : null;
    const text = embedded ? `${spellGroups(head, c)}${c && c[0] + c[1] === head.length ? '' : ':'}0.0.0.0` : spellGroups(head, c);
    return text + zone;
  })
  .filter((s) => net.isIP(s) === 6);

/** ::ffff:0.0.0.0 in generated spellings. */
const unspecifiedMapped = fc
  .record({
    groups: fc.array(zeroGroup, { minLength: 5, maxLength: 5 }),
    ffff: fc.constantFrom('ffff', 'FFFF', 'fFfF', '0ffff'.slice(1)),
    tail: fc.constantFrom('0.0.0.0', '0:0', '0000:0000', '0:00'),
    cut: cutOf(5),
  })
  .map(({ groups, ffff, tail, cut }) => {
    const c = cut && cut[0] + cut[1] <= 5 ? cut : null;
    const head = c ? `${spellGroups(groups, c)}${c[0] + c[1] === 5 ? '' : ':'}` : `${groups.join(':')}:`;
    return `${head}${ffff}:${tail}`;
  })
  .filter((s) => net.isIP(s) === 6);

/** 0.0.0.0 as only getaddrinfo reads it (inet_aton: 1-4 parts, octal, hex). Node hands these to the resolver. */
const unspecifiedInetAton = fc
  .array(fc.constantFrom('0', '00', '000', '0x0', '0X0', '0x00'), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('.'))
  .filter((s) => net.isIP(s) === 0);

const sample = <T>(arb: fc.Arbitrary<T>, n: number, label: string): T[] => [...new Set(fc.sample(arb, { seed: fuzzSeed(label), numRuns: fuzzRuns(n) }))];
const V6 = sample(unspecifiedV6, 10, 'egress: unspecified IPv6 spellings');
const MAPPED = sample(unspecifiedMapped, 6, 'egress: unspecified mapped spellings');
const ATON = sample(unspecifiedInetAton, 5, 'egress: unspecified inet_aton spellings');

// ------------------------------------------------------------------ loopback services

interface Service {
  port: number;
  /** Connections each listening address saw. */
  seen: Map<string, number>;
}

/** One server per address, all on one port (so a connection's port says nothing about where it went). */
async function loopbackService(make: (who: string) => net.Server, hosts: string[]): Promise<Service> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const seen = new Map<string, number>();
    const servers: net.Server[] = [];
    let port = 0;
    try {
      for (const host of hosts) {
        const server = make(host);
        server.on('connection', (s: net.Socket) => {
          seen.set(host, (seen.get(host) ?? 0) + 1);
          reg.track(s);
        });
        servers.push(server);
        reg.servers.add(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port, exclusive: true }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        port = (server.address() as net.AddressInfo).port;
      }
      return { port, seen };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      for (const s of servers) if (s.listening) await new Promise((r) => s.close(r));
    }
  }
  throw new Error('no port free on every loopback address');
}

const LOOPBACKS = HAS_IPV6 ? ['127.0.0.1', '127.0.0.5', '::1'] : ['127.0.0.1', '127.0.0.5'];
const total = (s: Service) => [...s.seen.values()].reduce((a, b) => a + b, 0);

let raw: Service; // TCP: answers with the address it listens on
let web: Service; // HTTP
let secure: Service; // HTTPS
let tlsRaw: Service; // TLS

beforeAll(async () => {
  raw = await loopbackService((who) => net.createServer((s) => s.on('error', () => {}).end(who)), LOOPBACKS);
  web = await loopbackService((who) => http.createServer((_req, res) => res.end(who)), LOOPBACKS);
  secure = await loopbackService((who) => https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (_req, res) => res.end(who)), LOOPBACKS);
  tlsRaw = await loopbackService((who) => tls.createServer({ key: TLS_KEY, cert: TLS_CERT }, (s) => s.on('error', () => {}).end(who)), LOOPBACKS);
});

/** Connects without any guard; resolves with what the server said (its address) or the error code. */
function rawConnect(options: net.TcpNetConnectOpts): Promise<string> {
  return new Promise((resolve) => {
    const s = reg.track(net.connect(options));
    let said = '';
    const timer = setTimeout(() => s.destroy(new Error('timeout')), 5000);
    s.setEncoding('utf8').on('data', (d: string) => (said += d));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(said);
    });
  });
}

describe('reachedAddress', () => {
  it('names the host the kernel connects to, for every spelling, bound or not', async () => {
    const locals = [undefined, '127.0.0.5', '127.0.0.1', ...(HAS_IPV6 ? ['::ffff:127.0.0.5', '::1'] : [])];
    const dests = ['0.0.0.0', ...(HAS_IPV6 ? [...V6, ...MAPPED] : MAPPED)];
    let checked = 0;
    for (const dest of dests) {
      for (const localAddress of locals) {
        const said = await rawConnect({ host: dest, port: raw.port, ...(localAddress ? { localAddress } : {}) });
        const expected = canonicalAddress(reachedAddress(dest, localAddress));
        if (said.startsWith('error')) {
          // Only sockets the kernel cannot bind or route (a family mismatch) fail; never an unbound one.
          expect(localAddress, `${dest} from ${localAddress}: ${said}`).toBeDefined();
          continue;
        }
        expect(said, `${dest} from ${localAddress ?? 'an unbound socket'}`).toBe(expected);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(dests.length);
  });

  it('leaves every other address as it is', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV6(), (v4, v6) => {
        if (v4 !== '0.0.0.0') expect(reachedAddress(v4)).toBe(v4);
        if (canonicalAddress(v6) !== '::' && canonicalAddress(v6) !== '::ffff:0.0.0.0') expect(reachedAddress(v6, '127.0.0.5')).toBe(v6);
      }),
      fuzzParams('egress: other addresses are left as they are', 500),
    );
  });
});

// ------------------------------------------------------------------ the guards

const DROP_LOOPBACK: ConfigInput = {
  securityGroups: [
    {
      id: 'sg-egress',
      inbound: [{ protocol: 'TCP', port: 'ALL', source: '127.0.0.0/8', action: 'accept' }],
      outbound: [
        { protocol: 'TCP', port: 'ALL', destination: '127.0.0.0/8', action: 'drop' },
        { protocol: 'TCP', port: 'ALL', destination: '::1', action: 'drop' },
        { protocol: 'TCP', port: 'ALL', destination: '0.0.0.0/0', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', destination: '::/0', action: 'accept' },
      ],
    },
  ],
};
/** The mirror: loopback accepted, everything else (0.0.0.0 and :: themselves included) dropped. */
const ONLY_LOOPBACK: ConfigInput = {
  securityGroups: [
    {
      id: 'sg-egress',
      inbound: [{ protocol: 'TCP', port: 'ALL', source: '127.0.0.0/8', action: 'accept' }],
      outbound: [
        { protocol: 'TCP', port: 'ALL', destination: '127.0.0.0/8', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', destination: '::1', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', destination: '0.0.0.0/0', action: 'drop' },
        { protocol: 'TCP', port: 'ALL', destination: '::/0', action: 'drop' },
      ],
    },
  ],
};

/** Names a custom lookup answers with the unspecified address, in every answer shape. */
const NAMES: Record<string, string[]> = {
  'zero.test': ['0.0.0.0'],
  'six.test': HAS_IPV6 ? ['::'] : ['0.0.0.0'],
  'mapped.test': ['::ffff:0.0.0.0'],
  'both.test': HAS_IPV6 ? ['::', '0.0.0.0'] : ['0.0.0.0'],
  'spelled.test': HAS_IPV6 ? [V6[V6.length - 1]!.replace(/%.*/, '')] : ['0.0.0.0'],
};
const table = tableLookup(NAMES);
/** A resolver that answers in the old single-address shape whatever it is asked. */
const singleAnswer: LookupFunction = (_hostname, _opts, callback) => setImmediate(() => (callback as (e: null, a: string, f: number) => void)(null, '0.0.0.0', 4));
/** NAMES from the table, single.test in the single-address shape, every other name (localhost, 0x0, ...) from the system resolver. */
const lookup: LookupFunction = (hostname, opts, callback) =>
  Object.hasOwn(NAMES, hostname)
    ? table(hostname, opts, callback)
    : hostname === 'single.test'
      ? singleAnswer(hostname, opts, callback)
      : dns.lookup(hostname, opts, callback as never);

/** One way to ask a guard for a connection. */
interface Case {
  label: string;
  /** net/tls/http options: host (absent: missing), and extras. */
  options: Record<string, unknown>;
}

const hostCase = (host: string | undefined, extra: Record<string, unknown> = {}): Case => ({
  label: `${host === undefined ? '(no host)' : JSON.stringify(host)}${Object.keys(extra).length ? ` ${JSON.stringify(extra, (_k, v) => (typeof v === 'function' ? 'fn' : v))}` : ''}`,
  options: host === undefined ? { ...extra } : { host, ...extra },
});

const CASES: Case[] = [
  hostCase('0.0.0.0'),
  hostCase(undefined),
  hostCase(''),
  hostCase('localhost'),
  ...ATON.map((h) => hostCase(h)),
  ...MAPPED.map((h) => hostCase(h)),
  ...(HAS_IPV6 ? [...V6.map((h) => hostCase(h)), hostCase('[::]'), hostCase('[::ffff:0.0.0.0]')] : []),
  ...Object.keys(NAMES).flatMap((name) => [
    hostCase(name, { lookup }),
    hostCase(name, { lookup, autoSelectFamily: true }),
    hostCase(name, { lookup, autoSelectFamily: false, family: NAMES[name]![0]!.includes(':') ? 6 : 4 }),
  ]),
  hostCase('single.test', { lookup: singleAnswer }),
  // Bound sockets: the unspecified IPv4 destination reaches the bound address.
  hostCase('0.0.0.0', { localAddress: '127.0.0.5' }),
  hostCase('zero.test', { lookup, localAddress: '127.0.0.5' }),
  ...(HAS_IPV6 ? [hostCase('::ffff:0.0.0.0', { localAddress: '::ffff:127.0.0.5' }), hostCase('::', { localAddress: '::ffff:127.0.0.5' })] : []),
];

type Outcome = { ok: true } | { ok: false; error: NodeJS.ErrnoException & { reaches?: string } };

const settle = (p: Promise<unknown>, ms = 5000): Promise<Outcome> =>
  Promise.race([
    p.then(
      () => ({ ok: true }) as const,
      (error) => ({ ok: false, error }) as const,
    ),
    new Promise<Outcome>((resolve) => setTimeout(() => resolve({ ok: false, error: Object.assign(new Error('timed out'), { code: 'TEST_TIMEOUT' }) }), ms).unref()),
  ]);

function socketOutcome(s: net.Socket, event: string): Promise<Outcome> {
  reg.track(s);
  return settle(
    new Promise((resolve, reject) => {
      s.once('error', reject);
      s.once(event, () => {
        s.destroy();
        resolve(undefined);
      });
    }),
  );
}

function httpOutcome(mod: typeof http | typeof https, options: Record<string, unknown>): Promise<Outcome> {
  return settle(
    new Promise((resolve, reject) => {
      const req = mod.get({ path: '/', ...options } as http.RequestOptions, (res) => {
        res.resume().on('end', resolve).on('error', reject);
      });
      req.on('error', reject);
    }),
  );
}

/** Every guard, each asked for one case: resolves with the outcome. */
type Attempt = (engine: Engine, c: Case) => Promise<Outcome | null>;

const GUARDS: Record<string, { service: () => Service; attempt: Attempt }> = {
  'guardedConnect (net)': {
    service: () => raw,
    attempt: (engine, c) => socketOutcome(guardedConnect(engine)({ ...c.options, port: raw.port } as net.TcpNetConnectOpts), 'connect'),
  },
  'guardedConnect (net, port/host form)': {
    service: () => raw,
    attempt: (engine, c) =>
      // (port, host) carries no options: the guard's lookup resolves the names; bound cases do not apply.
      c.options.localAddress ? Promise.resolve(null) : socketOutcome(guardedConnect(engine, { lookup })(raw.port, c.options.host as string), 'connect'),
  },
  'guardedConnect.tls': {
    service: () => tlsRaw,
    attempt: (engine, c) =>
      socketOutcome(guardedConnect(engine).tls({ ...c.options, port: tlsRaw.port, rejectUnauthorized: false } as tls.ConnectionOptions), 'secureConnect'),
  },
  'guardedAgent (http)': {
    service: () => web,
    attempt: async (engine, c) => {
      const agent = guardedAgent(engine);
      try {
        return await httpOutcome(http, { ...c.options, port: web.port, agent });
      } finally {
        agent.destroy();
      }
    },
  },
  'guardedAgent (https)': {
    service: () => secure,
    attempt: async (engine, c) => {
      const agent = guardedAgent(engine, { https: true, rejectUnauthorized: false });
      try {
        return await httpOutcome(https, { ...c.options, port: secure.port, agent });
      } finally {
        agent.destroy();
      }
    },
  },
};

/** URL hosts: what WHATWG URL and undici accept. */
const URL_HOSTS = ['0.0.0.0', '0', '0x0', '0.0', 'localhost', 'zero.test', 'mapped.test', '[::ffff:0.0.0.0]', '[::ffff:0:0]', ...(HAS_IPV6 ? ['[::]', '[0:0::0]', '[::0.0.0.0]', 'six.test', 'both.test'] : [])];

describe.each([
  ['drops 127.0.0.0/8 and ::1', DROP_LOOPBACK, false],
  ['accepts only loopback', ONLY_LOOPBACK, true],
] as const)('under a policy that %s', (_label, config, reachable) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine(config);
  });

  const expectOutcome = (what: string, o: Outcome) => {
    if (reachable) {
      expect(o.ok ? 'connected' : `${o.error.code}: ${o.error.message}`, what).toBe('connected');
    } else {
      expect(o.ok ? 'connected' : o.error.code, what).toBe('ERR_SGFILTER_DROPPED');
      if (!o.ok) expect(o.error.message).toMatch(/127\.0\.0\.[15]|::1/); // the host it reaches, not the spelling
    }
  };

  it.each(Object.keys(GUARDS))('%s: every spelling of the unspecified address is the local host', async (name) => {
    const { service, attempt } = GUARDS[name]!;
    const before = total(service());
    for (const c of CASES) {
      const o = await attempt(engine, c);
      if (o) expectOutcome(`${name} ${c.label}`, o);
    }
    if (!reachable) expect(total(service()) - before).toBe(0);
  });

  it('guardedDispatcher: undici.request and fetch to every URL spelling', async () => {
    const dispatcher = guardedDispatcher(engine, { lookup });
    const before = total(web);
    try {
      for (const host of URL_HOSTS) {
        const url = `http://${host}:${web.port}/`;
        expectOutcome(`undici ${url}`, await settle(undiciRequest(url, { dispatcher }).then((r) => r.body.text())));
        const f = await settle(fetch(url, { dispatcher } as RequestInit).then((r) => r.text()));
        expectOutcome(`fetch ${url}`, f.ok ? f : { ok: false, error: ((f.error as { cause?: unknown }).cause ?? f.error) as NodeJS.ErrnoException });
      }
      const bound = guardedDispatcher(engine, { lookup, agent: { localAddress: '127.0.0.5' } });
      try {
        expectOutcome('undici bound to 127.0.0.5', await settle(undiciRequest(`http://0.0.0.0:${web.port}/`, { dispatcher: bound }).then((r) => r.body.text())));
      } finally {
        await bound.close();
      }
    } finally {
      await dispatcher.close();
    }
    if (!reachable) expect(total(web) - before).toBe(0);
  });

  it("the proxy's upstream connection", async () => {
    const before = total(raw);
    for (const host of ['0.0.0.0', '0', 'localhost', ...(HAS_IPV6 ? ['::', '0:0:0:0:0:0:0:0'] : []), '::ffff:0.0.0.0']) {
      const logs: string[] = [];
      const proxy = await startProxy({ engine, listen: { host: '127.0.0.1', port: 0 }, upstream: { host, port: raw.port }, log: (l) => logs.push(l) });
      try {
        const said = await rawConnect({ host: '127.0.0.1', port: proxy.address().port, localAddress: '127.0.0.2' });
        if (reachable) expect(said, `upstream ${host}`).toMatch(/^(127\.0\.0\.1|::1)$/);
        else {
          expect(said, `upstream ${host}`).not.toMatch(/127|::1/);
          expect(logs.join('\n')).toMatch(/drop outbound TCP .*reaches this host at|drop outbound TCP -> (127\.0\.0\.1|\[::1\])/);
        }
      } finally {
        await proxy.close();
      }
    }
    if (!reachable) expect(total(raw) - before).toBe(0);
  });
});

describe('ConnectionDroppedError for a rewritten destination', () => {
  it('names the address dialled, the host it reaches and the rule that decided', async () => {
    const engine = await createEngine(DROP_LOOPBACK);
    const o = await socketOutcome(guardedConnect(engine)({ host: '0.0.0.0', port: raw.port }), 'connect');
    expect(o.ok).toBe(false);
    const e = (o as unknown as { error: Record<string, unknown> }).error;
    expect(e).toMatchObject({ code: 'ERR_SGFILTER_DROPPED', address: '0.0.0.0', reaches: '127.0.0.1', groupId: 'sg-egress', ruleIndex: 0 });
    expect(e.message).toBe(`outbound connection to 0.0.0.0:${raw.port} (reaches this host at 127.0.0.1) dropped by sg-egress outbound rule 0`);
    if (HAS_IPV6) {
      const six = await socketOutcome(guardedConnect(engine)({ host: '::', port: raw.port }), 'connect');
      expect((six as { error: unknown }).error).toMatchObject({ address: '::', reaches: '::1', ruleIndex: 1 });
    }
  });

  it('a socket the guard handed out stays guarded when reconnected', async () => {
    const engine = await createEngine(DROP_LOOPBACK);
    const s = guardedConnect(engine)({ host: '0.0.0.0', port: raw.port });
    expect(await socketOutcome(s, 'connect')).toMatchObject({ ok: false, error: { code: 'ERR_SGFILTER_DROPPED' } });
    const before = total(raw);
    for (const host of ['127.0.0.1', '0.0.0.0', 'localhost']) {
      const again = new Promise<Error | null>((resolve) => {
        s.once('error', resolve);
        s.once('connect', () => resolve(null));
      });
      s.connect({ host, port: raw.port });
      expect(await again, host).toMatchObject({ code: 'ERR_SGFILTER_DROPPED' });
    }
    expect(() => s.connect('/tmp/some.sock')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(total(raw) - before).toBe(0);
  });
});
