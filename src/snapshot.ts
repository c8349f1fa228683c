/**
 * Compiled-policy snapshots: a compiled table plus what TypeScript needs to read its
 * answers (instances' chains, stats) and the validated config, in one versioned
 * binary, optionally signed. An engine loads a snapshot without compiling (edge
 * workers, worker threads, a policy compiled once and shipped). No `node:` imports:
 * Node and edge share it.
 *
 *  SNAPSHOT (little-endian)
 *  +0  magic     u32  "SGFS"
 *  +4  format    u32  SNAPSHOT_FORMAT
 *  +8  abi       u32  TABLE_ABI of the table inside (must equal the matcher's)
 *  +12 version   u32  policy version it was taken at
 *  +16 checksum  u32  FNV-1a of every byte but the checksum and the signature
 *  +20 table     u32  table bytes
 *  +24 meta      u32  meta bytes (UTF-8 JSON, see ./snapshot/meta.ts)
 *  +28 flags     u32  bit 0 SIGNED: a signature follows the meta; other bits zero
 *  +32 table bytes (assembly/layout.ts, TABLE), then meta bytes
 *  [+32+table+meta  signature  32 bytes, when SIGNED: HMAC-SHA-256 of every byte before it]
 *
 *  Format 2. Format 1 had no flags or signature, a checksum of the bytes after the
 *  header only, and stored rule ids that now follow from the config; it is refused
 *  with "compile the policy again".
 *
 * Snapshots come from storage someone else may write, so loading trusts no byte to be
 * in bounds (what is checked, in order, is below); only a signature proves the bytes
 * are what the policy compiled to. Without one, a table whose match fields (peers,
 * ports) were changed consistently, checksum recomputed, still loads: no check short
 * of compiling the config again sees it, and loading does not compile.
 *  1. with a key, the signature is verified before anything is read but the magic,
 *     format and flags that say where it is (an unsigned snapshot is
 *     SNAPSHOT_UNSIGNED, a bad signature SNAPSHOT_SIGNATURE);
 *  2. the header, sizes and checksum are checked (SNAPSHOT_INVALID from here on);
 *  3. the table's structure (./snapshot/table.ts): every offset, count and index inside
 *     its array, every trie walk ending, so WASM reads only the table and ends;
 *  4. the metadata's shape (./snapshot/meta.ts): exactly the fields of a Config;
 *  5. table and metadata against each other (./snapshot/consistency.ts).
 * The input is copied first: a caller changing its bytes while a signature is being
 * verified changes nothing.
 *
 * Without a key, a signed snapshot loads like an unsigned one (signature not checked,
 * everything else is): a key is the loader's demand, and a loader that demands none
 * trusts where its bytes came from (e.g. pool threads fed by a verifying main thread).
 */
import { SgfilterError } from './errors.js';
import type { Config } from './types.js';
import { TABLE_ABI } from '../assembly/layout.js';
import type { CompiledPolicy } from './compile/index.js';
import { validateTable } from './snapshot/table.js';
import { decodeMeta, encodeMeta, ruleRefs } from './snapshot/meta.js';
import { checkConsistency } from './snapshot/consistency.js';
import { hmacSign, hmacVerify, importSnapshotKey, sameSnapshotKey, SIGNATURE_BYTES, type SnapshotCryptoKey, type SnapshotKey } from './snapshot/key.js';

export { parseSnapshotKey, SNAPSHOT_KEY_MIN_BYTES, type SnapshotKey, type SnapshotCryptoKey } from './snapshot/key.js';

export const SNAPSHOT_MAGIC = 0x53464753; // "SGFS"
/** The snapshot format this build writes and reads (a snapshot of another format is SNAPSHOT_INVALID). */
export const SNAPSHOT_FORMAT = 2;
const HEADER = 32;
const MAGIC_AT = 0;
const FORMAT_AT = 4;
const ABI_AT = 8;
const VERSION_AT = 12;
const CHECKSUM_AT = 16;
const TABLE_AT = 20;
const META_AT = 24;
const FLAGS_AT = 28;
export const SNAPSHOT_SIGNED = 1;
/** Where the header keeps the policy version (policy distribution checks it against the version key). @internal */
export const SNAPSHOT_VERSION_AT = VERSION_AT;

const bad = (message: string) => new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: ${message}`);

function fnv1a(bytes: Uint8Array, from: number, to: number, h: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h;
}

/** The checksum of a snapshot: every byte but the checksum field and the signature. */
export function snapshotChecksum(bytes: Uint8Array): number {
  const flags = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(FLAGS_AT, true);
  const end = bytes.length - (flags & SNAPSHOT_SIGNED ? SIGNATURE_BYTES : 0);
  return fnv1a(bytes, CHECKSUM_AT + 4, end, fnv1a(bytes, 0, CHECKSUM_AT, 0x811c9dc5)) >>> 0;
}

/**
 * Encodes a compiled policy and its config as an unsigned snapshot (what
 * engine.snapshot() returns): the table, then the config's metadata. `version` is
 * the policy version recorded in it (a whole number ≥ 1).
 */
export function encodeSnapshot(compiled: CompiledPolicy, config: Config, version: number): Uint8Array {
  const meta = encodeMeta(compiled, config);
  const out = new Uint8Array(HEADER + compiled.bytes.length + meta.length);
  const view = new DataView(out.buffer);
  out.set(compiled.bytes, HEADER);
  out.set(meta, HEADER + compiled.bytes.length);
  view.setUint32(MAGIC_AT, SNAPSHOT_MAGIC, true);
  view.setUint32(FORMAT_AT, SNAPSHOT_FORMAT, true);
  view.setUint32(ABI_AT, TABLE_ABI, true);
  view.setUint32(VERSION_AT, version, true);
  view.setUint32(TABLE_AT, compiled.bytes.length, true);
  view.setUint32(META_AT, meta.length, true);
  view.setUint32(CHECKSUM_AT, snapshotChecksum(out), true);
  return out;
}

/** A snapshot read back (decodeSnapshot, verifySnapshot): checked in full. */
export interface DecodedSnapshot {
  /** The compiled policy. */
  compiled: CompiledPolicy;
  /** The validated config it was compiled from. */
  config: Config;
  /** Policy version the snapshot was taken at. */
  version: number;
  /** Whether the snapshot carries a signature. */
  signed: boolean;
  /** Whether that signature was verified with a key (verifySnapshot, or a load with a key). */
  verified: boolean;
}

/** A private copy of the caller's bytes (nothing the caller does later can change it). */
function ownCopy(input: unknown): Uint8Array {
  // new Uint8Array(view) copies; a Node Buffer's own slice() would not.
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) return new Uint8Array(input instanceof ArrayBuffer ? input.slice(0) : input);
  throw new SgfilterError('INVALID_ARGUMENT', `a snapshot is a Uint8Array or an ArrayBuffer, got ${input === null ? 'null' : typeof input}`);
}

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at, true);
}

/**
 * Whether refused snapshot bytes are config text: UTF-8 without control characters
 * (tabs and line ends aside) whose first character opens a JSON or YAML document.
 * Only asked on the way to an error.
 */
function looksLikeConfigText(bytes: Uint8Array): boolean {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, 4096));
  } catch {
    // A multi-byte character cut at 4096 is still text; anything else is not.
    if (bytes.length <= 4096) return false;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, 4093));
    } catch {
      return false;
    }
  }
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return false;
  return /^\uFEFF?\s*(?:[{[#-]|%YAML|---|[A-Za-z_$"'][^\n]*:)/.test(text);
}

/** Magic and format: what must hold before anything else of the snapshot can be located. */
function checkFraming(bytes: Uint8Array): void {
  if ((bytes.length < HEADER || u32(bytes, MAGIC_AT) !== SNAPSHOT_MAGIC) && looksLikeConfigText(bytes)) {
    throw bad('these bytes are config text (JSON or YAML), not a snapshot: load a config with createEngine({ text, format }) (or a config object), or compile it first (engine.snapshot(), sgfilter compile)');
  }
  if (bytes.length < HEADER) throw bad(`${bytes.length} bytes is shorter than the ${HEADER}-byte header`);
  if (u32(bytes, MAGIC_AT) !== SNAPSHOT_MAGIC) throw bad('not an sgfilter snapshot (bad magic)');
  const format = u32(bytes, FORMAT_AT);
  if (format !== SNAPSHOT_FORMAT) throw bad(`format ${format}, this library reads format ${SNAPSHOT_FORMAT}; compile the policy again with this version`);
}

/** Checks and decodes `bytes` (a private copy), signature aside. */
function decodeOwned(bytes: Uint8Array, verified: boolean): DecodedSnapshot {
  checkFraming(bytes);
  const abi = u32(bytes, ABI_AT);
  if (abi !== TABLE_ABI) throw bad(`compiled for table ABI ${abi}, this matcher reads ABI ${TABLE_ABI}; compile the policy again with this version`);
  const flags = u32(bytes, FLAGS_AT);
  if ((flags & ~SNAPSHOT_SIGNED) !== 0) throw bad(`unknown flags ${flags.toString(16)}`);
  const signed = (flags & SNAPSHOT_SIGNED) !== 0;
  const tableBytes = u32(bytes, TABLE_AT);
  const metaBytes = u32(bytes, META_AT);
  const announced = HEADER + tableBytes + metaBytes + (signed ? SIGNATURE_BYTES : 0);
  if (announced !== bytes.length) throw bad(`header announces ${announced} bytes, got ${bytes.length} (truncated or padded)`);
  if (snapshotChecksum(bytes) !== u32(bytes, CHECKSUM_AT)) throw bad('checksum mismatch (corrupted)');
  // The table in its own buffer at offset 0, as the table check and the engine's copy want it.
  const table = bytes.slice(HEADER, HEADER + tableBytes);
  const shape = validateTable(table);
  const meta = decodeMeta(bytes.subarray(HEADER + tableBytes, HEADER + tableBytes + metaBytes));
  const rules = ruleRefs(meta.config);
  checkConsistency(shape, meta, rules, tableBytes);
  return {
    compiled: {
      bytes: table,
      rules,
      instances: new Map(meta.instances.map(([id, inbound, outbound]) => [id, [inbound, outbound]])),
      defaultInstance: meta.config.instances[0]?.id ?? null,
      stats: meta.stats,
    },
    config: meta.config,
    version: u32(bytes, VERSION_AT),
    signed,
    verified,
  };
}

/**
 * Decodes and checks a snapshot without a key: anything off is SNAPSHOT_INVALID, and
 * nothing is half-loaded. A signed snapshot decodes too, its signature unchecked
 * (`verified: false`); use verifySnapshot to demand a signature.
 */
export function decodeSnapshot(input: Uint8Array | ArrayBuffer): DecodedSnapshot {
  return decodeOwned(ownCopy(input), false);
}

/**
 * Verifies a signed snapshot with `key`, then decodes and checks it like decodeSnapshot.
 * Rejects with SNAPSHOT_KEY (unusable key), SNAPSHOT_UNSIGNED (no signature),
 * SNAPSHOT_SIGNATURE (changed since it was signed, or signed with another key) or
 * SNAPSHOT_INVALID. The signature is checked before anything else is read, on a copy
 * taken when the call is made.
 */
export async function verifySnapshot(input: Uint8Array | ArrayBuffer, key: SnapshotKey): Promise<DecodedSnapshot> {
  return (await openSigned(input, key)).decoded;
}

/**
 * verifySnapshot, also giving the imported key (what an engine keeps). The input is
 * copied before the first await: bytes the caller changes later are not what loads.
 * @internal
 */
export async function openSigned(input: Uint8Array | ArrayBuffer, key: SnapshotKey, required: SnapshotCryptoKey | null = null): Promise<{ decoded: DecodedSnapshot; key: SnapshotCryptoKey }> {
  const bytes = ownCopy(input);
  const k = await importSnapshotKey(key, 'verify');
  // An engine created with a key keeps demanding that key: a call's own key must be
  // the same one, or the call could lift the demand by naming any key it likes.
  if (required !== null && !(await sameSnapshotKey(k, required))) {
    throw new SgfilterError('SNAPSHOT_KEY', 'snapshot key: this engine was created with a key, and loadSnapshot\'s key is another one; an engine loads only snapshots signed with its own key (pass that key, or leave the key out)');
  }
  checkFraming(bytes);
  if (!(u32(bytes, FLAGS_AT) & SNAPSHOT_SIGNED)) {
    throw new SgfilterError('SNAPSHOT_UNSIGNED', 'the snapshot is not signed, and this load has a key: sign it (engine.snapshot({ key }), signSnapshot, sgfilter compile --key-file)');
  }
  if (bytes.length < HEADER + SIGNATURE_BYTES) throw bad(`${bytes.length} bytes cannot hold a header and a signature`);
  const end = bytes.length - SIGNATURE_BYTES;
  if (!(await hmacVerify(k, bytes.subarray(end), bytes.subarray(0, end)))) {
    throw new SgfilterError('SNAPSHOT_SIGNATURE', 'the snapshot\'s signature does not verify with this key: it was changed after signing, or signed with another key');
  }
  return { decoded: decodeOwned(bytes, true), key: k };
}

/** Signs an unsigned snapshot this library just encoded (no re-check). @internal */
export async function signEncoded(unsigned: Uint8Array, key: SnapshotCryptoKey): Promise<Uint8Array> {
  const out = new Uint8Array(unsigned.length + SIGNATURE_BYTES);
  out.set(unsigned);
  const view = new DataView(out.buffer);
  view.setUint32(FLAGS_AT, u32(out, FLAGS_AT) | SNAPSHOT_SIGNED, true);
  view.setUint32(CHECKSUM_AT, snapshotChecksum(out), true);
  out.set(await hmacSign(key, out.subarray(0, unsigned.length)), unsigned.length);
  return out;
}

/**
 * A signed copy of an unsigned snapshot (HMAC-SHA-256 with `key`). The snapshot is
 * checked first, as a load would (SNAPSHOT_INVALID): nothing unloadable gets signed.
 * An already signed snapshot is refused (INVALID_ARGUMENT): re-signing bytes from
 * storage would vouch for whatever was written there; sign what you encoded.
 */
export async function signSnapshot(input: Uint8Array | ArrayBuffer, key: SnapshotKey): Promise<Uint8Array> {
  const bytes = ownCopy(input);
  const k = await importSnapshotKey(key, 'sign');
  const decoded = decodeOwned(bytes, false);
  if (decoded.signed) throw new SgfilterError('INVALID_ARGUMENT', 'the snapshot is already signed; sign the unsigned snapshot (engine.snapshot() or encodeSnapshot)');
  return signEncoded(bytes, k);
}
