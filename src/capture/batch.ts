/**
 * CaptureBatch: packets read from a capture, as a struct of arrays over one byte
 * buffer, the shape a WASM decoder copies in with one `set()` per array.
 *
 *   data            ┌────────┬──────────────┬────────┬──────────┬─────
 *   (reused buffer) │ header │ packet 0     │ header │ packet 1 │ ...
 *                   └────────┴──────────────┴────────┴──────────┴─────
 *                            ▲ offsets[0]            ▲ offsets[1]
 *                            └─ capturedLengths[0] ─┘
 *
 * Packet i is `data.subarray(offsets[i], offsets[i] + capturedLengths[i])`. The
 * bytes between packets are the file's own record headers: the reader never copies
 * a packet, it points into the buffer it read the file into (or into the caller's
 * Uint8Array). A reader yields the same CaptureBatch object again and again: its
 * arrays and `data` are valid until the iterator is asked for the next batch; copy
 * what must outlive that (`copyPacket`).
 *
 * Timestamps are split in two exact integers, whole seconds since 1970-01-01 UTC
 * (`timestampSeconds`, a Float64Array: exact to 2^53 s) and nanoseconds within the
 * second (`timestampNanoseconds`, 0..999,999,999). That holds every pcap and pcapng
 * timestamp down to the nanosecond without BigInt, which would cost an allocation
 * per packet; finer pcapng resolutions (pico-, femtoseconds) are truncated to the
 * nanosecond, as Wireshark does. `timestamps` holds the same instant as one number
 * of seconds (seconds + nanoseconds / 1e9, within 0.25 µs for dates before 2106),
 * for a connection tracker's timeouts.
 *
 * For tracker.classifyPackets: `createPacketBatch({ bytes: b.data, offsets,
 * lengths: capturedLengths, timestamps, linkType: linkTypes, wireLengths:
 * originalLengths })`, each array `.subarray(0, b.count)`.
 */

export class CaptureBatch {
  /** Number of packets in this batch (entries 0..count-1 of each array are valid). */
  count = 0;
  /** 0-based number, in the whole capture, of this batch's packet 0. */
  firstPacketIndex = 0;
  /** The bytes every packet of the batch lies in (see offsets). Not a copy: do not keep it. */
  data: Uint8Array = new Uint8Array(0);
  /** Offset of each packet's first byte in `data`. */
  readonly offsets: Uint32Array;
  /** Captured length (pcap incl_len, pcapng Captured Packet Length): bytes present in `data`. */
  readonly capturedLengths: Uint32Array;
  /** Original length on the wire (pcap orig_len); may exceed the captured length (snaplen). */
  readonly originalLengths: Uint32Array;
  /** Whole seconds since the Unix epoch (UTC), an integer; if_tsoffset applied. */
  readonly timestampSeconds: Float64Array;
  /** Nanoseconds within that second, 0..999,999,999. */
  readonly timestampNanoseconds: Uint32Array;
  /**
   * The same instant as one number of seconds since the epoch (seconds +
   * nanoseconds / 1e9): what a tracker's timeouts want. Rounded to the double
   * nearest, within 0.25 µs for dates before 2106; the two arrays above are exact.
   */
  readonly timestamps: Float64Array;
  /** Link type of each packet (LINKTYPE_*, see link-types.ts). */
  readonly linkTypes: Uint16Array;
  /** Interface of each packet: an index into the reader's `interfaces` (always 0 for classic pcap). */
  readonly interfaceIds: Uint32Array;
  /** Byte offset in the file of each packet's record (pcap record header / pcapng block). */
  readonly recordOffsets: Float64Array;

  /** @param capacity Most packets the batch holds (the reader's batchSize). */
  constructor(readonly capacity: number) {
    this.offsets = new Uint32Array(capacity);
    this.capturedLengths = new Uint32Array(capacity);
    this.originalLengths = new Uint32Array(capacity);
    this.timestampSeconds = new Float64Array(capacity);
    this.timestampNanoseconds = new Uint32Array(capacity);
    this.timestamps = new Float64Array(capacity);
    this.linkTypes = new Uint16Array(capacity);
    this.interfaceIds = new Uint32Array(capacity);
    this.recordOffsets = new Float64Array(capacity);
  }

  /** The captured bytes of packet i (a view into `data`, valid as long as the batch is). */
  packet(i: number): Uint8Array {
    const at = this.offsets[i]!;
    return this.data.subarray(at, at + this.capturedLengths[i]!);
  }
}

/** One packet copied out of a batch, for code that keeps packets around (tests, tools). */
export interface CapturedPacket {
  /** The captured bytes (a copy), starting with the link-layer header. */
  data: Uint8Array;
  /** The packet's length on the wire, in bytes (at least data.length). */
  originalLength: number;
  /** Whole seconds since 1970-01-01 UTC. */
  timestampSeconds: number;
  /** Nanoseconds within that second, 0-999,999,999. */
  timestampNanoseconds: number;
  /** The link type (LINKTYPE_*). */
  linkType: number;
  /** The interface it was captured on: an index into the reader's interfaces. */
  interfaceId: number;
}

/** Copies packet i of a batch into a CapturedPacket that outlives the batch. */
export function copyPacket(batch: CaptureBatch, i: number): CapturedPacket {
  return {
    // Not .slice(): on a Node Buffer that is a view sharing the batch's memory.
    data: new Uint8Array(batch.packet(i)),
    originalLength: batch.originalLengths[i]!,
    timestampSeconds: batch.timestampSeconds[i]!,
    timestampNanoseconds: batch.timestampNanoseconds[i]!,
    linkType: batch.linkTypes[i]!,
    interfaceId: batch.interfaceIds[i]!,
  };
}
