/**
 * The Engine: one WASM matcher instance, one published policy (a TABLE in linear
 * memory), and the flow window classifyBatch copies batches through.
 *
 * Lifecycle: createEngine → classify / classifyBatch … → reload or update (compile
 * aside, publish by swapping one pointer, free the old table) → … Classification
 * is synchronous, so no batch can be mid-flight while a reload publishes.
 */
import { SgfilterError } from './errors.js';
import type { Config, ParsedFlow, FlowInput, PolicyDocument, Verdict } from './types.js';
import * as L from '../assembly/layout.js';
import { compilePolicy, verdictIn, verdictsOf, type CompiledPolicy, type CompileOptions } from './compile/index.js';
import { parseConfig } from './config/parse.js';
import { sourceKind, textSourceDocument, type ConfigTextSource } from './config/source.js';
import { FlowBatch, batchState, loadSingleFlow, newSingleFlow, type BatchState, type SingleFlow } from './flow.js';
import { checkEngineOptions, checkReloadOptions } from './options.js';
import { describeValue } from './describe.js';
import { keysOf, quote, quotedList } from './config/plain.js';
import { Arena, instantiateMatcher, type MatcherExports, type WasmSource } from './wasm/load.js';
import { PolicyTransaction, type AppliedEdit, type CommittedEdits, type PolicyEdit } from './policy/transaction.js';
import { diffPolicies, type DiffOptions, type PolicyDiff } from './analysis/diff.js';
import { decodeSnapshot, encodeSnapshot, openSigned, signEncoded, type DecodedSnapshot } from './snapshot.js';
import { importSnapshotKey, type SnapshotCryptoKey, type SnapshotKey } from './snapshot/key.js';
import { Tracker, type PacketExports, type PublishBinding, type TrackerOptions } from './packets/tracker.js';

export interface EngineOptions extends CompileOptions {
  /**
   * Most flows per WASM call, a whole number ≥ 1. By default the flow window grows
   * to the largest batch seen, so a batch is one call; set a number to cap the
   * window's memory (bigger batches then go through in several calls).
   * Anything else is refused with INVALID_ARGUMENT.
   */
  windowFlows?: number;
  /**
   * Most bytes of WASM linear memory the engine may use (policy tables, flow window
   * and answers, trackers' connection tables), a whole number 65,536 - 2,147,418,112
   * (2 GiB − 64 KiB, the default and the hard cap: every WASM address then stays a
   * non-negative int32). Asking for more (a table, a batch, createTracker) throws
   * MEMORY_LIMIT and changes nothing.
   */
  maxMemoryBytes?: number;
}

/** reload's, update's and loadSnapshot's options. */
export interface ReloadOptions {
  /**
   * Refuse the reload (VERSION_CONFLICT) unless the published version is this one
   * (a whole number ≥ 1; anything else is INVALID_ARGUMENT).
   */
  expectedVersion?: number;
}

/** What a 'change' listener receives after a publish. */
export interface PolicyChange {
  /** The version now published. */
  version: number;
  /** The version it replaced. */
  previousVersion: number;
  /** 'reload': a whole new config (reload, watchConfig); 'update': a transaction (update). */
  reason: 'reload' | 'update';
  /** update() only: what the transaction did, one entry per edit, in order. */
  changes?: AppliedEdit[];
}

/** What engine.update takes: a function that records edits on a transaction, or the edits as data. */
export type PolicyUpdate = ((tx: PolicyTransaction) => unknown) | readonly PolicyEdit[];

/** What engine.previewUpdate gives: what update() would publish, and what it would change. */
export interface UpdatePreview {
  /** The version the edits were judged against (pass it as update's expectedVersion). */
  baseVersion: number;
  /** The config update() would publish (validated, owned). */
  config: Config;
  /** What each edit did, in order (as the 'change' event would list them). */
  changes: AppliedEdit[];
  /** Every flow whose verdict would change (diffPolicies of the published config and `config`). */
  diff: PolicyDiff;
}

/** createEngine({ snapshot, key? }): a compiled-policy snapshot instead of a config. */
export interface SnapshotSource {
  /** The snapshot's bytes, as engine.snapshot() or `sgfilter compile` wrote them. */
  snapshot: Uint8Array | ArrayBuffer;
  /**
   * Demand snapshots signed with this key (HMAC-SHA-256; at least 32 bytes, or an HMAC
   * SHA-256 CryptoKey with the 'verify' usage): this one, and every later
   * engine.loadSnapshot of the engine. Unsigned: SNAPSHOT_UNSIGNED; changed after
   * signing or signed with another key: SNAPSHOT_SIGNATURE. When the field is there it
   * must be a key: undefined or null is SNAPSHOT_KEY (a missing secret fails closed).
   */
  key?: SnapshotKey;
}

/** engine.loadSnapshot's options. */
export interface LoadSnapshotOptions extends ReloadOptions {
  /**
   * Verify the snapshot's signature with this key. An engine created with a key
   * (createEngine({ snapshot, key })) loads only snapshots signed with that key: a
   * key given here must be the same key (the same bytes, or the same CryptoKey), or
   * the call is refused with SNAPSHOT_KEY and changes nothing. When the field is there
   * it must be a key: undefined or null is SNAPSHOT_KEY (a missing secret fails closed).
   */
  key?: SnapshotKey;
}

/** engine.snapshot's options. */
export interface SnapshotOptions {
  /** Sign the snapshot with this key (HMAC-SHA-256); snapshot() then resolves asynchronously. */
  key?: SnapshotKey;
}

function isSnapshotSource(x: unknown): x is SnapshotSource {
  if (typeof x !== 'object' || x === null) return false;
  try {
    if (!Object.hasOwn(x, 'snapshot')) return false;
  } catch {
    return false; // a throwing Proxy: parseConfig reports it
  }
  const snapshot = (x as { snapshot: unknown }).snapshot;
  if (!(snapshot instanceof Uint8Array || snapshot instanceof ArrayBuffer)) {
    throw new SgfilterError('INVALID_ARGUMENT', `{ snapshot } must be a Uint8Array or an ArrayBuffer (engine.snapshot(), sgfilter compile), got ${snapshot === null ? 'null' : typeof snapshot}`);
  }
  const other = Object.keys(x).find((k) => k !== 'snapshot' && k !== 'key');
  if (other !== undefined) throw new SgfilterError('INVALID_ARGUMENT', `unknown field ${quote(other)} next to snapshot; allowed: snapshot, key`);
  return true;
}

/** Set in Engine's static block: publishes a snapshot without the engine's key check. */
let publishTrusted: (engine: Engine, snapshot: Uint8Array, options: ReloadOptions) => number;

/**
 * Publishes a snapshot this library compiled from a config in its own worker thread
 * (reloadInWorker): that is a config reload, so an engine's snapshot key does not
 * apply. The snapshot is still checked in full. @internal (src/node/workers.ts)
 */
export function publishCompiledSnapshot(engine: Engine, snapshot: Uint8Array, options: ReloadOptions = {}): number {
  return publishTrusted(engine, snapshot, options);
}

interface Policy {
  version: number;
  config: Config;
  compiled: CompiledPolicy;
  address: number;
}

// A caller's `out` is read through the typed-array built-ins, never through its own
// properties: a proxy, a subclass with a lying `length` or a revoked proxy cannot make
// classifyBatch write past it or throw anything but a coded error.
const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayTag = Object.getOwnPropertyDescriptor(TYPED_ARRAY, Symbol.toStringTag)!.get!;
const typedArrayLength = Object.getOwnPropertyDescriptor(TYPED_ARRAY, 'length')!.get!;
const typedArraySet = Uint8Array.prototype.set;

/** u32 per flow in the input window: meta, remote ×4, local ×4, proto, port, sport, icmp, order. */
const WINDOW_U32_PER_FLOW = 14;
/** Bytes per flow of the answer region (action u8 + rule id i32). */
const ANSWER_BYTES = 5;
const SLOT_MAP_SLOTS = 1024;

/**
 * A classifier with one published policy: create it with createEngine, classify
 * flows one at a time (classify) or in batches (classifyBatch), and publish new
 * policies while it runs (reload, update, loadSnapshot), one version at a time.
 * Classification is synchronous: a batch is classified entirely against one version.
 */
export class Engine {
  readonly #x: MatcherExports;
  readonly #arena: Arena;
  readonly #options: EngineOptions;
  #cap: number;
  #window: number;
  readonly #maxCap: number;
  #policy: Policy;
  /** Answer region (whole batch, caller's order): address and capacity in flows. */
  #answers = 0;
  #answersCap = 0;
  readonly #listeners = new Set<(change: PolicyChange) => void>();
  /** Trackers of this engine: each is told about a publish before it happens (see #swap). */
  readonly #trackers = new Set<PublishBinding>();
  #buffer: ArrayBuffer | null = null;
  #u8!: Uint8Array;
  #u32!: Uint32Array;
  #i32!: Int32Array;
  /** classify(flow) reads its flow here: one row, reused (no batch per call). */
  readonly #single: SingleFlow = newSingleFlow();
  /**
   * classify(flow)'s last instance lookup: the policy and instance name it was made
   * for, the instance's two classifiers, and that policy's verdicts. A flow of the
   * same instance against the same policy skips the lookup (a Map get per call).
   */
  #onePolicy: Policy | null = null;
  #oneName: string | null = null;
  #oneIn = 0;
  #oneOut = 0;
  #oneVerdicts: (Verdict | undefined)[] = [];
  /** createEngine({ snapshot, key }): every loadSnapshot must verify with it. */
  #snapshotKey: SnapshotCryptoKey | null = null;

  static {
    publishTrusted = (engine, snapshot, options) => engine.#publishSnapshot(decodeSnapshot(snapshot), options);
  }

  private constructor(x: MatcherExports, config: Config, options: EngineOptions, precompiled?: CompiledPolicy) {
    this.#x = x;
    this.#options = options;
    this.#arena = new Arena(x.memory, x.heapBase(), options.maxMemoryBytes);
    this.#maxCap = options.windowFlows ?? Infinity;
    this.#cap = Math.min(4096, this.#maxCap);
    this.#window = this.#arena.alloc(Engine.#windowBytes(this.#cap));
    this.#policy = this.#publish(config, 1, precompiled);
  }

  static #windowBytes(cap: number): number {
    return L.BATCH_HEADER_SIZE + cap * WINDOW_U32_PER_FLOW * 4 + SLOT_MAP_SLOTS * 8 + 64;
  }

  /**
   * arena.alloc, with a refusal (MEMORY_LIMIT) that says what needed the memory and
   * what the caller can change besides maxMemoryBytes; nothing is allocated then.
   */
  #allocFor(bytes: number, what: string, remedy: string): number {
    try {
      return this.#arena.alloc(bytes);
    } catch (e) {
      if (e instanceof SgfilterError && e.code === 'MEMORY_LIMIT') {
        throw new SgfilterError('MEMORY_LIMIT', `${what} needs ${bytes} bytes of WASM memory, beyond what maxMemoryBytes leaves: ${remedy}, or raise maxMemoryBytes (${e.message})`);
      }
      throw e;
    }
  }

  /** Grows the flow window so `n` flows go through in one WASM call (up to windowFlows). */
  #fit(n: number): void {
    const want = Math.min(n, this.#maxCap);
    if (want <= this.#cap) return;
    let cap = this.#cap;
    while (cap < want) cap *= 2;
    cap = Math.min(cap, this.#maxCap);
    const next = this.#allocFor(Engine.#windowBytes(cap), `a flow window of ${cap} flows`, `lower windowFlows (now ${this.#maxCap})`);
    this.#arena.release(this.#window, Engine.#windowBytes(this.#cap));
    this.#window = next;
    this.#cap = cap;
  }

  /** @internal use createEngine (src/index.ts) */
  static async create(wasm: WasmSource | PromiseLike<WasmSource>, config: unknown, options: EngineOptions = {}): Promise<Engine> {
    options = checkEngineOptions(options);
    // The matcher may still be on its way (Node reads it from disk); the snapshot's
    // bytes are copied first, when createEngine is called, and checked before it is used.
    const matcher = Promise.resolve(wasm);
    matcher.catch(() => undefined); // awaited below: a rejection meanwhile is not "unhandled"
    if (isSnapshotSource(config)) {
      // A key field that is there must be a key: `key: env.MISSING_SECRET` fails closed.
      const signed = Object.hasOwn(config, 'key') ? await openSigned(config.snapshot, config.key as SnapshotKey) : null;
      const snap = signed ? signed.decoded : decodeSnapshot(config.snapshot);
      const engine = new Engine(await instantiateMatcher(await matcher), snap.config, options, snap.compiled);
      engine.#snapshotKey = signed?.key ?? null;
      return engine;
    }
    const cfg = parseConfig(config); // the library's own frozen Config (a Config from outside is copied as it is checked)
    return new Engine(await instantiateMatcher(await matcher), cfg, options);
  }

  /**
   * The published policy as a snapshot (see src/snapshot.ts): load it elsewhere with
   * createEngine({ snapshot }) or engine.loadSnapshot, without compiling again.
   * Unsigned, returned at once; with `{ key }` (bytes of at least 32, or an HMAC
   * SHA-256 CryptoKey with the 'sign' usage), signed with HMAC-SHA-256 through
   * WebCrypto, in a Promise. An engine's own key (createEngine({ snapshot, key })) only
   * verifies: snapshot() signs only with the key it is given.
   */
  snapshot(): Uint8Array;
  snapshot(options: SnapshotOptions & { key: SnapshotKey }): Promise<Uint8Array>;
  snapshot(options?: SnapshotOptions): Uint8Array | Promise<Uint8Array>;
  snapshot(options: SnapshotOptions = {}): Uint8Array | Promise<Uint8Array> {
    if (typeof options !== 'object' || options === null) throw new SgfilterError('INVALID_ARGUMENT', 'snapshot takes { key } or nothing');
    const bytes = encodeSnapshot(this.#policy.compiled, this.#policy.config, this.#policy.version);
    if (!Object.hasOwn(options, 'key')) return bytes;
    return importSnapshotKey(options.key, 'sign').then((key) => signEncoded(bytes, key));
  }

  /**
   * Publishes a snapshot's policy (a new version of this engine) without compiling.
   * Every snapshot is checked before anything changes (src/snapshot.ts): a truncated,
   * corrupted, malformed, inconsistent or other-format snapshot is refused
   * (SNAPSHOT_INVALID). Without a signature, nothing proves its table's peers and ports
   * are its config's: load snapshots from storage others can write with a key. An
   * engine created with a key, or a call with `{ key }`, also demands a valid
   * signature, verified first: SNAPSHOT_UNSIGNED, SNAPSHOT_SIGNATURE, SNAPSHOT_KEY. An
   * engine created with a key verifies with that key only: a call's `{ key }` that is
   * another key is SNAPSHOT_KEY. A refused snapshot changes nothing: the policy and
   * version stay.
   */
  async loadSnapshot(bytes: Uint8Array | ArrayBuffer, options: LoadSnapshotOptions = {}): Promise<number> {
    this.#expect(checkReloadOptions(options, 'loadSnapshot').expectedVersion, 'loadSnapshot');
    // A key field that is there must be a key (undefined or null is SNAPSHOT_KEY, never
    // "no key"); without one, the engine's key if it has one. An engine's key is a
    // standing demand: a call's key must be that same key (SNAPSHOT_KEY otherwise).
    const key: SnapshotKey | null = Object.hasOwn(options, 'key') ? (options.key as SnapshotKey) : this.#snapshotKey;
    const keyed = Object.hasOwn(options, 'key') || this.#snapshotKey !== null;
    // Without a key nothing awaits: the snapshot is published in the calling turn. With
    // one, openSigned copies the bytes before it awaits.
    const snap = keyed ? (await openSigned(bytes, key as SnapshotKey, this.#snapshotKey)).decoded : decodeSnapshot(bytes);
    return this.#publishSnapshot(snap, options);
  }

  #publishSnapshot(snap: DecodedSnapshot, options: ReloadOptions): number {
    this.#expect(options.expectedVersion, 'loadSnapshot'); // again: a verify awaits, others may publish meanwhile
    return this.#swap(snap.config, { reason: 'reload' }, snap.compiled);
  }

  /** Version of the published policy: 1 at creation, +1 per successful reload or update. */
  get version(): number {
    return this.#policy.version;
  }

  /**
   * The validated config currently published: the library's own, deep-frozen (a
   * Config passed in is copied as it is checked), so changing it is a TypeError in
   * strict code and changes nothing; edit with update() or reload().
   */
  get config(): Config {
    return this.#policy.config;
  }

  /**
   * Bytes of the engine's WASM linear memory (tables, flow window, answers). It
   * grows when a bigger policy or batch needs room and never shrinks; freed tables
   * are reused, so it levels off under repeated reloads.
   */
  get memoryBytes(): number {
    return this.#x.memory.buffer.byteLength;
  }

  /** Table bytes by structure, classifier and box counts of the published policy. */
  get stats(): CompiledPolicy['stats'] {
    return this.#policy.compiled.stats;
  }

  #views(): void {
    // Growing WASM memory detaches the old buffer (byteLength 0): a buffer that still
    // has bytes is the current one, and reading memory.buffer (a getter) is not needed.
    if (this.#buffer !== null && this.#buffer.byteLength !== 0) return;
    this.#buffer = this.#x.memory.buffer;
    this.#u8 = new Uint8Array(this.#buffer);
    this.#u32 = new Uint32Array(this.#buffer);
    this.#i32 = new Int32Array(this.#buffer); // values only (rule ids), never addresses
  }

  /** Compiles `config` and copies it into fresh memory; throws without side effects. */
  #publish(config: Config, version: number, precompiled?: CompiledPolicy): Policy {
    const compiled = precompiled ?? compilePolicy(config, this.#options);
    const address = this.#arena.alloc(compiled.bytes.length);
    this.#views();
    this.#u8.set(compiled.bytes, address);
    return { version, config, compiled, address };
  }

  /**
   * Replaces the policy: validates and compiles `config` (a config object, a Tencent
   * policy document, an already-validated Config, or `{ text, format? }`) aside, then
   * publishes it in one step. An invalid config rejects with CONFIG_INVALID (text that
   * does not parse: CONFIG_PARSE) and changes nothing.
   * With `expectedVersion`, the reload is refused (VERSION_CONFLICT) unless the
   * published version is still that one: optimistic locking between writers.
   * Resolves to the new version.
   */
  async reload(config: PolicyDocument | readonly PolicyDocument[] | Config | ConfigTextSource, options: ReloadOptions = {}): Promise<number> {
    this.#expect(checkReloadOptions(options, 'reload').expectedVersion, 'reload');
    const s = sourceKind(config, 'reload');
    if (s.kind === 'file') throw new SgfilterError('INVALID_ARGUMENT', `reload({ file }): read the file with loadConfigFile (Node), or let watchConfig reload it; reload takes a config object or { text }`);
    const doc = s.kind === 'text' ? textSourceDocument(s, 'reload') : s.value;
    const cfg = parseConfig(doc);
    return this.#swap(cfg, { reason: 'reload' });
  }

  /**
   * Edits the published policy in one transaction: `edit` records operations on a
   * PolicyTransaction (addRule, removeRule, replaceRule, moveRule, addGroup,
   * removeGroup, bindGroup, unbindGroup, setGroupOrder, addInstance, removeInstance,
   * setInstanceAddresses, add/replace/removeAddressSet, add/replace/removeServiceSet),
   * or is the list of edits as data. They are validated together and published
   * together (one version, one 'change' event listing them), or refused together:
   * CONFIG_INVALID with every issue, each with a path such as
   * ["update", 2, "rule", "port"], and nothing changes. With `expectedVersion`, the
   * update is refused (VERSION_CONFLICT) unless that version is still published;
   * an update whose function awaits while another write publishes is refused too.
   * Resolves to the new version (the current one when there was nothing to do).
   */
  async update(edit: PolicyUpdate, options: ReloadOptions = {}): Promise<number> {
    this.#expect(checkReloadOptions(options, 'update').expectedVersion, 'update');
    const { base, config, changes } = await this.#transaction(edit, 'update');
    if (changes.length === 0) return base.version;
    return this.#swap(config, { reason: 'update', changes });
  }

  /**
   * What update(edit) would publish, without publishing it: the edits are recorded
   * and validated exactly as update() does (the same errors: CONFIG_INVALID with every
   * issue, INVALID_ARGUMENT, VERSION_CONFLICT), and the result is compared with the
   * published policy by diffPolicies: every flow whose verdict would change, per
   * instance and direction, with witnesses. Nothing is compiled or published. To
   * publish exactly what was previewed, pass `expectedVersion: preview.baseVersion`
   * to update() (or reload(preview.config) with it): a policy that moved meanwhile is
   * refused rather than changed by edits judged against another version.
   * `options`: diffPolicies' analysis limits (ANALYSIS_TOO_LARGE past them).
   */
  async previewUpdate(edit: PolicyUpdate, options: DiffOptions = {}): Promise<UpdatePreview> {
    const { base, config, changes } = await this.#transaction(edit, 'previewUpdate');
    return { baseVersion: base.version, config, changes, diff: diffPolicies(base.config, config, options) };
  }

  /** Records `edit` on a transaction against the published policy and commits it (nothing is published). */
  async #transaction(edit: PolicyUpdate, what: string): Promise<{ base: Policy } & CommittedEdits> {
    const base = this.#policy;
    const tx = new PolicyTransaction(base.config);
    try {
      if (typeof edit === 'function') {
        const r = edit(tx) as unknown;
        if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<void>).then === 'function') await r;
      } else if (PolicyTransaction.isEditList(edit)) {
        tx.applyList(edit);
      } else {
        throw new SgfilterError('INVALID_ARGUMENT', `${what} takes a function (tx => { tx.addRule(...) ... }) or a list of edits {op, ...}`);
      }
    } catch (e) {
      tx.abandon();
      throw e;
    }
    if (this.#policy !== base) {
      tx.abandon();
      throw new SgfilterError('VERSION_CONFLICT', `the policy moved to version ${this.#policy.version} while this ${what} was being built against version ${base.version}; build it again against the current version`);
    }
    return { base, ...tx.commit() };
  }

  #expect(expected: number | undefined, what: string): void {
    const version = this.#policy.version;
    if (expected !== undefined && expected !== version) {
      throw new SgfilterError('VERSION_CONFLICT', `${what} expected the policy at version ${expected} (expectedVersion), but it is at version ${version}: another change was published first. Read engine.version, check the change still applies, and call ${what} again with expectedVersion: ${version}`);
    }
  }

  /** Compiles and publishes `config` as the next version, frees the old table, tells listeners. */
  #swap(config: Config, change: Pick<PolicyChange, 'reason' | 'changes'>, precompiled?: CompiledPolicy): number {
    const old = this.#policy;
    const next = this.#publish(config, old.version + 1, precompiled);
    // All or nothing. Everything that can fail happens before the switch: compiling and
    // copying the table (#publish: MEMORY_LIMIT, TABLE_TOO_LARGE), and each tracker's
    // prepare, which allocates all it needs and computes every value it will write
    // (MEMORY_LIMIT; on failure every prepared region is freed and the old policy stays).
    // commit() then only writes those values at addresses the arena gave out, all below
    // MAX_MEMORY_BYTES (< 2^31, indexed with `>>> 2`), so it cannot throw (issue 9: a
    // signed `>> 2` past 2 GiB made it throw after the switch: version moved, no event).
    const pending: { commit(): void; abort(): void }[] = [];
    try {
      for (const t of this.#trackers) pending.push(t.prepare(next));
    } catch (e) {
      for (const p of pending) p.abort();
      this.#arena.release(next.address, next.compiled.bytes.length);
      throw e;
    }
    this.#policy = next;
    for (const p of pending) p.commit();
    this.#arena.release(old.address, old.compiled.bytes.length);
    this.#emit({ version: this.#policy.version, previousVersion: old.version, ...change });
    return this.#policy.version;
  }

  /**
   * A stateful packet filter for one instance of this engine (docs/SEMANTICS.md, "State" and "Packets"): a fixed
   * table of connections in the engine's memory, classifyPackets(batch) per batch of
   * captured packets. See src/packets/tracker.ts for the options (capacity, timeouts,
   * recheckOnPublish, instance, local). Throws INVALID_ARGUMENT on a bad option,
   * UNKNOWN_INSTANCE on an unknown instance.
   */
  createTracker(options: TrackerOptions = {}): Tracker {
    return new Tracker(
      {
        exports: this.#x as unknown as PacketExports,
        arena: this.#arena,
        policy: () => this.#policy,
        attach: (binding) => {
          this.#trackers.add(binding);
          return () => this.#trackers.delete(binding);
        },
      },
      options,
    );
  }

  /** Calls `listener` after each published change; returns a function that unsubscribes. */
  on(event: 'change', listener: (change: PolicyChange) => void): () => void {
    if (event !== 'change') throw new SgfilterError('INVALID_ARGUMENT', `unknown event ${describeValue(event)}; engines emit "change"`);
    if (typeof listener !== 'function') throw new SgfilterError('INVALID_ARGUMENT', `a 'change' listener is a function, got ${describeValue(listener)}`);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: PolicyChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (e) {
        // The change is published; a failing listener must not look like a failed reload.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  /**
   * Classifies one flow (a FlowInput, docs/SEMANTICS.md "Flows", or a ParsedFlow). Throws FLOW_INVALID (with
   * every issue) or UNKNOWN_INSTANCE. The flow is read straight into a row the engine
   * keeps: no batch is built per call.
   */
  classify(flow: FlowInput | ParsedFlow): Verdict {
    const c = this.#single;
    const name = loadSingleFlow(c, flow) ?? this.#policy.compiled.defaultInstance;
    const policy = this.#policy;
    if (policy !== this.#onePolicy || name !== this.#oneName) this.#instanceForOne(policy, name);
    // One flow: the header and the row are written word by word (no typed-array copy,
    // no view), in the BATCH layout with one slot (slot 0, the flow's instance).
    this.#views();
    const u32 = this.#u32;
    const w = this.#window;
    const cap = this.#cap;
    const meta = w + L.BATCH_HEADER_SIZE;
    const remote = meta + cap * 4;
    const local = remote + cap * 16;
    const proto = local + cap * 16;
    const port = proto + cap * 4;
    const sport = port + cap * 4;
    const icmp = sport + cap * 4;
    const slotMap = Math.ceil((icmp + cap * 8) / 8) * 8;
    const rulesOut = this.#answers;
    const h = w >>> 2;
    u32[h + (L.BATCH_COUNT_AT >>> 2)] = 1;
    u32[h + (L.BATCH_META_AT >>> 2)] = meta;
    u32[h + (L.BATCH_REMOTE_AT >>> 2)] = remote;
    u32[h + (L.BATCH_LOCAL_AT >>> 2)] = local;
    u32[h + (L.BATCH_PROTO_AT >>> 2)] = proto;
    u32[h + (L.BATCH_PORT_AT >>> 2)] = port;
    u32[h + (L.BATCH_SPORT_AT >>> 2)] = sport;
    u32[h + (L.BATCH_ICMP_AT >>> 2)] = icmp;
    u32[h + (L.BATCH_SLOTMAP_AT >>> 2)] = slotMap;
    u32[h + (L.BATCH_OUT_ACTIONS_AT >>> 2)] = rulesOut + this.#answersCap * 4;
    u32[h + (L.BATCH_OUT_RULES_AT >>> 2)] = rulesOut;
    u32[h + (L.BATCH_ORDER_AT >>> 2)] = 0;
    u32[h + (L.BATCH_FIRST_AT >>> 2)] = 0;
    u32[slotMap >>> 2] = this.#oneIn;
    u32[(slotMap >>> 2) + 1] = this.#oneOut;
    u32[meta >>> 2] = c.meta[0]!;
    const r = c.remote;
    const l = c.local;
    u32[remote >>> 2] = r[0]!;
    u32[(remote >>> 2) + 1] = r[1]!;
    u32[(remote >>> 2) + 2] = r[2]!;
    u32[(remote >>> 2) + 3] = r[3]!;
    u32[local >>> 2] = l[0]!;
    u32[(local >>> 2) + 1] = l[1]!;
    u32[(local >>> 2) + 2] = l[2]!;
    u32[(local >>> 2) + 3] = l[3]!;
    u32[proto >>> 2] = c.proto[0]!;
    u32[port >>> 2] = c.port[0]!;
    u32[sport >>> 2] = c.sport[0]!;
    u32[icmp >>> 2] = c.icmp[0]!;
    this.#x.classifyBatch(policy.address, w);
    return verdictIn(this.#oneVerdicts, policy.compiled.rules, this.#i32[rulesOut >>> 2]!);
  }

  /** classify(flow)'s instance lookup (see #onePolicy); UNKNOWN_INSTANCE when the policy has no such instance. */
  #instanceForOne(policy: Policy, name: string | null): void {
    const { instances } = policy.compiled;
    const pair = name === null ? undefined : instances.get(name);
    if (!pair) throw new SgfilterError('UNKNOWN_INSTANCE', `unknown instance ${name === null ? 'null' : quote(name)}; the policy has: ${quotedList(keysOf(instances))}`);
    if (this.#answersCap === 0) {
      // Allocated first: a refused allocation (MEMORY_LIMIT) leaves no capacity recorded.
      this.#answers = this.#arena.alloc(this.#cap * ANSWER_BYTES);
      this.#answersCap = this.#cap;
    }
    this.#onePolicy = policy;
    this.#oneName = name;
    this.#oneIn = pair[0];
    this.#oneOut = pair[1];
    this.#oneVerdicts = verdictsOf(policy.compiled.rules);
  }

  /**
   * Classifies every flow of `batch`: returns 1 (accept) / 0 (drop) per flow in `out`
   * (a Uint8Array of at least batch.length; allocated when not given), and records
   * each flow's deciding rule on the batch (batch.verdict(i), batch.ruleId(i)).
   * Throws INVALID_ARGUMENT when `batch` is not a FlowBatch or `out` not a
   * Uint8Array, BATCH_MISMATCH when `out` is too short, UNKNOWN_INSTANCE, and
   * MEMORY_LIMIT when the flow window or the batch's answers do not fit under
   * maxMemoryBytes (the message says which, and what to change; nothing changes).
   */
  classifyBatch(batch: FlowBatch, out?: Uint8Array): Uint8Array {
    const st = batchState(batch);
    const n = st.n;
    if (out !== undefined && typedArrayTag.call(out) !== 'Uint8Array') {
      throw new SgfilterError('INVALID_ARGUMENT', `classifyBatch's out is a Uint8Array (one byte per flow), got ${describeValue(out)}`);
    }
    const result = out ?? new Uint8Array(n);
    const room = typedArrayLength.call(result) as number;
    if (room < n) throw new SgfilterError('BATCH_MISMATCH', `output has ${room} slots for ${n} flows`);
    const policy = this.#run(st);
    const actions = this.#answers + this.#answersCap * 4;
    typedArraySet.call(result, this.#u8.subarray(actions, actions + n));
    st.ruleIds.set(this.#i32.subarray(this.#answers >>> 2, (this.#answers >>> 2) + n));
    st.version = policy.version;
    st.rules = policy.compiled.rules;
    return result;
  }

  /**
   * Runs the flows of `st` through WASM with the published policy; the answers
   * (rule ids, then actions, caller's order) are left at #answers. Returns the policy.
   */
  #run(st: BatchState): Policy {
    const n = st.n;
    const c = st.cols;
    const policy = this.#policy;
    const { instances, defaultInstance } = policy.compiled;
    const slots = st.instances.length;
    this.#fit(n);
    let slotMap = this.#window + L.BATCH_HEADER_SIZE + this.#cap * WINDOW_U32_PER_FLOW * 4;
    slotMap = Math.ceil(slotMap / 8) * 8;
    let ownMap = 0;
    if (slots > SLOT_MAP_SLOTS) slotMap = ownMap = this.#arena.alloc(slots * 8);
    try {
      if (n > this.#answersCap) {
        // The new area first, then the old one freed: a refused allocation (MEMORY_LIMIT)
        // leaves the engine's answer area as it was, so later calls still work.
        const cap = Math.max(n, this.#cap);
        // The answers of the whole batch live in WASM memory.
        const next = this.#allocFor(cap * ANSWER_BYTES, `a batch of ${n} flows (its answers, ${ANSWER_BYTES} bytes per flow)`, 'classify it as several smaller batches');
        if (this.#answersCap) this.#arena.release(this.#answers, this.#answersCap * ANSWER_BYTES);
        this.#answers = next;
        this.#answersCap = cap;
      }
      this.#views();
      const u32 = this.#u32;
      for (let s = 0; s < slots; s++) {
        const name = st.instances[s] ?? defaultInstance;
        const pair = name === null ? undefined : instances.get(name);
        if (!pair) {
          throw new SgfilterError('UNKNOWN_INSTANCE', `unknown instance ${name === null ? 'null' : quote(name)}; the policy has: ${quotedList(keysOf(instances))}`);
        }
        u32[(slotMap >>> 2) + 2 * s] = pair[0];
        u32[(slotMap >>> 2) + 2 * s + 1] = pair[1];
      }
      const cap = this.#cap;
      const w = this.#window;
      const meta = w + L.BATCH_HEADER_SIZE;
      const remote = meta + cap * 4;
      const local = remote + cap * 16;
      const proto = local + cap * 16;
      const port = proto + cap * 4;
      const sport = port + cap * 4;
      const icmp = sport + cap * 4;
      const order = icmp + cap * 4;
      const rulesOut = this.#answers;
      const actions = rulesOut + this.#answersCap * 4;
      const h = w >>> 2;
      u32[h + (L.BATCH_META_AT >>> 2)] = meta;
      u32[h + (L.BATCH_REMOTE_AT >>> 2)] = remote;
      u32[h + (L.BATCH_LOCAL_AT >>> 2)] = local;
      u32[h + (L.BATCH_PROTO_AT >>> 2)] = proto;
      u32[h + (L.BATCH_PORT_AT >>> 2)] = port;
      u32[h + (L.BATCH_SPORT_AT >>> 2)] = sport;
      u32[h + (L.BATCH_ICMP_AT >>> 2)] = icmp;
      u32[h + (L.BATCH_SLOTMAP_AT >>> 2)] = slotMap;
      u32[h + (L.BATCH_OUT_ACTIONS_AT >>> 2)] = actions;
      u32[h + (L.BATCH_OUT_RULES_AT >>> 2)] = rulesOut;
      // Flows grouped by (instance, direction) carry their caller's index; WASM puts
      // each answer there, so the answers come back in the caller's order.
      u32[h + (L.BATCH_ORDER_AT >>> 2)] = st.order ? order : 0;
      for (let start = 0; start < n; start += cap) {
        const count = Math.min(cap, n - start);
        const end = start + count;
        u32[h + (L.BATCH_COUNT_AT >>> 2)] = count;
        u32[h + (L.BATCH_FIRST_AT >>> 2)] = start;
        // A batch that fits the window is copied without views (nothing allocated per call).
        const whole = start === 0 && end === n && c.meta.length === n;
        u32.set(whole ? c.meta : c.meta.subarray(start, end), meta >>> 2);
        u32.set(whole ? c.remote : c.remote.subarray(4 * start, 4 * end), remote >>> 2);
        u32.set(whole ? c.local : c.local.subarray(4 * start, 4 * end), local >>> 2);
        u32.set(whole ? c.proto : c.proto.subarray(start, end), proto >>> 2);
        u32.set(whole ? c.port : c.port.subarray(start, end), port >>> 2);
        u32.set(whole ? c.sport : c.sport.subarray(start, end), sport >>> 2);
        u32.set(whole ? c.icmp : c.icmp.subarray(start, end), icmp >>> 2);
        if (st.order) u32.set(whole ? st.order : st.order.subarray(start, end), order >>> 2);
        this.#x.classifyBatch(policy.address, w);
      }
    } finally {
      if (ownMap) this.#arena.release(ownMap, slots * 8);
    }
    return policy;
  }
}

export { FlowBatch };
