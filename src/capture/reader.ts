/**
 * Reading a capture (classic pcap or pcapng, told apart by the magic number) as a
 * sequence of CaptureBatches, in constant memory.
 *
 * Written here rather than taken from npm: the pcap readers there parse whole
 * files into objects per packet, or stream without validating lengths, and none
 * reads pcapng sections in both byte orders with if_tsresol/if_tsoffset; reading
 * captures is this filter's own craft.
 *
 * Sources:
 *   - a Uint8Array (a whole file in memory): the batches point into it, nothing is
 *     copied; iterate with `for` or `for await`.
 *   - an async (or sync) iterable of chunks: a Node Readable (fs.createReadStream,
 *     process.stdin), a web ReadableStream, an array of Uint8Arrays. The batches
 *     point into the chunk being read. A record cut by a chunk boundary is
 *     completed in a small carry buffer (as large as the largest record, no more),
 *     so memory stays bounded by the chunk size, maxBlockLength and batchSize
 *     whatever the file's size. The reader is done with a chunk (its batches
 *     yielded, any cut record's bytes copied) before it asks for the next one, so
 *     a source may read every chunk into the same buffer (openCaptureFile does).
 *
 * On a corrupt or truncated file the reader first yields the packets read before
 * the bad record, then throws a CaptureError (CAPTURE_INVALID, CAPTURE_TRUNCATED,
 * CAPTURE_UNSUPPORTED) with the byte offset (see errors.ts). It never waits for
 * more data than a valid record can need, so a damaged length cannot make it
 * buffer or wait without end.
 */
import { SgfilterError } from '../errors.js';
import { CaptureBatch } from './batch.js';
import { CaptureError, hex32 } from './errors.js';
import { refuseUnknownOptions } from '../options.js';
import type { CaptureInterface, CaptureReadOptions, CaptureSection, FormatDecoder, ReaderLimits } from './format.js';
import { isPcapMagic, PcapDecoder, PCAP_HEADER_LENGTH } from './pcap.js';
import { PcapngDecoder, PCAPNG_MAGIC } from './pcapng.js';

/** Classic pcap (libpcap) or pcapng. */
export type CaptureFormat = 'pcap' | 'pcapng';

/** Chunks may be Uint8Arrays (Node Buffers are) or ArrayBuffers. */
export type CaptureChunk = Uint8Array | ArrayBuffer;
/** What readCapture reads: the whole file's bytes, or its bytes in chunks (Node streams are async iterables of Buffers; web streams too). */
export type CaptureSource =
  | Uint8Array
  | ArrayBuffer
  | AsyncIterable<CaptureChunk>
  | Iterable<CaptureChunk>
  | ReadableStream<CaptureChunk>;

const DEFAULT_BATCH = 8192;
const DEFAULT_MAX_PACKET = 262_144;
const DEFAULT_MAX_BLOCK = 16 * 1024 * 1024;
/** Offsets in a batch are 32-bit: a larger in-memory file is read in windows of this size. */
const WINDOW = 0x40000000;

function positiveInt(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SgfilterError('INVALID_ARGUMENT', `${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

const READ_OPTIONS = ['batchSize', 'maxPacketLength', 'maxBlockLength', 'maxInterfaces', 'name'] as const satisfies readonly (keyof CaptureReadOptions)[];

function limitsOf(options: CaptureReadOptions): ReaderLimits {
  if (typeof options !== 'object' || options === null) throw new SgfilterError('INVALID_ARGUMENT', `readCapture: options must be an object, got ${options === null ? 'null' : typeof options}`);
  refuseUnknownOptions('readCapture', options, READ_OPTIONS);
  const batchSize = positiveInt(options.batchSize, DEFAULT_BATCH, 1, 1 << 20, 'batchSize');
  const maxPacketLength = positiveInt(options.maxPacketLength, DEFAULT_MAX_PACKET, 1, 1 << 30, 'maxPacketLength');
  const maxBlockLength = positiveInt(options.maxBlockLength, Math.max(DEFAULT_MAX_BLOCK, maxPacketLength + 65536), maxPacketLength + 32, 2 ** 31, 'maxBlockLength');
  const maxInterfaces = positiveInt(options.maxInterfaces, 65536, 1, 2 ** 32, 'maxInterfaces');
  if (options.name !== undefined && typeof options.name !== 'string') throw new SgfilterError('INVALID_ARGUMENT', `name must be a string, got ${typeof options.name}`);
  return { batchSize, maxPacketLength, maxBlockLength, maxInterfaces, name: options.name };
}

/**
 * The state machine under both drivers: detects the format, runs its decoder, and
 * holds back an error until the packets before it have been yielded.
 */
class CaptureDecoder {
  format: FormatDecoder | undefined;
  formatName: CaptureFormat | undefined;
  needed = 4;
  private pendingError: unknown;

  constructor(readonly batch: CaptureBatch, readonly limits: ReaderLimits) {}

  /** One decode step on buf[pos..end) (buf[0] at file offset base); returns the new position. */
  step(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): number {
    if (this.pendingError !== undefined) {
      const e = this.pendingError;
      this.pendingError = undefined;
      throw e;
    }
    try {
      if (this.format === undefined) {
        if (end - pos < 4) return pos;
        const magic = view.getUint32(pos, false);
        if (magic === PCAPNG_MAGIC) {
          this.format = new PcapngDecoder(this.batch, this.limits);
          this.formatName = 'pcapng';
        } else if (isPcapMagic(magic)) {
          this.needed = PCAP_HEADER_LENGTH;
          if (end - pos < PCAP_HEADER_LENGTH) return pos;
          this.format = new PcapDecoder(this.batch, this.limits, view, pos);
          this.formatName = 'pcap';
          pos += PCAP_HEADER_LENGTH;
        } else {
          throw new CaptureError('CAPTURE_INVALID', `not a pcap or pcapng file: it starts with ${hex32(magic)}${describeMagic(magic)}`, base + pos, base + pos, this.limits.name);
        }
      }
      const next = this.format.decode(buf, view, pos, end, base);
      this.needed = this.format.needed;
      return next;
    } catch (e) {
      if (this.batch.count > 0 && e instanceof CaptureError) {
        this.pendingError = e;
        return Math.max(pos, e.recordOffset - base);
      }
      throw e;
    }
  }

  /** At the end of the data, `remaining` bytes unconsumed: throws if a record was cut. */
  finish(remaining: number, endOffset: number): void {
    if (this.pendingError !== undefined) {
      const e = this.pendingError;
      this.pendingError = undefined;
      throw e;
    }
    const name = this.limits.name;
    if (this.format === undefined) {
      if (endOffset === 0) throw new CaptureError('CAPTURE_TRUNCATED', 'the capture is empty (0 bytes); a pcap or pcapng file starts with a 4-byte magic number', 0, 0, name);
      const what = this.needed === PCAP_HEADER_LENGTH ? `the ${PCAP_HEADER_LENGTH}-byte pcap file header` : 'the 4-byte magic number';
      throw new CaptureError('CAPTURE_TRUNCATED', `the file ends after ${endOffset} bytes, inside ${what}`, endOffset, 0, name);
    }
    const at = this.format.incompleteAt(remaining, endOffset);
    if (at >= 0) {
      throw new CaptureError('CAPTURE_TRUNCATED', `the file ends ${endOffset - at} bytes into ${this.format.pending}, which starts at byte ${at}`, endOffset, at, name);
    }
  }
}

function describeMagic(m: number): string {
  if (m >>> 16 === 0x1f8b) return ' (gzip: decompress it first)';
  if (m >>> 8 === 0x425a68) return ' (bzip2: decompress it first)';
  if (m === 0xfd377a58) return ' (xz: decompress it first)';
  if (m === 0x28b52ffd) return ' (zstd: decompress it first)';
  return '; pcap starts with a1b2c3d4 or a1b23c4d (either byte order), pcapng with 0a0d0d0a';
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new SgfilterError('INVALID_ARGUMENT', `a capture source gave a chunk that is not bytes (${chunk === null ? 'null' : typeof chunk}${typeof chunk === 'string' ? ': a stream with an encoding set?' : ''})`);
}

/**
 * @internal A source's promise that each chunk it yields has this many bytes free
 * before it in its buffer (`chunk.byteOffset` ≥ the number), for the reader to write
 * into until it asks for the next chunk. openCaptureFile's chunks have it: a record
 * that a chunk boundary cuts is then completed in front of the next chunk, and that
 * chunk's packets decoded with it in one batch, rather than alone in a batch of one.
 */
export const CHUNK_HEADROOM = Symbol('sgfilter.chunkHeadroom');

/** The headroom `source` promises (0 when it promises none; see CHUNK_HEADROOM). */
function headroomOf(source: object): number {
  const h = (source as { [CHUNK_HEADROOM]?: unknown })[CHUNK_HEADROOM];
  return typeof h === 'number' && Number.isInteger(h) && h > 0 ? h : 0;
}

/**
 * Feeds chunks of a stream to the decoder. A record that a chunk boundary cuts is
 * completed in the carry buffer with just the bytes it needs from the next chunk;
 * then decoding goes on in that chunk itself. A batch never spans two buffers.
 * When the source gives chunks with headroom (CHUNK_HEADROOM) and the carry fits
 * in it, the carry is copied in front of the next chunk instead, and decoding runs
 * over both as one buffer.
 */
class ChunkFeeder {
  private carry = new Uint8Array(0);
  private carryView = viewOf(this.carry);
  private carryLength = 0;
  /** File offset of carry[0] (or of the next chunk when the carry is empty). */
  private offset = 0;
  packets = 0;

  constructor(private readonly decoder: CaptureDecoder) {}

  get bytesRead(): number {
    return this.offset;
  }

  /** Decodes buf[pos..end) until no progress; yields each non-empty batch. Returns the position reached. */
  private *run(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): Generator<CaptureBatch, number> {
    const batch = this.decoder.batch;
    for (;;) {
      batch.count = 0;
      batch.firstPacketIndex = this.packets;
      const next = this.decoder.step(buf, view, pos, end, base);
      const progressed = next !== pos;
      pos = next;
      if (batch.count > 0) {
        this.packets += batch.count;
        yield batch;
        batch.count = 0;
      } else if (!progressed) {
        return pos;
      }
    }
  }

  *push(chunk: Uint8Array, headroom = 0): Generator<CaptureBatch> {
    const carried = this.carryLength;
    if (carried > 0 && carried <= headroom && carried <= chunk.byteOffset) {
      // The source's promise: the `headroom` bytes before the chunk are ours to write.
      const joined = new Uint8Array(chunk.buffer, chunk.byteOffset - carried, carried + chunk.length);
      joined.set(this.carry.subarray(0, carried), 0);
      this.carryLength = 0;
      yield* this.decodeFrom(joined, viewOf(joined), 0);
      return;
    }
    let cpos = 0;
    const cend = chunk.length;
    let view: DataView | undefined;
    while (cpos < cend) {
      if (this.carryLength > 0) {
        const take = Math.min(Math.max(this.decoder.needed - this.carryLength, 1), cend - cpos);
        this.reserve(this.carryLength + take);
        this.carry.set(chunk.subarray(cpos, cpos + take), this.carryLength);
        this.carryLength += take;
        cpos += take;
        if (this.carryLength < this.decoder.needed) continue;
        const used = yield* this.run(this.carry, this.carryView, 0, this.carryLength, this.offset);
        this.carry.copyWithin(0, used, this.carryLength);
        this.carryLength -= used;
        this.offset += used;
      } else {
        view ??= viewOf(chunk);
        yield* this.decodeFrom(chunk, view, cpos);
        cpos = cend;
      }
    }
  }

  /** Decodes chunk[cpos..) (the carry is empty; chunk[cpos] is at file offset this.offset) and carries what is left. */
  private *decodeFrom(chunk: Uint8Array, view: DataView, cpos: number): Generator<CaptureBatch> {
    const cend = chunk.length;
    const used = yield* this.run(chunk, view, cpos, cend, this.offset - cpos);
    this.offset += used - cpos;
    const rest = cend - used;
    this.reserve(rest);
    this.carry.set(chunk.subarray(used, cend), 0);
    this.carryLength = rest;
  }

  end(): void {
    this.decoder.finish(this.carryLength, this.offset + this.carryLength);
  }

  private reserve(n: number): void {
    if (n <= this.carry.length) return;
    const bigger = new Uint8Array(Math.max(n, this.carry.length * 2, 65536));
    bigger.set(this.carry.subarray(0, this.carryLength));
    this.carry = bigger;
    this.carryView = viewOf(bigger);
  }
}

/**
 * A capture being read: iterate it (once) for CaptureBatches; `interfaces`,
 * `sections` and `format` fill in as the headers are read.
 *
 *   const reader = readCapture(fs.createReadStream('x.pcapng'));
 *   for await (const batch of reader) {
 *     for (let i = 0; i < batch.count; i++) {
 *       const bytes = batch.packet(i);               // or data/offsets/capturedLengths
 *       const iface = reader.interfaces[batch.interfaceIds[i]];
 *     }
 *   }
 */
export class CaptureReader implements AsyncIterable<CaptureBatch>, Iterable<CaptureBatch> {
  private readonly decoder: CaptureDecoder;
  private readonly feeder: ChunkFeeder;
  private started = false;
  private inMemoryPackets = 0;
  private inMemoryBytes = 0;

  constructor(private readonly source: CaptureSource, options: CaptureReadOptions = {}) {
    const ok = source instanceof Uint8Array || source instanceof ArrayBuffer
      || (source !== null && typeof source === 'object'
        && (Symbol.asyncIterator in source || Symbol.iterator in source || typeof (source as ReadableStream).getReader === 'function'));
    if (!ok) {
      throw new SgfilterError('INVALID_ARGUMENT', `a capture source must be a Uint8Array, an ArrayBuffer, an (async) iterable of byte chunks or a ReadableStream, got ${source === null ? 'null' : typeof source}${typeof source === 'string' ? ' (a file path? use openCaptureFile)' : ''}`);
    }
    const limits = limitsOf(options);
    this.decoder = new CaptureDecoder(new CaptureBatch(limits.batchSize), limits);
    this.feeder = new ChunkFeeder(this.decoder);
  }

  /** 'pcap' or 'pcapng' once the magic number has been read. */
  get format(): CaptureFormat | undefined {
    return this.decoder.formatName;
  }

  /** Every interface declared so far (pcap: the one of the file header). `batch.interfaceIds` index this. */
  get interfaces(): readonly CaptureInterface[] {
    return this.decoder.format?.interfaces ?? [];
  }

  /** Every section so far (pcap: one). */
  get sections(): readonly CaptureSection[] {
    return this.decoder.format?.sections ?? [];
  }

  /** Packets yielded so far. */
  get packetsRead(): number {
    return this.inMemoryPackets + this.feeder.packets;
  }

  /** Bytes of the file decoded so far (the offset of the first byte not yet used). */
  get bytesRead(): number {
    return this.inMemoryBytes + this.feeder.bytesRead;
  }

  /** Is any interface's timestamp resolution finer than a microsecond? (Then write nanosecond pcap to keep it.) */
  get nanosecondTimestamps(): boolean {
    return this.interfaces.some((i) => i.resolution.unitsPerSecond > 1_000_000n);
  }

  private start(): void {
    if (this.started) throw new SgfilterError('INVALID_ARGUMENT', 'a CaptureReader can be iterated only once; make a new one to read the capture again');
    this.started = true;
  }

  /** Synchronous iteration: only for a Uint8Array / ArrayBuffer source or a sync iterable of chunks. */
  *[Symbol.iterator](): Iterator<CaptureBatch> {
    this.start();
    const src = this.source;
    if (src instanceof Uint8Array || src instanceof ArrayBuffer) {
      yield* this.inMemory(asBytes(src));
      return;
    }
    if (src !== null && typeof src === 'object' && Symbol.iterator in src) {
      for (const chunk of src as Iterable<unknown>) yield* this.feeder.push(asBytes(chunk));
      this.feeder.end();
      return;
    }
    throw new SgfilterError('INVALID_ARGUMENT', 'this capture source is asynchronous: iterate it with for await');
  }

  /** The batches, in file order; each is reused for the next, so read it before asking for the next. Throws CaptureError. */
  async *[Symbol.asyncIterator](): AsyncIterator<CaptureBatch> {
    const src = this.source;
    if (src instanceof Uint8Array || src instanceof ArrayBuffer || (src !== null && typeof src === 'object' && !(Symbol.asyncIterator in src) && Symbol.iterator in src)) {
      yield* this[Symbol.iterator]() as Generator<CaptureBatch>;
      return;
    }
    this.start();
    if (src !== null && typeof src === 'object' && Symbol.asyncIterator in src) {
      const headroom = headroomOf(src);
      for await (const chunk of src as AsyncIterable<unknown>) yield* this.feeder.push(asBytes(chunk), headroom);
    } else if (src !== null && typeof src === 'object' && typeof (src as ReadableStream).getReader === 'function') {
      const r = (src as ReadableStream<unknown>).getReader();
      try {
        for (;;) {
          const { done, value } = await r.read();
          if (done) break;
          yield* this.feeder.push(asBytes(value));
        }
      } finally {
        r.releaseLock();
      }
    } else {
      throw new SgfilterError('INVALID_ARGUMENT', 'a capture source must be a Uint8Array, an ArrayBuffer, an (async) iterable of byte chunks or a ReadableStream');
    }
    this.feeder.end();
  }

  /** A whole file in memory: decoded in place (in 1 GiB windows past 4 GiB). */
  private *inMemory(bytes: Uint8Array): Generator<CaptureBatch> {
    if (bytes.length > 0xffffffff) {
      for (let at = 0; at < bytes.length; at += WINDOW) yield* this.feeder.push(bytes.subarray(at, at + WINDOW));
      this.feeder.end();
      return;
    }
    const view = viewOf(bytes);
    const batch = this.decoder.batch;
    let pos = 0;
    for (;;) {
      batch.count = 0;
      batch.firstPacketIndex = this.inMemoryPackets;
      const next = this.decoder.step(bytes, view, pos, bytes.length, 0);
      const progressed = next !== pos;
      pos = next;
      this.inMemoryBytes = pos;
      if (batch.count > 0) {
        this.inMemoryPackets += batch.count;
        yield batch;
        batch.count = 0;
      } else if (!progressed) {
        break;
      }
    }
    this.decoder.finish(bytes.length - pos, bytes.length);
  }
}

/**
 * Starts reading a capture from `source` (see CaptureReader). Options: batchSize,
 * maxPacketLength, maxBlockLength, maxInterfaces, name (for messages).
 * Throws SgfilterError INVALID_ARGUMENT for bad options; the reading itself throws
 * CaptureErrors from the iteration.
 */
export function readCapture(source: CaptureSource, options?: CaptureReadOptions): CaptureReader {
  return new CaptureReader(source, options);
}
