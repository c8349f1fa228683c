/**
 * Writing captures: classic pcap (one link type per file, µs or ns timestamps) and
 * pcapng (one section; an interface description block per input interface, so
 * packets of several link types can share a file).
 *
 * An encoder turns batches into bytes and keeps no output buffer: each call returns
 * a new Uint8Array the caller owns (to hand to a stream that writes it later),
 * sized exactly, the file header in front of the first one. Nothing is written for
 * a batch that cannot be written whole: every check (link type, timestamp range)
 * runs before any byte of it is encoded.
 *
 * Choices, where formats and tools leave room:
 *   - A classic pcap file holds one link type: the `linkType` option, or else that
 *     of the first packet written. A packet of another link type is refused
 *     (CAPTURE_LINK_TYPE_MISMATCH), as editcap and tshark refuse to write one to
 *     pcap; write pcapng (a `.pcapng` file name, see src/node/capture-file.ts) to keep them.
 *   - Precision 'micro' (the default, what tcpdump -w writes) truncates
 *     nanoseconds to microseconds, as libpcap does; 'nano' keeps them.
 *   - Packets longer than `snaplen` (default 262,144, libpcap's) are cut to it,
 *     their original length kept, as tcpdump -s does.
 *   - Timestamps outside what the format holds (pcap: 0 to 2^32-1 s; pcapng:
 *     0 to 2^64 units) are CAPTURE_UNSUPPORTED rather than silently wrapped.
 */
import { SgfilterError } from '../errors.js';
import { refuseUnknownOptions } from '../options.js';
import { CaptureBatch, type CapturedPacket } from './batch.js';
import { CaptureError } from './errors.js';
import type { CaptureInterface } from './format.js';
import { linkTypeName } from './link-types.js';
import { PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS } from './pcap.js';
import { BLOCK_EPB, BLOCK_IDB, BLOCK_SHB, BYTE_ORDER_MAGIC, IF_NAME, IF_TSRESOL, SHB_USERAPPL } from './pcapng.js';
import { joined, joinUnits } from './timestamp.js';
import type { CaptureFormat } from './reader.js';

/** createCaptureEncoder's options (and createCaptureFileWriter's). */
export interface CaptureWriterOptions {
  /** 'pcap' (default) or 'pcapng'. */
  format?: CaptureFormat;
  /** Timestamps written: 'micro' (default) or 'nano'. */
  precision?: 'micro' | 'nano';
  /** Byte order of every field; default 'little'. */
  byteOrder?: 'little' | 'big';
  /** pcap: the file's link type (LINKTYPE_*); default: the first packet's. Ignored for pcapng. */
  linkType?: number;
  /** Most bytes kept of a packet; default 262,144. */
  snaplen?: number;
  /** pcapng: the reader's interfaces, to copy their names into the interface description blocks. */
  interfaces?: readonly CaptureInterface[];
}

const WRITER_OPTIONS = ['format', 'precision', 'byteOrder', 'linkType', 'snaplen', 'interfaces'] as const satisfies readonly (keyof CaptureWriterOptions)[];

/** Turns CaptureBatches into the bytes of a pcap or pcapng file, with no I/O (createCaptureEncoder). */
export interface CaptureEncoder {
  /** The output format. */
  readonly format: CaptureFormat;
  /** Packets encoded so far. */
  readonly packetsWritten: number;
  /** Bytes encoded so far, file header included. */
  readonly bytesWritten: number;
  /**
   * The bytes of the packets of `batch` whose `keep` flag is non-zero (every packet
   * when `keep` is omitted), preceded by the file header the first time. `keep`
   * needs at least `batch.count` entries. Returns a new array (possibly empty), or,
   * when `into` is given and large enough, a view of its first bytes: a caller that
   * writes files can reuse one buffer (every byte of the view is written).
   */
  encode(batch: CaptureBatch, keep?: Uint8Array, into?: Uint8Array): Uint8Array;
  /** Same for packets held as objects (tests, tools). */
  encodePackets(packets: readonly CapturedPacket[]): Uint8Array;
  /** The file header if nothing has been encoded yet (an empty capture is still a valid file), else nothing. */
  finish(): Uint8Array;
}

const EMPTY = new Uint8Array(0);
const DEFAULT_SNAPLEN = 262_144;
const PCAP_MAX_SECONDS = 0xffffffff;

function checkKeep(batch: CaptureBatch, keep: Uint8Array | undefined): void {
  if (keep !== undefined && !(keep instanceof Uint8Array && keep.length >= batch.count)) {
    throw new SgfilterError('INVALID_ARGUMENT', `keep must be a Uint8Array of at least batch.count (${batch.count}) flags`);
  }
}

/** Copies src[from, from+n) to dst at `to`: a loop for short packets, set() for long ones (set on a subarray allocates a view). */
function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number): void {
  if (n < 48) {
    for (let k = 0; k < n; k++) dst[to + k] = src[from + k]!;
  } else {
    dst.set(src.subarray(from, from + n), to);
  }
}

/** `size` bytes to encode into: a view of `into` when it is large enough, else a new array. */
function outputOf(size: number, into: Uint8Array | undefined): Uint8Array {
  return into !== undefined && into.length >= size ? into.subarray(0, size) : new Uint8Array(size);
}

function batchOf(packets: readonly CapturedPacket[]): CaptureBatch {
  const batch = new CaptureBatch(Math.max(packets.length, 1));
  let size = 0;
  for (const p of packets) size += p.data.length;
  const data = new Uint8Array(size);
  let at = 0;
  packets.forEach((p, i) => {
    data.set(p.data, at);
    batch.offsets[i] = at;
    batch.capturedLengths[i] = p.data.length;
    batch.originalLengths[i] = p.originalLength;
    batch.timestampSeconds[i] = p.timestampSeconds;
    batch.timestampNanoseconds[i] = p.timestampNanoseconds;
    batch.timestamps[i] = p.timestampSeconds + p.timestampNanoseconds / 1e9;
    batch.linkTypes[i] = p.linkType;
    batch.interfaceIds[i] = p.interfaceId;
    at += p.data.length;
  });
  batch.data = data;
  batch.count = packets.length;
  return batch;
}

function validSnaplen(snaplen: number | undefined): number {
  if (snaplen === undefined) return DEFAULT_SNAPLEN;
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0x7fffffff) throw new SgfilterError('INVALID_ARGUMENT', `snaplen must be a whole number of bytes from 1 to 2147483647, got ${String(snaplen)}`);
  return snaplen;
}

function validLinkType(linkType: number | undefined): number | undefined {
  if (linkType !== undefined && !(Number.isInteger(linkType) && linkType >= 0 && linkType <= 0xffff)) {
    throw new SgfilterError('INVALID_ARGUMENT', `linkType must be a LINKTYPE_* number from 0 to 65535, got ${String(linkType)}`);
  }
  return linkType;
}

function badTimestamp(batch: CaptureBatch, i: number, format: string, range: string): never {
  const n = batch.firstPacketIndex + i + 1;
  throw new CaptureError('CAPTURE_UNSUPPORTED', `packet ${n}: timestamp ${batch.timestampSeconds[i]} s cannot be written to ${format} (${range})`, batch.recordOffsets[i]!, batch.recordOffsets[i]!);
}

abstract class Encoder implements CaptureEncoder {
  abstract readonly format: CaptureFormat;
  packetsWritten = 0;
  bytesWritten = 0;
  protected headerWritten = false;
  protected readonly le: boolean;
  protected readonly nano: boolean;
  protected readonly snaplen: number;

  constructor(options: CaptureWriterOptions) {
    if (options.precision !== undefined && options.precision !== 'micro' && options.precision !== 'nano') {
      throw new SgfilterError('INVALID_ARGUMENT', `precision must be 'micro' or 'nano', got ${String(options.precision)}`);
    }
    if (options.byteOrder !== undefined && options.byteOrder !== 'little' && options.byteOrder !== 'big') {
      throw new SgfilterError('INVALID_ARGUMENT', `byteOrder must be 'little' or 'big', got ${String(options.byteOrder)}`);
    }
    this.le = options.byteOrder !== 'big';
    this.nano = options.precision === 'nano';
    this.snaplen = validSnaplen(options.snaplen);
  }

  abstract encode(batch: CaptureBatch, keep?: Uint8Array, into?: Uint8Array): Uint8Array;
  protected abstract header(): Uint8Array;

  encodePackets(packets: readonly CapturedPacket[]): Uint8Array {
    return this.encode(batchOf(packets));
  }

  finish(): Uint8Array {
    if (this.headerWritten) return EMPTY;
    this.headerWritten = true;
    const h = this.header();
    this.bytesWritten += h.length;
    return h;
  }
}

class PcapEncoder extends Encoder {
  readonly format = 'pcap';
  private linkType: number | undefined;

  constructor(options: CaptureWriterOptions) {
    super(options);
    this.linkType = validLinkType(options.linkType);
  }

  protected header(): Uint8Array {
    const h = new Uint8Array(24);
    const v = new DataView(h.buffer);
    v.setUint32(0, this.nano ? PCAP_MAGIC_NANOS : PCAP_MAGIC_MICROS, this.le);
    v.setUint16(4, 2, this.le);
    v.setUint16(6, 4, this.le);
    v.setUint32(16, this.snaplen, this.le);
    v.setUint32(20, this.linkType ?? 1, this.le);
    return h;
  }

  encode(batch: CaptureBatch, keep?: Uint8Array, into?: Uint8Array): Uint8Array {
    checkKeep(batch, keep);
    const { count, capturedLengths, linkTypes, timestampSeconds } = batch;
    const snaplen = this.snaplen;
    let linkType = this.linkType;
    let size = 0;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      if (keep !== undefined && keep[i] === 0) continue;
      const lt = linkTypes[i]!;
      if (linkType === undefined) linkType = lt;
      else if (lt !== linkType) {
        throw new CaptureError('CAPTURE_LINK_TYPE_MISMATCH',
          `packet ${batch.firstPacketIndex + i + 1} has link type ${linkTypeName(lt)} but this pcap output holds ${linkTypeName(linkType)} only; a classic pcap file has one link type: write pcapng to keep both`,
          batch.recordOffsets[i]!, batch.recordOffsets[i]!);
      }
      const s = timestampSeconds[i]!;
      if (!(s >= 0 && s <= PCAP_MAX_SECONDS)) badTimestamp(batch, i, 'classic pcap', '0 to 4294967295 s');
      const c = capturedLengths[i]!;
      size += 16 + (c < snaplen ? c : snaplen);
      kept++;
    }
    this.linkType = linkType;
    const headerLength = this.headerWritten ? 0 : 24;
    if (size + headerLength === 0) return EMPTY;
    const out = outputOf(headerLength + size, into);
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    if (headerLength) {
      out.set(this.header(), 0);
      this.headerWritten = true;
    }
    const { data, offsets, originalLengths, timestampNanoseconds } = batch;
    const le = this.le;
    const divisor = this.nano ? 1 : 1000;
    let p = headerLength;
    let i = 0;
    while (i < count) {
      if (keep !== undefined && keep[i] === 0) {
        i++;
        continue;
      }
      // A run of kept packets that lie in `data` 16 bytes apart (a classic pcap
      // input: record header, packet, record header, ...) and need no cutting has
      // the layout of the output: copy it in one go, then write every record
      // header over the input's. Anything else is copied packet by packet.
      let j = i + 1;
      if (offsets[i]! >= 16 && capturedLengths[i]! <= snaplen) {
        while (j < count && (keep === undefined || keep[j] !== 0) && capturedLengths[j]! <= snaplen
          && offsets[j] === offsets[j - 1]! + capturedLengths[j - 1]! + 16) j++;
      }
      if (j - i > 1) {
        const from = offsets[i]! - 16;
        const to = offsets[j - 1]! + capturedLengths[j - 1]!;
        out.set(data.subarray(from, to), p);
        for (let k = i; k < j; k++) {
          const h = p + offsets[k]! - 16 - from;
          const ns = timestampNanoseconds[k]!;
          v.setUint32(h, timestampSeconds[k]!, le);
          v.setUint32(h + 4, divisor === 1 ? ns : (ns / divisor) >>> 0, le);
          v.setUint32(h + 8, capturedLengths[k]!, le);
          v.setUint32(h + 12, originalLengths[k]!, le);
        }
        p += to - from;
        i = j;
        continue;
      }
      const c0 = capturedLengths[i]!;
      const c = c0 < snaplen ? c0 : snaplen;
      const ns = timestampNanoseconds[i]!;
      v.setUint32(p, timestampSeconds[i]!, le);
      v.setUint32(p + 4, divisor === 1 ? ns : (ns / divisor) >>> 0, le);
      v.setUint32(p + 8, c, le);
      v.setUint32(p + 12, originalLengths[i]!, le);
      copyBytes(data, offsets[i]!, out, p + 16, c);
      p += 16 + c;
      i++;
    }
    this.packetsWritten += kept;
    this.bytesWritten += out.length;
    return out;
  }
}

const textEncoder = new TextEncoder();
const USER_APPLICATION = textEncoder.encode('sgfilter');
const pad4 = (n: number): number => n + ((4 - (n & 3)) & 3);

class PcapngEncoder extends Encoder {
  readonly format = 'pcapng';
  /** Output interface id by (input interface id, link type). */
  private readonly ids = new Map<number, number>();
  private readonly interfaces: readonly CaptureInterface[];

  constructor(options: CaptureWriterOptions) {
    super(options);
    this.interfaces = (Object.hasOwn(options, 'interfaces') ? options.interfaces : undefined) ?? []; // own option only
  }

  protected header(): Uint8Array {
    const total = 28 + 4 + pad4(USER_APPLICATION.length) + 4;
    const h = new Uint8Array(total);
    const v = new DataView(h.buffer);
    const le = this.le;
    v.setUint32(0, BLOCK_SHB, le);
    v.setUint32(4, total, le);
    v.setUint32(8, BYTE_ORDER_MAGIC, le);
    v.setUint16(12, 1, le);
    v.setUint16(14, 0, le);
    v.setInt32(16, -1, le); // section length unknown (-1 in 64 bits)
    v.setInt32(20, -1, le);
    v.setUint16(24, SHB_USERAPPL, le);
    v.setUint16(26, USER_APPLICATION.length, le);
    h.set(USER_APPLICATION, 28);
    // opt_endofopt: 4 zero bytes, already there.
    v.setUint32(total - 4, total, le);
    return h;
  }

  private interfaceBlock(linkType: number, inputId: number): Uint8Array {
    const name = this.interfaces[inputId]?.name;
    const nameBytes = name === undefined ? EMPTY : textEncoder.encode(name).subarray(0, 65535);
    const total = 16 + 8 + (nameBytes.length ? 4 + pad4(nameBytes.length) : 0) + 4 + 4;
    const b = new Uint8Array(total);
    const v = new DataView(b.buffer);
    const le = this.le;
    v.setUint32(0, BLOCK_IDB, le);
    v.setUint32(4, total, le);
    v.setUint16(8, linkType, le);
    v.setUint32(12, this.snaplen, le);
    v.setUint16(16, IF_TSRESOL, le);
    v.setUint16(18, 1, le);
    v.setUint8(20, this.nano ? 9 : 6);
    if (nameBytes.length) {
      v.setUint16(24, IF_NAME, le);
      v.setUint16(26, nameBytes.length, le);
      b.set(nameBytes, 28);
    }
    v.setUint32(total - 4, total, le);
    return b;
  }

  encode(batch: CaptureBatch, keep?: Uint8Array, into?: Uint8Array): Uint8Array {
    checkKeep(batch, keep);
    const { count, capturedLengths, linkTypes, interfaceIds, timestampSeconds } = batch;
    const snaplen = this.snaplen;
    const units = this.nano ? 1e9 : 1e6;
    const maxSeconds = Math.floor(2 ** 64 / units) - 1;
    // Interfaces first seen in this batch: committed to this.ids only once the
    // whole batch has passed its checks.
    const fresh = new Map<number, Uint8Array>();
    let size = 0;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      if (keep !== undefined && keep[i] === 0) continue;
      const key = interfaceIds[i]! * 65536 + linkTypes[i]!;
      if (!this.ids.has(key) && !fresh.has(key)) {
        const idb = this.interfaceBlock(linkTypes[i]!, interfaceIds[i]!);
        fresh.set(key, idb);
        size += idb.length;
      }
      const s = timestampSeconds[i]!;
      if (!(s >= 0 && s <= maxSeconds)) badTimestamp(batch, i, 'pcapng', `0 to ${maxSeconds} s at ${this.nano ? 'ns' : 'µs'} resolution`);
      const c = capturedLengths[i]!;
      size += 32 + pad4(c < snaplen ? c : snaplen);
      kept++;
    }
    const header = this.headerWritten ? EMPTY : this.header();
    if (size + header.length === 0) return EMPTY;
    const out = outputOf(header.length + size, into);
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    out.set(header, 0);
    this.headerWritten = true;
    let p = header.length;
    for (const [key, idb] of fresh) {
      this.ids.set(key, this.ids.size);
      out.set(idb, p);
      p += idb.length;
    }
    const { data, offsets, originalLengths, timestampNanoseconds } = batch;
    const le = this.le;
    const ids = this.ids;
    for (let i = 0; i < count; i++) {
      if (keep !== undefined && keep[i] === 0) continue;
      const c0 = capturedLengths[i]!;
      const c = c0 < snaplen ? c0 : snaplen;
      const total = 32 + pad4(c);
      joinUnits(timestampSeconds[i]!, timestampNanoseconds[i]!, units);
      v.setUint32(p, BLOCK_EPB, le);
      v.setUint32(p + 4, total, le);
      v.setUint32(p + 8, ids.get(interfaceIds[i]! * 65536 + linkTypes[i]!)!, le);
      v.setUint32(p + 12, joined.hi, le);
      v.setUint32(p + 16, joined.lo, le);
      v.setUint32(p + 20, c, le);
      v.setUint32(p + 24, originalLengths[i]!, le);
      copyBytes(data, offsets[i]!, out, p + 28, c);
      for (let k = p + 28 + c; k < p + total - 4; k++) out[k] = 0; // padding (`into` may hold old bytes)
      v.setUint32(p + total - 4, total, le);
      p += total;
    }
    this.packetsWritten += kept;
    this.bytesWritten += out.length;
    return out;
  }
}

/**
 * An encoder for a pcap (default) or pcapng file; see CaptureWriterOptions.
 * Throws SgfilterError INVALID_ARGUMENT on bad options.
 */
export function createCaptureEncoder(options: CaptureWriterOptions = {}): CaptureEncoder {
  if (typeof options !== 'object' || options === null) throw new SgfilterError('INVALID_ARGUMENT', `createCaptureEncoder: options must be an object, got ${options === null ? 'null' : typeof options}`);
  refuseUnknownOptions('createCaptureEncoder', options, WRITER_OPTIONS);
  const format = (Object.hasOwn(options, 'format') ? options.format : undefined) ?? 'pcap'; // own option only
  if (format === 'pcap') return new PcapEncoder(options);
  if (format === 'pcapng') return new PcapngEncoder(options);
  throw new SgfilterError('INVALID_ARGUMENT', `format must be 'pcap' or 'pcapng', got ${String(format)}`);
}
