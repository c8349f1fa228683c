/**
 * Capture files and Node streams: the Node side of src/capture (which has no
 * `node:` imports).
 *
 *   const reader = openCaptureFile('in.pcapng');
 *   const out = await createCaptureFileWriter('out.pcap', { precision: reader.nanosecondTimestamps ? 'nano' : 'micro' });
 *   for await (const batch of reader) await out.write(batch, keepFlags(batch));
 *   await out.close();
 *
 * Reading opens the file only when iteration starts and closes it when iteration
 * ends, early or not. Writing honours backpressure: `write` resolves once the
 * stream can take more (after 'drain' when write() said it was full), and rejects
 * if the stream fails or closes first, so a writer never waits forever.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { SgfilterError } from '../errors.js';
import { readCapture, type CaptureReader } from '../capture/reader.js';
import type { CaptureReadOptions } from '../capture/format.js';
import type { PacketBatch, CapturedPacket } from '../capture/batch.js';
import { createCaptureEncoder, type CaptureEncoder, type CaptureWriterOptions } from '../capture/writer.js';

export interface OpenCaptureOptions extends CaptureReadOptions {
  /** Bytes read from the file at a time (default 1 MiB). */
  highWaterMark?: number;
}

/**
 * A CaptureReader over the file at `path`, read in chunks of `highWaterMark`
 * bytes. Errors: CaptureError (CAPTURE_*) for the content, the fs error (ENOENT,
 * EACCES...) for the file, both thrown from the iteration.
 */
export function openCaptureFile(path: string, options: OpenCaptureOptions = {}): CaptureReader {
  const { highWaterMark = 1 << 20, ...rest } = options;
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1) throw new SgfilterError('INVALID_ARGUMENT', `highWaterMark must be a whole number of bytes ≥ 1, got ${String(highWaterMark)}`);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const stream = createReadStream(path, { highWaterMark });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } finally {
      stream.destroy();
    }
  }
  return readCapture(chunks(), { name: path, ...rest });
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

/** A capture being written to a Node Writable (see createCaptureFileWriter). */
export class CaptureWriteStream {
  private closed = false;
  constructor(private readonly out: Writable, private readonly encoder: CaptureEncoder, private readonly endStream: boolean) {}

  get format(): 'pcap' | 'pcapng' {
    return this.encoder.format;
  }
  get packetsWritten(): number {
    return this.encoder.packetsWritten;
  }
  get bytesWritten(): number {
    return this.encoder.bytesWritten;
  }

  private async send(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new SgfilterError('INVALID_ARGUMENT', 'write after close on a capture writer');
    const out = this.out;
    if (out.destroyed || out.writableEnded) throw out.errored ?? new SgfilterError('INVALID_ARGUMENT', 'the capture output stream is already closed');
    if (bytes.length === 0) return;
    if (!out.write(bytes)) await drained(out);
  }

  /**
   * Writes the packets of `batch` whose `keep` flag is non-zero (all without
   * `keep`). The batch may be reused as soon as this returns (the bytes are encoded
   * into a buffer of their own first). Throws CaptureError CAPTURE_LINK_TYPE_MISMATCH
   * / CAPTURE_UNSUPPORTED (nothing of the batch written) or the stream's error.
   */
  write(batch: PacketBatch, keep?: Uint8Array): Promise<void> {
    return this.send(this.encoder.encode(batch, keep));
  }

  writePackets(packets: readonly CapturedPacket[]): Promise<void> {
    return this.send(this.encoder.encodePackets(packets));
  }

  /** Writes the file header if no packet was written, then ends the stream (unless it was given with `end: false`) and waits until it is flushed. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.send(this.encoder.finish());
    this.closed = true;
    if (!this.endStream) return;
    this.out.end();
    await finished(this.out);
  }
}

export interface CaptureFileWriterOptions extends CaptureWriterOptions {
  /** With a Writable: end it on close() (default true). */
  end?: boolean;
}

/**
 * Opens a capture output: a file path (created or truncated; the format from its
 * extension unless `format` is given: `.pcapng` → pcapng, else pcap) or a Node
 * Writable (format 'pcap' unless given). Rejects with the fs error if the file
 * cannot be opened, SgfilterError INVALID_ARGUMENT for bad options.
 */
export async function createCaptureFileWriter(target: string | Writable, options: CaptureFileWriterOptions = {}): Promise<CaptureWriteStream> {
  const { end = true, ...rest } = options;
  const format = rest.format ?? (typeof target === 'string' ? captureFormatOf(target) : 'pcap');
  const encoder = createCaptureEncoder({ ...rest, format });
  if (typeof target === 'string') {
    const out = createWriteStream(target, { highWaterMark: 1 << 20 });
    await once(out, 'ready');
    return new CaptureWriteStream(out, encoder, true);
  }
  return new CaptureWriteStream(target, encoder, end);
}
