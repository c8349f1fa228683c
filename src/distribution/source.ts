/**
 * A policy source: the policy of an edge isolate, read from shared storage (Workers
 * KV, R2, a URL; layout in ./layout.ts), verified with a key, cached per isolate and
 * kept current. No `node:` imports: it runs in workerd.
 *
 * Lifecycle, per isolate (one source in module scope):
 *  - The first request finds no policy: it reads the version key and the snapshot it
 *    names, verifies the signature (createEngine({ snapshot, key })), and waits for
 *    that. Requests arriving meanwhile wait for the same load (one read, not one per
 *    request). If the load fails (nothing published, storage down, every snapshot
 *    refused) they all get POLICY_UNAVAILABLE: fail closed. A request within
 *    `retrySeconds` of a failed load gets it at once, without another read.
 *  - Once a policy is loaded, a request never waits on storage. When `refreshSeconds`
 *    have passed since the last check began, the request starts a check in the
 *    background (`ctx.waitUntil`) and goes on with the policy it has. The check reads
 *    the small version key; only a new version's snapshot is read and verified.
 *  - A verified new version is swapped in by one assignment of an immutable
 *    ActivePolicy (its own engine, built aside): a request holds the one it got for
 *    as long as it runs, so it sees one whole policy, never a mix and never a half-
 *    built table. Old engines are freed when the last request using them ends.
 *  - Anything wrong (a read that fails or outlasts `timeoutMs`, a malformed version
 *    key, a snapshot that is unsigned, tampered, signed with another key, not the
 *    size/SHA-256/version the version key says, or older than the policy in use)
 *    keeps the policy in use and is reported through `onEvent` (default: the
 *    console). A snapshot refused for its content is not read again until the
 *    version key names another one.
 *
 * No wait is unbounded: each check has a deadline (`timeoutMs`); a read that has not
 * answered by then is abandoned (a fetch is aborted). A request waiting for a first
 * load waits at most that long on its own timer. A check whose request context was
 * torn down before it settled (workerd cancels the I/O of a finished request that
 * did not pass its `ctx`) is treated as abandoned after its deadline, and the next
 * request starts a new one.
 */
import { SgfilterError, type ErrorCode } from '../errors.js';
import { describeValue, errorText } from '../describe.js';
import type { Engine, EngineOptions, SnapshotSource } from '../engine.js';
import { checkEngineOptions, refuseUnknownOptions } from '../options.js';
import { copyKeyBytes, importSnapshotKey, parseSnapshotKey, type SnapshotCryptoKey, type SnapshotKey } from '../snapshot/key.js';
import {
  DEFAULT_MAX_SNAPSHOT_BYTES, MAX_POINTER_TEXT, parsePolicyPointer, policyKeys, sha256Hex, snapshotHeaderVersion, type PolicyKeys, type PolicyPointer,
} from './layout.js';
import { kvStore, r2Store, urlStore, type FetchLike, type KvNamespaceLike, type PolicyStore, type R2BucketLike } from './stores.js';

/** What `ctx` a Workers fetch handler gets: checks started by a request stay alive through it. */
export interface WaitUntilContext {
  /** Keeps the isolate working on `promise` after the response is sent (a background version check). */
  waitUntil(promise: Promise<unknown>): void;
}

/** The policy in use: an engine and the published version it was loaded from. Immutable. */
export interface ActivePolicy {
  /** The engine of this version. Classify with it; do not reload or update it (the next version replaces it whole). */
  readonly engine: Engine;
  /** The published version (the version key's), not engine.version (1 for every engine). */
  readonly version: number;
  /** SHA-256 of the snapshot, lowercase hex. */
  readonly sha256: string;
  /** Bytes of the snapshot. */
  readonly bytes: number;
  /** The version key's publishedAt, when it has one. */
  readonly publishedAt: string | null;
  /** Date.now() when this version was swapped in. */
  readonly loadedAt: number;
}

/** What a source reports (onEvent): a version loaded, or a check that kept the policy it had. */
export type PolicyEvent =
  | {
    /** A version was verified and swapped in. */
    type: 'loaded';
    /** The published version now in use. */
    version: number;
    /** The version it replaced, null for this isolate's first load. */
    previousVersion: number | null;
    /** SHA-256 of its snapshot, lowercase hex. */
    sha256: string;
    /** Bytes of its snapshot. */
    bytes: number;
    /** Milliseconds from the start of the check to the swap (reads, digest, signature, load). */
    ms: number;
  }
  | {
    /** A check failed; the policy in use (if any) is kept. */
    type: 'failed';
    /** Why: POLICY_STORE (a read failed or passed `timeoutMs`), POLICY_INVALID, SNAPSHOT_UNSIGNED, SNAPSHOT_SIGNATURE, SNAPSHOT_INVALID, SNAPSHOT_KEY, ... */
    code: ErrorCode;
    /** The error's message (names the key and what was wrong, never the key's bytes). */
    message: string;
    /** The version the version key named, null when it could not be read. */
    offeredVersion: number | null;
    /** The version still in use, null when this isolate has none (requests fail closed). */
    keptVersion: number | null;
  };

/** createPolicySource's options. Exactly one of `kv`, `r2`, `url`. */
export interface PolicySourceOptions {
  /** A Workers KV namespace binding (env.POLICY_KV). */
  kv?: KvNamespaceLike;
  /** An R2 bucket binding (env.POLICY_BUCKET); object names are the keys. */
  r2?: R2BucketLike;
  /** A base URL that key names are appended to (`https://host/sgfilter/` → `https://host/sgfilter/policy:current`). */
  url?: string | URL;
  /** With `url`: the fetch to use (a service binding's), default the global fetch. */
  fetch?: FetchLike;
  /** With `url`: request headers (e.g. an Authorization for a private origin). */
  headers?: Record<string, string>;
  /**
   * The snapshot key (required): key text as stored in a secret (hex or base64, see
   * parseSnapshotKey), raw bytes (at least 32), or an HMAC SHA-256 CryptoKey with
   * 'verify'. Unsigned snapshots and snapshots signed with another key are refused.
   * A missing secret (undefined, null, '') is SNAPSHOT_KEY at once.
   */
  key: SnapshotKey | string;
  /** Key prefix of the layout (./layout.ts), default "policy:". */
  prefix?: string;
  /** Seconds between version checks once a policy is loaded, 0-86400, default 30. */
  refreshSeconds?: number;
  /** With no policy loaded: seconds after a failed load before a request tries again, 0-3600, default 1. */
  retrySeconds?: number;
  /** Deadline of one check (version key, snapshot, verify) in ms, 100-300000, default 10000. */
  timeoutMs?: number;
  /** Largest snapshot accepted, bytes, default 25 MiB (the Workers KV value limit). */
  maxSnapshotBytes?: number;
  /** Options of each version's engine (windowFlows, maxTableBytes, a wasm module). */
  engine?: EngineOptions & {
    /** The compiled matcher (in workers, the edge entry's own import; rarely needed). */
    wasm?: WebAssembly.Module;
  };
  /** Called on each load and each failure; default: one console line (failures repeated within 60 s are not repeated). */
  onEvent?: (event: PolicyEvent) => void;
}

/** A snapshot of a source's state, for status pages and tests. */
export interface PolicySourceStatus {
  /** Published version in use, null before the first load. */
  version: number | null;
  /** SHA-256 of the snapshot in use (lowercase hex), null before the first load. */
  sha256: string | null;
  /** Date.now() when the version in use was swapped in, null before the first load. */
  loadedAt: number | null;
  /** Date.now() when the last check began, null before any. */
  checkedAt: number | null;
  /** Whether a check is running. */
  checking: boolean;
  /** The last failure since the last successful check, or null. */
  lastError: {
    /** Its code (as in {@link PolicyEvent} `failed`). */
    code: ErrorCode;
    /** Its message. */
    message: string;
    /** Date.now() when it happened. */
    at: number;
  } | null;
  /** Where the policy comes from: "KV namespace", "R2 bucket" or the base URL. */
  store: string;
}

/** Creates an engine from a signed snapshot (the entry's createEngine: edge or Node). */
export type EngineFactory = (source: SnapshotSource, options: EngineOptions & { wasm?: WebAssembly.Module }) => Promise<Engine>;

/** How long past its deadline a check is still awaited before it counts as abandoned. */
const ABANDON_GRACE_MS = 1000;
/** The default logger does not repeat an identical failure within this time. */
const LOG_REPEAT_MS = 60_000;

/** Every name of PolicySourceOptions: anything else (a misspelt refreshSecond) is refused, not ignored. */
const POLICY_SOURCE_OPTIONS = ['kv', 'r2', 'url', 'fetch', 'headers', 'key', 'prefix', 'refreshSeconds', 'retrySeconds', 'timeoutMs', 'maxSnapshotBytes', 'engine', 'onEvent'] as const satisfies readonly (keyof PolicySourceOptions)[];
const invalid = (message: string) => new SgfilterError('INVALID_ARGUMENT', `createPolicySource: ${message}`);

function numberOption(options: PolicySourceOptions, name: 'refreshSeconds' | 'retrySeconds' | 'timeoutMs' | 'maxSnapshotBytes', fallback: number, min: number, max: number): number {
  const v: unknown = Object.hasOwn(options, name) ? options[name] : undefined;
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalid(`${name} is ${describeValue(v)}; allowed: a number ${min}-${max}`);
  return v;
}

function own<K extends keyof PolicySourceOptions>(options: PolicySourceOptions, name: K): PolicySourceOptions[K] | undefined {
  return Object.hasOwn(options, name) ? options[name] : undefined;
}

/** The store named by exactly one of kv, r2, url. */
function storeOf(options: PolicySourceOptions): PolicyStore {
  const given = (['kv', 'r2', 'url'] as const).filter((k) => own(options, k) !== undefined);
  if (given.length !== 1) {
    throw invalid(given.length === 0 ? 'give where the policy is: kv (a KV namespace binding), r2 (an R2 bucket binding) or url' : `give one store, got ${given.join(' and ')}`);
  }
  if (given[0] !== 'url' && (own(options, 'fetch') !== undefined || own(options, 'headers') !== undefined)) throw invalid('fetch and headers go with url');
  if (given[0] === 'kv') return kvStore(options.kv!);
  if (given[0] === 'r2') return r2Store(options.r2!);
  const fetcher = own(options, 'fetch');
  if (fetcher !== undefined && typeof fetcher !== 'function') throw invalid(`fetch is a function, got ${describeValue(fetcher)}`);
  const headers = own(options, 'headers');
  if (headers !== undefined && (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string'))) {
    throw invalid('headers is an object of header names to strings');
  }
  return urlStore(options.url!, { fetch: fetcher, headers });
}

/** The key as something importSnapshotKey takes; text is parsed here (SNAPSHOT_KEY when it is not a key). */
function keyOf(options: PolicySourceOptions): SnapshotKey {
  const key: unknown = own(options, 'key');
  if (key === undefined || key === null || key === '') {
    throw new SgfilterError('SNAPSHOT_KEY', `snapshot key: createPolicySource needs the key the policy is signed with, got ${key === '' ? 'an empty string' : String(key)} (is the secret set? wrangler secret put POLICY_KEY)`);
  }
  // Raw bytes are copied now: the source imports its key later (at its first load, and
  // again after a key error), and what the caller writes to its buffer meanwhile must
  // not become the key. parseSnapshotKey's result is already a fresh array.
  return typeof key === 'string' ? parseSnapshotKey(key) : ((copyKeyBytes(key) ?? key) as SnapshotKey);
}

function defaultLogger(): (event: PolicyEvent) => void {
  let last = '';
  let lastAt = -Infinity;
  return (event) => {
    if (event.type === 'loaded') {
      console.log(`sgfilter: policy version ${event.version} loaded (${event.bytes} bytes, sha256 ${event.sha256.slice(0, 12)}…, ${event.ms} ms)${event.previousVersion === null ? '' : `, replacing version ${event.previousVersion}`}`);
      last = '';
      return;
    }
    const line = `sgfilter: ${event.code}: ${event.message}; ${event.keptVersion === null ? 'no policy loaded, requests fail closed' : `keeping policy version ${event.keptVersion}`}`;
    const now = Date.now();
    if (line === last && now - lastAt < LOG_REPEAT_MS) return;
    last = line;
    lastAt = now;
    console.error(line);
  };
}

const asSgfilterError = (e: unknown): SgfilterError =>
  e instanceof SgfilterError ? e : new SgfilterError('POLICY_STORE', `unexpected error: ${errorText(e)}`);

/**
 * A policy source: the policy of an edge isolate, read from Workers KV, R2 or a URL
 * where `sgfilter publish` (or publishPolicy) puts signed snapshots, verified with the
 * key, cached per isolate and kept current. Made by `createPolicySource(options)`;
 * keep one per isolate (module scope). `current(ctx)` gives the policy in use (waiting
 * only for this isolate's first load); a check for a new version runs in the
 * background at most every `refreshSeconds`. Anything refused keeps the policy in use
 * and is reported through `onEvent`; with no policy loaded, `current` rejects with
 * POLICY_UNAVAILABLE (fail closed). Layout and timing: README, "Across the edge".
 */
export class PolicySource {
  readonly #store: PolicyStore;
  readonly #keys: PolicyKeys;
  readonly #rawKey: SnapshotKey;
  #cryptoKey: Promise<SnapshotCryptoKey> | null = null;
  readonly #refreshMs: number;
  readonly #retryMs: number;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #engineOptions: EngineOptions & { wasm?: WebAssembly.Module };
  readonly #createEngine: EngineFactory;
  readonly #onEvent: (event: PolicyEvent) => void;

  #active: ActivePolicy | null = null;
  #check: { promise: Promise<void>; started: number; id: number } | null = null;
  #checks = 0;
  #lastCheck: number | null = null;
  #lastError: { error: SgfilterError; at: number } | null = null;
  /** `version:sha256` of a snapshot refused for its content: not read again. */
  #refused: string | null = null;

  /** @internal use createPolicySource (sgfilter/edge, or the Node entry) */
  constructor(options: PolicySourceOptions, createEngine: EngineFactory) {
    if (typeof options !== 'object' || options === null) throw invalid(`options must be an object, got ${describeValue(options)}`);
    refuseUnknownOptions('createPolicySource', options, POLICY_SOURCE_OPTIONS);
    this.#store = storeOf(options);
    this.#rawKey = keyOf(options);
    this.#keys = policyKeys(own(options, 'prefix'));
    this.#refreshMs = numberOption(options, 'refreshSeconds', 30, 0, 86_400) * 1000;
    this.#retryMs = numberOption(options, 'retrySeconds', 1, 0, 3600) * 1000;
    this.#timeoutMs = numberOption(options, 'timeoutMs', 10_000, 100, 300_000);
    this.#maxBytes = Math.floor(numberOption(options, 'maxSnapshotBytes', DEFAULT_MAX_SNAPSHOT_BYTES, 64, 2 ** 31));
    const engine = own(options, 'engine') ?? {};
    checkEngineOptions(engine);
    this.#engineOptions = engine;
    const onEvent = own(options, 'onEvent');
    if (onEvent !== undefined && typeof onEvent !== 'function') throw invalid(`onEvent is a function, got ${describeValue(onEvent)}`);
    this.#onEvent = onEvent ?? defaultLogger();
    this.#createEngine = createEngine;
  }

  /**
   * The policy in use. Loads it first when this isolate has none (waiting at most
   * `timeoutMs`, sharing one load among concurrent requests) and rejects with
   * POLICY_UNAVAILABLE when there is none to load (error.cause: why). With a policy
   * loaded it resolves at once, and starts a version check in the background when
   * one is due: pass the handler's `ctx` so the check outlives the response.
   */
  async current(ctx?: WaitUntilContext): Promise<ActivePolicy> {
    const active = this.#active;
    if (active !== null) {
      if (this.#lastCheck === null || Date.now() - this.#lastCheck >= this.#refreshMs) this.#start(ctx);
      return active;
    }
    const failure = this.#lastError;
    if (this.#running() === null && failure !== null && Date.now() - failure.at < this.#retryMs) throw this.#unavailable();
    await this.#wait(this.#start(ctx));
    if (this.#active !== null) return this.#active;
    throw this.#unavailable();
  }

  /**
   * Checks the store now, whatever the interval (or joins the check running), and
   * resolves to the policy in use afterwards; POLICY_UNAVAILABLE when there is none.
   */
  async refresh(ctx?: WaitUntilContext): Promise<ActivePolicy> {
    await this.#wait(this.#running()?.promise ?? this.#start(ctx, true));
    if (this.#active !== null) return this.#active;
    throw this.#unavailable();
  }

  /** The policy in use, or null before the first load; never waits, never checks. */
  get active(): ActivePolicy | null {
    return this.#active;
  }

  /** The source's state now (version in use, last check, last error, store): a fresh object, for status pages and tests. */
  status(): PolicySourceStatus {
    const a = this.#active;
    const e = this.#lastError;
    return {
      version: a?.version ?? null,
      sha256: a?.sha256 ?? null,
      loadedAt: a?.loadedAt ?? null,
      checkedAt: this.#lastCheck,
      checking: this.#running() !== null,
      lastError: e === null ? null : { code: e.error.code, message: e.error.message, at: e.at },
      store: this.#store.name,
    };
  }

  #unavailable(): SgfilterError {
    const last = this.#lastError?.error;
    const err = new SgfilterError('POLICY_UNAVAILABLE', `no policy loaded from the ${this.#store.name} yet${last ? `: ${last.code}: ${last.message}` : ''}`);
    if (last) (err as { cause?: unknown }).cause = last;
    return err;
  }

  /** The check in flight, unless it is past its deadline and grace (abandoned). */
  #running(): { promise: Promise<void>; started: number } | null {
    const c = this.#check;
    if (c === null) return null;
    if (Date.now() - c.started > this.#timeoutMs + ABANDON_GRACE_MS) {
      this.#check = null;
      return null;
    }
    return c;
  }

  /** Starts a check (or returns the one running) and ties it to `ctx`. */
  #start(ctx: WaitUntilContext | undefined, force = false): Promise<void> {
    const running = this.#running();
    if (running !== null) return running.promise;
    if (!force && this.#active !== null && this.#lastCheck !== null && Date.now() - this.#lastCheck < this.#refreshMs) return Promise.resolve();
    const started = Date.now();
    this.#lastCheck = started;
    const id = ++this.#checks;
    const promise = this.#runCheck(started).finally(() => {
      if (this.#check?.id === id) this.#check = null;
    });
    this.#check = { promise, started, id };
    if (ctx !== undefined && ctx !== null) {
      try {
        ctx.waitUntil(promise);
      } catch {
        // Not a Workers ctx: the check still runs, bounded by its deadline.
      }
    }
    return promise;
  }

  /** Waits for `promise`, at most the check deadline plus grace, on this caller's own timer. */
  async #wait(promise: Promise<void>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#timeoutMs + ABANDON_GRACE_MS)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Rejects with POLICY_STORE when `signal` aborts (the check's deadline) before `p` settles. */
  #timed<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
    p.catch(() => undefined); // a late rejection after the deadline is not "unhandled"
    if (signal.aborted) return Promise.reject(this.#timeout(what));
    let onAbort: () => void = () => undefined;
    const deadline = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.#timeout(what));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([p, deadline]).finally(() => signal.removeEventListener('abort', onAbort));
  }

  #timeout(what: string): SgfilterError {
    return new SgfilterError('POLICY_STORE', `${what} from the ${this.#store.name} did not finish within ${this.#timeoutMs} ms (timeoutMs)`);
  }

  async #runCheck(started: number): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    const signal = controller.signal;
    let offered: number | null = null;
    try {
      const currentKey = this.#keys.current;
      const text = await this.#timed(this.#store.read(currentKey, MAX_POINTER_TEXT * 4, signal), signal, `reading "${currentKey}"`);
      if (text === null) {
        throw new SgfilterError('POLICY_STORE', this.#active === null
          ? `nothing published: no "${currentKey}" in the ${this.#store.name} (publish with: sgfilter publish CONFIG --kv-namespace ID --key-file KEY)`
          : `"${currentKey}" is gone from the ${this.#store.name}`);
      }
      let pointerText: string;
      try {
        pointerText = new TextDecoder('utf-8', { fatal: true }).decode(text);
      } catch {
        throw new SgfilterError('POLICY_INVALID', `version key "${currentKey}": not UTF-8 text`);
      }
      const pointer = parsePolicyPointer(pointerText, `"${currentKey}"`, this.#maxBytes);
      offered = pointer.version;
      const active = this.#active;
      if (active !== null && pointer.version === active.version && pointer.sha256 === active.sha256) {
        this.#lastError = null; // unchanged, and the store answers again
        return;
      }
      if (active !== null && pointer.version < active.version) {
        throw new SgfilterError('POLICY_INVALID', `version key "${currentKey}" names version ${pointer.version}, older than version ${active.version} in use; a policy never goes back (to roll back, publish the old config again: it gets a new version)`);
      }
      if (active !== null && pointer.version === active.version) {
        throw new SgfilterError('POLICY_INVALID', `version key "${currentKey}" names version ${pointer.version} with SHA-256 ${pointer.sha256.slice(0, 12)}…, but version ${active.version} in use has ${active.sha256.slice(0, 12)}…; a published version never changes`);
      }
      const tag = `${pointer.version}:${pointer.sha256}`;
      if (tag === this.#refused) return; // refused for its content already; reported then
      await this.#load(pointer, tag, started, signal);
    } catch (e) {
      const error = asSgfilterError(e);
      this.#lastError = { error, at: Date.now() };
      this.#emit({ type: 'failed', code: error.code, message: error.message, offeredVersion: offered, keptVersion: this.#active?.version ?? null });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads, checks and verifies the snapshot `pointer` names, then swaps it in. */
  async #load(pointer: PolicyPointer, tag: string, started: number, signal: AbortSignal): Promise<void> {
    const key = this.#keys.snapshot(pointer.version);
    const bytes = await this.#timed(this.#store.read(key, this.#maxBytes, signal), signal, `reading "${key}"`);
    if (bytes === null) {
      throw new SgfilterError('POLICY_STORE', `the version key names version ${pointer.version}, but "${key}" is not in the ${this.#store.name} (not replicated here yet, or deleted)`);
    }
    // Size and digest first: a mismatch may be a snapshot key rewritten by a racing
    // publisher or not yet replicated, so it is not remembered as refused.
    if (bytes.length !== pointer.bytes) throw new SgfilterError('POLICY_INVALID', `"${key}" is ${bytes.length} bytes, the version key says ${pointer.bytes}`);
    const digest = await this.#timed(sha256Hex(bytes), signal, `hashing "${key}"`);
    if (digest !== pointer.sha256) throw new SgfilterError('POLICY_INVALID', `"${key}" has SHA-256 ${digest.slice(0, 12)}…, the version key says ${pointer.sha256.slice(0, 12)}…`);
    let engine: Engine;
    try {
      // The version inside the snapshot is read before its signature is checked; the
      // check below it (createEngine with the key) refuses the bytes if they are not
      // what the key signed, so a claim that passes here is the signer's.
      const claimed = snapshotHeaderVersion(bytes);
      if (claimed !== null && claimed !== pointer.version) {
        throw new SgfilterError('POLICY_INVALID', `"${key}" is a snapshot of version ${claimed}, not ${pointer.version}: a snapshot is published under its own version only`);
      }
      this.#cryptoKey ??= importSnapshotKey(this.#rawKey, 'verify');
      const verifyKey = await this.#timed(this.#cryptoKey, signal, 'importing the snapshot key');
      engine = await this.#timed(this.#createEngine({ snapshot: bytes, key: verifyKey }, this.#engineOptions), signal, `verifying and loading "${key}"`);
    } catch (e) {
      const error = asSgfilterError(e);
      if (error.code === 'SNAPSHOT_KEY') this.#cryptoKey = null; // a key problem is not the snapshot's
      else if (error.code !== 'POLICY_STORE' && error.code !== 'WASM_LOAD') this.#refused = tag;
      throw error;
    }
    const previous = this.#active;
    // An abandoned check may have installed a newer version meanwhile: never go back.
    if (previous !== null && previous.version >= pointer.version) return;
    const now = Date.now();
    this.#active = Object.freeze({ engine, version: pointer.version, sha256: pointer.sha256, bytes: pointer.bytes, publishedAt: pointer.publishedAt ?? null, loadedAt: now });
    this.#lastError = null;
    this.#refused = null;
    this.#emit({ type: 'loaded', version: pointer.version, previousVersion: previous?.version ?? null, sha256: pointer.sha256, bytes: pointer.bytes, ms: now - started });
  }

  #emit(event: PolicyEvent): void {
    try {
      this.#onEvent(event);
    } catch {
      // A failing logger must not look like a failed check, nor stop a swap.
    }
  }
}
