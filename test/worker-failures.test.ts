/**
 * Workers never hang, never keep the process alive, and answer as the calling
 * thread would (issue 9, items 6 and 7).
 *
 * Failures are forced for real where they can be (a document nested thousands deep,
 * a config file that is a FIFO nobody writes, a snapshot a thread cannot load) and
 * otherwise at the thread boundary: Worker.prototype.postMessage is wrapped in this
 * process so a test can end a thread mid-request, make it emit 'error' or
 * 'messageerror', or swallow a request so its answer never comes. Every call is
 * raced against a deadline, so a regression fails instead of hanging the suite.
 */
import { execFileSync, spawn } from 'node:child_process';
import { constants, mkdtempSync, open, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  closeCompileWorker, compileInWorker, compilePolicy, createClassifierPool, createEngine, createFlowBatch, encodeSnapshot, loadConfigFile,
  parseConfig, parseFlow, reloadInWorker, type ConfigInput, type FlowInput,
} from '../src/index.js';
import { isPlainData } from '../src/node/worker-protocol.js';
import { mulberry32, randomConfig, randomFlows } from './random.js';
import type { Action } from '../src/index.js';
import { fuzzParams, fuzzRuns, fuzzSeed } from './fuzz/settings.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'sgfilter-worker-failures-'));
afterAll(async () => {
  await closeCompileWorker();
  rmSync(dir, { recursive: true, force: true });
});

/** Settles with the outcome of `p`, or with 'HUNG' after `ms`: a hang fails the test instead of the suite. */
async function within<T>(p: Promise<T>, ms = 15_000): Promise<{ value?: T; error?: { code?: string; name?: string; message: string } } | 'HUNG'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'HUNG'>((resolve) => (timer = setTimeout(() => resolve('HUNG'), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value }), (error) => ({ error })), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error a call gives, as code (or class name) and message. */
async function failure(p: Promise<unknown>, ms?: number): Promise<string> {
  const r = await within(p, ms);
  if (r === 'HUNG') return 'HUNG';
  if (!r.error) return 'resolved';
  return `${r.error.code ?? r.error.name}: ${r.error.message}`;
}

/**
 * A worker's answer is the calling thread's: same code (or class) and message. One
 * exception, a stack overflow: a worker's stack is larger than the main thread's,
 * so until the reader bounds nesting itself (and answers CONFIG_PARSE in every
 * thread), a document that overflows here may be read there; the worker must then
 * still settle, with a coded error.
 */
function sameAsInThread(got: string, expected: string, what: string): void {
  expect(got, what).not.toBe('HUNG');
  if (expected.startsWith('RangeError: Maximum call stack')) expect(got, what).toMatch(/^([A-Z_]+|RangeError): /);
  else expect(got, what).toBe(expected);
}

const inThread = (f: () => unknown): string => {
  try {
    f();
    return 'resolved';
  } catch (e) {
    return `${(e as { code?: string }).code ?? (e as Error).name}: ${(e as Error).message}`;
  }
};
const inThreadAsync = async (f: () => Promise<unknown>): Promise<string> => {
  try {
    await f();
    return 'resolved';
  } catch (e) {
    return `${(e as { code?: string }).code ?? (e as Error).name}: ${(e as Error).message}`;
  }
};

// ------------------------------------------------------------ the thread boundary

type Tamper = (worker: Worker, message: Record<string, unknown>) => 'pass' | 'drop';
let tamper: Tamper | null = null;
const realPost = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (this: Worker, message: unknown, transfer?: readonly unknown[]) {
  if (tamper && typeof message === 'object' && message !== null && tamper(this, message as Record<string, unknown>) === 'drop') return;
  return realPost.call(this, message, transfer as never);
} as typeof Worker.prototype.postMessage;
afterEach(() => {
  tamper = null;
});

const ssh = (action: Action, id = 'sg'): ConfigInput => ({ securityGroups: [{ id, inbound: [{ protocol: 'TCP', port: 22, source: 'any', action }] }] });
const SSH: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' };
/** A compile request for the config whose first group has this id. */
const groupId = (m: Record<string, unknown>) => ((m.config as { securityGroups?: { id?: string }[] } | undefined)?.securityGroups?.[0]?.id);

describe('compileInWorker / reloadInWorker never hang', () => {
  it('settles with the in-thread error for documents nested thousands deep (files and objects)', async () => {
    const engine = await createEngine(ssh('accept'));
    const deep = fc.record({ depth: fc.integer({ min: 80, max: 6000 }), open: fc.constantFrom('[', '{"a":'), where: fc.constantFrom('group', 'rule', 'port', 'top') });
    for (const { depth, open, where } of fc.sample(deep, { seed: fuzzSeed('workers: deep documents'), numRuns: fuzzRuns(12) })) {
      const close = open === '[' ? ']' : '}';
      const nest = open.repeat(depth) + '1' + close.repeat(depth);
      const text =
        where === 'top' ? `{"securityGroups": [], "extra": ${nest}}`
        : where === 'group' ? `{"securityGroups": [${nest}]}`
        : where === 'rule' ? `{"securityGroups": [{"id": "sg", "inbound": [${nest}]}]}`
        : `{"securityGroups": [{"id": "sg", "inbound": [{"protocol": "TCP", "port": ${nest}, "source": "any", "action": "accept"}]}]}`;
      const file = join(dir, `deep-${depth}-${where}.json`);
      writeFileSync(file, text);
      const expected = await inThreadAsync(async () => encodeSnapshot(compilePolicy(await loadConfigFile(file)), await loadConfigFile(file), 1));
      expect(expected).not.toBe('resolved');
      for (const call of [compileInWorker({ file }), reloadInWorker(engine, { file }), createClassifierPool({ file }, { threads: 1 })]) {
        sameAsInThread(await failure(call), expected, `${where} ${depth}`);
      }
      // The same document as an object: validated in this thread (it is too deep to cross as it is).
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        continue;
      }
      const expectedObject = inThread(() => compilePolicy(parseConfig(doc)));
      sameAsInThread(await failure(compileInWorker(doc as never)), expectedObject, `object ${where} ${depth}`);
    }
    expect(engine.version).toBe(1);
    // And the worker still works.
    expect((await createEngine({ snapshot: await compileInWorker(ssh('drop')) })).classify(SSH).action).toBe('drop');
  });

  it('a thread that exits, crashes or cannot be read rejects with WORKER_FAILED, and the next call works', async () => {
    const faults: Record<string, (w: Worker) => void> = {
      exit: (w) => void w.terminate(),
      error: (w) => w.emit('error', new Error('boom')),
      messageerror: (w) => w.emit('messageerror', new Error('cannot deserialize')),
    };
    for (const [name, fault] of Object.entries(faults)) {
      tamper = (w, m) => {
        if (groupId(m) !== `fault-${name}`) return 'pass';
        setImmediate(() => fault(w));
        return 'drop';
      };
      const other = compileInWorker(ssh('accept')); // pending on the same thread: fails too, never hangs
      const r = await failure(compileInWorker(ssh('accept', `fault-${name}`)));
      expect(r, name).toMatch(/^WORKER_FAILED: compileInWorker: /);
      expect(await failure(other)).toMatch(/^(resolved|WORKER_FAILED: )/);
      tamper = null;
      expect((await createEngine({ snapshot: await compileInWorker(ssh('drop')) })).classify(SSH).action).toBe('drop');
    }
  });

  it('an answer that never comes rejects after timeoutMs (a swallowed request, a config file nobody writes)', async () => {
    tamper = (_w, m) => (groupId(m) === 'lost' ? 'drop' : 'pass');
    const t0 = performance.now();
    expect(await failure(compileInWorker(ssh('accept', 'lost'), { timeoutMs: 300 }))).toMatch(/^WORKER_FAILED: .*did not answer a request within 300 ms/);
    expect(performance.now() - t0).toBeLessThan(5000);
    tamper = null;
    expect(await failure(compileInWorker(ssh('accept')))).toBe('resolved');

    // A FIFO: once a read that blocked for real until someone wrote (and held a libuv
    // thread the worker could not give back); now refused at once, before any read
    // (test/non-regular-files.test.ts has every kind of non-regular file).
    const fifo = join(dir, 'policy.json');
    execFileSync('mkfifo', [fifo]);
    try {
      expect(await failure(reloadInWorker(await createEngine(ssh('accept')), { file: fifo }, { timeoutMs: 300 }))).toMatch(/^CONFIG_PARSE: .*policy\.json is a FIFO \(named pipe\), not a regular file/);
      expect(await failure(compileInWorker(ssh('accept')))).toBe('resolved');
    } finally {
      // Release the blocked read (non-blocking: no reader left is fine).
      await new Promise<void>((resolve) => open(fifo, constants.O_WRONLY | constants.O_NONBLOCK, (e, fd) => (e ? resolve() : require_close(fd, resolve))));
    }
  });

  it('options of the wrong kind are refused with INVALID_ARGUMENT before any thread is used', async () => {
    for (const options of [{ timeoutMs: 0 }, { timeoutMs: NaN }, { timeoutMs: '5s' }, { timeoutMz: 5 }, null, 'fast']) {
      expect(await failure(compileInWorker(ssh('accept'), options as never)), JSON.stringify(options)).toMatch(/^INVALID_ARGUMENT: /);
    }
    for (const options of [{ threads: 0 }, { threads: 1.5 }, { threads: NaN }, { minFlowsPerThread: 0 }, { minFlowsPerThread: NaN }, { treads: 2 }]) {
      expect(await failure(createClassifierPool(ssh('accept'), options as never)), JSON.stringify(options)).toMatch(/^INVALID_ARGUMENT: /);
    }
    expect(await failure(reloadInWorker({} as never, ssh('accept')))).toMatch(/^INVALID_ARGUMENT: /);
  });
});

function require_close(fd: number, done: () => void): void {
  import('node:fs').then((fs) => fs.close(fd, () => done()));
}

describe('classifier pool never hangs and heals', () => {
  it('a thread that dies is replaced: the call it was on rejects, later calls are right again', async () => {
    const config = parseConfig(randomConfig(mulberry32(9), 20));
    const flows = randomFlows(mulberry32(10), config, 400);
    const engine = await createEngine(config);
    const batch = createFlowBatch(flows);
    const want = [...engine.classifyBatch(batch)];
    const pool = await createClassifierPool(config, { threads: 2, minFlowsPerThread: 100, timeoutMs: 2000 });
    try {
      for (const fault of ['exit', 'error', 'lost'] as const) {
        let hit = false;
        tamper = (w, m) => {
          if (m.op !== 'classify' || hit) return 'pass';
          hit = true;
          if (fault === 'exit') setImmediate(() => void w.terminate());
          if (fault === 'error') setImmediate(() => w.emit('error', new Error('boom')));
          return 'drop';
        };
        expect(await failure(pool.classify(flows)), fault).toMatch(/^WORKER_FAILED: classifier pool thread \d: /);
        tamper = null;
        for (let k = 0; k < 3; k++) {
          const r = await within(pool.classify(flows));
          expect(r).not.toBe('HUNG');
          const res = (r as { value: { actions: Uint8Array; version: number } }).value;
          expect([...res.actions], fault).toEqual(want);
          expect(res.version).toBe(1);
        }
      }
      expect(pool.version).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('a publish a thread cannot load is refused whole: version and verdicts stay; a thread lost while loading is replaced', async () => {
    const pool = await createClassifierPool(ssh('accept'), { threads: 3, minFlowsPerThread: 1, timeoutMs: 5000 });
    const flows = Array.from({ length: 30 }, () => SSH);
    const actions = async () => {
      const r = await within(pool.classify(flows));
      expect(r).not.toBe('HUNG');
      const v = (r as { value: { actions: Uint8Array; version: number } }).value;
      return { actions: [...new Set(v.actions)], version: v.version };
    };
    try {
      // One thread gets a snapshot it cannot load (for real: the table is garbage).
      let seen = 0;
      tamper = (_w, m) => {
        if (m.op === 'prepare' && ++seen === 2) m.snapshot = new Uint8Array(64);
        return 'pass';
      };
      expect(await failure(pool.publish(ssh('drop')))).toMatch(/^SNAPSHOT_INVALID: /);
      tamper = null;
      expect(pool.version).toBe(1);
      expect(await actions()).toEqual({ actions: [1], version: 1 });

      // A thread that dies while loading: replaced and asked again, the publish goes through.
      seen = 0;
      tamper = (w, m) => {
        if (m.op !== 'prepare' || ++seen !== 2) return 'pass';
        setImmediate(() => void w.terminate());
        return 'drop';
      };
      expect(await within(pool.publish(ssh('drop')))).toEqual({ value: 2 });
      tamper = null;
      expect(pool.version).toBe(2);
      expect(await actions()).toEqual({ actions: [0], version: 2 });

      // A bad config or snapshot: refused, nothing moves.
      expect(await failure(pool.publish({ securityGroups: [{ id: 'x', inbound: [{ protocol: 'TCPX' }] }] } as never))).toMatch(/^CONFIG_INVALID: /);
      expect(await failure(pool.publish({ snapshot: new Uint8Array(10) }))).toMatch(/^SNAPSHOT_INVALID: /);
      expect(pool.version).toBe(2);
      expect(await actions()).toEqual({ actions: [0], version: 2 });
    } finally {
      await pool.close();
    }
  });
});

describe('values only the JS API can pass', () => {
  it('isPlainData: JSON values are plain and clone exactly; a planted non-plain value anywhere makes the whole not plain', () => {
    const nonPlain = fc.constantFrom<() => unknown>(
      () => 1n, () => () => 1, () => Symbol('s'), () => Object.create(null), () => new Date(0), () => new Map(), () => new Uint8Array(2),
      () => new Proxy({}, {}), () => [1, , 2], () => Object.assign([1], { x: 1 }), () => Object.defineProperty({}, 'h', { value: 1, enumerable: false }),
      () => ({ [Symbol('k')]: 1 }), () => Object.defineProperty({}, 'g', { enumerable: true, get: () => { throw new Error('getter'); } }),
      () => { const o: Record<string, unknown> = {}; o.o = o; return o; },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.array(fc.nat(), { maxLength: 6 }), nonPlain, (json, route, make) => {
        expect(isPlainData(json)).toBe(true);
        expect(structuredClone(json)).toEqual(json);
        // Plant the non-plain value at the end of a route into the document (or as the whole).
        const doc = { root: structuredClone(json) } as Record<string, unknown>;
        let at: Record<string, unknown> = doc;
        let key = 'root';
        for (const step of route) {
          const next = at[key];
          if (typeof next !== 'object' || next === null) break;
          const keys = Object.keys(next);
          if (keys.length === 0) break;
          at = next as Record<string, unknown>;
          key = keys[step % keys.length]!;
        }
        at[key] = make();
        expect(isPlainData(doc)).toBe(false);
      }),
      fuzzParams('workers: isPlainData', 400),
    );
    const deep: unknown[] = [];
    let x = deep;
    for (let i = 0; i < 70; i++) x.push((x = []));
    expect(isPlainData(deep)).toBe(false);
    const shared = { a: 1 };
    expect(isPlainData([shared, shared])).toBe(false);
  });

  const circular = () => {
    const o: Record<string, unknown> = { id: 'sg-c' };
    o.self = o;
    return o;
  };
  const weird: (() => unknown)[] = [
    () => 1n,
    () => 2n ** 70n,
    () => () => 'accept',
    () => Symbol('accept'),
    circular,
    () => Object.assign(Object.create(null), { protocol: 'TCP', port: 22, source: 'any', action: 'accept' }),
    () => Object.create(null),
    () => new Date(0),
    () => new (class Rule { protocol = 'TCP'; port = 22; source = 'any'; action = 'accept'; })(),
    () => Object.defineProperty({}, 'action', { enumerable: true, get: () => { throw new Error('getter'); } }),
    () => new Proxy({ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }, {}),
    () => [1, , 3],
    () => Object.assign([1, 2], { extra: true }),
    () => { const a: unknown[] = []; let x = a; for (let i = 0; i < 200; i++) { const n: unknown[] = []; x.push(n); x = n; } return a; },
  ];

  /** Puts `value` somewhere in `doc`: replacing a field, a rule, a group, a list, or the whole. */
  function plant(doc: Record<string, unknown>, value: unknown, spot: number): unknown {
    const groups = doc.securityGroups as Record<string, unknown>[];
    const g = groups[spot % groups.length]!;
    switch (spot % 7) {
      case 0: return value;
      case 1: doc.securityGroups = value; return doc;
      case 2: groups[0] = value as never; return doc;
      case 3: g.inbound = [...((g.inbound as unknown[]) ?? []), value]; return doc;
      case 4: g.inbound = [{ protocol: 'TCP', port: value, source: 'any', action: 'accept' }]; return doc;
      case 5: g.outbound = [{ protocol: 'TCP', port: 80, destination: value, action: 'drop' }]; return doc;
      default: doc.instances = [{ id: value, securityGroups: [g.id] }]; return doc;
    }
  }

  it('compileInWorker gives the in-thread error (code and message) or the same policy', async () => {
    const r = mulberry32(0x5a11);
    let compared = 0;
    for (let i = 0; i < 60; i++) {
      const doc = plant(randomConfig(r, 6) as unknown as Record<string, unknown>, weird[i % weird.length]!(), Math.floor(r() * 1000));
      const expected = inThread(() => compilePolicy(parseConfig(doc)));
      const got = await failure(compileInWorker(doc as never));
      expect(got, `case ${i}`).toBe(expected);
      if (expected === 'resolved') {
        const config = parseConfig(doc);
        const here = await createEngine(config);
        const there = await createEngine({ snapshot: (await within(compileInWorker(doc as never)) as { value: Uint8Array }).value });
        const flows = randomFlows(r, config, 100);
        expect([...there.classifyBatch(createFlowBatch(flows))]).toEqual([...here.classifyBatch(createFlowBatch(flows))]);
      }
      compared++;
    }
    expect(compared).toBe(60);
  });

  it('pool.classify gives the in-thread error (code and message) or the same verdicts', async () => {
    const config = parseConfig(ssh('accept'));
    const engine = await createEngine(config);
    const pool = await createClassifierPool(config, { threads: 2, minFlowsPerThread: 1 });
    try {
      const r = mulberry32(0xf10e);
      for (let i = 0; i < 40; i++) {
        const flows: unknown[] = Array.from({ length: 6 }, () => ({ ...SSH }));
        const k = Math.floor(r() * flows.length);
        const value = weird[i % weird.length]!();
        const field = ['remote', 'port', 'protocol', 'direction', 'instance', 'local', null][i % 7];
        if (field === null) flows[k] = value;
        else (flows[k] as Record<string, unknown>)[field] = value;
        const expected = inThread(() => engine.classifyBatch(createFlowBatch(flows as FlowInput[])));
        const got = await failure(pool.classify(flows as FlowInput[]));
        expect(got, `case ${i}: ${field}`).toBe(expected);
      }
      // Parsed flows (trusted only by the library that parsed them) are packed here, and answered the same.
      const flows = randomFlows(mulberry32(0xf10f), config, 50);
      const parsed = await within(pool.classify(flows.map((f) => parseFlow(f))));
      expect([...(parsed as { value: { actions: Uint8Array } }).value.actions]).toEqual([...engine.classifyBatch(createFlowBatch(flows))]);
      // Not a list of flows.
      expect(await failure(pool.classify(42 as never))).toMatch(/^INVALID_ARGUMENT: /);
    } finally {
      await pool.close();
    }
  });
});

describe('nothing keeps the process alive', () => {
  it('a script that uses the workers and never closes them exits by itself, also after failures and timeouts', async () => {
    const script = `
      import { compileInWorker, createClassifierPool, createEngine } from ${JSON.stringify(join(root, 'dist/src/index.js'))};
      import { writeFileSync } from 'node:fs';
      const ssh = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }] }] };
      const deep = ${JSON.stringify(join(dir, 'alive-deep.json'))};
      writeFileSync(deep, '{"securityGroups": [' + '['.repeat(5000) + ']'.repeat(5000) + ']}');
      const out = [];
      out.push((await compileInWorker(ssh)).length > 0);
      const pool = await createClassifierPool(ssh, { threads: 2 });
      out.push((await pool.classify([{ direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' }])).actions[0]);
      out.push(await compileInWorker({ file: deep }).catch((e) => e.code));
      out.push(await createClassifierPool({ file: deep }, { threads: 1 }).catch((e) => e.code));
      console.log(JSON.stringify(out));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | 'HUNG'>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('HUNG');
      }, 30_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c ?? -1);
      });
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [compiled, action, deepCode, poolCode] = JSON.parse(stdout) as [boolean, number, string, string];
    expect(compiled).toBe(true);
    expect(action).toBe(1);
    expect(deepCode).toMatch(/^CONFIG_/);
    expect(poolCode).toBe(deepCode);
  });
});
