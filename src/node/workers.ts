/**
 * Worker threads (Node): compiling off the classifying thread (issue #4) and several
 * threads classifying against one compiled policy (issue #5).
 *
 *  - compileInWorker(config | path) validates, compiles and snapshots in a helper
 *    worker thread, so a 100K-rule compile never stalls the thread that classifies;
 *    reloadInWorker(engine, config) then publishes the snapshot with
 *    engine.loadSnapshot (a copy into WASM memory, no compiling).
 *  - createClassifierPool(configOrSnapshot, { threads }) starts `threads` workers,
 *    each with its own engine loaded from the same snapshot; classify splits a list
 *    of flows (or a packed FlowBatch) across them; publish compiles once and loads
 *    the snapshot into every thread.
 *
 * Worker scripts are the compiled files dist/src/node/{compile,classify}-worker.js:
 * next to this file when it runs from dist; from src (tsx, vitest) the built dist
 * copy is used when present (the test command builds first), else the .ts file
 * through tsx's loader (a dev dependency).
 */
import { Worker } from 'node:worker_threads';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { SgfilterError } from '../errors.js';
import { decodeSnapshot, verifySnapshot } from '../snapshot.js';
import type { SnapshotKey } from '../snapshot/key.js';
import { verdictOf, type RuleRef } from '../compile/index.js';
import { FlowBatch, createFlowBatch } from '../flow.js';
import { publishCompiledSnapshot, type Engine, type ReloadOptions } from '../engine.js';
import type { Flow, FlowInput, Verdict } from '../types.js';
import {
  deserializeError, type CompileRequest, type PackedSlice, type PoolRequest, type PoolResponse, type SerializedError,
} from './worker-protocol.js';

type WorkerName = 'compile-worker' | 'classify-worker';

/** Where the worker script is: next to this file (dist), else the built dist copy (src under tsx/vitest), else null. */
function workerScript(name: WorkerName): URL | null {
  const here = import.meta.url;
  if (here.endsWith('.js')) return new URL(`./${name}.js`, here);
  const dist = new URL(`../../dist/src/node/${name}.js`, here);
  return existsSync(fileURLToPath(dist)) ? dist : null;
}

function startWorker(name: WorkerName, workerData?: unknown): Worker {
  const url = workerScript(name);
  if (url) return new Worker(url, { workerData });
  // Running from src without a build: load the .ts script through tsx's loader.
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const tsx = new URL(pkg.exports['./esm/api']!.import.default, pathToFileURL(pkgPath)).href;
  const script = new URL(`./${name}.ts`, import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script)}); })`;
  return new Worker(code, { eval: true, workerData });
}

export interface CompileInWorkerOptions {
  /** Refuse (TABLE_TOO_LARGE) tables larger than this (see CompileOptions). */
  maxTableBytes?: number;
}

type Pending = { resolve: (v: never) => void; reject: (e: Error) => void };

/**
 * A worker thread answering requests by id. It is unref'd while idle (it never keeps
 * the process alive) and ref'd while a request is pending (so the awaited answer
 * arrives). A crash rejects every pending request; the next request starts a new one.
 */
class Channel<Req extends { id: number }, Res extends { id: number; ok: boolean }> {
  readonly worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #dead: Error | null = null;

  constructor(worker: Worker, onDeath?: () => void) {
    this.worker = worker;
    worker.unref();
    worker.on('message', (res: Res) => {
      const p = this.#pending.get(res.id);
      if (!p) return;
      this.#pending.delete(res.id);
      if (this.#pending.size === 0) worker.unref();
      if (res.ok) p.resolve(res as never);
      else p.reject(deserializeError((res as unknown as { error: SerializedError }).error));
    });
    const die = (e: Error) => {
      if (this.#dead) return;
      this.#dead = e;
      onDeath?.();
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    worker.on('error', (e) => die(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => die(new Error(`sgfilter worker thread exited (code ${code})`)));
  }

  get alive(): boolean {
    return this.#dead === null;
  }

  request(req: Req extends unknown ? Omit<Req, 'id'> : never, transfer: ArrayBuffer[] = []): Promise<Res> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<Res>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: never) => void, reject });
      this.worker.ref();
      try {
        this.worker.postMessage({ ...req, id }, transfer);
      } catch (e) {
        this.#pending.delete(id);
        if (this.#pending.size === 0) this.worker.unref();
        reject(e as Error);
      }
    });
  }

  close(): Promise<number> {
    this.#dead ??= new SgfilterError('INVALID_ARGUMENT', 'worker thread closed');
    for (const p of this.#pending.values()) p.reject(this.#dead);
    this.#pending.clear();
    return this.worker.terminate();
  }
}

type CompileResponse = { id: number; ok: true; snapshot: Uint8Array } | { id: number; ok: false; error: SerializedError };

let compiler: Channel<CompileRequest, CompileResponse> | null = null;

function compileChannel(): Channel<CompileRequest, CompileResponse> {
  if (!compiler?.alive) {
    const ch: Channel<CompileRequest, CompileResponse> = new Channel(startWorker('compile-worker'), () => {
      if (compiler === ch) compiler = null;
    });
    compiler = ch;
  }
  return compiler;
}

/**
 * Validates and compiles `config` (a config object, an already-validated Config, or
 * the path of a JSON/YAML file) in a helper worker thread and resolves to a snapshot
 * (load it with engine.loadSnapshot or createEngine({ snapshot })). Rejects exactly
 * as an in-thread compile would: an SgfilterError with the same code, message and
 * issues (CONFIG_INVALID with every issue, CONFIG_PARSE, TABLE_TOO_LARGE, ...).
 *
 * One helper worker is started on first use and shared by every call (requests are
 * compiled one after another); it never keeps the process alive, and
 * closeCompileWorker() terminates it.
 */
export async function compileInWorker(config: object | string, options: CompileInWorkerOptions = {}): Promise<Uint8Array> {
  const req: Omit<CompileRequest, 'id'> =
    typeof config === 'string' ? { path: config, options } : { config, options };
  const res = (await compileChannel().request(req)) as Extract<CompileResponse, { ok: true }>;
  return res.snapshot;
}

/** Terminates the shared compile worker (a later compileInWorker starts a new one). */
export async function closeCompileWorker(): Promise<void> {
  const ch = compiler;
  compiler = null;
  if (ch) await ch.close();
}

/**
 * engine.reload, with the compile in a worker thread: compiles `config` there
 * (compileInWorker), then publishes the snapshot with engine.loadSnapshot. The
 * engine's thread only copies the table in. `expectedVersion` is checked when
 * publishing, so a write published meanwhile refuses this one (VERSION_CONFLICT).
 * An invalid config rejects (CONFIG_INVALID, every issue) and changes nothing.
 * Resolves to the new version.
 */
export async function reloadInWorker(engine: Engine, config: object | string, options: ReloadOptions & CompileInWorkerOptions = {}): Promise<number> {
  const { expectedVersion, ...compile } = options;
  const snapshot = await compileInWorker(config, compile);
  // A config reload compiled by our own worker: an engine's snapshot key does not apply.
  return publishCompiledSnapshot(engine, snapshot, expectedVersion === undefined ? {} : { expectedVersion });
}

// ---------------------------------------------------------------------------------
// Classifier pool

export interface ClassifierPoolOptions extends CompileInWorkerOptions {
  /** Worker threads classifying (default: os.availableParallelism()). */
  threads?: number;
  /** Fewest flows a thread is given: smaller calls use fewer threads (default 1024). */
  minFlowsPerThread?: number;
}

/** What pool.classify resolves to: answers in the caller's order, and the version used. */
export interface PoolResult {
  /** 1 accept, 0 drop, per flow. */
  actions: Uint8Array;
  /** Global rule id that decided each flow (-1: default drop). */
  ruleIds: Int32Array;
  /** Policy version every flow of this call was classified with. */
  version: number;
  /** The verdict of flow i: { action, groupId, ruleIndex }. */
  verdict(i: number): Verdict;
}

export interface ClassifierPool {
  /** Worker threads classifying. */
  readonly threads: number;
  /** Version classify calls made from now on are classified with (1, then +1 per publish). */
  readonly version: number;
  /**
   * Classifies flows across the threads: plain flows (validated and packed in the
   * threads) or a FlowBatch packed in this thread (its arrays are split and sent).
   * A call is classified entirely against one version: the one published when it
   * was made. Rejects with FLOW_INVALID / UNKNOWN_INSTANCE as engine.classifyBatch.
   */
  classify(flows: readonly (FlowInput | Flow)[] | FlowBatch): Promise<PoolResult>;
  /**
   * Publishes a new policy to every thread: a config or file path (compiled once, in
   * a worker: compileInWorker) or a snapshot { snapshot }. Resolves to the new
   * version once every thread runs it. Calls made before the new snapshot is posted
   * to the threads run against the old version, later ones against the new one
   * (`version` tells which). An invalid config or snapshot rejects and changes nothing.
   */
  publish(config: object | string, options?: ReloadOptions): Promise<number>;
  /** Terminates the threads; pending calls reject. */
  close(): Promise<void>;
}

/** { snapshot, key? }: with a key, the bytes threads get are a copy verified here first. */
async function snapshotBytes(x: { snapshot: Uint8Array | ArrayBuffer; key?: SnapshotKey }): Promise<Uint8Array> {
  if (!Object.hasOwn(x, 'key')) return u8(x.snapshot); // a key field that is there must be a key
  const bytes = new Uint8Array(u8(x.snapshot)); // a copy (Buffer.slice would share)
  await verifySnapshot(bytes, x.key as SnapshotKey);
  return bytes;
}

function isSnapshotInput(x: unknown): x is { snapshot: Uint8Array | ArrayBuffer; key?: SnapshotKey } {
  return typeof x === 'object' && x !== null && 'snapshot' in x && ((x as { snapshot: unknown }).snapshot instanceof Uint8Array || (x as { snapshot: unknown }).snapshot instanceof ArrayBuffer);
}

const u8 = (b: Uint8Array | ArrayBuffer) => (b instanceof Uint8Array ? b : new Uint8Array(b));

/**
 * Starts a pool of `threads` worker threads, each with its own engine loaded from
 * one compiled policy: a config or file path (compiled once, in a worker) or
 * { snapshot }. Close it with pool.close(); idle threads never keep the process alive.
 */
export async function createClassifierPool(config: object | string, options: ClassifierPoolOptions = {}): Promise<ClassifierPool> {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new SgfilterError('INVALID_ARGUMENT', `threads must be a whole number ≥ 1, got ${String(threads)}`);
  const minPer = Math.max(1, options.minFlowsPerThread ?? 1024);
  const snapshot = isSnapshotInput(config) ? await snapshotBytes(config) : await compileInWorker(config, options);
  let rules: RuleRef[] = decodeSnapshot(snapshot).compiled.rules;
  const channels: Channel<PoolRequest, PoolResponse & { id: number }>[] = [];
  for (let t = 0; t < threads; t++) channels.push(new Channel(startWorker('classify-worker', { snapshot })));
  let version = 1;
  let closed = false;
  let rr = 0;
  try {
    // Every thread is up and has loaded the policy (a bad snapshot rejects here).
    await Promise.all(channels.map((c) => c.request({ op: 'classify', flows: [] })));
  } catch (e) {
    await Promise.all(channels.map((c) => c.close()));
    throw e;
  }
  const check = () => {
    if (closed) throw new SgfilterError('INVALID_ARGUMENT', 'the classifier pool is closed');
  };

  async function classify(input: readonly (FlowInput | Flow)[] | FlowBatch): Promise<PoolResult> {
    check();
    const n = input.length;
    const callRules = rules;
    const callVersion = version;
    const parts = Math.max(1, Math.min(threads, Math.floor(n / minPer)));
    const actions = new Uint8Array(n);
    const ruleIds = new Int32Array(n);
    const jobs: Promise<void>[] = [];
    const first = rr;
    rr = (rr + parts) % threads;
    for (let k = 0; k < parts; k++) {
      const start = Math.floor((k * n) / parts);
      const end = Math.floor(((k + 1) * n) / parts);
      const ch = channels[(first + k) % threads]!;
      let sent: Promise<PoolResponse>;
      if (input instanceof FlowBatch) {
        const b = input;
        const slice: PackedSlice = {
          length: end - start, instances: b.instances,
          meta: b.meta.slice(start, end), remote: b.remote.slice(4 * start, 4 * end), local: b.local.slice(4 * start, 4 * end),
          proto: b.proto.slice(start, end), port: b.port.slice(start, end), sport: b.sport.slice(start, end), icmp: b.icmp.slice(start, end),
        };
        sent = ch.request({ op: 'classify', packed: slice }, [slice.meta, slice.remote, slice.local, slice.proto, slice.port, slice.sport, slice.icmp].map((a) => a.buffer as ArrayBuffer));
      } else {
        sent = ch.request({ op: 'classify', flows: input.slice(start, end) as unknown[] });
      }
      jobs.push(
        sent.then((res) => {
          const r = res as Extract<PoolResponse, { ok: true }>;
          if (r.version !== callVersion) throw new SgfilterError('VERSION_CONFLICT', `a pool thread classified with version ${r.version}, expected ${callVersion}`);
          const a = r.actions!;
          const ids = r.ruleIds!;
          const order = input instanceof FlowBatch ? input.order : null;
          if (order) {
            for (let s = start; s < end; s++) {
              const i = order[s]!;
              actions[i] = a[s - start]!;
              ruleIds[i] = ids[s - start]!;
            }
          } else {
            actions.set(a, start);
            ruleIds.set(ids, start);
          }
        }),
      );
    }
    try {
      await Promise.all(jobs);
    } catch (e) {
      // A thread validated only its share: report bad flows with their indices in the whole call.
      if (!(input instanceof FlowBatch) && e instanceof SgfilterError && e.code === 'FLOW_INVALID') createFlowBatch(input);
      throw e;
    }
    if (input instanceof FlowBatch) {
      input.ruleIds.set(ruleIds);
      input.policyVersion = callVersion;
      input.resolve = (id) => verdictOf(callRules, id);
    }
    return {
      actions, ruleIds, version: callVersion,
      verdict(i: number): Verdict {
        if (!(i >= 0 && i < n)) throw new SgfilterError('BATCH_MISMATCH', `flow index ${i} is outside 0-${n - 1}`);
        return verdictOf(callRules, ruleIds[i]!);
      },
    };
  }

  let publishing: Promise<unknown> = Promise.resolve();
  async function publish(next: object | string, opts: ReloadOptions = {}): Promise<number> {
    check();
    // Publishes run one at a time, in call order.
    const run = publishing.then(async () => {
      check();
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== version) {
        throw new SgfilterError('VERSION_CONFLICT', `the pool is at version ${version}, not ${opts.expectedVersion}; publish against the current version`);
      }
      const snap = isSnapshotInput(next) ? await snapshotBytes(next) : await compileInWorker(next, options);
      check();
      const nextRules = decodeSnapshot(snap).compiled.rules; // refuses a bad snapshot before any thread sees it
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== version) {
        throw new SgfilterError('VERSION_CONFLICT', `the pool is at version ${version}, not ${opts.expectedVersion}; publish against the current version`);
      }
      // Posted to every thread in one synchronous step: each classify call is queued
      // entirely before or entirely after this load in every thread.
      const target = version + 1;
      const acks = channels.map((c) => c.request({ op: 'load', snapshot: snap }));
      version = target;
      rules = nextRules;
      const versions = (await Promise.all(acks)).map((r) => (r as Extract<PoolResponse, { ok: true }>).version);
      if (versions.some((v) => v !== target)) throw new SgfilterError('VERSION_CONFLICT', `pool threads report versions ${versions.join(', ')}, expected ${target}`);
      return target;
    });
    publishing = run.catch(() => undefined);
    return run;
  }

  return {
    threads,
    get version() {
      return version;
    },
    classify,
    publish,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(channels.map((c) => c.close()));
    },
  };
}
