/**
 * PacketBatch: many captured packets (docs/SEMANTICS.md, "Packets") as one validated descriptor — the
 * bytes, where each packet starts, how many bytes of it were captured, when, and its
 * link type — ready to be copied into the WASM packet window in one piece per array
 * (assembly/packet-layout.ts PACKETS).
 *
 * The descriptor is the caller's and so untrusted: every offset and length is checked
 * against `bytes` here, once, and the checked numbers are copied into arrays the
 * caller cannot reach afterwards. WASM then checks every header field against each
 * packet's captured length before it reads a byte.
 */
import { SgfilterError } from '../errors.js';
import { refuseUnknownOptions } from '../options.js';

/** A batch given as parallel arrays over one buffer (what a capture reader produces). */
export interface PacketBatchInput {
  /** The captured bytes of the packets (back to back, or anywhere in this buffer). */
  bytes: Uint8Array;
  /** Byte offset of packet i in `bytes`. */
  offsets: ArrayLike<number>;
  /** Captured length of packet i (pcap incl_len): bytes present from its offset. */
  lengths: ArrayLike<number>;
  /** Capture time of packet i in seconds (any epoch, fractions allowed, within ±2^40), or one time for all. */
  timestamps: ArrayLike<number> | number;
  /** LINKTYPE_* of packet i (0, 1, 101, 113, 228, 229, 276), or one for all. */
  linkType: ArrayLike<number> | number;
  /**
   * Length of packet i on the wire (pcap orig_len), counted in the byte counters; default:
   * `lengths`. Less than `lengths[i]` (a record that lies) makes the packet `malformed`,
   * counted with its captured length.
   */
  wireLengths?: ArrayLike<number>;
}

/** One packet given on its own (createPacketBatch copies the packets into one buffer). */
export interface PacketInput {
  /** The captured bytes, from the link-layer header on. */
  data: Uint8Array;
  /** Capture time in seconds. */
  timestamp: number;
  /** LINKTYPE_*; default: the `linkType` option of createPacketBatch. */
  linkType?: number;
  /** Length on the wire; default: data.length (less makes the packet `malformed`). */
  wireLength?: number;
}

/** @internal The checked arrays of a batch (not reachable from the public API). */
export interface PacketBatchData {
  bytes: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  wire: Uint32Array;
  times: Float64Array;
  links: Uint32Array;
  /** First byte of `bytes` any packet uses, and one past the last. */
  spanStart: number;
  spanEnd: number;
}

const DATA = new WeakMap<PacketBatch, PacketBatchData>();
/** Only this module can make a PacketBatch: its arrays are the checked ones. */
const CHECKED = Symbol('checked by createPacketBatch');

/**
 * Packets ready for `tracker.classifyPackets`. Build once with createPacketBatch; the
 * batch may be classified many times (by one tracker or several). The bytes are
 * referenced, not copied: changing them changes what the next classification sees
 * (which is checked again, byte by byte, in WASM), never where it reads.
 */
export class PacketBatch {
  /** Packets in the batch. */
  readonly length: number;

  /** @internal use createPacketBatch (a batch made any other way is refused) */
  constructor(checked: symbol, data: PacketBatchData) {
    if (checked !== CHECKED) throw new SgfilterError('INVALID_ARGUMENT', 'make packet batches with createPacketBatch(...), which checks them');
    this.length = data.offsets.length;
    DATA.set(this, data);
  }

  /** The captured bytes of packet i (a view into the batch's buffer). */
  packet(i: number): Uint8Array {
    const d = DATA.get(this)!;
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new SgfilterError('INVALID_ARGUMENT', `packet index ${i} is outside 0-${this.length - 1}`);
    return d.bytes.subarray(d.offsets[i]!, d.offsets[i]! + d.lengths[i]!);
  }

  /** Capture time of packet i, seconds. */
  timestamp(i: number): number {
    return DATA.get(this)!.times[i]!;
  }

  /** LINKTYPE_* of packet i. */
  linkType(i: number): number {
    return DATA.get(this)!.links[i]!;
  }
}

/** @internal the checked arrays of `batch` (throws on anything that is not a PacketBatch). */
export function packetBatchData(batch: unknown): PacketBatchData {
  const d = batch instanceof PacketBatch ? DATA.get(batch) : undefined;
  if (!d) throw new SgfilterError('INVALID_ARGUMENT', 'classifyPackets takes a PacketBatch from createPacketBatch(...)');
  if (d.bytes.byteLength < d.spanEnd) {
    // A resizable or transferred buffer shrank under the batch after it was checked.
    throw new SgfilterError('PACKET_BATCH_INVALID', `the batch's bytes are now ${d.bytes.byteLength} long, its packets reach byte ${d.spanEnd}`);
  }
  return d;
}

const MAX_U32 = 0xffffffff;
/**
 * Capture times are seconds in ±2^40 (±35,000 years around the epoch): there an f64
 * still resolves a quarter of a millisecond, so adding a timeout stays exact enough.
 */
export const MAX_TIME = 2 ** 40;
const isTime = (v: number): boolean => Number.isFinite(v) && Math.abs(v) <= MAX_TIME;

function bad(message: string): SgfilterError {
  return new SgfilterError('PACKET_BATCH_INVALID', `invalid packet batch: ${message}`);
}

function isArrayLike(x: unknown): x is ArrayLike<number> {
  return ArrayBuffer.isView(x) ? !(x instanceof DataView) : Array.isArray(x);
}

/** Does every value `src` can hold lie in 0..2^32-1 (an unsigned integer typed array)? Then it needs no check per value. */
function unsigned32(src: unknown): src is Uint8Array | Uint16Array | Uint32Array | Uint8ClampedArray {
  return src instanceof Uint32Array || src instanceof Uint16Array || src instanceof Uint8Array || src instanceof Uint8ClampedArray;
}

/** Copies `src` (length n) into a Uint32Array, each value an integer in 0..max. */
function u32s(src: ArrayLike<number>, n: number, field: string, max = MAX_U32): Uint32Array {
  if (src.length !== n) throw bad(`${field} has ${src.length} entries for ${n} packets`);
  const out = new Uint32Array(n);
  if (max === MAX_U32 && unsigned32(src)) {
    // A capture reader's arrays: one native copy instead of a check per value.
    out.set(src);
    return out;
  }
  for (let i = 0; i < n; i++) {
    const v = src[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
      throw bad(`${field}[${i}] is ${typeof v === 'number' ? v : typeof v}; expected a whole number 0-${max}`);
    }
    out[i] = v;
  }
  return out;
}

/** A per-packet field as a `make(n)` array: one number for every packet, or one each, each passing `check`; `anyU32`: `check` takes every integer 0..2^32-1. */
function perPacket(src: ArrayLike<number> | number, n: number, field: string, check: (v: number) => boolean, allowed: string, make: (n: number) => Float64Array | Uint32Array, anyU32 = false): Float64Array | Uint32Array {
  const out = make(n);
  if (typeof src === 'number') {
    if (!check(src)) throw bad(`${field} is ${src}; expected ${allowed}`);
    out.fill(src);
    return out;
  }
  if (!isArrayLike(src)) throw bad(`${field} must be a number or an array of numbers (one per packet)`);
  if (src.length !== n) throw bad(`${field} has ${src.length} entries for ${n} packets`);
  if (anyU32 && out instanceof Uint32Array && unsigned32(src)) {
    // Every value such a source can hold is allowed: one native copy.
    out.set(src);
    return out;
  }
  for (let i = 0; i < n; i++) {
    const v = src[i];
    if (typeof v !== 'number' || !check(v)) throw bad(`${field}[${i}] is ${typeof v === 'number' ? v : typeof v}; expected ${allowed}`);
    out[i] = v;
  }
  return out;
}

function fromArrays(input: PacketBatchInput): PacketBatch {
  if (typeof input !== 'object' || input === null) throw bad('expected { bytes, offsets, lengths, timestamps, linkType } or a list of { data, timestamp }');
  const { bytes } = input;
  if (!(bytes instanceof Uint8Array)) throw bad('bytes must be a Uint8Array');
  if (!isArrayLike(input.offsets)) throw bad('offsets must be an array of numbers (one per packet)');
  if (!isArrayLike(input.lengths)) throw bad('lengths must be an array of numbers (one per packet)');
  const n = input.offsets.length;
  const offsets = u32s(input.offsets, n, 'offsets');
  const lengths = u32s(input.lengths, n, 'lengths');
  let wire: Uint32Array;
  if (input.wireLengths === undefined) wire = lengths.slice();
  else if (!isArrayLike(input.wireLengths)) throw bad('wireLengths must be an array of numbers (one per packet)');
  else wire = u32s(input.wireLengths, n, 'wireLengths');
  const times = perPacket(input.timestamps, n, 'timestamps', isTime, 'a time in seconds within ±2^40', (k) => new Float64Array(k)) as Float64Array;
  const links = perPacket(input.linkType, n, 'linkType', (v) => Number.isInteger(v) && v >= 0 && v <= MAX_U32, 'a LINKTYPE_* number (0-4294967295)', (k) => new Uint32Array(k), true) as Uint32Array;
  const size = bytes.byteLength;
  let spanStart = n === 0 ? 0 : Infinity;
  let spanEnd = 0;
  for (let i = 0; i < n; i++) {
    const at = offsets[i]!;
    const end = at + lengths[i]!;
    if (end > size) throw bad(`packet ${i}: offset ${at} + length ${lengths[i]} = ${end} is past the ${size} bytes given`);
    if (at < spanStart) spanStart = at;
    if (end > spanEnd) spanEnd = end;
  }
  if (spanEnd < spanStart) spanEnd = spanStart;
  return new PacketBatch(CHECKED, { bytes, offsets, lengths, wire, times, links, spanStart, spanEnd });
}

function fromPackets(list: readonly PacketInput[], linkType: number | undefined): PacketBatch {
  const n = list.length;
  let total = 0;
  list.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || !(p.data instanceof Uint8Array)) throw bad(`packet ${i}: expected { data: Uint8Array, timestamp, linkType? }`);
    total += p.data.length;
  });
  const bytes = new Uint8Array(total);
  const offsets = new Array<number>(n);
  const lengths = new Array<number>(n);
  const times = new Array<number>(n);
  const links = new Array<number>(n);
  const wire = new Array<number>(n);
  let at = 0;
  list.forEach((p, i) => {
    bytes.set(p.data, at);
    offsets[i] = at;
    lengths[i] = p.data.length;
    times[i] = p.timestamp;
    const link = p.linkType ?? linkType;
    if (link === undefined) throw bad(`packet ${i}: no linkType (give it on the packet or as createPacketBatch(list, { linkType }))`);
    links[i] = link;
    wire[i] = p.wireLength ?? p.data.length;
    at += p.data.length;
  });
  return fromArrays({ bytes, offsets, lengths, timestamps: times, linkType: links, wireLengths: wire });
}

/**
 * Validates packets and packs them as a PacketBatch.
 *
 * - `createPacketBatch({ bytes, offsets, lengths, timestamps, linkType, wireLengths? })`:
 *   parallel arrays over one buffer (nothing is copied but the small arrays).
 * - `createPacketBatch([{ data, timestamp, linkType?, wireLength? }, ...], { linkType })`:
 *   one object per packet (their bytes are copied into one buffer).
 *
 * Throws PACKET_BATCH_INVALID naming the packet and field when a length, offset,
 * time or link type is not a whole number in range or a packet reaches past `bytes`.
 * Timestamps are seconds within ±2^40; link types are not limited to the
 * supported ones: a packet of another link type is dropped as `not-ip`.
 */
export function createPacketBatch(input: PacketBatchInput | readonly PacketInput[], options: { linkType?: number } = {}): PacketBatch {
  if (typeof options !== 'object' || options === null) throw new SgfilterError('INVALID_ARGUMENT', `createPacketBatch: options must be an object, got ${options === null ? 'null' : typeof options}`);
  refuseUnknownOptions('createPacketBatch', options, ['linkType']);
  if (Array.isArray(input)) return fromPackets(input as readonly PacketInput[], options.linkType);
  return fromArrays(input as PacketBatchInput);
}
