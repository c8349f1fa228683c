/**
 * pcapng (draft-ietf-opsawg-pcapng), read in place, block by block.
 *
 *   every block                       section header block (SHB), type 0x0a0d0d0a
 *   0  block type                     8  byte-order magic 0x1a2b3c4d (in the
 *   4  block total length (T)            section's order; fixes every later field)
 *   8  body ...                       12 major 1, minor 0    16 section length (i64)
 *   T-4 block total length again      24 options
 *
 *   interface description (IDB), 1   enhanced packet (EPB), 6 / obsolete packet (PB), 2
 *   8  link type (u16), reserved      8  interface id (u32; PB: u16 + u16 drops)
 *   12 snaplen (0 = no limit)         12 timestamp high, 16 timestamp low
 *   16 options: if_name 2,            20 captured length, 24 original length
 *      if_description 3,              28 packet data, padded to 4, then options
 *      if_tsresol 9 (1 byte),
 *      if_fcslen 13, if_tsoffset 14   simple packet (SPB), 3
 *                                     8  original length, 12 data: captured length
 *   option: code u16, length u16,        = min(original length, snaplen of interface 0)
 *   value padded to 4; code 0 ends
 *
 * A file is one or more sections; each starts with an SHB in either byte order and
 * numbers its own interfaces from 0. `reader.interfaces` lists every interface of
 * every section, and packets name them by that global index. Blocks this reader
 * does not use (name resolution, interface statistics, decryption secrets, custom,
 * unknown) are skipped as they stream by, whatever their length, but their two length
 * fields must still agree. What is validated: each block's total length (a multiple
 * of 4, at least the block's fixed part, the same at both ends, at most maxBlockLength
 * for blocks read into memory), every option's length inside its block, a captured
 * length inside its block and no larger than the interface's snaplen or
 * maxPacketLength, and interface ids. Timestamps: units of if_tsresol (default
 * µs) since 1970 plus if_tsoffset seconds, converted to seconds + nanoseconds. A
 * simple packet block has no timestamp: it reads as 0 s, as in libpcap. Versions
 * 1.0 and 1.2 are read (as libpcap does); another major version is CAPTURE_UNSUPPORTED.
 */
import { CaptureError, hex32 } from './errors.js';
import { FormatDecoder, type CaptureInterface, type ReaderLimits } from './format.js';
import type { CaptureBatch } from './batch.js';
import { binaryResolution, decimalResolution, MICROSECONDS, split, splitUnits, type TimestampResolution } from './timestamp.js';

export const PCAPNG_MAGIC = 0x0a0d0d0a;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 1;
export const BLOCK_PB = 2;
export const BLOCK_SPB = 3;
export const BLOCK_NRB = 4;
export const BLOCK_ISB = 5;
export const BLOCK_EPB = 6;
export const BLOCK_DSB = 10;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_HARDWARE = 2;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_FCSLEN = 13;
export const IF_TSOFFSET = 14;

const BLOCK_NAMES = new Map<number, string>([
  [BLOCK_SHB, 'section header block'], [BLOCK_IDB, 'interface description block'], [BLOCK_PB, 'packet block'],
  [BLOCK_SPB, 'simple packet block'], [BLOCK_NRB, 'name resolution block'], [BLOCK_ISB, 'interface statistics block'],
  [BLOCK_EPB, 'enhanced packet block'], [BLOCK_DSB, 'decryption secrets block'],
]);
export function blockName(type: number): string {
  return BLOCK_NAMES.get(type) ?? `block of type ${hex32(type)}`;
}

/** Smallest total length of each block type this reader interprets. */
function minimumLength(type: number): number {
  switch (type) {
    case BLOCK_SHB: return 28;
    case BLOCK_IDB: return 20;
    case BLOCK_EPB: case BLOCK_PB: return 32;
    case BLOCK_SPB: return 16;
    default: return 12;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

interface SectionState {
  le: boolean;
  /** This section's interfaces by their id in the section. */
  interfaces: CaptureInterface[];
}

export class PcapngDecoder extends FormatDecoder {
  private section: SectionState = { le: true, interfaces: [] };
  // A block skipped while it streams by: what is left of it and its header.
  private skipRemaining = 0;
  private skipTrailer = false;
  private skipTotal = 0;
  private skipType = 0;
  private skipOffset = 0;

  constructor(batch: CaptureBatch, limits: ReaderLimits) {
    super(batch, limits, [], []);
  }

  private fail(message: string, offset: number, recordOffset: number, code: 'CAPTURE_INVALID' | 'CAPTURE_UNSUPPORTED' = 'CAPTURE_INVALID'): never {
    throw new CaptureError(code, message, offset, recordOffset, this.limits.name);
  }

  decode(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): number {
    const batch = this.batch;
    const cap = batch.capacity;
    if (batch.count === 0) batch.data = buf;
    this.needed = 0;
    while (batch.count < cap) {
      if (this.skipRemaining > 0) {
        const take = Math.min(this.skipRemaining, end - pos);
        pos += take;
        this.skipRemaining -= take;
        if (this.skipRemaining > 0) {
          this.needed = 1;
          this.pending = `a ${this.skipTotal}-byte ${blockName(this.skipType)}`;
          break;
        }
      }
      if (this.skipTrailer) {
        if (end - pos < 4) {
          this.needed = 4;
          this.pending = `a ${this.skipTotal}-byte ${blockName(this.skipType)}`;
          break;
        }
        const trailer = view.getUint32(pos, this.section.le);
        if (trailer !== this.skipTotal) {
          this.fail(`${blockName(this.skipType)}: its trailing total length ${trailer} disagrees with its leading total length ${this.skipTotal}`, base + pos, this.skipOffset);
        }
        this.skipTrailer = false;
        pos += 4;
        continue;
      }
      const avail = end - pos;
      if (avail < 12) {
        this.needed = 12;
        this.pending = 'a pcapng block header';
        break;
      }
      const at = base + pos;
      const type = view.getUint32(pos, this.section.le);
      let le = this.section.le;
      if (type === BLOCK_SHB) {
        const bom = view.getUint32(pos + 8, true);
        if (bom === BYTE_ORDER_MAGIC) le = true;
        else if (bom === 0x4d3c2b1a) le = false;
        else this.fail(`section header block: byte-order magic ${hex32(view.getUint32(pos + 8, false))} is neither 1a2b3c4d nor 4d3c2b1a; the file is not pcapng or is corrupt`, at + 8, at);
      }
      const total = view.getUint32(pos + 4, le);
      if (total % 4 !== 0 || total < minimumLength(type)) {
        this.fail(`${blockName(type)}: block total length ${total} (${hex32(total)}) is ${total % 4 !== 0 ? 'not a multiple of 4' : `less than the ${minimumLength(type)} bytes such a block takes`}`, at + 4, at);
      }
      const interpreted = type === BLOCK_EPB || type === BLOCK_SHB || type === BLOCK_IDB || type === BLOCK_SPB || type === BLOCK_PB;
      if (!interpreted) {
        if (avail >= total) {
          this.checkTrailer(view, pos, total, le, at, type);
          pos += total;
          continue;
        }
        if (avail >= total - 4) {
          this.needed = total;
          this.pending = `a ${total}-byte ${blockName(type)}`;
          break;
        }
        // Too long to wait for: let it stream by.
        this.skipTotal = total;
        this.skipType = type;
        this.skipOffset = at;
        this.skipRemaining = total - 4 - avail;
        this.skipTrailer = true;
        pos = end;
        continue;
      }
      if (total > this.limits.maxBlockLength) {
        this.fail(`${blockName(type)}: block total length ${total} is past the largest accepted, ${this.limits.maxBlockLength} (option maxBlockLength); the block header is corrupt`, at + 4, at);
      }
      if (avail < total) {
        this.needed = total;
        this.pending = `a ${total}-byte ${blockName(type)}`;
        break;
      }
      this.checkTrailer(view, pos, total, le, at, type);
      switch (type) {
        case BLOCK_EPB: case BLOCK_PB: this.packetBlock(view, pos, total, at, type); break;
        case BLOCK_SPB: this.simplePacketBlock(view, pos, total, at); break;
        case BLOCK_IDB: this.interfaceBlock(buf, view, pos, total, at); break;
        default: this.sectionHeader(buf, view, pos, total, at, le);
      }
      pos += total;
    }
    return pos;
  }

  incompleteAt(remaining: number, endOffset: number): number {
    if (this.skipRemaining > 0 || this.skipTrailer) return this.skipOffset;
    return remaining === 0 ? -1 : endOffset - remaining;
  }

  private checkTrailer(view: DataView, pos: number, total: number, le: boolean, at: number, type: number): void {
    const trailer = view.getUint32(pos + total - 4, le);
    if (trailer !== total) this.fail(`${blockName(type)}: its trailing total length ${trailer} disagrees with its leading total length ${total}`, at + total - 4, at);
  }

  /**
   * Walks the options in [start, end) and calls `each(code, valueOffset, length)`
   * (if given) for each; a length past the block is CAPTURE_INVALID.
   */
  private options(view: DataView, start: number, end: number, le: boolean, base: number, at: number, name: string,
    each?: (code: number, value: number, length: number) => void): void {
    let p = start;
    while (p < end) {
      if (end - p < 4) this.fail(`${name}: ${end - p} bytes left for an option header of 4`, base + p, at);
      const code = view.getUint16(p, le);
      const length = view.getUint16(p + 2, le);
      if (code === OPT_ENDOFOPT) return;
      const padded = length + ((4 - (length & 3)) & 3);
      if (p + 4 + padded > end) {
        this.fail(`${name}: option ${code} is ${length} bytes long but the block has ${end - p - 4} bytes left for it`, base + p + 2, at);
      }
      each?.(code, p + 4, length);
      p += 4 + padded;
    }
  }

  private sectionHeader(buf: Uint8Array, view: DataView, pos: number, total: number, at: number, le: boolean): void {
    const major = view.getUint16(pos + 12, le);
    const minor = view.getUint16(pos + 14, le);
    if (major !== 1 || (minor !== 0 && minor !== 2)) {
      this.fail(`section header block: pcapng version ${major}.${minor}; versions 1.0 and 1.2 are read`, at + 12, at, 'CAPTURE_UNSUPPORTED');
    }
    let hardware: string | undefined;
    let os: string | undefined;
    let application: string | undefined;
    const base = at - pos;
    this.options(view, pos + 24, pos + total - 4, le, base, at, 'section header block', (code, value, length) => {
      const text = (): string => utf8.decode(buf.subarray(value, value + length));
      if (code === SHB_HARDWARE) hardware ??= text();
      else if (code === SHB_OS) os ??= text();
      else if (code === SHB_USERAPPL) application ??= text();
    });
    this.section = { le, interfaces: [] };
    this.sections.push({ index: this.sections.length, littleEndian: le, versionMajor: major, versionMinor: minor, hardware, os, application, fileOffset: at });
  }

  private interfaceBlock(buf: Uint8Array, view: DataView, pos: number, total: number, at: number): void {
    const le = this.section.le;
    const linkType = view.getUint16(pos + 8, le);
    const snaplen = view.getUint32(pos + 12, le);
    let resolution: TimestampResolution = MICROSECONDS;
    let offsetSeconds = 0;
    let fcsLength: number | undefined;
    let name: string | undefined;
    let description: string | undefined;
    let seenResolution = false;
    let seenOffset = false;
    const base = at - pos;
    const what = `interface description block (interface ${this.section.interfaces.length} of section ${this.sections.length - 1})`;
    this.options(view, pos + 16, pos + total - 4, le, base, at, what, (code, value, length) => {
      const wrongLength = (want: number) => {
        if (length !== want) this.fail(`${what}: option ${code} must be ${want} byte(s) long, got ${length}`, base + value - 2, at);
      };
      if (code === IF_TSRESOL && !seenResolution) {
        wrongLength(1);
        seenResolution = true;
        const v = view.getUint8(value);
        resolution = v & 0x80 ? binaryResolution(v & 0x7f) : decimalResolution(v);
      } else if (code === IF_TSOFFSET && !seenOffset) {
        wrongLength(8);
        seenOffset = true;
        const lo = view.getUint32(value + (le ? 0 : 4), le);
        const hi = view.getInt32(value + (le ? 4 : 0), le);
        offsetSeconds = hi * 4294967296 + lo;
      } else if (code === IF_FCSLEN && fcsLength === undefined) {
        wrongLength(1);
        fcsLength = view.getUint8(value);
      } else if (code === IF_NAME) {
        name ??= utf8.decode(buf.subarray(value, value + length));
      } else if (code === IF_DESCRIPTION) {
        description ??= utf8.decode(buf.subarray(value, value + length));
      }
    });
    if (this.interfaces.length >= this.limits.maxInterfaces) {
      this.fail(`${what}: the file declares more than ${this.limits.maxInterfaces} interfaces (option maxInterfaces)`, at, at, 'CAPTURE_UNSUPPORTED');
    }
    const iface: CaptureInterface = {
      index: this.interfaces.length, section: this.sections.length - 1, idInSection: this.section.interfaces.length,
      linkType, snaplen, resolution, timestampOffsetSeconds: offsetSeconds, fcsLength, name, description, fileOffset: at,
    };
    this.interfaces.push(iface);
    this.section.interfaces.push(iface);
  }

  private lookupInterface(id: number, name: string, fieldOffset: number, at: number): CaptureInterface {
    const iface = this.section.interfaces[id];
    if (iface === undefined) {
      const k = this.section.interfaces.length;
      this.fail(`${name}: interface id ${id}, but section ${this.sections.length - 1} has declared ${k === 0 ? 'no interface' : `only interface${k === 1 ? ' 0' : `s 0 to ${k - 1}`}`} before it`, fieldOffset, at);
    }
    return iface;
  }

  private checkCaptured(caplen: number, room: number, iface: CaptureInterface, name: string, fieldOffset: number, at: number, field: string): void {
    const max = this.limits.maxPacketLength;
    if (caplen > max) this.fail(`${name}: ${field} ${caplen} is past the largest accepted, ${max} (option maxPacketLength)`, fieldOffset, at);
    if (iface.snaplen !== 0 && caplen > iface.snaplen) this.fail(`${name}: ${field} ${caplen} is past the snaplen of interface ${iface.idInSection}, ${iface.snaplen}`, fieldOffset, at);
    const padded = caplen + ((4 - (caplen & 3)) & 3);
    if (padded > room) this.fail(`${name}: ${field} ${caplen} (${padded} with padding) does not fit in the block, which has room for ${room} bytes of packet data`, fieldOffset, at);
  }

  private push(iface: CaptureInterface, dataPos: number, caplen: number, len: number, seconds: number, nanos: number, at: number): void {
    const batch = this.batch;
    const n = batch.count;
    batch.offsets[n] = dataPos;
    batch.capturedLengths[n] = caplen;
    batch.originalLengths[n] = len;
    batch.timestampSeconds[n] = seconds;
    batch.timestampNanoseconds[n] = nanos;
    batch.timestamps[n] = seconds + nanos / 1e9;
    batch.linkTypes[n] = iface.linkType;
    batch.interfaceIds[n] = iface.index;
    batch.recordOffsets[n] = at;
    batch.count = n + 1;
  }

  private packetBlock(view: DataView, pos: number, total: number, at: number, type: number): void {
    // The hot path: the checks are inline and the helpers run only to report a failure.
    const le = this.section.le;
    const id = type === BLOCK_EPB ? view.getUint32(pos + 8, le) : view.getUint16(pos + 8, le);
    let iface = this.section.interfaces[id];
    const name = type === BLOCK_EPB ? 'enhanced packet block' : 'packet block';
    if (iface === undefined) iface = this.lookupInterface(id, name, at + 8, at);
    const caplen = view.getUint32(pos + 20, le);
    const padded = caplen + ((4 - (caplen & 3)) & 3);
    if (caplen > this.limits.maxPacketLength || (iface.snaplen !== 0 && caplen > iface.snaplen) || padded > total - 32) {
      this.checkCaptured(caplen, total - 32, iface, name, at + 20, at, 'captured length');
    }
    if (28 + padded < total - 4) this.options(view, pos + 28 + padded, pos + total - 4, le, at - pos, at, name);
    splitUnits(view.getUint32(pos + 12, le), view.getUint32(pos + 16, le), iface.resolution);
    const batch = this.batch;
    const n = batch.count;
    batch.offsets[n] = pos + 28;
    batch.capturedLengths[n] = caplen;
    batch.originalLengths[n] = view.getUint32(pos + 24, le);
    const seconds = split.seconds + iface.timestampOffsetSeconds;
    batch.timestampSeconds[n] = seconds;
    batch.timestampNanoseconds[n] = split.nanoseconds;
    batch.timestamps[n] = seconds + split.nanoseconds / 1e9;
    batch.linkTypes[n] = iface.linkType;
    batch.interfaceIds[n] = iface.index;
    batch.recordOffsets[n] = at;
    batch.count = n + 1;
  }

  private simplePacketBlock(view: DataView, pos: number, total: number, at: number): void {
    const name = 'simple packet block';
    const iface = this.lookupInterface(0, name, at, at);
    const len = view.getUint32(pos + 8, this.section.le);
    const caplen = iface.snaplen !== 0 && len > iface.snaplen ? iface.snaplen : len;
    this.checkCaptured(caplen, total - 16, iface, name, at + 8, at, `captured length (from original length ${len})`);
    this.push(iface, pos + 12, caplen, len, 0, 0, at);
  }
}
