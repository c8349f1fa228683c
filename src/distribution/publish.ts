/**
 * Publishing a policy into shared storage in the layout of ./layout.ts: the signed
 * snapshot under a new version's key first, the version key last. No `node:`
 * imports: the writer decides where the bytes go (the Cloudflare REST API and a local
 * Miniflare/wrangler KV in the CLI, src/cli/kv-writers.ts; a KV binding's put in a
 * worker).
 *
 * Order, and what a reader can see at each step:
 *  1. read the version key: the version in use, N (none: 0);
 *  2. find the first free snapshot key from N+1 (a key left by an interrupted publish
 *     is skipped, never overwritten) → version V;
 *  3. write the snapshot of V (signed; its header says V): readers still see N;
 *  4. read the version key again: if it moved, another publish got in first →
 *     PUBLISH_CONFLICT, nothing made current;
 *  5. write the version key naming V, its SHA-256 and length: readers switch to V
 *     as the new value reaches their location.
 * KV has no compare-and-swap, so two publishes at the same instant can still race
 * past step 4; then one snapshot key holds the other's bytes, readers see a SHA-256
 * that is not what the version key says, refuse it and keep their policy, and the
 * next publish repairs it. Run one publish at a time (one CI job, one operator).
 */
import { SgfilterError } from '../errors.js';
import { refuseUnknownOptions } from '../options.js';
import { describeValue } from '../describe.js';
import type { Config } from '../types.js';
import { isConfig, parseConfig } from '../config/parse.js';
import { compilePolicy, type CompileOptions } from '../compile/index.js';
import { encodeSnapshot, signEncoded, verifySnapshot } from '../snapshot.js';
import { importSnapshotKey, parseSnapshotKey, type SnapshotKey } from '../snapshot/key.js';
import { encodePolicyPointer, MAX_POINTER_TEXT, MAX_POLICY_VERSION, parsePolicyPointer, policyKeys, sha256Hex } from './layout.js';

/**
 * Where a publish writes: a KV namespace (REST API, binding, local), or anything with
 * get and put. Over a Workers KV binding:
 * `{ name: 'POLICY_KV', get: async (k) => { const v = await env.POLICY_KV.get(k, 'arrayBuffer'); return v && new Uint8Array(v); }, put: (k, v) => env.POLICY_KV.put(k, v) }`.
 */
export interface PolicyWriter {
  /** For messages: "KV namespace 0f2a… (Cloudflare API)". */
  readonly name: string;
  /**
   * The bytes at `key`, or null when there is none. (Also taken, as a binding's
   * `get(key)` gives them: an ArrayBuffer, or text read as UTF-8; undefined is none.
   * Anything else is INVALID_ARGUMENT saying what was expected.)
   */
  get(key: string): Promise<Uint8Array | null>;
  /** Stores `value` at `key`, replacing what is there. */
  put(key: string, value: Uint8Array): Promise<void>;
}

/** Options of publishPolicy: the layout's prefix, the time stamp, and the compile options (maxTableBytes, mergeMaxOrders). */
export interface PublishOptions extends CompileOptions {
  /** Key prefix of the layout, default "policy:". */
  prefix?: string;
  /** The version key's publishedAt (default: now). */
  publishedAt?: Date;
  /** How many taken snapshot keys past the current version to skip before giving up, default 16. */
  maxSkips?: number;
}

/** What publishPolicy (and `sgfilter publish`) did. */
export interface PublishResult {
  /** The version published. */
  version: number;
  /** The version that was current before, null when the store had none. */
  previousVersion: number | null;
  /** SHA-256 of the snapshot, lowercase hex. */
  sha256: string;
  /** Length of the snapshot in bytes. */
  bytes: number;
  /** The key the snapshot was written to (`policy:<version>`), first. */
  snapshotKey: string;
  /** The version key (`policy:current`), written last: readers see the new version from then on. */
  versionKey: string;
  /** The version key's publishedAt: ISO 8601 UTC (`Date.toISOString`). */
  publishedAt: string;
  /** Snapshot keys skipped because an interrupted publish had left them. */
  skipped: string[];
}

const PUBLISH_OPTIONS = ['prefix', 'publishedAt', 'maxSkips', 'maxTableBytes', 'mergeMaxOrders'] as const satisfies readonly (keyof PublishOptions)[];

const conflict = (message: string) => new SgfilterError('PUBLISH_CONFLICT', message);

/**
 * Compiles `config`, signs its snapshot with `key` (at version N+1, N the version in
 * `writer`'s store) and publishes it (order above). Rejects with CONFIG_INVALID,
 * SNAPSHOT_KEY, POLICY_INVALID (the store's version key is malformed: fix or delete
 * it), PUBLISH_CONFLICT, or whatever the writer throws (PUBLISH_FAILED).
 */
export async function publishPolicy(writer: PolicyWriter, config: Config | object, key: SnapshotKey | string, options: PublishOptions = {}): Promise<PublishResult> {
  if (typeof writer !== 'object' || writer === null || typeof writer.get !== 'function' || typeof writer.put !== 'function') {
    throw new SgfilterError('INVALID_ARGUMENT', `publishPolicy writes through an object with get(key) and put(key, bytes), got ${describeValue(writer)}`);
  }
  if (typeof options !== 'object' || options === null) throw new SgfilterError('INVALID_ARGUMENT', `publishPolicy's options are an object, got ${describeValue(options)}`);
  refuseUnknownOptions('publishPolicy', options, PUBLISH_OPTIONS);
  const own = <K extends keyof PublishOptions>(name: K): PublishOptions[K] | undefined => (Object.hasOwn(options, name) ? options[name] : undefined);
  const prefix = own('prefix');
  const publishedAt = own('publishedAt');
  const maxSkips = own('maxSkips') ?? 16;
  const compileOptions: CompileOptions = {};
  for (const name of ['maxTableBytes', 'mergeMaxOrders', 'partitionMinBytes'] as const) if (own(name) !== undefined) compileOptions[name] = own(name);
  if (!Number.isInteger(maxSkips) || maxSkips < 0 || maxSkips > 1000) throw new SgfilterError('INVALID_ARGUMENT', `maxSkips is a whole number 0-1000, got ${describeValue(maxSkips)}`);
  if (publishedAt !== undefined && !(publishedAt instanceof Date && Number.isFinite(publishedAt.getTime()))) {
    throw new SgfilterError('INVALID_ARGUMENT', `publishedAt is a valid Date, got ${describeValue(publishedAt)}`);
  }
  const keys = policyKeys(prefix);
  const signKey = await importSnapshotKey(typeof key === 'string' ? parseSnapshotKey(key) : key, 'sign');
  const cfg = isConfig(config) ? config : parseConfig(config);
  const compiled = compilePolicy(cfg, compileOptions);

  const before = await stored(writer, keys.current);
  const previous = before === null ? null : parsePolicyPointer(new TextDecoder().decode(before.subarray(0, MAX_POINTER_TEXT * 4)), `"${keys.current}" in the ${writer.name}`);
  const skipped: string[] = [];
  let version = (previous?.version ?? 0) + 1;
  for (;; version++) {
    if (version > MAX_POLICY_VERSION) throw new SgfilterError('PUBLISH_FAILED', `no policy version left after ${MAX_POLICY_VERSION} (start a new prefix)`);
    if ((await stored(writer, keys.snapshot(version))) === null) break;
    skipped.push(keys.snapshot(version));
    if (skipped.length > maxSkips) {
      throw conflict(`snapshot keys ${skipped[0]} to ${skipped.at(-1)} are all taken though "${keys.current}" names ${previous?.version ?? 'nothing'}: another publish is running, or they were left by failed ones (delete them)`);
    }
  }

  const snapshot = await signEncoded(encodeSnapshot(compiled, cfg, version), signKey);
  await verifySnapshot(snapshot, signKey); // nothing a worker would refuse is published
  const sha256 = await sha256Hex(snapshot);
  const snapshotKey = keys.snapshot(version);
  await writer.put(snapshotKey, snapshot);

  const now = await stored(writer, keys.current);
  if (!sameBytes(before, now)) {
    throw conflict(`"${keys.current}" changed while version ${version} was being written (another publish?); ${snapshotKey} was written but not made current: publish again`);
  }
  const at = (publishedAt ?? new Date()).toISOString();
  await writer.put(keys.current, new TextEncoder().encode(encodePolicyPointer({ version, sha256, bytes: snapshot.length, publishedAt: at })));
  return { version, previousVersion: previous?.version ?? null, sha256, bytes: snapshot.length, snapshotKey, versionKey: keys.current, publishedAt: at, skipped };
}

/**
 * What `writer.get(key)` holds, as bytes (null: nothing). Text (a KV binding's
 * default) is UTF-8, an ArrayBuffer or any byte view is its bytes; anything else is
 * refused with what was expected, before it is used.
 */
async function stored(writer: PolicyWriter, key: string): Promise<Uint8Array | null> {
  const v: unknown = await writer.get(key);
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return new TextEncoder().encode(v);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new SgfilterError(
    'INVALID_ARGUMENT',
    `publishPolicy: the writer's get(${JSON.stringify(key)}) resolved to ${describeValue(v)}; it must resolve to the stored bytes ` +
      `(a Uint8Array or ArrayBuffer, or text) or null when the key is absent. For a Workers KV binding: get: (k) => kv.get(k, 'arrayBuffer')`,
  );
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
