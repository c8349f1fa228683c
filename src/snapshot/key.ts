/**
 * Snapshot keys and HMAC-SHA-256 through WebCrypto (`globalThis.crypto.subtle`: Node 20,
 * workerd, browsers). No `node:` imports: Node and edge share this file.
 *
 * A key is raw bytes (Uint8Array or ArrayBuffer, at least SNAPSHOT_KEY_MIN_BYTES) or a
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
 * A snapshot key: raw bytes, an HMAC SHA-256 CryptoKey, or key text (hex or base64,
 * as `openssl rand -hex 32` writes it and parseSnapshotKey reads it). Every API that
 * takes a key takes all three (createEngine, loadSnapshot, snapshot, signSnapshot,
 * verifySnapshot, publishPolicy, createPolicySource).
 */
export type SnapshotKey = Uint8Array | ArrayBuffer | SnapshotCryptoKey | string;

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

/**
 * The WebCrypto key for `usage` from `key` (raw bytes are imported, non-extractable).
 * Throws SNAPSHOT_KEY when the key cannot serve: too short, another algorithm or
 * hash, missing the usage, not bytes or a CryptoKey, or no WebCrypto.
 */
export async function importSnapshotKey(key: unknown, usage: 'sign' | 'verify'): Promise<SnapshotCryptoKey> {
  if (typeof key === 'string') {
    if (key === '') throw keyError(`got an empty string (is the key's secret or file set? leave the key field out for no key)`);
    key = parseSnapshotKey(key);
  }
  if (key instanceof Uint8Array || key instanceof ArrayBuffer) {
    const raw = new Uint8Array(key); // a copy: later writes to the caller's bytes change nothing
    if (raw.length < SNAPSHOT_KEY_MIN_BYTES) {
      throw keyError(`${raw.length} bytes is too short; use at least ${SNAPSHOT_KEY_MIN_BYTES} random bytes (e.g. openssl rand -hex 32)`);
    }
    try {
      return await subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    } catch (e) {
      if (e instanceof SgfilterError) throw e;
      throw keyError(`WebCrypto refused the key: ${(e as Error).message}`);
    } finally {
      raw.fill(0);
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
  throw keyError(`got ${what}; a key is a Uint8Array or ArrayBuffer of at least ${SNAPSHOT_KEY_MIN_BYTES} bytes, key text (hex or base64), or an HMAC SHA-256 CryptoKey`);
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
  let key: Uint8Array;
  if (typeof input === 'string' || isText(input)) {
    // Whitespace anywhere is ignored: base64 tools wrap long output into lines.
    const text = (typeof input === 'string' ? input : new TextDecoder().decode(input)).replace(/\s+/g, '');
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
    key = new Uint8Array(input); // a copy (Buffer.slice would share)
  }
  if (key.length < SNAPSHOT_KEY_MIN_BYTES) {
    throw keyError(`the key is ${key.length} bytes; use at least ${SNAPSHOT_KEY_MIN_BYTES} random bytes (e.g. openssl rand -hex 32)`);
  }
  return key;
}
