/**
 * Compiled-policy snapshots: a compiled table plus what TypeScript needs to read its
 * answers (rule ids, instances) and the validated config, in one versioned binary.
 * An engine loads a snapshot without compiling (edge workers, worker threads, a
 * policy compiled once and shipped). No `node:` imports: Node and edge share it.
 *
 *  SNAPSHOT (little-endian)
 *  +0  magic    u32  "SGFS"
 *  +4  format   u32  SNAPSHOT_FORMAT
 *  +8  abi      u32  TABLE_ABI of the table inside (must equal the matcher's)
 *  +12 version  u32  policy version it was taken at
 *  +16 checksum u32  FNV-1a of every byte from +32 to the end
 *  +20 table    u32  table bytes
 *  +24 meta     u32  meta bytes (UTF-8 JSON: rules, instances, default instance,
 *                    stats, config; bigints as {"$n": "<hex>"})
 *  +28 (zero)
 *  +32 table bytes, then meta
 */
import { SgfilterError } from './errors.js';
import type { Config } from './types.js';
import { TABLE_ABI, TABLE_BYTES_AT, TABLE_MAGIC, TABLE_MAGIC_AT } from '../assembly/layout.js';
import type { CompiledPolicy } from './compile/index.js';

export const SNAPSHOT_MAGIC = 0x53464753; // "SGFS"
export const SNAPSHOT_FORMAT = 1;
const HEADER = 32;

function fnv1a(bytes: Uint8Array, from: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

const bad = (message: string) => new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: ${message}`);

/** Encodes a compiled policy and its config as a snapshot. */
export function encodeSnapshot(compiled: CompiledPolicy, config: Config, version: number): Uint8Array {
  const meta = new TextEncoder().encode(
    JSON.stringify(
      {
        rules: compiled.rules,
        instances: [...compiled.instances],
        defaultInstance: compiled.defaultInstance,
        stats: compiled.stats,
        config,
      },
      (_k, v: unknown) => (typeof v === 'bigint' ? { $n: v.toString(16) } : v),
    ),
  );
  const out = new Uint8Array(HEADER + compiled.bytes.length + meta.length);
  const view = new DataView(out.buffer);
  out.set(compiled.bytes, HEADER);
  out.set(meta, HEADER + compiled.bytes.length);
  view.setUint32(0, SNAPSHOT_MAGIC, true);
  view.setUint32(4, SNAPSHOT_FORMAT, true);
  view.setUint32(8, TABLE_ABI, true);
  view.setUint32(12, version, true);
  view.setUint32(20, compiled.bytes.length, true);
  view.setUint32(24, meta.length, true);
  view.setUint32(16, fnv1a(out, HEADER), true);
  return out;
}

export interface DecodedSnapshot {
  compiled: CompiledPolicy;
  config: Config;
  /** Policy version the snapshot was taken at. */
  version: number;
}

/** Decodes and checks a snapshot; anything off is SNAPSHOT_INVALID, nothing half-loaded. */
export function decodeSnapshot(input: Uint8Array | ArrayBuffer): DecodedSnapshot {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < HEADER) throw bad(`${bytes.length} bytes is shorter than the ${HEADER}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== SNAPSHOT_MAGIC) throw bad('not an sgfilter snapshot (bad magic)');
  const format = view.getUint32(4, true);
  if (format !== SNAPSHOT_FORMAT) throw bad(`format ${format}, this library reads format ${SNAPSHOT_FORMAT}`);
  const abi = view.getUint32(8, true);
  if (abi !== TABLE_ABI) throw bad(`compiled for table ABI ${abi}, this matcher reads ABI ${TABLE_ABI}; compile the policy again with this version`);
  const tableBytes = view.getUint32(20, true);
  const metaBytes = view.getUint32(24, true);
  if (HEADER + tableBytes + metaBytes !== bytes.length) {
    throw bad(`header announces ${HEADER + tableBytes + metaBytes} bytes, got ${bytes.length} (truncated or padded)`);
  }
  if (fnv1a(bytes, HEADER) !== view.getUint32(16, true)) throw bad('checksum mismatch (corrupted)');
  // A copy with its own buffer (Buffer.slice would share the whole file's buffer).
  const table = new Uint8Array(bytes.subarray(HEADER, HEADER + tableBytes));
  const tview = new DataView(table.buffer);
  if (tableBytes < 24 || tview.getUint32(TABLE_MAGIC_AT, true) !== TABLE_MAGIC || tview.getUint32(TABLE_BYTES_AT, true) !== tableBytes) {
    throw bad('the table inside is malformed');
  }
  let meta: {
    rules: CompiledPolicy['rules'];
    instances: [string, [number, number]][];
    defaultInstance: string | null;
    stats: CompiledPolicy['stats'];
    config: Config;
  };
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes.subarray(HEADER + tableBytes)), (_k, v: unknown) =>
      v !== null && typeof v === 'object' && '$n' in v && Object.keys(v).length === 1 ? BigInt(`0x${(v as { $n: string }).$n}`) : v,
    );
  } catch (e) {
    throw bad(`metadata is not readable: ${(e as Error).message}`);
  }
  return {
    compiled: { bytes: table, rules: meta.rules, instances: new Map(meta.instances), defaultInstance: meta.defaultInstance, stats: meta.stats },
    config: meta.config,
    version: view.getUint32(12, true),
  };
}
