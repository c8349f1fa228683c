/**
 * Capture files and Node streams: the Node side of src/capture (which has no
 * `node:` imports).
 *
 *   const reader = openCaptureFile('in.pcapng');
 *   const out = await createCaptureFileWriter('out.pcap', { precision: reader.nanosecondTimestamps ? 'nano' : 'micro' });
 *   for await (const batch of reader) await out.write(batch, keepFlags(batch));
 *   await out.close();
 *
 * Files are read and written through a FileHandle with buffers of our own, used
 * again and again: a Node read stream allocates a new Buffer per chunk, which cost
 * more than decoding the packets in it (2M packets from tmpfs: ~230 ms of stream
 * against ~85 ms with one reused buffer). Reading may reuse its buffer because a
 * CaptureReader is done with a chunk before it asks for the next one; writing
 * encodes into one buffer while the other is being written (at most one write in
 * flight). Reading opens the file only when iteration starts and closes it when
 * iteration ends, early or not.
 *
 * A Writable gets a new buffer per batch (it may hold on to it) and backpressure:
 * `write` resolves once the stream can take more (after 'drain' when write() said
 * it was full), and rejects if the stream fails or closes first, so a writer never
 * waits forever.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { SgfilterError } from '../errors.js';
import { fileAccessError } from './fs-errors.js';
import { refuseUnknownOptions } from '../options.js';
import { CHUNK_HEADROOM, readCapture, type CaptureReader } from '../capture/reader.js';
import type { CaptureReadOptions } from '../capture/format.js';
import type { CaptureBatch, CapturedPacket } from '../capture/batch.js';
import { createCaptureEncoder, type CaptureEncoder, type CaptureWriterOptions } from '../capture/writer.js';

/**
 * Bytes kept free before each chunk read from a file: a record cut by the chunk's
 * start is completed there (up to this long; a longer one goes the slower way), so
 * its packet joins the chunk's batch rather than making a batch of one packet (a
 * WASM call and a write of its own, at every chunk boundary).
 */
const HEADROOM = 65536;

/** openCaptureFile's options: the reader's, and how much of the file is read at a time. */
export interface OpenCaptureOptions extends CaptureReadOptions {
  /** Bytes read from the file at a time (default 1 MiB). */
  highWaterMark?: number;
}

/**
 * A CaptureReader over the file at `path` (a regular file, a FIFO, /dev/stdin...),
 * read in chunks of `highWaterMark` bytes into one reused buffer. Errors:
 * CaptureError (CAPTURE_*) for the content, SgfilterError FILE_ACCESS for the file
 * ("nope.pcap does not exist", "x is a folder, not a file": the system error as
 * `cause`), both thrown from the iteration.
 */
export function openCaptureFile(path: string, options: OpenCaptureOptions = {}): CaptureReader {
  if (typeof options !== 'object' || options === null) throw new SgfilterError('INVALID_ARGUMENT', `openCaptureFile: options must be an object, got ${options === null ? 'null' : typeof options}`);
  refuseUnknownOptions('openCaptureFile', options, ['batchSize', 'maxPacketLength', 'maxBlockLength', 'maxInterfaces', 'name', 'highWaterMark'] satisfies (keyof OpenCaptureOptions)[]);
  const { highWaterMark = 1 << 20, ...rest } = options;
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1 || highWaterMark > 2 ** 30) {
    throw new SgfilterError('INVALID_ARGUMENT', `highWaterMark must be a whole number of bytes from 1 to 2^30, got ${String(highWaterMark)}`);
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw fileAccessError(e, path, 'read', 'openCaptureFile');
    }
    // Two buffers: the next chunk is read while the reader decodes this one. The
    // reader is done with a chunk when it asks for the next, so its buffer is free
    // to read into again. Each is read into after HEADROOM free bytes, where the
    // reader puts the record the previous chunk cut (CHUNK_HEADROOM).
    const buffers = [new Uint8Array(HEADROOM + highWaterMark), new Uint8Array(HEADROOM + highWaterMark)];
    let ahead: Promise<{ bytesRead: number }> | undefined;
    try {
      let k = 0;
      ahead = handle.read(buffers[0]!, HEADROOM, highWaterMark, null);
      for (;;) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await ahead);
        } catch (e) {
          throw fileAccessError(e, path, 'read', 'openCaptureFile');
        }
        ahead = undefined;
        if (bytesRead === 0) return;
        const chunk = buffers[k]!.subarray(HEADROOM, HEADROOM + bytesRead);
        k ^= 1;
        ahead = handle.read(buffers[k]!, HEADROOM, highWaterMark, null);
        yield chunk;
      }
    } finally {
      await ahead?.catch(() => undefined);
      await handle.close();
    }
  }
  const source = Object.defineProperty(chunks(), CHUNK_HEADROOM, { value: HEADROOM });
  return readCapture(source, { name: path, ...rest });
}

/** The output format a file name implies: pcapng for `.pcapng`/`.ntar`, else pcap. */
export function captureFormatOf(path: string): 'pcap' | 'pcapng' {
  return /\.(pcapng|ntar)(\.tmp)?$/i.test(path) ? 'pcapng' : 'pcap';
}

/** Resolves when `out` can take more data; rejects if it errors or closes first. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
    };
    const onDrain = () => { cleanup(); resolve(); };
    const onError = (e: Error) => { cleanup(); reject(e); };
    const onClose = () => { cleanup(); reject(out.errored ?? new SgfilterError('INVALID_ARGUMENT', 'the capture output stream closed before it was drained')); };
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}

/** Where encoded bytes go: a file (buffers reused) or a Writable (a buffer per write). */
interface Sink {
  /** Encodes with `encode(into)` and sends the bytes; resolves when the next batch may be encoded. */
  send(encode: (into: Uint8Array | undefined) => Uint8Array): Promise<void>;
  /** Waits for every byte sent, then ends (file: closes; stream: ends if asked). */
  end(): Promise<void>;
  /** Gives the file up after an error (a no-op for streams). */
  abandon(): Promise<void>;
}

class FileSink implements Sink {
  private readonly buffers: Uint8Array[] = [new Uint8Array(1 << 20), new Uint8Array(1 << 20)];
  private next = 0;
  private inFlight: Promise<void> | undefined;
  constructor(private readonly handle: FileHandle, private readonly path: string) {}

  private async writeAll(bytes: Uint8Array): Promise<void> {
    try {
      for (let at = 0; at < bytes.length;) {
        const { bytesWritten } = await this.handle.write(bytes, at, bytes.length - at, null);
        at += bytesWritten;
      }
    } catch (e) {
      throw fileAccessError(e, this.path, 'write', 'CaptureWriteStream');
    }
  }

  async send(encode: (into: Uint8Array | undefined) => Uint8Array): Promise<void> {
    // This buffer's last write finished before the previous send returned.
    const bytes = encode(this.buffers[this.next]);
    if (bytes.length > this.buffers[this.next]!.length) this.buffers[this.next] = bytes; // grew: keep the bigger one
    const before = this.inFlight;
    this.inFlight = undefined;
    if (before) await before;
    if (bytes.length === 0) return;
    this.inFlight = this.writeAll(bytes);
    this.inFlight.catch(() => undefined); // surfaced by the next send() or end()
    this.next ^= 1;
  }

  async end(): Promise<void> {
    try {
      if (this.inFlight) await this.inFlight;
    } finally {
      this.inFlight = undefined;
      await this.handle.close();
    }
  }

  async abandon(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    await this.handle.close().catch(() => undefined);
  }
}

class StreamSink implements Sink {
  constructor(private readonly out: Writable, private readonly endStream: boolean) {}

  async send(encode: (into: Uint8Array | undefined) => Uint8Array): Promise<void> {
    const out = this.out;
    if (out.destroyed || out.writableEnded) throw out.errored ?? new SgfilterError('INVALID_ARGUMENT', 'the capture output stream is already closed');
    const bytes = encode(undefined);
    if (bytes.length === 0) return;
    if (!out.write(bytes)) await drained(out);
  }

  async end(): Promise<void> {
    if (!this.endStream) return;
    this.out.end();
    await finished(this.out);
  }

  async abandon(): Promise<void> {}
}

/** A capture being written to a file or a Node Writable (see createCaptureFileWriter). */
export class CaptureWriteStream {
  private closed = false;
  /** @internal */
  constructor(private readonly sink: Sink, private readonly encoder: CaptureEncoder) {}

  /** The output format. */
  get format(): 'pcap' | 'pcapng' {
    return this.encoder.format;
  }
  /** Packets written so far. */
  get packetsWritten(): number {
    return this.encoder.packetsWritten;
  }
  /** Bytes written so far, file header included. */
  get bytesWritten(): number {
    return this.encoder.bytesWritten;
  }

  private send(encode: (into: Uint8Array | undefined) => Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new SgfilterError('INVALID_ARGUMENT', 'write after close on a capture writer'));
    return this.sink.send(encode);
  }

  /**
   * Writes the packets of `batch` whose `keep` flag is non-zero (all without
   * `keep`). The batch may be reused as soon as this returns (its bytes are
   * encoded into a buffer of the writer's first). Throws CaptureError
   * CAPTURE_LINK_TYPE_MISMATCH / CAPTURE_UNSUPPORTED (nothing of the batch
   * written) or the file's or stream's error.
   */
  write(batch: CaptureBatch, keep?: Uint8Array): Promise<void> {
    return this.send((into) => this.encoder.encode(batch, keep, into));
  }

  /** Writes packets copied out of batches (copyPacket), in order; errors as write(). */
  writePackets(packets: readonly CapturedPacket[]): Promise<void> {
    return this.send(() => this.encoder.encodePackets(packets));
  }

  /**
   * Writes the file header if no packet was written, waits for every byte, and
   * closes the file (a Writable is ended unless it was given with `end: false`).
   * After an error the file is closed all the same and the error thrown.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.send(() => this.encoder.finish());
    } catch (e) {
      this.closed = true;
      await this.sink.abandon();
      throw e;
    }
    this.closed = true;
    await this.sink.end();
  }
}

/** createCaptureFileWriter's options: the encoder's, and what to do with a stream given. */
export interface CaptureFileWriterOptions extends CaptureWriterOptions {
  /** With a Writable: end it on close() (default true). */
  end?: boolean;
}

/**
 * Opens a capture output: a file path (created or truncated; the format from its
 * extension unless `format` is given: `.pcapng` → pcapng, else pcap) or a Node
 * Writable (format 'pcap' unless given). Rejects with SgfilterError FILE_ACCESS
 * ("cannot write out/x.pcap: its folder does not exist"; the system error as `cause`)
 * if the file cannot be opened, SgfilterError INVALID_ARGUMENT for bad options.
 */
export async function createCaptureFileWriter(target: string | Writable, options: CaptureFileWriterOptions = {}): Promise<CaptureWriteStream> {
  if (typeof options !== 'object' || options === null) throw new SgfilterError('INVALID_ARGUMENT', `createCaptureFileWriter: options must be an object, got ${options === null ? 'null' : typeof options}`);
  refuseUnknownOptions('createCaptureFileWriter', options, ['format', 'precision', 'byteOrder', 'linkType', 'snaplen', 'interfaces', 'end'] satisfies (keyof CaptureFileWriterOptions)[]);
  const { end = true, ...rest } = options;
  const format = rest.format ?? (typeof target === 'string' ? captureFormatOf(target) : 'pcap');
  const encoder = createCaptureEncoder({ ...rest, format });
  if (typeof target === 'string') {
    let handle: FileHandle;
    try {
      handle = await open(target, 'w');
    } catch (e) {
      throw fileAccessError(e, target, 'write', 'createCaptureFileWriter');
    }
    return new CaptureWriteStream(new FileSink(handle, target), encoder);
  }
  return new CaptureWriteStream(new StreamSink(target, end), encoder);
}
