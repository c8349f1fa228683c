/**
 * Captures: reading pcap/pcapng into CaptureBatches and writing them back (no
 * `node:` imports: this runs in edge workers too; files and Node streams are in
 * src/node/capture-file.ts).
 */
export { CaptureBatch, copyPacket, type CapturedPacket } from './batch.js';
export { CaptureReader, readCapture, type CaptureFormat, type CaptureSource, type CaptureChunk } from './reader.js';
export type { CaptureReadOptions, CaptureInterface, CaptureSection } from './format.js';
export { createCaptureEncoder, type CaptureEncoder, type CaptureWriterOptions } from './writer.js';
export { CaptureError, type CaptureErrorCode } from './errors.js';
export type { TimestampResolution } from './timestamp.js';
export {
  LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP, LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2, linkTypeName,
} from './link-types.js';
