/**
 * Errors of capture reading and writing. A capture is hostile input: every
 * problem found in one is a CaptureError (an SgfilterError, code CAPTURE_*) that
 * says where, in bytes from the start of the file, so a user can look at the spot
 * with `xxd -s OFFSET` and a program can keep what came before it.
 *
 *   recordOffset  the first byte of the file header, pcap record or pcapng block
 *                 that is bad. Every packet whose record starts before it has been
 *                 delivered when the error is thrown.
 *   offset        the first byte that is wrong (a length field, a magic number) or,
 *                 for CAPTURE_TRUNCATED, missing (the end of the data).
 */
import { SgfilterError, type ErrorCode } from '../errors.js';

/** The codes a CaptureError carries: CAPTURE_INVALID, CAPTURE_TRUNCATED, CAPTURE_UNSUPPORTED, CAPTURE_LINK_TYPE_MISMATCH. */
export type CaptureErrorCode = Extract<ErrorCode, `CAPTURE_${string}`>;

/** A problem in a capture file, or one a capture output cannot hold: where it is, in bytes from the start of the file. */
export class CaptureError extends SgfilterError {
  /** Byte offset (from the start of the file) of the first bad or missing byte. */
  readonly offset: number;
  /** Byte offset of the start of the record or block that holds it. */
  readonly recordOffset: number;
  /** The file name given to the reader, if any. */
  readonly source: string | undefined;
  constructor(code: CaptureErrorCode, message: string, offset: number, recordOffset: number, source?: string) {
    super(code, `${source ? `${source}: ` : ''}byte ${offset}: ${message}`);
    this.name = 'CaptureError';
    this.offset = offset;
    this.recordOffset = recordOffset;
    this.source = source;
  }
}

/** 0x1a2b3c4d → "0x1a2b3c4d", for messages that quote a magic number or a type. */
export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
