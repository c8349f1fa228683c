/**
 * Snapshot keys and HMAC-SHA-256 through WebCrypto (`globalThis.crypto.subtle`: Node 20,
 * workerd, browsers). No `node:` imports: Node and edge share this file.
 *
 * A key is raw bytes (any ArrayBuffer view, an ArrayBuffer or a SharedArrayBuffer; at
 * least SNAPSHOT_KEY_MIN_BYTES, copied when a call takes them and never written) or a
 * WebCrypto CryptoKey for HMAC with SHA-256 of at least as many bits, with the usage the
 * call needs ('sign' to sign, 'verify' to load). Raw bytes are imported as a
 * non-extractable CryptoKey, so an engine that keeps a key keeps no copy of the bytes.
 */
import { SgfilterError } from '../errors.js';

/** Shortest key accepted: 32 bytes, the HMAC-SHA-256 output length (RFC 2104 §3). */
export const SNAPSHOT_KEY_MIN_BYTES = 32;
/** Longest key text or key file parseSnapshotKey reads (a bigger file is not a key). */
export const SNAPSHOT_KEY_MAX_TEXT = 4096;
/** Bytes of an HMAC-SHA-256 signature. */
export const SIGNATURE_BYTES = 32;

/**
 * The part of WebCrypto's CryptoKey that sgfilter reads. (TypeScript declares CryptoKey
 * in lib.dom only; any real CryptoKey fits this shape.)
 */
export interface SnapshotCryptoKey {
  /** 'secret' for an HMAC key. */
  readonly type: string;
  /** The key's algorithm: HMAC, with hash SHA-256. */
  readonly algorithm: {
    /** 'HMAC'. */
    readonly name: string;
  };
  /** 'sign' to sign snapshots, 'verify' to load them. */
  readonly usages: readonly string[];
  /** Whether the key's bytes can be exported (not needed). */
  readonly extractable: boolean;
}

/**
 * A snapshot key: raw bytes (a Uint8Array, Buffer or any other ArrayBuffer view, an
 * ArrayBuffer or a SharedArrayBuffer; copied when a call takes it, never written), an
 * HMAC SHA-256 CryptoKey, or key text (hex or base64, as `openssl rand -hex 32` writes
 * it and parseSnapshotKey reads it). Every API that takes a key takes all of them
 * (createEngine, loadSnapshot, snapshot, signSnapshot, verifySnapshot, publishPolicy,
 * createPolicySource).
 */
export type SnapshotKey = Uint8Array | ArrayBufferView | ArrayBuffer | SharedArrayBuffer | SnapshotCryptoKey | string;

interface HmacAlgorithm {
  name: string;
  hash?: { name?: string };
  length?: number;
}

interface Subtle {
  importKey(format: 'raw', key: Uint8Array, algorithm: { name: 'HMAC'; hash: 'SHA-256' }, extractable: boolean, usages: string[]): Promise<SnapshotCryptoKey>;
  sign(algorithm: 'HMAC', key: SnapshotCryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
  verify(algorithm: 'HMAC', key: SnapshotCryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
}

const keyError = (message: string) => new SgfilterError('SNAPSHOT_KEY', `snapshot key: ${message}`);

function subtle(): Subtle {
  const s = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (!s) throw keyError('WebCrypto (globalThis.crypto.subtle) is not available in this runtime; keyed snapshots need it');
  return s;
}

function isCryptoKey(key: object): key is SnapshotCryptoKey {
  const ctor = (globalThis as { CryptoKey?: abstract new () => unknown }).CryptoKey;
  if (typeof ctor === 'function') return key instanceof ctor;
  return 'algorithm' in key && 'usages' in key && 'type' in key;
}

// The intrinsic byteLength getters: calling one on anything but its own kind of buffer
// throws, so they tell an ArrayBuffer or SharedArrayBuffer from a look-alike (and work
// across realms, where instanceof does not).
const arrayBufferLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;
const sharedBufferLength =
  typeof SharedArrayBuffer === 'function' ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength')?.get : undefined;
const isBufferOf = (getter: (() => number) | undefined, x: unknown): boolean => {
  if (getter === undefined) return false;
  try {
    getter.call(x);
    return true;
  } catch {
    return false;
  }
};

/**
 * A fresh copy of raw key bytes: an ArrayBuffer, a SharedArrayBuffer or any view of
 * one (Uint8Array, Buffer, DataView, another typed array: its bytes as they lie in
 * memory); null when `key` is not raw bytes. The copy is the library's own: nothing
 * the caller writes later reaches it, and what the library does with it (zeroing it
 * once WebCrypto has imported it) never reaches the caller's memory. A detached buffer
 * copies as no bytes (then too short).
 */
export function copyKeyBytes(key: unknown): Uint8Array | null {
  try {
    if (ArrayBuffer.isView(key)) return new Uint8Array(key.buffer, key.byteOffset, key.byteLength).slice();
    if (isBufferOf(arrayBufferLength, key) || isBufferOf(sharedBufferLength, key)) return new Uint8Array(key as ArrayBuffer).slice();
  } catch {
    return new Uint8Array(0); // detached while we read it
  }
  return null;
}

/**
 * The WebCrypto key for `usage` from `key` (raw bytes are copied when the call is
 * made, before anything awaits, and the copy imported, non-extractable; the caller's
 * bytes are only read). Throws SNAPSHOT_KEY when the key cannot serve: too short,
 * another algorithm or hash, missing the usage, not bytes or a CryptoKey, or no
 * WebCrypto.
 */
export async function importSnapshotKey(key: unknown, usage: 'sign' | 'verify'): Promise<SnapshotCryptoKey> {
  if (typeof key === 'string') {
    if (key === '') throw keyError(`got an empty string (is the key's secret or file set? leave the key field out for no key)`);
    key = parseSnapshotKey(key);
  }
  const raw = copyKeyBytes(key);
  if (raw !== null) {
    if (raw.length < SNAPSHOT_KEY_MIN_BYTES) {
      throw keyError(`${raw.length} bytes is too short; use at least ${SNAPSHOT_KEY_MIN_BYTES} random bytes (e.g. openssl rand -hex 32)`);
    }
    try {
      return await subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    } catch (e) {
      if (e instanceof SgfilterError) throw e;
      throw keyError(`WebCrypto refused the key: ${(e as Error).message}`);
    } finally {
      raw.fill(0); // the library's own copy (copyKeyBytes), never the caller's bytes
    }
  }
  if (typeof key === 'object' && key !== null && isCryptoKey(key)) {
    const alg = key.algorithm as HmacAlgorithm;
    if (alg?.name !== 'HMAC' || alg.hash?.name !== 'SHA-256') {
      throw keyError(`a CryptoKey for ${alg?.name ?? '?'}${alg?.hash?.name ? ` with ${alg.hash.name}` : ''}; snapshots are signed with HMAC and SHA-256`);
    }
    if (typeof alg.length === 'number' && alg.length < SNAPSHOT_KEY_MIN_BYTES * 8) {
      throw keyError(`a ${alg.length}-bit HMAC key is too short; use at least ${SNAPSHOT_KEY_MIN_BYTES * 8} bits`);
    }
    if (!Array.isArray(key.usages) || !key.usages.includes(usage)) {
      throw keyError(`the CryptoKey's usages (${Array.isArray(key.usages) ? key.usages.join(', ') || 'none' : '?'}) do not include "${usage}"`);
    }
    return key;
  }
  const what =
    key === undefined || key === null ? `${key} (is the key's secret or file set? leave the key field out for no key)`
    : typeof key;
  throw keyError(`got ${what}; a key is bytes (a Uint8Array or other view, an ArrayBuffer or SharedArrayBuffer) of at least ${SNAPSHOT_KEY_MIN_BYTES} bytes, key text (hex or base64), or an HMAC SHA-256 CryptoKey`);
}

/** HMAC-SHA-256 of `data`. */
export async function hmacSign(key: SnapshotCryptoKey, data: Uint8Array): Promise<Uint8Array> {
  try {
    return new Uint8Array(await subtle().sign('HMAC', key, data));
  } catch (e) {
    if (e instanceof SgfilterError) throw e;
    throw keyError(`WebCrypto could not sign with this key: ${(e as Error).message}`);
  }
}

/** Whether `signature` is the HMAC-SHA-256 of `data` (WebCrypto compares in constant time). */
export async function hmacVerify(key: SnapshotCryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  try {
    return await subtle().verify('HMAC', key, signature, data);
  } catch (e) {
    if (e instanceof SgfilterError) throw e;
    throw keyError(`WebCrypto could not verify with this key: ${(e as Error).message}`);
  }
}

const KEY_ID_LABEL = new TextEncoder().encode('sgfilter snapshot key identity');

/**
 * Whether two imported keys are the same key (same secret bytes): the same CryptoKey,
 * or one's HMAC of a fixed label verifies with the other. Needs the 'sign' usage on
 * one side (raw bytes are imported with both); two verify-only CryptoKeys that are
 * different objects cannot be compared and count as different (strict: the caller
 * passes the same key object, or raw bytes).
 */
export async function sameSnapshotKey(a: SnapshotCryptoKey, b: SnapshotCryptoKey): Promise<boolean> {
  if (a === b) return true;
  const canSign = (k: SnapshotCryptoKey) => Array.isArray(k.usages) && k.usages.includes('sign');
  const canVerify = (k: SnapshotCryptoKey) => Array.isArray(k.usages) && k.usages.includes('verify');
  const [signer, verifier] = canSign(a) && canVerify(b) ? [a, b] : canSign(b) && canVerify(a) ? [b, a] : [null, null];
  if (signer === null || verifier === null) return false;
  return hmacVerify(verifier, await hmacSign(signer, KEY_ID_LABEL), KEY_ID_LABEL);
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/\-_]+={0,2}$/;
const isText = (bytes: Uint8Array) => bytes.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f));

/**
 * Reads a key as people store one (a file, an environment secret):
 *   - text: hex (only hex digits, an even count; `openssl rand -hex 32`) or base64
 *     (standard or URL-safe, padded or not; `openssl rand -base64 32`), whitespace
 *     ignored (also line breaks inside: `openssl rand -base64 64` wraps);
 *   - bytes (a key file's contents): the same text rules when every byte is printable
 *     ASCII or whitespace, otherwise the bytes themselves are the key (`openssl rand 32`).
 * Throws SNAPSHOT_KEY when the text is neither hex nor base64, the input is longer than
 * SNAPSHOT_KEY_MAX_TEXT, or the key is shorter than SNAPSHOT_KEY_MIN_BYTES.
 */
export function parseSnapshotKey(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw keyError(`parseSnapshotKey takes key text or a key file's bytes, got ${input === null ? 'null' : typeof input}`);
  }
  if (input.length > SNAPSHOT_KEY_MAX_TEXT) {
    throw keyError(`${input.length} ${typeof input === 'string' ? 'characters' : 'bytes'} is not a key (at most ${SNAPSHOT_KEY_MAX_TEXT}); is this the right file?`);
  }
  // Bytes are read once, into the library's own copy: what the caller writes later
  // (or meanwhile, into shared memory) is not half of what was read.
  const given: string | Uint8Array = typeof input === 'string' ? input : copyKeyBytes(input)!;
  let key: Uint8Array;
  if (typeof given === 'string' || isText(given)) {
    // Whitespace anywhere is ignored: base64 tools wrap long output into lines.
    const text = (typeof given === 'string' ? given : new TextDecoder().decode(given)).replace(/\s+/g, '');
    if (HEX.test(text)) {
      key = new Uint8Array(text.length / 2);
      for (let i = 0; i < key.length; i++) key[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    } else if (BASE64.test(text) && text.replace(/=+$/, '').length % 4 !== 1) {
      const std = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
      const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
      key = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    } else {
      throw keyError(`key text must be hex (e.g. openssl rand -hex 32) or base64 (openssl rand -base64 32); got ${text.length} characters that are neither`);
    }
  } else {
    key = given; // already the library's own copy
  }
  if (key.length < SNAPSHOT_KEY_MIN_BYTES) {
    throw keyError(`the key is ${key.length} bytes; use at least ${SNAPSHOT_KEY_MIN_BYTES} random bytes (e.g. openssl rand -hex 32)`);
  }
  return key;
}
