/**
 * API misuse of the Node entry points (issue 9, item 6): every guard, the proxy and
 * watchConfig check their arguments when set up. Generated values of every wrong
 * kind (bigint, function, symbol, circular and prototype-less objects, arrays,
 * NaN, ...) for every option give INVALID_ARGUMENT naming the option; an unknown
 * instance gives UNKNOWN_INSTANCE; a polluted Object.prototype sets no option;
 * what would dial outside the guard (socket paths, an undici factory) is refused;
 * nothing is left half set up (no listener, no watcher, no wrapped emit).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, watchConfig, type Engine } from '../src/index.js';
import { guardServer, guardedAgent, guardedConnect, guardedDispatcher, startProxy } from '../src/node/index.js';
import { Sockets, listen } from './net-helpers.js';
import type { ConfigInput } from '../src/index.js';
import { fuzzParams } from './fuzz/settings.js';

const reg = new Sockets();
let engine: Engine;
let dir: string;
let file: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgfilter-options-'));
  file = join(dir, 'policy.json');
  const config: ConfigInput = {
    securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 'ALL', source: '127.0.0.0/8', action: 'accept' }], outbound: [{ protocol: 'TCP', port: 'ALL', destination: 'any', action: 'accept' }] }],
    instances: [{ id: 'ins-1', securityGroups: ['sg'] }],
  };
  writeFileSync(file, JSON.stringify(config));
  engine = await createEngine(config);
});
afterAll(async () => {
  await reg.closeAll();
  rmSync(dir, { recursive: true, force: true });
});

const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code ?? `uncoded ${(e as Error).name}`;
  }
};
const asyncCode = async (f: () => Promise<unknown>): Promise<string | undefined> => {
  try {
    await f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code ?? `uncoded ${(e as Error).name}`;
  }
};

const circular = (() => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
})();
/** Values only the JS API can pass, and plain values of every type. */
const anyValue = fc.oneof(
  fc.constantFrom<unknown>(null, NaN, Infinity, -1, 0.5, 1n, 2n ** 70n, Symbol('s'), () => 1, circular, Object.create(null), [], [1], {}, new Date(0), '', 'x', true, false),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.object(),
);

const jsonWritable = (v: unknown): boolean => {
  try {
    JSON.stringify(v);
    return true;
  } catch {
    return false;
  }
};

/** What each option takes: a test that says whether a value is acceptable. */
const accepts: Record<string, (v: unknown) => boolean> = {
  instance: (v) => v === 'ins-1', // any other string is an unknown instance
  lookup: (v) => typeof v === 'function',
  strict: (v) => typeof v === 'boolean',
  onDrop: (v) => typeof v === 'function',
  onAccept: (v) => typeof v === 'function',
  dropWith: (v) => v === 'reset' || v === 'close',
  https: (v) => typeof v === 'boolean',
  // undici's own options: any plain object without what dials outside the guard (fc.object's keys never hit those).
  connect: (v) => typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v)),
  // undici clones its Agent options through JSON: one JSON cannot write (a BigInt, a cycle) is refused too.
  agent: (v) => typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v)) && jsonWritable(v),
  debounceMs: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  onReload: (v) => typeof v === 'function',
  onError: (v) => typeof v === 'function',
};

/** Every setup-time API, the options it takes, and a way to run it with one option. */
const SETUPS: Record<string, { options: string[]; run: (options: Record<string, unknown>) => unknown }> = {
  guardServer: { options: ['instance', 'dropWith', 'onDrop', 'onAccept'], run: (o) => guardServer(new net.Server(), engine, o) },
  guardedConnect: { options: ['instance', 'lookup', 'strict', 'onDrop', 'onAccept'], run: (o) => guardedConnect(engine, o) },
  guardedAgent: {
    options: ['instance', 'lookup', 'strict', 'onDrop', 'onAccept', 'https'],
    run: (o) => (guardedAgent(engine, o) as http.Agent).destroy(),
  },
  guardedDispatcher: {
    options: ['instance', 'lookup', 'strict', 'onDrop', 'onAccept', 'connect', 'agent'],
    run: (o) => void guardedDispatcher(engine, o).close(),
  },
  watchConfig: { options: ['debounceMs', 'onReload', 'onError'], run: (o) => watchConfig(file, engine, o).close() },
};

describe('guard options', () => {
  it.each(Object.keys(SETUPS))('%s: a value of the wrong kind for any option is INVALID_ARGUMENT (UNKNOWN_INSTANCE for an unknown instance)', (name) => {
    const { options, run } = SETUPS[name]!;
    fc.assert(
      fc.property(fc.constantFrom(...options), anyValue, (option, value) => {
        const got = code(() => run({ [option]: value }));
        if (value === undefined || accepts[option]!(value)) expect(got, `${option}: ${fc.stringify(value)}`).toBeUndefined();
        else if (option === 'instance' && typeof value === 'string') expect(got).toBe('UNKNOWN_INSTANCE');
        else expect(got, `${option}: ${typeof value}`).toBe('INVALID_ARGUMENT');
      }),
      fuzzParams(`guard options: ${name}`, 300),
    );
  });

  it.each(Object.keys(SETUPS).filter((n) => n !== 'guardedAgent'))('%s: an unknown (misspelt) option is refused, options that are not an object too', (name) => {
    const { run } = SETUPS[name]!;
    for (const typo of ['instnace', 'Instance', 'drop_with', '__proto__x', 'constructor']) {
      expect(code(() => run({ [typo]: 'ins-1' })), typo).toBe('INVALID_ARGUMENT');
    }
    for (const bad of [null, 'ins-1', 42, [], () => 1]) expect(code(() => run(bad as never)), String(bad)).toBe('INVALID_ARGUMENT');
  });

  it('a polluted Object.prototype sets no option', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.instance = 'nope';
    proto.dropWith = 'bogus';
    proto.strict = 'yes';
    try {
      for (const name of Object.keys(SETUPS)) expect(code(() => SETUPS[name]!.run({})), name).toBeUndefined();
    } finally {
      delete proto.instance;
      delete proto.dropWith;
      delete proto.strict;
    }
  });

  it('refuses engines and servers that are not ones', () => {
    for (const bad of [undefined, null, {}, { classify: () => ({ action: 'accept' }) }, 'engine']) {
      expect(code(() => guardServer(new net.Server(), bad as never)), String(bad)).toBe('INVALID_ARGUMENT');
      expect(code(() => guardedConnect(bad as never))).toBe('INVALID_ARGUMENT');
      expect(code(() => guardedAgent(bad as never))).toBe('INVALID_ARGUMENT');
      expect(code(() => guardedDispatcher(bad as never))).toBe('INVALID_ARGUMENT');
      expect(code(() => watchConfig(file, bad as never))).toBe('INVALID_ARGUMENT');
    }
    for (const bad of [undefined, null, {}, 'server']) expect(code(() => guardServer(bad as never, engine))).toBe('INVALID_ARGUMENT');
  });

  it('refuses at setup what would dial outside the guard: socket paths and an undici factory', () => {
    expect(code(() => guardedAgent(engine, { socketPath: '/var/run/docker.sock' } as never))).toBe('INVALID_ARGUMENT');
    expect(code(() => guardedAgent(engine, { https: true, socketPath: '/var/run/docker.sock' } as never))).toBe('INVALID_ARGUMENT');
    for (const connect of [{ socketPath: '/tmp/x.sock' }, { path: '/tmp/x.sock' }, { lookup: 'dns' }]) {
      expect(code(() => guardedDispatcher(engine, { connect } as never)), JSON.stringify(connect)).toBe('INVALID_ARGUMENT');
    }
    for (const agent of [{ factory: () => null }, { connect: () => null }, { socketPath: '/tmp/x.sock' }]) {
      expect(code(() => guardedDispatcher(engine, { agent } as never)), Object.keys(agent)[0]).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('guarded connections refuse what is not a TCP destination', () => {
  it('a socket path, a host that is not a string, a port Node would refuse: INVALID_ARGUMENT, nothing dialled', async () => {
    const connect = guardedConnect(engine);
    const sockPath = join(dir, 'unix.sock');
    const unix = net.createServer((s) => s.end('unix'));
    reg.servers.add(unix);
    await new Promise<void>((r) => unix.listen(sockPath, r));
    let unixSeen = 0;
    unix.on('connection', () => unixSeen++);
    expect(code(() => connect({ path: sockPath } as never))).toBe('INVALID_ARGUMENT');
    expect(code(() => (connect as unknown as (p: string) => unknown)(sockPath))).toBe('INVALID_ARGUMENT');
    expect(code(() => connect.tls({ path: sockPath }))).toBe('INVALID_ARGUMENT');
    for (const host of [2130706433, {}, ['127.0.0.1'], true]) expect(code(() => connect({ host, port: 80 } as never)), String(host)).toBe('INVALID_ARGUMENT');
    for (const port of [-1, 65536, 1.5, NaN, '', ' ', 'http', {}, null, undefined, 80n]) {
      expect(code(() => connect({ host: '127.0.0.1', port } as never)), String(port)).toBe('INVALID_ARGUMENT');
    }
    for (const localAddress of ['not-an-ip', 42]) expect(code(() => connect({ host: '127.0.0.1', port: 80, localAddress } as never))).toBe('INVALID_ARGUMENT');
    expect(code(() => connect({ host: '127.0.0.1', port: 80, lookup: 'dns' } as never))).toBe('INVALID_ARGUMENT');

    // http and https Agents: a request for a local socket fails without dialling it.
    for (const https of [false, true]) {
      const agent = guardedAgent(engine, { https });
      const mod = https ? await import('node:https') : http;
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => mod.get({ socketPath: sockPath, path: '/', agent }).on('error', resolve));
      expect(err.code).toBe('INVALID_ARGUMENT');
      agent.destroy();
    }
    expect(unixSeen).toBe(0);
  });
});

describe('startProxy and watchConfig when set up wrong', () => {
  it('startProxy rejects an unknown instance or a bad option, and nothing listens', async () => {
    const port = await listen(reg, net.createServer(), '127.0.0.1'); // a port known to be taken, then freed
    await reg.closeAll();
    const base = { engine, listen: { host: '127.0.0.1', port }, upstream: { host: '127.0.0.1', port: 1 } };
    expect(await asyncCode(() => startProxy({ ...base, instance: 'nope' }))).toBe('UNKNOWN_INSTANCE');
    for (const [key, value] of [
      ['listen', { host: '127.0.0.1', port: 70000 }],
      ['listen', { host: '', port: 0 }],
      ['upstream', '127.0.0.1:80'],
      ['debounceMs', NaN],
      ['log', 'stderr'],
      ['lookup', {}],
      ['configPath', ''],
      ['configPath', join(dir, 'missing.json')],
      ['instnace', 'ins-1'],
    ] as const) {
      expect(await asyncCode(() => startProxy({ ...base, [key]: value } as never)), key).toBe('INVALID_ARGUMENT');
    }
    expect(await asyncCode(() => startProxy({ ...base, engine: undefined } as never))).toBe('INVALID_ARGUMENT');
    expect(await asyncCode(() => startProxy(undefined as never))).toBe('INVALID_ARGUMENT');
    // Nothing was left listening on the port.
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen({ host: '127.0.0.1', port }, resolve));
    await new Promise((r) => probe.close(r));
  });

  it('watchConfig refuses a missing file, a folder and a bad path at setup', () => {
    const missing = join(dir, 'nope', 'policy.yaml');
    let err: { code?: string; message?: string } = {};
    try {
      watchConfig(missing, engine);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain(`${missing} does not exist`);
    expect(code(() => watchConfig(join(dir, 'absent.json'), engine))).toBe('INVALID_ARGUMENT');
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    expect(code(() => watchConfig(folder, engine))).toBe('INVALID_ARGUMENT');
    for (const bad of ['', 42, undefined, null, {}]) expect(code(() => watchConfig(bad as never, engine)), String(bad)).toBe('INVALID_ARGUMENT');
  });

  it('guardServer leaves the server as it was when it refuses', () => {
    const server = new net.Server();
    for (const options of [{ instance: 'nope' }, { dropWith: 'drop' }, { onDrop: 'log' }]) {
      expect(code(() => guardServer(server, engine, options as never))).toBeDefined();
      expect(Object.prototype.hasOwnProperty.call(server, 'emit')).toBe(false);
    }
  });
});
