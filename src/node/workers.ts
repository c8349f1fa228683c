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
 * The same answer as in the calling thread: input that is plain data (isPlainData)
 * crosses to a worker exactly as it is and is validated there by the same code;
 * anything else (bigints, functions, prototype-less objects, cycles, deep nesting,
 * parsed Flows) is validated in the calling thread first, so an error is the very
 * error an in-thread call throws, and only library-made data crosses.
 *
 * Never a hang: every request settles. A worker's error comes back as the error;
 * a crash, an exit (process.exit included), a message that cannot be read, or no
 * answer within `timeoutMs` rejects every request pending on that thread with
 * WORKER_FAILED, ends the thread, and the next call starts a new one (a pool
 * replaces its thread, from the policy in force). Idle threads are unref'd, so
 * nothing here keeps the process alive; a thread is ref'd only while a request
 * waits for it.
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
import { decodeSnapshot, encodeSnapshot, verifySnapshot } from '../snapshot.js';
import type { SnapshotKey } from '../snapshot/key.js';
import { compilePolicy, verdictOf, type CompileOptions, type RuleRef } from '../compile/index.js';
import { parseConfig } from '../config/parse.js';
import { FlowBatch, batchOrder, createFlowBatch, packSlice, recordAnswers } from '../flow.js';
import { publishCompiledSnapshot, type Engine, type ReloadOptions } from '../engine.js';
import type { Config, ParsedFlow, FlowInput, Verdict } from '../types.js';
import { checkEngine, invalidArgument, milliseconds, readOptions, shown, wholeNumber, type OptionSpec } from './options.js';
import { MAX_MEMORY_BYTES } from '../wasm/load.js';
import { loadConfigFileFor } from './config-file.js';
import { sourceKind, textSourceDocument } from '../config/source.js';
import type { EngineSource } from '../create.js';
import {
  deserializeError, isPlainData, type CompileRequest, type FatalMessage, type PackedSlice, type PoolRequest, type PoolResponse,
  type PoolThreadData, type SerializedError,
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
  // The worker scripts are files: a parent run as `node --input-type=module -e ...`
  // would otherwise pass --input-type on, and the thread would die before it starts.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  if (url) return new Worker(url, { workerData, execArgv });
  // Running from src without a build: load the .ts script through tsx's loader.
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const tsx = new URL(pkg.exports['./esm/api']!.import.default, pathToFileURL(pkgPath)).href;
  const script = new URL(`./${name}.ts`, import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script)}); })`;
  return new Worker(code, { eval: true, workerData, execArgv });
}

/** Default time a compile may take in its worker (ms): a 100K-prefix policy takes seconds. */
export const COMPILE_TIMEOUT_MS = 10 * 60_000;
/** Default time a classifier-pool thread may take to answer one request (ms). */
export const POOL_TIMEOUT_MS = 60_000;

/** compileInWorker's and reloadInWorker's options. */
export interface CompileInWorkerOptions {
  /** Refuse (TABLE_TOO_LARGE) tables larger than this (see CompileOptions). */
  maxTableBytes?: number;
  /**
   * Longest wait for the worker's answer, in ms (default 10 minutes; Infinity: no
   * limit). Past it the worker is ended and the call rejects with WORKER_FAILED.
   */
  timeoutMs?: number;
}

const failed = (message: string) => new SgfilterError('WORKER_FAILED', message);

/** A request that could not be posted (a structured clone failure): nothing reached the thread. */
class NotSent extends SgfilterError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

type Pending = { resolve: (v: never) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined };

/**
 * A worker thread answering requests by id. It is unref'd while idle (it never keeps
 * the process alive) and ref'd while a request is pending (so the awaited answer
 * arrives). Any failure of the thread — an 'error', an exit, a reply that cannot
 * be read, a request unanswered past its time — rejects every pending request with
 * WORKER_FAILED (or the reason the thread gave before exiting) and ends the thread:
 * a channel is never half alive.
 */
class Channel<Req extends { id: number }, Res extends { id: number; ok: boolean }> {
  readonly worker: Worker;
  readonly #what: string;
  readonly #pending = new Map<number, Pending>();
  readonly #onDeath: (() => void) | undefined;
  #next = 1;
  #dead: Error | null = null;
  /** Why the thread said it cannot go on (a FatalMessage), reported when it exits. */
  #fatal: Error | null = null;

  constructor(worker: Worker, what: string, onDeath?: () => void) {
    this.worker = worker;
    this.#what = what;
    this.#onDeath = onDeath;
    worker.unref();
    worker.on('message', (res: unknown) => this.#answer(res));
    worker.on('messageerror', (e: Error) => this.#die(failed(`${what}: a reply from the worker thread could not be read (${e.message}); the thread was ended`)));
    worker.on('error', (e: unknown) => this.#die(failed(`${what}: the worker thread crashed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)));
    worker.on('exit', (code) => this.#die(this.#fatal ?? failed(`${what}: the worker thread exited (code ${code}) before answering`)));
  }

  get alive(): boolean {
    return this.#dead === null;
  }

  #answer(res: unknown): void {
    if (typeof res !== 'object' || res === null) return;
    const { id, ok } = res as { id?: unknown; ok?: unknown };
    if (id === 0 && (res as FatalMessage).fatal) {
      this.#fatal = this.#rebuild((res as FatalMessage).error);
      return;
    }
    const p = typeof id === 'number' ? this.#pending.get(id) : undefined;
    if (!p) return;
    this.#settled(id as number, p);
    if (ok === true) p.resolve(res as never);
    else p.reject(this.#rebuild((res as { error?: SerializedError }).error));
  }

  #rebuild(error: SerializedError | undefined): Error {
    try {
      return deserializeError(error!);
    } catch {
      return failed(`${this.#what}: the worker thread answered with an unreadable error`);
    }
  }

  #settled(id: number, p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.worker.unref();
  }

  #die(e: Error): void {
    if (this.#dead) return;
    this.#dead = e;
    this.worker.unref();
    for (const p of this.#pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.#pending.clear();
    this.#onDeath?.();
    void this.worker.terminate().catch(() => undefined);
  }

  /**
   * Sends a request and resolves with the answer. `timeoutMs` (finite) bounds the
   * wait from now: past it the thread is ended (it is stuck, or lost the request).
   */
  request(req: Req extends unknown ? Omit<Req, 'id'> : never, timeoutMs: number, transfer: ArrayBuffer[] = []): Promise<Res> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<Res>((resolve, reject) => {
      const p: Pending = { resolve: resolve as (v: never) => void, reject, timer: undefined };
      this.#pending.set(id, p);
      this.worker.ref();
      try {
        this.worker.postMessage({ ...req, id }, transfer);
      } catch (e) {
        this.#settled(id, p);
        reject(new NotSent(`${this.#what}: the request cannot be sent to a worker thread: ${(e as Error).message}`));
        return;
      }
      if (Number.isFinite(timeoutMs)) {
        // The thread is stuck or lost the request: it is ended, so every request queued on it fails too.
        p.timer = setTimeout(() => this.#die(failed(`${this.#what}: the worker thread did not answer a request within ${timeoutMs} ms; it was ended`)), timeoutMs);
        p.timer.unref();
      }
    });
  }

  /** Ends the thread: every pending request rejects with WORKER_FAILED (`why`). */
  kill(why: string): void {
    this.#die(failed(`${this.#what}: ${why}; the thread was ended`));
  }

  close(): Promise<number> {
    this.#dead ??= new SgfilterError('INVALID_ARGUMENT', `${this.#what}: closed`);
    for (const p of this.#pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(this.#dead);
    }
    this.#pending.clear();
    this.worker.unref();
    return this.worker.terminate();
  }
}

type CompileResponse = { id: number; ok: true; snapshot: Uint8Array } | { id: number; ok: false; error: SerializedError };

let compiler: Channel<CompileRequest, CompileResponse> | null = null;

function compileChannel(): Channel<CompileRequest, CompileResponse> {
  if (!compiler?.alive) {
    const ch: Channel<CompileRequest, CompileResponse> = new Channel(startWorker('compile-worker'), 'compileInWorker', () => {
      if (compiler === ch) compiler = null;
    });
    compiler = ch;
  }
  return compiler;
}

const COMPILE_OPTIONS: OptionSpec = { maxTableBytes: () => undefined, timeoutMs: milliseconds(1, { infinite: true }) };

/** Compiles in this thread: for options only the JS API can pass, so they are judged by the in-thread code itself. */
function compileHere(config: Config, options: CompileOptions): Uint8Array {
  return encodeSnapshot(compilePolicy(config, options), config, 1);
}

async function compileVia(caller: string, config: unknown, options: Record<string, unknown>): Promise<Uint8Array> {
  const timeoutMs = (options.timeoutMs as number | undefined) ?? COMPILE_TIMEOUT_MS;
  const compileOptions: CompileOptions = options.maxTableBytes === undefined ? {} : { maxTableBytes: options.maxTableBytes as number };
  const plainOptions = options.maxTableBytes === undefined || typeof options.maxTableBytes === 'number';
  let req: Omit<CompileRequest, 'id'>;
  const source = sourceKind(config, caller);
  if (source.kind === 'file') {
    if (!plainOptions) return compileHere(await loadConfigFileFor(caller, source.path, source.format), compileOptions);
    req = { path: source.path, file: { where: caller, format: source.format }, options: compileOptions };
  } else if (source.kind === 'text') {
    if (!plainOptions) return compileHere(parseConfig(textSourceDocument(source, caller), source.fileName), compileOptions);
    req = { text: { text: source.text, fileName: source.fileName, format: source.format, named: source.named, where: caller }, options: compileOptions };
  } else if (isPlainData(config) && plainOptions) {
    req = { config, options: compileOptions };
  } else {
    // Validated here, so any error is the in-thread one; only the library's own frozen
    // copy crosses (a Config from outside is copied as it is checked: no getter is
    // read again by the structured clone).
    const validated = parseConfig(config);
    if (!plainOptions) return compileHere(validated, compileOptions);
    req = { config: validated, validated: true, options: compileOptions };
  }
  const ch = compileChannel();
  let res: Extract<CompileResponse, { ok: true }>;
  try {
    res = (await ch.request(req, timeoutMs)) as Extract<CompileResponse, { ok: true }>;
  } catch (e) {
    if (!(e instanceof NotSent)) throw e;
    // Nothing reached the thread. A Config whose warnings hold what cannot cross (e.g. a
    // function in an ignored field): compile here. Input that changed as it was read (a
    // getter): judge it here, as an in-thread call would.
    if (req.validated) return compileHere(req.config as Config, compileOptions);
    return compileHere(parseConfig(req.config), compileOptions);
  }
  if (!(res.snapshot instanceof Uint8Array)) throw failed(`${caller}: the compile worker answered without a snapshot`);
  return res.snapshot;
}

/**
 * Validates and compiles `config` (a config object, an already-validated Config,
 * `{ file }` or `{ text, format? }`, as createEngine takes them) in a helper worker thread and resolves to a snapshot
 * (load it with engine.loadSnapshot or createEngine({ snapshot })). Rejects exactly
 * as an in-thread compile would: an SgfilterError with the same code, message and
 * issues (CONFIG_INVALID with every issue, CONFIG_PARSE, TABLE_TOO_LARGE, ...);
 * WORKER_FAILED when the worker crashes, exits or does not answer within
 * `timeoutMs`; INVALID_ARGUMENT for options of the wrong kind.
 *
 * One helper worker is started on first use and shared by every call (requests are
 * compiled one after another); it never keeps the process alive, and
 * closeCompileWorker() terminates it. A worker that failed is replaced by the next call.
 */
export async function compileInWorker(config: EngineSource, options: CompileInWorkerOptions = {}): Promise<Uint8Array> {
  return compileVia('compileInWorker', config, readOptions('compileInWorker', options, COMPILE_OPTIONS));
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
 * engine's thread only copies the table in. `expectedVersion` (a whole number ≥ 1,
 * else INVALID_ARGUMENT before anything is compiled) is checked before the compile
 * and again when publishing, so a write published meanwhile refuses this one
 * (VERSION_CONFLICT).
 * An invalid config rejects (CONFIG_INVALID, every issue) and changes nothing.
 * Resolves to the new version.
 */
export async function reloadInWorker(engine: Engine, config: EngineSource, options: ReloadOptions & CompileInWorkerOptions = {}): Promise<number> {
  checkEngine('reloadInWorker', engine);
  // Every option is judged before the compile (a bad expectedVersion must not cost one).
  const { expectedVersion, ...compile } = readOptions('reloadInWorker', options, { ...COMPILE_OPTIONS, expectedVersion: wholeNumber(1) });
  const conflict = () => {
    if (expectedVersion !== undefined && expectedVersion !== engine.version) {
      throw new SgfilterError('VERSION_CONFLICT', `reloadInWorker expected the policy at version ${expectedVersion as number} (expectedVersion), but it is at version ${engine.version}: another change was published first. Read engine.version, check the change still applies, and call reloadInWorker again with expectedVersion: ${engine.version}`);
    }
  };
  conflict(); // already stale: refused before the compile
  const snapshot = await compileVia('reloadInWorker', config, compile);
  // A config reload compiled by our own worker: an engine's snapshot key does not apply.
  return publishCompiledSnapshot(engine, snapshot, expectedVersion === undefined ? {} : { expectedVersion: expectedVersion as number });
}

// ---------------------------------------------------------------------------------
// Classifier pool

/** createClassifierPool's options. */
export interface ClassifierPoolOptions extends CompileInWorkerOptions {
  /** Worker threads classifying (default: os.availableParallelism()). */
  threads?: number;
  /** Fewest flows a thread is given: smaller calls use fewer threads (default 1024). */
  minFlowsPerThread?: number;
  /** Each thread's engine: flows per WASM window (createEngine's `windowFlows`; default 4,096). */
  windowFlows?: number;
  /** Each thread's engine: the most WebAssembly memory, in bytes (createEngine's `maxMemoryBytes`). A policy that needs more rejects with its engine's error. */
  maxMemoryBytes?: number;
  /**
   * Longest wait for one thread's answer to one request, in ms (default 60 s;
   * Infinity: no limit); the compile of a config or path has the compile's
   * default. Past it the thread is ended (and replaced on the next call) and the
   * call rejects with WORKER_FAILED.
   */
  timeoutMs?: number;
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

/**
 * Worker threads that classify in parallel, each with the same published policy
 * (createClassifierPool). Calls made after a publish resolves use the new version.
 */
export interface ClassifierPool {
  /** Worker threads classifying. */
  readonly threads: number;
  /** Version classify calls made from now on are classified with (1, then +1 per publish). */
  readonly version: number;
  /**
   * Classifies flows across the threads: plain flows (validated and packed in the
   * threads) or a FlowBatch packed in this thread (its arrays are split and sent).
   * A call is classified entirely against one version: the one published when it
   * was made. Rejects with FLOW_INVALID / UNKNOWN_INSTANCE as engine.classifyBatch,
   * WORKER_FAILED when a thread fails (it is replaced for the next call).
   */
  classify(flows: readonly (FlowInput | ParsedFlow)[] | FlowBatch): Promise<PoolResult>;
  /**
   * Publishes a new policy to every thread: a config or file path (compiled once, in
   * a worker: compileInWorker) or a snapshot { snapshot }. Resolves to the new
   * version once every thread runs it. Every thread loads it aside first; only when
   * all have, they switch together: calls made before the switch run against the
   * old version, later ones against the new one (`version` tells which). A publish
   * that rejects (an invalid config or snapshot, a thread that cannot load it)
   * changes nothing, and `version` stays.
   */
  publish(config: EngineSource, options?: ReloadOptions): Promise<number>;
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
  return typeof x === 'object' && x !== null && Object.hasOwn(x, 'snapshot') && ((x as { snapshot: unknown }).snapshot instanceof Uint8Array || (x as { snapshot: unknown }).snapshot instanceof ArrayBuffer);
}

const u8 = (b: Uint8Array | ArrayBuffer) => (b instanceof Uint8Array ? b : new Uint8Array(b));

/**
 * A flow a pool thread may validate itself and answer for exactly as this thread
 * would: plain data, with its addresses as text. A ParsedFlow (addresses already
 * read) is trusted only by the library that parsed it, so it is packed here.
 */
function isPlainFlowInput(f: unknown): boolean {
  if (typeof f !== 'object' || f === null) return false;
  const { remote, local } = f as { remote?: unknown; local?: unknown };
  return typeof remote === 'string' && (local === undefined || local === null || typeof local === 'string') && isPlainData(f);
}

type PoolChannel = Channel<PoolRequest, PoolResponse & { id: number }>;
type Ok = Extract<PoolResponse, { ok: true }>;

/**
 * Starts a pool of `threads` worker threads, each with its own engine loaded from
 * one compiled policy: a config or file path (compiled once, in a worker) or
 * { snapshot }. Close it with pool.close(); idle threads never keep the process alive.
 * Rejects as compileInWorker for a bad config, SNAPSHOT_INVALID for a bad snapshot,
 * INVALID_ARGUMENT for options of the wrong kind, WORKER_FAILED when the threads
 * cannot start; nothing is left running then.
 */
export async function createClassifierPool(config: EngineSource, options: ClassifierPoolOptions = {}): Promise<ClassifierPool> {
  const opts = readOptions('createClassifierPool', options, {
    ...COMPILE_OPTIONS,
    threads: wholeNumber(1, 1024),
    minFlowsPerThread: wholeNumber(1),
    windowFlows: wholeNumber(1),
    maxMemoryBytes: wholeNumber(65536, MAX_MEMORY_BYTES),
  });
  const threadEngine = { windowFlows: opts.windowFlows as number | undefined, maxMemoryBytes: opts.maxMemoryBytes as number | undefined };
  const threads = (opts.threads as number | undefined) ?? availableParallelism();
  const minPer = (opts.minFlowsPerThread as number | undefined) ?? 1024;
  const timeoutMs = (opts.timeoutMs as number | undefined) ?? POOL_TIMEOUT_MS;
  const compileOptions: Record<string, unknown> = opts.maxTableBytes === undefined ? {} : { maxTableBytes: opts.maxTableBytes };
  const compile = (c: unknown) => compileVia('createClassifierPool', c, compileOptions);

  const first = isSnapshotInput(config) ? await snapshotBytes(config) : await compile(config);
  /** The policy in force: what a thread started now loads. */
  let current: { snapshot: Uint8Array; version: number; rules: RuleRef[] } = { snapshot: first, version: 1, rules: decodeSnapshot(first).compiled.rules };
  let closed = false;
  let rr = 0;

  const slots: (PoolChannel | null)[] = new Array(threads).fill(null);
  /** The live channel of thread k: a thread that failed is replaced, from the policy in force. */
  const channelAt = (k: number): PoolChannel => {
    const live = slots[k];
    if (live?.alive) return live;
    const data: PoolThreadData = { snapshot: current.snapshot, version: current.version, ...threadEngine };
    const ch: PoolChannel = new Channel(startWorker('classify-worker', data), `classifier pool thread ${k + 1}`, () => {
      if (slots[k] === ch) slots[k] = null;
    });
    slots[k] = ch;
    return ch;
  };
  const closeAll = () => Promise.all(slots.map((c) => c?.close().catch(() => undefined)));

  try {
    // Every thread is up and has loaded the policy (a bad snapshot rejects here).
    await Promise.all(slots.map((_, k) => channelAt(k).request({ op: 'classify', flows: [] }, timeoutMs)));
  } catch (e) {
    await closeAll();
    throw e;
  }
  const check = () => {
    if (closed) throw new SgfilterError('INVALID_ARGUMENT', 'the classifier pool is closed');
  };

  async function classify(input: readonly (FlowInput | ParsedFlow)[] | FlowBatch): Promise<PoolResult> {
    check();
    if (!(input instanceof FlowBatch) && !Array.isArray(input)) {
      throw invalidArgument(`pool.classify takes a list of flows or a FlowBatch, got ${shown(input)}`);
    }
    // Flows that are not plain flow objects with text addresses (parsed Flows, which
    // only this thread's library trusts; bigints; prototype-less objects; anything
    // else) are validated and packed here: the in-thread checks decide.
    const batch = input instanceof FlowBatch ? input : input.every(isPlainFlowInput) ? null : createFlowBatch(input);
    const n = batch ? batch.length : input.length;
    const { rules: callRules, version: callVersion } = current;
    const parts = Math.max(1, Math.min(threads, Math.floor(n / minPer)));
    const actions = new Uint8Array(n);
    const ruleIds = new Int32Array(n);
    const jobs: Promise<void>[] = [];
    const firstThread = rr;
    rr = (rr + parts) % threads;
    for (let k = 0; k < parts; k++) {
      const start = Math.floor((k * n) / parts);
      const end = Math.floor(((k + 1) * n) / parts);
      const ch = channelAt((firstThread + k) % threads);
      let sent: Promise<PoolResponse>;
      if (batch) {
        const slice: PackedSlice = packSlice(batch, start, end);
        sent = ch.request({ op: 'classify', packed: slice }, timeoutMs, [slice.meta, slice.remote, slice.local, slice.proto, slice.port, slice.sport, slice.icmp].map((a) => a.buffer as ArrayBuffer));
      } else {
        sent = ch.request({ op: 'classify', flows: (input as readonly unknown[]).slice(start, end) }, timeoutMs);
      }
      jobs.push(
        sent.then((res) => {
          const r = res as Ok;
          if (r.version !== callVersion) throw new SgfilterError('VERSION_CONFLICT', `a pool thread classified with version ${r.version}, expected ${callVersion}`);
          const a = r.actions;
          const ids = r.ruleIds;
          if (!(a instanceof Uint8Array) || !(ids instanceof Int32Array) || a.length !== end - start || ids.length !== end - start) {
            throw failed(`a classifier pool thread answered ${a?.length ?? 'no'} verdicts for ${end - start} flows`);
          }
          const order = batch ? batchOrder(batch) : null;
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
    const settled = await Promise.allSettled(jobs);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) {
      const e = failure.reason as Error;
      // A thread validated only its share: report bad flows with their indices in the whole call.
      if (!batch && e instanceof SgfilterError && e.code === 'FLOW_INVALID') createFlowBatch(input as readonly FlowInput[]);
      throw e;
    }
    if (batch && input instanceof FlowBatch) {
      recordAnswers(input, ruleIds, callVersion, callRules);
    }
    return {
      actions, ruleIds, version: callVersion,
      verdict(i: number): Verdict {
        if (!(i >= 0 && i < n)) throw new SgfilterError('BATCH_MISMATCH', `flow index ${i} is outside 0-${n - 1}`);
        return verdictOf(callRules, ruleIds[i]!);
      },
    };
  }

  /** Loads `snap` aside in thread k; a thread that died on the way is replaced and asked once more. */
  const prepareAt = async (k: number, snap: Uint8Array): Promise<PoolChannel> => {
    for (let attempt = 0; ; attempt++) {
      const ch = channelAt(k);
      try {
        await ch.request({ op: 'prepare', snapshot: snap }, timeoutMs);
        return ch;
      } catch (e) {
        if (attempt > 0 || ch.alive || !(e instanceof SgfilterError && e.code === 'WORKER_FAILED')) throw e;
      }
    }
  };

  let publishing: Promise<unknown> = Promise.resolve();
  async function publish(next: EngineSource, publishOptions: ReloadOptions = {}): Promise<number> {
    check();
    const { expectedVersion } = readOptions('pool.publish', publishOptions, {
      expectedVersion: wholeNumber(1),
    }) as ReloadOptions;
    const conflict = () => {
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        throw new SgfilterError('VERSION_CONFLICT', `the pool expected its policy at version ${expectedVersion} (expectedVersion), but it is at version ${current.version}: another change was published first. Read pool.version, check the change still applies, and publish again with expectedVersion: ${current.version}`);
      }
    };
    // Publishes run one at a time, in call order.
    const run = publishing.then(async () => {
      check();
      conflict();
      const snap = isSnapshotInput(next) ? await snapshotBytes(next) : await compile(next);
      check();
      const nextRules = decodeSnapshot(snap).compiled.rules; // refuses a bad snapshot before any thread sees it
      conflict();
      // 1. Every thread loads the policy aside; the running one keeps classifying.
      const prepared = await Promise.allSettled(slots.map((_, k) => prepareAt(k, snap)));
      const refused = prepared.find((p): p is PromiseRejectedResult => p.status === 'rejected');
      if (refused || closed) {
        for (const p of prepared) if (p.status === 'fulfilled' && p.value.alive) p.value.request({ op: 'discard' }, timeoutMs).catch(() => undefined);
        check();
        throw refused!.reason;
      }
      // 2. One synchronous step: every thread is told to switch, and the pool moves with
      // them, so each classify call is queued entirely before or after the switch. A
      // thread that died since it prepared is replaced from the new policy.
      const target = current.version + 1;
      const chans = (prepared as PromiseFulfilledResult<PoolChannel>[]).map((p) => p.value);
      current = { snapshot: snap, version: target, rules: nextRules };
      chans.forEach((ch) => {
        // A thread that fails to switch must not keep answering for the old policy: it is
        // ended (its pending calls reject) and replaced from the new one.
        if (ch.alive) ch.request({ op: 'commit', version: target }, timeoutMs).catch((e: Error) => ch.kill(`it could not switch to version ${target} (${e.message})`));
      });
      return target;
    });
    publishing = run.catch(() => undefined);
    return run;
  }

  return {
    threads,
    get version() {
      return current.version;
    },
    classify,
    publish,
    async close() {
      if (closed) return;
      closed = true;
      await closeAll();
    },
  };
}

