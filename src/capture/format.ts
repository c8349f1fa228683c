/**
 * What the pcap and pcapng decoders share: the limits a reader enforces, the
 * interfaces and sections a capture declares, and the contract of one decode step.
 *
 * A decode step is handed a window `buf[pos..end)` of the file (whose first byte
 * is at file offset `base + pos`) and appends every whole packet it finds to the
 * batch, until the batch is full or the next record is not wholly in the window.
 * It returns the position after the last record it consumed and sets `needed` to
 * the number of bytes, from there, that the next record needs in one window. It
 * throws a CaptureError at the first impossible field, before that record touches
 * the batch, so the packets already in the batch are all good.
 */
import type { CaptureBatch } from './batch.js';
import type { TimestampResolution } from './timestamp.js';

/** readCapture's options (and openCaptureFile's). */
export interface CaptureReadOptions {
  /** Packets per batch (default 8192; 1 to 1,048,576). */
  batchSize?: number;
  /**
   * The largest captured length accepted, in bytes (default 262,144, libpcap's
   * MAXIMUM_SNAPLEN; at most 2^30). A record claiming more is corrupt (CAPTURE_INVALID):
   * this is what stops a damaged length field from making the reader wait for, or
   * allocate, gigabytes.
   */
  maxPacketLength?: number;
  /**
   * The largest pcapng block read into memory, in bytes (default 16 MiB, Wireshark's
   * limit; at least maxPacketLength + 64). Blocks the reader does not use (name
   * resolution, statistics, custom...) are skipped as they stream past, whatever their size.
   */
  maxBlockLength?: number;
  /** The most interface description blocks in one file (default 65,536). */
  maxInterfaces?: number;
  /** A name for the capture (a file path) to put in error messages. */
  name?: string;
}

export interface ReaderLimits {
  readonly batchSize: number;
  readonly maxPacketLength: number;
  readonly maxBlockLength: number;
  readonly maxInterfaces: number;
  readonly name: string | undefined;
}

/** One capture interface: the pcap file header, or one pcapng interface description block. */
export interface CaptureInterface {
  /** Position in `reader.interfaces`: the value packets carry in `batch.interfaceIds`. */
  readonly index: number;
  /** pcapng section (0-based) the interface belongs to; 0 for pcap. */
  readonly section: number;
  /** Interface id inside its section (what pcapng packet blocks name); 0 for pcap. */
  readonly idInSection: number;
  /** LINKTYPE_* of its packets (see link-types.ts). */
  readonly linkType: number;
  /** Snapshot length in bytes; 0 = no limit (pcapng). */
  readonly snaplen: number;
  /** Timestamp resolution (pcap: µs or ns from the magic; pcapng: if_tsresol, default µs). */
  readonly resolution: TimestampResolution;
  /** if_tsoffset: seconds added to every timestamp (pcapng; 0 otherwise). */
  readonly timestampOffsetSeconds: number;
  /** Bytes of frame check sequence at the end of each packet, when the file says (pcap link type FCS bits, pcapng if_fcslen). */
  readonly fcsLength: number | undefined;
  /** if_name (pcapng), when present. */
  readonly name: string | undefined;
  /** if_description (pcapng), when present. */
  readonly description: string | undefined;
  /** File offset of the header / block that declared it. */
  readonly fileOffset: number;
}

/** One pcapng section (a classic pcap file is one section). */
export interface CaptureSection {
  /** 0 for the first section of the file. */
  readonly index: number;
  /** The section's byte order. */
  readonly littleEndian: boolean;
  /** pcap: 2.4 (or older); pcapng: 1.0. */
  readonly versionMajor: number;
  /** The minor version (see versionMajor). */
  readonly versionMinor: number;
  /** shb_hardware (pcapng), when present. */
  readonly hardware: string | undefined;
  /** shb_os (pcapng), when present. */
  readonly os: string | undefined;
  /** shb_userappl (pcapng), when present. */
  readonly application: string | undefined;
  /** File offset of the header / block that opened it. */
  readonly fileOffset: number;
}

export abstract class FormatDecoder {
  /** After decode(): bytes the next record needs, counted from the returned position. */
  needed = 0;
  /** After decode() stopped for lack of data: what that record is, for a truncation message. */
  pending = '';

  constructor(
    protected readonly batch: CaptureBatch,
    protected readonly limits: ReaderLimits,
    readonly interfaces: CaptureInterface[],
    readonly sections: CaptureSection[],
  ) {}

  /** One step (see the file comment). */
  abstract decode(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): number;

  /**
   * At the end of the data with `remaining` bytes left unconsumed (0 when the last
   * record ended exactly there): the file offset where an incomplete record started,
   * or -1 when the capture is complete.
   */
  abstract incompleteAt(remaining: number, endOffset: number): number;
}
