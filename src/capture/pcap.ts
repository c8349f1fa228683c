/**
 * Classic pcap (libpcap's savefile format; draft-ietf-opsawg-pcap), read in place.
 *
 *   file header, 24 bytes              record, 16 bytes + captured bytes
 *   0  magic          a1b2c3d4 µs      0  ts_sec   seconds since 1970 (unsigned)
 *                     a1b23c4d ns      4  ts_frac  µs or ns, by the magic
 *                     a1b2cd34 µs *    8  incl_len captured length
 *   4  version_major  2                12 orig_len original length
 *   6  version_minor  4                16 packet data (incl_len bytes)
 *   8  thiszone       (ignored)
 *   12 sigfigs        (ignored)        * Kuznetzov's patched tcpdump: 8 more record
 *   16 snaplen                           bytes (ifindex, protocol, pkt_type), as
 *   20 linktype       low 16 bits;       libpcap reads them
 *                     FCS length in the top bits
 *
 * Every field is in the byte order the magic was written in. Choices where the
 * format leaves room, following libpcap (sf-pcap.c): versions 2.0-2.2 have incl_len
 * and orig_len the other way round, 2.3 is swapped when incl_len > orig_len; a
 * snaplen of 0 means no limit; thiszone is ignored. Where libpcap is lenient and
 * this reader is not: a record longer than the header's snaplen is CAPTURE_INVALID
 * (libpcap silently cuts it), because a corrupt length field is the usual cause. A
 * fraction past 999,999 µs (999,999,999 ns) is carried into the seconds.
 */
import { CaptureError, hex32 } from './errors.js';
import { FormatDecoder, type CaptureInterface, type CaptureSection, type ReaderLimits } from './format.js';
import type { CaptureBatch } from './batch.js';
import { MICROSECONDS, NANOSECONDS } from './timestamp.js';
import { linkTypeName } from './link-types.js';

export const PCAP_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;

/** File magics as read big-endian from the first 4 bytes. */
export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
export const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
const SWAPPED_MICROS = 0xd4c3b2a1;
const SWAPPED_NANOS = 0x4d3cb2a1;
const SWAPPED_KUZNETZOV = 0x34cdb2a1;

/** Is this big-endian read of the first 4 bytes a classic pcap magic? */
export function isPcapMagic(m: number): boolean {
  return m === PCAP_MAGIC_MICROS || m === PCAP_MAGIC_NANOS || m === PCAP_MAGIC_KUZNETZOV
    || m === SWAPPED_MICROS || m === SWAPPED_NANOS || m === SWAPPED_KUZNETZOV;
}

const enum Lengths { InOrder, Swapped, MaybeSwapped }

export class PcapDecoder extends FormatDecoder {
  private readonly le: boolean;
  private readonly nanos: boolean;
  private readonly recordHeader: number;
  private readonly snaplen: number;
  private readonly linkType: number;
  private readonly lengths: Lengths;

  /** Reads the 24-byte file header at `pos` (the caller checked it is all there). */
  constructor(batch: CaptureBatch, limits: ReaderLimits, view: DataView, pos: number) {
    super(batch, limits, [], []);
    const magic = view.getUint32(pos, false);
    this.le = magic === SWAPPED_MICROS || magic === SWAPPED_NANOS || magic === SWAPPED_KUZNETZOV;
    this.nanos = magic === PCAP_MAGIC_NANOS || magic === SWAPPED_NANOS;
    this.recordHeader = magic === PCAP_MAGIC_KUZNETZOV || magic === SWAPPED_KUZNETZOV ? 24 : 16;
    const le = this.le;
    const major = view.getUint16(pos + 4, le);
    const minor = view.getUint16(pos + 6, le);
    if (major !== 2) {
      throw new CaptureError('CAPTURE_UNSUPPORTED', `pcap file format version ${major}.${minor}; only version 2.x (2.4 today) is read`, pos + 4, pos, limits.name);
    }
    this.lengths = minor < 3 ? Lengths.Swapped : minor === 3 ? Lengths.MaybeSwapped : Lengths.InOrder;
    this.snaplen = view.getUint32(pos + 16, le);
    const linkField = view.getUint32(pos + 20, le);
    this.linkType = linkField & 0xffff;
    // Bit 26 says the top 4 bits hold the FCS length in 16-bit words.
    const fcsLength = linkField & 0x04000000 ? ((linkField >>> 28) & 0xf) * 2 : undefined;
    const resolution = this.nanos ? NANOSECONDS : MICROSECONDS;
    this.interfaces.push({
      index: 0, section: 0, idInSection: 0, linkType: this.linkType, snaplen: this.snaplen, resolution,
      timestampOffsetSeconds: 0, fcsLength, name: undefined, description: undefined, fileOffset: pos,
    } satisfies CaptureInterface);
    this.sections.push({
      index: 0, littleEndian: le, versionMajor: major, versionMinor: minor,
      hardware: undefined, os: undefined, application: undefined, fileOffset: pos,
    } satisfies CaptureSection);
  }

  decode(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): number {
    const batch = this.batch;
    const le = this.le;
    const hdr = this.recordHeader;
    const snaplen = this.snaplen;
    const maxLength = this.limits.maxPacketLength;
    const cap = batch.capacity;
    const unitsPerSecond = this.nanos ? 1e9 : 1e6;
    const nanosPerUnit = this.nanos ? 1 : 1000;
    const { offsets, capturedLengths, originalLengths, timestampSeconds, timestampNanoseconds, timestamps, linkTypes, interfaceIds, recordOffsets } = batch;
    let n = batch.count;
    if (n === 0) batch.data = buf;
    while (n < cap) {
      const avail = end - pos;
      if (avail < hdr) {
        this.needed = hdr;
        this.pending = `a ${hdr}-byte pcap record header`;
        break;
      }
      let seconds = view.getUint32(pos, le);
      let frac = view.getUint32(pos + 4, le);
      let caplen = view.getUint32(pos + 8, le);
      let len = view.getUint32(pos + 12, le);
      if (this.lengths !== Lengths.InOrder && (this.lengths === Lengths.Swapped || caplen > len)) {
        const t = caplen;
        caplen = len;
        len = t;
      }
      if (caplen > maxLength || (snaplen !== 0 && caplen > snaplen)) {
        const limit = caplen > maxLength ? `the largest accepted, ${maxLength} (option maxPacketLength)` : `the file's snaplen, ${snaplen}`;
        throw new CaptureError('CAPTURE_INVALID', `pcap record ${batch.firstPacketIndex + n + 1}: captured length ${caplen} (${hex32(caplen)}) is past ${limit}; the record header is corrupt`, base + pos + 8, base + pos, this.limits.name);
      }
      const total = hdr + caplen;
      if (avail < total) {
        this.needed = total;
        this.pending = `a pcap record of ${hdr} + ${caplen} bytes`;
        break;
      }
      if (frac >= unitsPerSecond) {
        const carry = Math.floor(frac / unitsPerSecond);
        seconds += carry;
        frac -= carry * unitsPerSecond;
      }
      offsets[n] = pos + hdr;
      capturedLengths[n] = caplen;
      originalLengths[n] = len;
      const ns = frac * nanosPerUnit;
      timestampSeconds[n] = seconds;
      timestampNanoseconds[n] = ns;
      timestamps[n] = seconds + ns / 1e9;
      linkTypes[n] = this.linkType;
      interfaceIds[n] = 0;
      recordOffsets[n] = base + pos;
      n++;
      batch.count = n;
      pos += total;
    }
    if (n === cap) this.needed = 0;
    return pos;
  }

  incompleteAt(remaining: number, endOffset: number): number {
    return remaining === 0 ? -1 : endOffset - remaining;
  }

  /** For messages: "EN10MB (Ethernet), µs". */
  describe(): string {
    return `${linkTypeName(this.linkType)}, ${this.nanos ? 'ns' : 'µs'}`;
  }
}
