/**
 * How a signed policy is laid out in shared storage (a Workers KV namespace, an R2
 * bucket, files behind a URL), for the publisher (`sgfilter publish`, publishPolicy)
 * and the readers (createPolicySource) alike. No `node:` imports: workers read it.
 *
 *   <prefix>current     the version key: a small JSON text naming the version in use
 *                       {"format":1,"version":7,"sha256":"9f86d0…","bytes":48213,
 *                        "publishedAt":"2026-11-30T12:00:00.000Z"}
 *   <prefix><version>   that version's snapshot: signed (HMAC-SHA-256), its header's
 *                       version field equal to <version>; written once, never changed
 *
 * Default prefix "policy:" (keys `policy:current`, `policy:7`).
 *
 * Why two keys: a KV value is replaced whole, but a reader in another location may
 * see a new version key before the snapshot it names has reached that location, or
 * an old one after. The publisher writes the snapshot under a new key first and only
 * then points the version key at it, so nothing a reader can see is half written:
 * the version key either names an older complete snapshot or the new complete one.
 * The version key is small (one cheap read per check); the snapshot is read only
 * when the version changes.
 *
 * Why the digest and the version inside the snapshot: the version key is not signed
 * (anyone who can write the namespace can write it), but it can only point at
 * snapshots the key signed. Its SHA-256 and byte count tie it to exactly one blob
 * (a snapshot key overwritten by a racing publisher, or not yet replicated, is seen
 * as "not this version yet", not loaded under the wrong name); the version number
 * inside the signed snapshot ties the blob to its version, so a signed old snapshot
 * copied under a new version key is refused, and a reader that never goes backwards
 * cannot be rolled back to an older signed policy by rewriting the version key.
 */
import { SgfilterError } from '../errors.js';
import { describeValue } from '../describe.js';
import { SNAPSHOT_VERSION_AT } from '../snapshot.js';
import { parseJsonText } from '../config/text.js';

/** Version of the version key's JSON format (its "format" field). */
export const POLICY_POINTER_FORMAT = 1;
/** The prefix keys get when none is given: `policy:current`, `policy:<version>`. */
export const DEFAULT_POLICY_PREFIX = 'policy:';
/** Highest policy version: the snapshot header holds it in a u32. */
export const MAX_POLICY_VERSION = 0xffff_ffff;
/** Longest version key text read (a real one is about 150 bytes). */
export const MAX_POINTER_TEXT = 4096;
/** Default largest snapshot a reader accepts: 25 MiB, the largest value Workers KV stores. */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 25 * 1024 * 1024;

const PREFIX = /^[A-Za-z0-9._:/-]{0,64}$/;

/** What the version key says. */
export interface PolicyPointer {
  /** The policy version in use, 1 to 2^32-1; its snapshot is at `<prefix><version>`. */
  version: number;
  /** SHA-256 of that snapshot's bytes, lowercase hex. */
  sha256: string;
  /** Its length in bytes. */
  bytes: number;
  /** When it was published (ISO 8601), for people reading the key; not checked. */
  publishedAt?: string;
}

/** The two key names of a layout. */
export interface PolicyKeys {
  /** The version key, e.g. `policy:current`. */
  current: string;
  /** The key of version `v`'s snapshot, e.g. `policy:7`. */
  snapshot(version: number): string;
}

/**
 * The key names under `prefix` (default "policy:"). A prefix is 0-64 characters of
 * letters, digits and `. _ : / -` (safe as a KV key, an R2 object name and in a URL
 * path); anything else is INVALID_ARGUMENT.
 */
export function policyKeys(prefix: string = DEFAULT_POLICY_PREFIX): PolicyKeys {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new SgfilterError('INVALID_ARGUMENT', `a policy key prefix is 0-64 letters, digits and . _ : / -, got ${describeValue(prefix)}`);
  }
  return {
    current: `${prefix}current`,
    snapshot: (version: number) => `${prefix}${checkVersion(version, 'a policy version')}`,
  };
}

function checkVersion(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_POLICY_VERSION) {
    throw new SgfilterError('INVALID_ARGUMENT', `${what} is a whole number 1-${MAX_POLICY_VERSION}, got ${describeValue(v)}`);
  }
  return v;
}

const pointerError = (where: string, message: string) => new SgfilterError('POLICY_INVALID', `version key ${where}: ${message}`);
const FIELDS = new Set(['format', 'version', 'sha256', 'bytes', 'publishedAt']);

/**
 * Reads a version key's text strictly: a JSON object with exactly `format` (1),
 * `version`, `sha256`, `bytes` and optionally `publishedAt`. Anything else (not
 * JSON, other fields, a version outside 1-2^32-1, a digest that is not 64 lowercase
 * hex digits, a size outside 32 bytes-`maxBytes`) is POLICY_INVALID naming the field.
 * `where` names the key in messages.
 */
export function parsePolicyPointer(text: string, where = DEFAULT_POLICY_PREFIX + 'current', maxBytes = Number.MAX_SAFE_INTEGER): PolicyPointer {
  if (typeof text !== 'string') throw pointerError(where, `expected text, got ${describeValue(text)}`);
  if (text.length > MAX_POINTER_TEXT) throw pointerError(where, `${text.length} characters is not a version key (at most ${MAX_POINTER_TEXT})`);
  let doc: unknown;
  try {
    // The config reader's JSON: a key given twice is refused (JSON.parse keeps the last).
    doc = parseJsonText(text, where);
  } catch (e) {
    const issue = e instanceof SgfilterError ? e.issues[0] : undefined;
    if (issue?.code === 'DUPLICATE_KEY') throw pointerError(where, issue.message);
    throw pointerError(where, `not JSON (${describeValue(text)}); it is written by sgfilter publish: {"format":${POLICY_POINTER_FORMAT},"version":N,"sha256":"…","bytes":N}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw pointerError(where, `expected a JSON object, got ${describeValue(doc)}`);
  const o = doc as Record<string, unknown>;
  // JSON.parse makes "__proto__" an own key, so it is caught here as an unknown field.
  const unknown = Object.keys(o).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) throw pointerError(where, `unknown field ${describeValue(unknown)}; allowed: ${[...FIELDS].join(', ')}`);
  const field = (name: string) => (Object.hasOwn(o, name) ? o[name] : undefined);
  const format = field('format');
  if (format !== POLICY_POINTER_FORMAT) {
    throw pointerError(where, `format is ${describeValue(format)}; this library reads format ${POLICY_POINTER_FORMAT} (a newer publisher? update the workers first)`);
  }
  const version = field('version');
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > MAX_POLICY_VERSION) {
    throw pointerError(where, `version is ${describeValue(version)}; allowed: a whole number 1-${MAX_POLICY_VERSION}`);
  }
  const sha256 = field('sha256');
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw pointerError(where, `sha256 is ${describeValue(sha256)}; allowed: 64 lowercase hex digits`);
  const bytes = field('bytes');
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 32 || bytes > maxBytes) {
    throw pointerError(where, `bytes is ${describeValue(bytes)}; allowed: a whole number 32-${maxBytes} (the snapshot's length)`);
  }
  const publishedAt = field('publishedAt');
  if (publishedAt !== undefined && (typeof publishedAt !== 'string' || publishedAt.length > 64)) {
    throw pointerError(where, `publishedAt is ${describeValue(publishedAt)}; allowed: an ISO 8601 time of at most 64 characters`);
  }
  return publishedAt === undefined ? { version, sha256, bytes } : { version, sha256, bytes, publishedAt };
}

/** The version key's text for `pointer` (what parsePolicyPointer reads). */
export function encodePolicyPointer(pointer: PolicyPointer): string {
  checkVersion(pointer.version, 'version');
  return JSON.stringify({ format: POLICY_POINTER_FORMAT, version: pointer.version, sha256: pointer.sha256, bytes: pointer.bytes, ...(pointer.publishedAt === undefined ? {} : { publishedAt: pointer.publishedAt }) });
}

/** SHA-256 of `bytes` as lowercase hex, through WebCrypto (Node 20, workerd). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = (globalThis as { crypto?: { subtle?: { digest(alg: string, data: Uint8Array): Promise<ArrayBuffer> } } }).crypto?.subtle;
  if (!subtle) throw new SgfilterError('SNAPSHOT_KEY', 'WebCrypto (globalThis.crypto.subtle) is not available in this runtime; policy distribution needs it');
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** The policy version a snapshot's header claims (its signature not yet checked), or null if too short. */
export function snapshotHeaderVersion(bytes: Uint8Array): number | null {
  if (bytes.length < SNAPSHOT_VERSION_AT + 4) return null;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(SNAPSHOT_VERSION_AT, true);
}
