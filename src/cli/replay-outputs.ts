/**
 * What `sgfilter replay` writes as it goes: the accepted and dropped packets as
 * captures (--accepted, --dropped) and one verdict JSON line per packet (--verdicts).
 * Each is a file the user named, or stdout for `-` (one output at most), written
 * with backpressure: a slow disk or a slow pipe holds the replay back, nothing piles
 * up in memory.
 *
 * Capture format (what tcpdump and Wireshark users expect):
 *   - a name ending .pcapng (or .ntar) is pcapng;
 *   - anything else (and stdout) is classic pcap, with the capture's link type in its
 *     header (even when no packet is written, as tcpdump -w does) and its timestamp
 *     precision (nanoseconds when the capture has them, else microseconds);
 *   - unless the capture's interfaces, as declared before its first packet, have
 *     several link types: one pcap file holds one, so the output is pcapng and a note
 *     says so (as dumpcap writes pcapng for several interfaces);
 *   - and should a pcapng capture declare an interface of another link type only
 *     later, when packets are already in the pcap output, that output (a regular
 *     file) is rewritten once as pcapng, its packets first, and goes on as pcapng; a
 *     pcap going to stdout or a pipe cannot be rewritten, so that is an error that
 *     says to name the output .pcapng.
 * Files are created (or truncated) in place, as tcpdump -w does, so a FIFO or
 * /dev/stdout works; a run stopped by an error leaves what was written so far.
 */
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CaptureError } from '../capture/errors.js';
import type { CaptureBatch } from '../capture/batch.js';
import type { CaptureReader } from '../capture/reader.js';
import { linkTypeName } from '../capture/link-types.js';
import { captureFormatOf, createCaptureFileWriter, openCaptureFile, type CaptureWriteStream } from '../node/capture-file.js';
import { fileErrorText } from '../node/fs-errors.js';
import { writeOut } from './output.js';
import { CliError } from './shared.js';

/** A capture format decision: the format, and why it is not the one the name implies (a note for the user). */
export interface OutputFormat {
  format: 'pcap' | 'pcapng';
  /** pcap: the header's link type (the capture's one link type). */
  linkType?: number;
  note?: string;
}

/** The distinct link types of the interfaces `reader` has declared so far, in order. */
export function declaredLinkTypes(reader: CaptureReader): number[] {
  return [...new Set(reader.interfaces.map((i) => i.linkType))];
}

/** The format of a capture output named `path` ("-": stdout) for `reader`'s capture (see the module comment). */
export function chooseOutputFormat(path: string, reader: CaptureReader): OutputFormat {
  if (path !== '-' && captureFormatOf(path) === 'pcapng') return { format: 'pcapng' };
  const linkTypes = declaredLinkTypes(reader);
  if (linkTypes.length > 1) {
    return {
      format: 'pcapng',
      note: `written as pcapng: the capture has interfaces of ${linkTypes.length} link types (${linkTypes.map(linkTypeName).join(', ')}), which one pcap file cannot hold`,
    };
  }
  return linkTypes.length === 1 ? { format: 'pcap', linkType: linkTypes[0]! } : { format: 'pcap' };
}

/** The file's name in messages: the option and the path ("--accepted out.pcap", "--dropped (stdout)"). */
const label = (option: string, path: string) => `${option} ${path === '-' ? '(stdout)' : path}`;

/** A capture being written: the accepted or the dropped packets. */
export class CaptureOutput {
  #writer: CaptureWriteStream;
  #format: 'pcap' | 'pcapng';
  /** Notes for the user (format decisions), in the order they were made. */
  readonly notes: string[] = [];

  private constructor(
    readonly option: string,
    readonly path: string,
    private readonly reader: CaptureReader,
    private readonly regular: boolean,
    private readonly precision: 'micro' | 'nano',
    writer: CaptureWriteStream,
    chosen: OutputFormat,
  ) {
    this.#writer = writer;
    this.#format = chosen.format;
    if (chosen.note) this.notes.push(`${label(option, path)}: ${chosen.note}`);
  }

  /**
   * Opens the output `path` of `option` for `reader`'s capture, after its first batch
   * was read (so the interfaces it declares first are known). `-` is stdout, refused
   * when stdout is a terminal. Throws CliError in words.
   */
  static async open(option: string, path: string, reader: CaptureReader): Promise<CaptureOutput> {
    const chosen = chooseOutputFormat(path, reader);
    const precision = reader.nanosecondTimestamps ? 'nano' : 'micro';
    const options = { format: chosen.format, precision, interfaces: reader.interfaces, ...(chosen.linkType !== undefined ? { linkType: chosen.linkType } : {}) } as const;
    if (path === '-') {
      if (process.stdout.isTTY) throw new CliError(`error: ${option} -: stdout is a terminal, and a capture is binary; redirect it (> out.pcap) or pipe it (| tcpdump -r -)`);
      return new CaptureOutput(option, path, reader, false, precision, await createCaptureFileWriter(process.stdout, { ...options, end: false }), chosen);
    }
    let writer: CaptureWriteStream;
    try {
      writer = await createCaptureFileWriter(path, options);
    } catch (e) {
      throw new CliError(`error: ${option}: ${fileErrorText(e, path, 'write')}`);
    }
    const regular = await stat(path).then((s) => s.isFile(), () => false);
    return new CaptureOutput(option, path, reader, regular, precision, writer, chosen);
  }

  get format(): 'pcap' | 'pcapng' {
    return this.#format;
  }

  get packetsWritten(): number {
    return this.#writer.packetsWritten;
  }

  /** Writes the packets of `batch` whose `keep` flag is 1; resolves when the batch may be reused. */
  async write(batch: CaptureBatch, keep: Uint8Array): Promise<void> {
    try {
      await this.#writer.write(batch, keep);
    } catch (e) {
      if (e instanceof CaptureError && e.code === 'CAPTURE_LINK_TYPE_MISMATCH' && this.#format === 'pcap') {
        // Nothing of this batch was written: rewrite what was as pcapng, then write it.
        await this.#toPcapng(e);
        await this.#write(batch, keep);
        return;
      }
      throw this.#error(e);
    }
  }

  async #write(batch: CaptureBatch, keep: Uint8Array): Promise<void> {
    try {
      await this.#writer.write(batch, keep);
    } catch (e) {
      throw this.#error(e);
    }
  }

  /** Turns the pcap written so far into pcapng and goes on writing pcapng (see the module comment). */
  async #toPcapng(cause: CaptureError): Promise<void> {
    const where = label(this.option, this.path);
    const linkTypes = declaredLinkTypes(this.reader).map(linkTypeName).join(', ');
    if (!this.regular) {
      const fix = this.path === '-' ? 'stdout cannot be rewritten as pcapng: write to a file named .pcapng instead' : 'this output (not a regular file) cannot be rewritten as pcapng: name it .pcapng';
      throw new CliError(`error: ${where}: the capture declares an interface of another link type after its first packets (link types ${linkTypes}), and a pcap output holds one; ${fix}`);
    }
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.pcapng.tmp`);
    let next: CaptureWriteStream | undefined;
    try {
      await this.#writer.close();
      next = await createCaptureFileWriter(tmp, { format: 'pcapng', precision: this.precision, interfaces: this.reader.interfaces });
      // Our own pcap, read back: its packets have interface 0 and the first link type.
      for await (const b of openCaptureFile(this.path)) await next.write(b);
      // The open handle keeps writing to the file under its new name.
      await rename(tmp, this.path);
    } catch (e) {
      await next?.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new CliError(`error: ${where}: cannot rewrite it as pcapng (${cause.message}): ${e instanceof CliError ? e.message : fileErrorText(e, this.path, 'write')}`);
    }
    this.#writer = next;
    this.#format = 'pcapng';
    this.notes.push(`${where}: rewritten as pcapng: the capture declared an interface of another link type after its first packets (link types ${linkTypes}), which one pcap file cannot hold`);
  }

  #error(e: unknown): CliError {
    if (e instanceof CliError) return e;
    if (e instanceof CaptureError) return new CliError(`error: ${label(this.option, this.path)}: ${e.message.replace(/^byte \d+: /, '')}`);
    return new CliError(`error: ${this.option}: ${fileErrorText(e, this.path === '-' ? 'the standard output' : this.path, 'write')}`);
  }

  /** Writes the header if nothing was written, flushes and closes (stdout is left open). */
  async close(): Promise<void> {
    try {
      await this.#writer.close();
    } catch (e) {
      throw this.#error(e);
    }
  }
}

/** Text written as it comes, with backpressure: a file (one write in flight) or stdout. */
export class TextOutput {
  #inFlight: Promise<unknown> | undefined;
  #failed: unknown;
  lines = 0;

  private constructor(readonly option: string, readonly path: string, private readonly handle: FileHandle | null) {}

  /** Opens `path` for `option` (created or truncated; `-` is stdout). Throws CliError in words. */
  static async open(option: string, path: string): Promise<TextOutput> {
    if (path === '-') return new TextOutput(option, path, null);
    try {
      return new TextOutput(option, path, await open(path, 'w'));
    } catch (e) {
      throw new CliError(`error: ${option}: ${fileErrorText(e, path, 'write')}`);
    }
  }

  /** Queues `text` (`lines` lines of it); resolves when the previous write is done, so at most one batch waits in memory. */
  async write(text: string, lines: number): Promise<void> {
    this.lines += lines;
    if (this.handle === null) {
      await writeOut(text);
      return;
    }
    await this.#settle();
    const bytes = Buffer.from(text, 'utf8');
    const handle = this.handle;
    this.#inFlight = (async () => {
      for (let at = 0; at < bytes.length;) at += (await handle.write(bytes, at, bytes.length - at, null)).bytesWritten;
    })().catch((e) => {
      this.#failed = e;
    });
  }

  async #settle(): Promise<void> {
    if (this.#inFlight) await this.#inFlight;
    this.#inFlight = undefined;
    if (this.#failed !== undefined) throw new CliError(`error: ${this.option}: ${fileErrorText(this.#failed, this.path, 'write')}`);
  }

  /** Waits for every byte and closes the file (stdout is left open). */
  async close(): Promise<void> {
    if (this.handle === null) return;
    try {
      await this.#settle();
    } finally {
      await this.handle.close().catch(() => undefined);
    }
  }
}
