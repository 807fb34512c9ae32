import { decodeHeader, FORMAT_VERSION, HEADER_BYTES } from './format.js';

export interface SealedObjectInfo {
  formatVersion: number;
  keyId: string;
  contentId: string;
  segmentSize: number;
}

/**
 * Reads the header of a sealed object without any key, e.g. to pick the key ring for its key id.
 * Needs the first SEALED_HEADER_BYTES bytes; nothing here is verified until the object is opened.
 */
export function readSealedHeader(bytes: Uint8Array): SealedObjectInfo {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const header = decodeHeader(buffer.subarray(0, HEADER_BYTES), true);
  return {
    formatVersion: FORMAT_VERSION,
    keyId: header.keyId,
    contentId: header.contentId,
    segmentSize: header.segmentSize,
  };
}

export const SEALED_HEADER_BYTES = HEADER_BYTES;
