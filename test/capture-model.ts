/**
 * Test-side models of pcap and pcapng, written apart from src/capture and as
 * plainly as possible: an encoder that builds a capture from a description (any
 * byte order, resolution, section and interface layout, with options and blocks the
 * reader must skip) and records where every block starts, and a reference decoder
 * that reads a whole file with BigInt timestamps and the documented validation
 * rules, in their documented order. The streaming reader is tested against both.
 */
import type { CaptureReader } from '../src/capture/reader.js';
import { copyPacket, type CaptureBatch } from '../src/capture/batch.js';

export interface ModelPacket {
  data: Uint8Array;
  originalLength: number;
  timestampSeconds: number;
  timestampNanoseconds: number;
  linkType: number;
  /** Global interface index (reader.interfaces), 0 for pcap. */
  interfaceId: number;
}

export interface ReadOutcome {
  packets: (ModelPacket & { recordOffset: number })[];
  error?: { code: string; offset: number; recordOffset: number; message: string };
}

/** `timestamps` (seconds as one number) must be the exact pair's nearest double. */
function checkSeconds(b: CaptureBatch, i: number): void {
  const want = b.timestampSeconds[i]! + b.timestampNanoseconds[i]! / 1e9;
  if (!Object.is(b.timestamps[i], want)) throw new Error(`packet ${b.firstPacketIndex + i}: timestamps ${b.timestamps[i]} ≠ ${want}`);
}

/** Reads a capture to the end with a CaptureReader, synchronously (byte or chunk-array source). */
export function readAllSync(reader: CaptureReader): ReadOutcome {
  const packets: ReadOutcome['packets'] = [];
  try {
    for (const b of reader) {
      for (let i = 0; i < b.count; i++) {
        checkSeconds(b, i);
        packets.push({ ...copyPacket(b, i), recordOffset: b.recordOffsets[i]! });
      }
    }
  } catch (e) {
    const err = e as { code?: string; offset?: number; recordOffset?: number; message: string };
    if (typeof err.code !== 'string' || !err.code.startsWith('CAPTURE_')) throw e;
    return { packets, error: { code: err.code, offset: err.offset!, recordOffset: err.recordOffset!, message: err.message } };
  }
  return { packets };
}

export async function readAllAsync(reader: CaptureReader): Promise<ReadOutcome> {
  const packets: ReadOutcome['packets'] = [];
  try {
    for await (const b of reader) {
      for (let i = 0; i < b.count; i++) {
        checkSeconds(b, i);
        packets.push({ ...copyPacket(b, i), recordOffset: b.recordOffsets[i]! });
      }
    }
  } catch (e) {
    const err = e as { code?: string; offset?: number; recordOffset?: number; message: string };
    if (typeof err.code !== 'string' || !err.code.startsWith('CAPTURE_')) throw e;
    return { packets, error: { code: err.code, offset: err.offset!, recordOffset: err.recordOffset!, message: err.message } };
  }
  return { packets };
}

// ---------------------------------------------------------------- encoder

class Bytes {
  private readonly parts: number[] = [];
  constructor(private readonly le: boolean) {}
  get length(): number {
    return this.parts.length;
  }
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.le ? this.u8(v).u8(v >>> 8) : this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.le ? this.u16(v & 0xffff).u16(v >>> 16) : this.u16(v >>> 16).u16(v & 0xffff);
  }
  u64(v: bigint): this {
    const x = BigInt.asUintN(64, v);
    const hi = Number(x >> 32n);
    const lo = Number(x & 0xffffffffn);
    return this.le ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }
  raw(b: Uint8Array | number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  pad(): this {
    while (this.parts.length % 4) this.parts.push(0);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export interface PcapSpec {
  le: boolean;
  nanos: boolean;
  /** Kuznetzov's patched format (24-byte record headers). */
  kuznetzov?: boolean;
  versionMinor?: number;
  snaplen: number;
  linkType: number;
  packets: { data: Uint8Array; originalLength: number; seconds: number; frac: number }[];
}

/** A classic pcap file, and the file offset of each record. */
export function encodePcap(spec: PcapSpec): { bytes: Uint8Array; recordOffsets: number[] } {
  const b = new Bytes(spec.le);
  const magic = spec.kuznetzov ? 0xa1b2cd34 : spec.nanos ? 0xa1b23c4d : 0xa1b2c3d4;
  b.u32(magic).u16(2).u16(spec.versionMinor ?? 4).u32(0).u32(0).u32(spec.snaplen).u32(spec.linkType);
  const recordOffsets: number[] = [];
  const swapped = (spec.versionMinor ?? 4) < 3;
  for (const p of spec.packets) {
    recordOffsets.push(b.length);
    b.u32(p.seconds).u32(p.frac);
    if (swapped) b.u32(p.originalLength).u32(p.data.length);
    else b.u32(p.data.length).u32(p.originalLength);
    if (spec.kuznetzov) b.u32(1).u16(0x0800).u8(0).u8(0);
    b.raw(p.data);
  }
  return { bytes: b.bytes(), recordOffsets };
}

export interface NgOption { code: number; value: Uint8Array }
export interface NgInterface {
  linkType: number;
  snaplen: number;
  /** Raw if_tsresol byte (absent: µs). */
  tsresol?: number;
  tsoffset?: bigint;
  name?: string;
  extraOptions?: NgOption[];
}
export type NgBlock =
  | { kind: 'idb'; iface: NgInterface }
  | { kind: 'epb' | 'pb'; interfaceId: number; timestamp: bigint; data: Uint8Array; originalLength: number; options?: NgOption[] }
  | { kind: 'spb'; data: Uint8Array; originalLength: number }
  | { kind: 'other'; type: number; body: Uint8Array };
export interface NgSection {
  le: boolean;
  versionMinor?: number;
  options?: NgOption[];
  /** End option lists with opt_endofopt (else they run to the end of the block). */
  endOfOpt?: boolean;
  blocks: NgBlock[];
}

function options(b: Bytes, list: NgOption[] | undefined, end: boolean): void {
  if (!list?.length) return;
  for (const o of list) b.u16(o.code).u16(o.value.length).raw(o.value).pad();
  if (end) b.u32(0);
}

/** Frames a block body: type, total length, body, total length. */
function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length;
  return new Bytes(le).u32(type).u32(total).raw(body).u32(total).bytes();
}

/** A pcapng file, and the file offset of every block (and of every packet block). */
export function encodePcapng(sections: NgSection[]): { bytes: Uint8Array; blockOffsets: number[]; packetOffsets: number[] } {
  const out: number[] = [];
  const blockOffsets: number[] = [];
  const packetOffsets: number[] = [];
  const put = (bytes: Uint8Array) => {
    blockOffsets.push(out.length);
    for (const x of bytes) out.push(x);
  };
  for (const s of sections) {
    const le = s.le;
    const end = s.endOfOpt ?? true;
    const shb = new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(s.versionMinor ?? 0).u64(-1n);
    options(shb, s.options, end);
    put(block(le, 0x0a0d0d0a, shb.bytes()));
    for (const bl of s.blocks) {
      if (bl.kind === 'idb') {
        const f = bl.iface;
        const body = new Bytes(le).u16(f.linkType).u16(0).u32(f.snaplen);
        const opts: NgOption[] = [...(f.extraOptions ?? [])];
        if (f.name !== undefined) opts.push({ code: 2, value: new TextEncoder().encode(f.name) });
        if (f.tsresol !== undefined) opts.push({ code: 9, value: Uint8Array.of(f.tsresol) });
        if (f.tsoffset !== undefined) opts.push({ code: 14, value: new Bytes(le).u64(f.tsoffset).bytes() });
        options(body, opts, end);
        put(block(le, 1, body.bytes()));
      } else if (bl.kind === 'epb' || bl.kind === 'pb') {
        packetOffsets.push(out.length);
        const body = new Bytes(le);
        if (bl.kind === 'epb') body.u32(bl.interfaceId);
        else body.u16(bl.interfaceId).u16(0);
        body.u32(Number(bl.timestamp >> 32n)).u32(Number(bl.timestamp & 0xffffffffn)).u32(bl.data.length).u32(bl.originalLength).raw(bl.data).pad();
        options(body, bl.options, end);
        put(block(le, bl.kind === 'epb' ? 6 : 2, body.bytes()));
      } else if (bl.kind === 'spb') {
        packetOffsets.push(out.length);
        put(block(le, 3, new Bytes(le).u32(bl.originalLength).raw(bl.data).pad().bytes()));
      } else if (bl.kind === 'other') {
        put(block(le, bl.type, bl.body));
      }
    }
  }
  return { bytes: Uint8Array.from(out), blockOffsets, packetOffsets };
}

/** Units per second of a raw if_tsresol byte (absent: µs). */
export function unitsOf(tsresol: number | undefined): bigint {
  if (tsresol === undefined) return 1_000_000n;
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

/** The packets a reader must deliver from these sections (BigInt arithmetic). */
export function expectedPcapng(sections: NgSection[]): ModelPacket[] {
  const packets: ModelPacket[] = [];
  let global = 0;
  for (const s of sections) {
    const ifaces: { iface: NgInterface; index: number }[] = [];
    for (const bl of s.blocks) {
      if (bl.kind === 'idb') ifaces.push({ iface: bl.iface, index: global++ });
      else if (bl.kind === 'epb' || bl.kind === 'pb') {
        const { iface, index } = ifaces[bl.interfaceId]!;
        const u = unitsOf(iface.tsresol);
        const secs = bl.timestamp / u;
        packets.push({
          data: bl.data, originalLength: bl.originalLength,
          timestampSeconds: Number(secs) + Number(iface.tsoffset ?? 0n),
          timestampNanoseconds: Number(((bl.timestamp - secs * u) * 1_000_000_000n) / u),
          linkType: iface.linkType, interfaceId: index,
        });
      } else if (bl.kind === 'spb') {
        const { iface, index } = ifaces[0]!;
        packets.push({ data: bl.data, originalLength: bl.originalLength, timestampSeconds: 0, timestampNanoseconds: 0, linkType: iface.linkType, interfaceId: index });
      }
    }
  }
  return packets;
}

// ---------------------------------------------------------------- reference decoder

export interface RefLimits { maxPacketLength: number; maxBlockLength: number; maxInterfaces: number }
export const DEFAULT_LIMITS: RefLimits = { maxPacketLength: 262_144, maxBlockLength: 16 * 1024 * 1024, maxInterfaces: 65536 };

class Stop {
  constructor(readonly code: string, readonly offset: number, readonly recordOffset: number) {}
}

/**
 * Reads a whole capture by the rules src/capture documents, plainly: every
 * check in the documented order, BigInt timestamps. Returns the packets and the
 * first error (code, offset, recordOffset), as the reader must.
 */
export function referenceRead(bytes: Uint8Array, limits: RefLimits = DEFAULT_LIMITS): ReadOutcome {
  const packets: ReadOutcome['packets'] = [];
  const n = bytes.length;
  const u8 = (o: number) => bytes[o]!;
  const u16 = (o: number, le: boolean) => (le ? u8(o) | (u8(o + 1) << 8) : (u8(o) << 8) | u8(o + 1));
  const u32 = (o: number, le: boolean) => (le ? (u16(o, true) + u16(o + 2, true) * 65536) : (u16(o, false) * 65536 + u16(o + 2, false)));
  const big64 = (o: number, le: boolean) => (le ? (BigInt(u32(o + 4, le)) << 32n) | BigInt(u32(o, le)) : (BigInt(u32(o, le)) << 32n) | BigInt(u32(o + 4, le)));
  const result = (e?: Stop): ReadOutcome => (e ? { packets, error: { code: e.code, offset: e.offset, recordOffset: e.recordOffset, message: '' } } : { packets });
  try {
    if (n < 4) throw new Stop('CAPTURE_TRUNCATED', n, 0);
    const magic = u32(0, false);
    if (magic === 0x0a0d0d0a) return result(pcapng());
    const pcapMagics = [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34];
    const swapped = (m: number) => ((m & 0xff) << 24 | ((m >>> 8) & 0xff) << 16 | ((m >>> 16) & 0xff) << 8 | (m >>> 24)) >>> 0;
    const le = pcapMagics.map(swapped).includes(magic);
    if (!le && !pcapMagics.includes(magic)) throw new Stop('CAPTURE_INVALID', 0, 0);
    if (n < 24) throw new Stop('CAPTURE_TRUNCATED', n, 0);
    const kind = le ? swapped(magic) : magic;
    const nanos = kind === 0xa1b23c4d;
    const hdr = kind === 0xa1b2cd34 ? 24 : 16;
    const major = u16(4, le);
    const minor = u16(6, le);
    if (major !== 2) throw new Stop('CAPTURE_UNSUPPORTED', 4, 0);
    const snaplen = u32(16, le);
    const linkType = u32(20, le) & 0xffff;
    let p = 24;
    while (p < n) {
      if (n - p < hdr) throw new Stop('CAPTURE_TRUNCATED', n, p);
      let caplen = u32(p + 8, le);
      let len = u32(p + 12, le);
      if (minor < 3 || (minor === 3 && caplen > len)) [caplen, len] = [len, caplen];
      if (caplen > limits.maxPacketLength || (snaplen !== 0 && caplen > snaplen)) throw new Stop('CAPTURE_INVALID', p + 8, p);
      if (n - p < hdr + caplen) throw new Stop('CAPTURE_TRUNCATED', n, p);
      const units = nanos ? 1_000_000_000 : 1_000_000;
      const frac = u32(p + 4, le);
      packets.push({
        data: bytes.slice(p + hdr, p + hdr + caplen), originalLength: len,
        timestampSeconds: u32(p, le) + Math.floor(frac / units), timestampNanoseconds: (frac % units) * (nanos ? 1 : 1000),
        linkType, interfaceId: 0, recordOffset: p,
      });
      p += hdr + caplen;
    }
    return result();
  } catch (e) {
    if (e instanceof Stop) return result(e);
    throw e;
  }

  function pcapng(): Stop | undefined {
    let le = true;
    let sectionIfaces: { linkType: number; snaplen: number; units: bigint; offset: number; index: number }[] = [];
    let global = 0;
    let p = 0;
    const pad = (x: number) => Math.ceil(x / 4) * 4;
    while (p < n) {
      if (n - p < 12) return new Stop('CAPTURE_TRUNCATED', n, p);
      let type = u32(p, le);
      let blockLe: boolean = le;
      if (type === 0x0a0d0d0a) {
        const bom = u32(p + 8, true);
        if (bom === 0x1a2b3c4d) blockLe = true;
        else if (bom === 0x4d3c2b1a) blockLe = false;
        else return new Stop('CAPTURE_INVALID', p + 8, p);
      }
      type = u32(p, blockLe);
      const total: number = u32(p + 4, blockLe);
      const min = type === 0x0a0d0d0a ? 28 : type === 1 ? 20 : type === 6 || type === 2 ? 32 : type === 3 ? 16 : 12;
      if (total % 4 !== 0 || total < min) return new Stop('CAPTURE_INVALID', p + 4, p);
      const known = [0x0a0d0d0a, 1, 2, 3, 6].includes(type);
      if (known && total > limits.maxBlockLength) return new Stop('CAPTURE_INVALID', p + 4, p);
      if (n - p < total) return new Stop('CAPTURE_TRUNCATED', n, p);
      if (u32(p + total - 4, blockLe) !== total) return new Stop('CAPTURE_INVALID', p + total - 4, p);
      const end = p + total - 4;
      // Options in [from, end): returns a Stop or the list.
      // Options in [from, end), in file order: each option's header, then its own
      // check (`each`), then the next option. Returns the first Stop or the list.
      type Opt = { code: number; at: number; length: number };
      const opts = (from: number, each?: (o: Opt, earlier: Opt[]) => Stop | undefined): Stop | Opt[] => {
        const list: Opt[] = [];
        let q = from;
        while (q < end) {
          if (end - q < 4) return new Stop('CAPTURE_INVALID', q, p);
          const code = u16(q, blockLe);
          const length = u16(q + 2, blockLe);
          if (code === 0) break;
          if (q + 4 + pad(length) > end) return new Stop('CAPTURE_INVALID', q + 2, p);
          const o = { code, at: q + 4, length };
          const stop = each?.(o, list);
          if (stop) return stop;
          list.push(o);
          q += 4 + pad(length);
        }
        return list;
      };
      if (type === 0x0a0d0d0a) {
        const major = u16(p + 12, blockLe);
        const minor = u16(p + 14, blockLe);
        if (major !== 1 || (minor !== 0 && minor !== 2)) return new Stop('CAPTURE_UNSUPPORTED', p + 12, p);
        const o = opts(p + 24);
        if (o instanceof Stop) return o;
        le = blockLe;
        sectionIfaces = [];
      } else if (type === 1) {
        // if_tsresol (9), if_fcslen (13), if_tsoffset (14): the first of each counts and must have its size.
        const o = opts(p + 16, ({ code, at, length }, earlier) => {
          const first = !earlier.some((e) => e.code === code);
          if (first && (code === 9 || code === 13 || code === 14) && length !== (code === 14 ? 8 : 1)) return new Stop('CAPTURE_INVALID', at - 2, p);
          return undefined;
        });
        if (o instanceof Stop) return o;
        const resol = o.find((x) => x.code === 9);
        let units = 1_000_000n;
        if (resol) {
          const v = u8(resol.at);
          units = v & 0x80 ? 1n << BigInt(v & 0x7f) : 10n ** BigInt(v);
        }
        if (global >= limits.maxInterfaces) return new Stop('CAPTURE_UNSUPPORTED', p, p);
        const offsetOpt = o.find((x) => x.code === 14);
        const offset = offsetOpt ? Number(BigInt.asIntN(64, big64(offsetOpt.at, blockLe))) : 0;
        sectionIfaces.push({ linkType: u16(p + 8, blockLe), snaplen: u32(p + 12, blockLe), units, offset, index: global++ });
      } else if (type === 6 || type === 2) {
        const id = type === 6 ? u32(p + 8, blockLe) : u16(p + 8, blockLe);
        const f = sectionIfaces[id];
        if (!f) return new Stop('CAPTURE_INVALID', p + 8, p);
        const caplen = u32(p + 20, blockLe);
        if (caplen > limits.maxPacketLength || (f.snaplen !== 0 && caplen > f.snaplen) || pad(caplen) > total - 32) return new Stop('CAPTURE_INVALID', p + 20, p);
        const o = opts(p + 28 + pad(caplen));
        if (o instanceof Stop) return o;
        // The timestamp is two u32 halves, high first, each in the section's order.
        const tsHalves = (BigInt(u32(p + 12, blockLe)) << 32n) | BigInt(u32(p + 16, blockLe));
        const secs = tsHalves / f.units;
        packets.push({
          data: bytes.slice(p + 28, p + 28 + caplen), originalLength: u32(p + 24, blockLe),
          timestampSeconds: Number(secs) + f.offset, timestampNanoseconds: Number(((tsHalves - secs * f.units) * 1_000_000_000n) / f.units),
          linkType: f.linkType, interfaceId: f.index, recordOffset: p,
        });
      } else if (type === 3) {
        const f = sectionIfaces[0];
        if (!f) return new Stop('CAPTURE_INVALID', p, p);
        const len = u32(p + 8, blockLe);
        const caplen = f.snaplen !== 0 && len > f.snaplen ? f.snaplen : len;
        if (caplen > limits.maxPacketLength || pad(caplen) > total - 16) return new Stop('CAPTURE_INVALID', p + 8, p);
        packets.push({
          data: bytes.slice(p + 12, p + 12 + caplen), originalLength: len, timestampSeconds: 0, timestampNanoseconds: 0,
          linkType: f.linkType, interfaceId: f.index, recordOffset: p,
        });
      }
      p += total;
    }
    return undefined;
  }
}

/** Splits bytes into chunks at the given cut points (sorted, deduplicated, inside the array). */
export function chunksAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const c of points) {
    if (c > at) chunks.push(bytes.subarray(at, c));
    at = Math.max(at, c);
  }
  if (at < bytes.length) chunks.push(bytes.subarray(at));
  return chunks;
}
