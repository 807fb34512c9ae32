import {
  AEAD_AES_256_GCM,
  COMPRESSION_ZSTD,
  CONTENT_ID_BYTES,
  DESCRIPTOR_BYTES,
  FINAL_SEGMENT_BIT,
  FORMAT_VERSION,
  HEADER_BYTES,
  HEADER_OFFSET as OFFSET,
  KEY_SALT_BYTES,
  MAGIC,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  NONCE_PREFIX_BYTES,
  TAG_BYTES,
} from '@mlr/envelope';
import { KEY_ID_BYTES } from '../keys/tenant-keys.js';
import { SealedObjectError, SealedObjectErrorCode } from './sealed-object.error.js';

/*
 * Sealed object, format version 1: the layout (magic, header fields, segment descriptors) is public
 * and described once in @mlr/envelope, which cloud services use to check an object's shape without
 * a key. What only the key holder does:
 *
 * The plaintext is a zstd stream (one frame per MiB of message) cut into segments of exactly S bytes;
 * the final segment holds the rest (0..S bytes). Segment i is sealed with
 *   key   = HKDF-SHA256(K_enc, salt = key salt, info = "mlr/object/v1" ‖ 0x00 ‖ content id)
 *   nonce = prefix ‖ u32(i) ‖ u8(final ? 1 : 0)
 *   aad   = the 75 header bytes
 * Counter and final flag in the nonce make reordering, truncation and extension fail authentication;
 * the header as AAD makes any header change fail it. The descriptor makes an object self-delimiting
 * (it can be packed with others and its end found without a length from outside), and lets a reader
 * tell a missing final segment (Truncated) and bytes after it (TrailingData) from modification.
 */

export * from '@mlr/envelope';
export const SEGMENT_SIZE = 64 * 1024;
export const NONCE_BYTES = 12;
/** The counter is 32 bits wide. */
export const MAX_SEGMENTS = 2 ** 32;

export interface SealedHeader {
  segmentSize: number;
  /** Hex, 16 characters. */
  keyId: string;
  /** Hex, 64 characters. */
  contentId: string;
  keySalt: Buffer;
  noncePrefix: Buffer;
  /** The exact header bytes: the AAD of every segment. */
  bytes: Buffer;
}

export function encodeHeader(fields: {
  keyId: string;
  contentId: string;
  keySalt: Buffer;
  noncePrefix: Buffer;
  segmentSize: number;
}): SealedHeader {
  const keyId = Buffer.from(fields.keyId, 'hex');
  const contentId = Buffer.from(fields.contentId, 'hex');
  if (keyId.length !== KEY_ID_BYTES) throw new RangeError(`key id must be ${KEY_ID_BYTES} bytes of hex`);
  if (contentId.length !== CONTENT_ID_BYTES)
    throw new RangeError(`content id must be ${CONTENT_ID_BYTES} bytes of hex`);
  if (fields.keySalt.length !== KEY_SALT_BYTES) throw new RangeError(`key salt must be ${KEY_SALT_BYTES} bytes`);
  if (fields.noncePrefix.length !== NONCE_PREFIX_BYTES) {
    throw new RangeError(`nonce prefix must be ${NONCE_PREFIX_BYTES} bytes`);
  }
  const bytes = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(bytes, 0);
  bytes[OFFSET.version] = FORMAT_VERSION;
  bytes[OFFSET.aead] = AEAD_AES_256_GCM;
  bytes[OFFSET.compression] = COMPRESSION_ZSTD;
  bytes[OFFSET.flags] = 0;
  bytes.writeUInt32BE(fields.segmentSize, OFFSET.segmentSize);
  keyId.copy(bytes, OFFSET.keyId);
  contentId.copy(bytes, OFFSET.contentId);
  fields.keySalt.copy(bytes, OFFSET.keySalt);
  fields.noncePrefix.copy(bytes, OFFSET.noncePrefix);
  return { ...fields, bytes };
}

/**
 * Checks what can be checked of a header before any key is used. `available` may be shorter than a
 * header (a stream's first chunk): then only the bytes present are checked and undefined is returned
 * unless `complete` says no more bytes will come.
 */
export function decodeHeader(available: Buffer, complete: true): SealedHeader;
export function decodeHeader(available: Buffer, complete: boolean): SealedHeader | undefined;
export function decodeHeader(available: Buffer, complete: boolean): SealedHeader | undefined {
  const magicBytes = Math.min(available.length, MAGIC.length);
  if (!available.subarray(0, magicBytes).equals(MAGIC.subarray(0, magicBytes))) {
    throw new SealedObjectError(SealedObjectErrorCode.BadMagic, 'not an MLR sealed object (bad magic bytes)');
  }
  if (available.length > OFFSET.version) {
    const version = available[OFFSET.version];
    if (version !== FORMAT_VERSION) {
      throw new SealedObjectError(
        SealedObjectErrorCode.UnsupportedVersion,
        `format version ${version} is not supported (this code reads version ${FORMAT_VERSION})`,
      );
    }
  }
  if (available.length < HEADER_BYTES) {
    if (!complete) return undefined;
    throw new SealedObjectError(
      SealedObjectErrorCode.Truncated,
      `object is ${available.length} bytes long, shorter than its ${HEADER_BYTES}-byte header`,
    );
  }
  const bytes = Buffer.from(available.subarray(0, HEADER_BYTES));
  if (bytes[OFFSET.aead] !== AEAD_AES_256_GCM) {
    throw new SealedObjectError(
      SealedObjectErrorCode.UnsupportedAlgorithm,
      `encryption algorithm id ${bytes[OFFSET.aead]} is not supported (only ${AEAD_AES_256_GCM} = AES-256-GCM)`,
    );
  }
  if (bytes[OFFSET.compression] !== COMPRESSION_ZSTD) {
    throw new SealedObjectError(
      SealedObjectErrorCode.UnsupportedAlgorithm,
      `compression id ${bytes[OFFSET.compression]} is not supported (only ${COMPRESSION_ZSTD} = zstd)`,
    );
  }
  if (bytes[OFFSET.flags] !== 0) {
    throw new SealedObjectError(
      SealedObjectErrorCode.MalformedHeader,
      `reserved flags are 0x${bytes.readUInt8(OFFSET.flags).toString(16)}, must be 0 in version ${FORMAT_VERSION}`,
    );
  }
  const segmentSize = bytes.readUInt32BE(OFFSET.segmentSize);
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw new SealedObjectError(
      SealedObjectErrorCode.MalformedHeader,
      `segment size ${segmentSize} lies outside ${MIN_SEGMENT_SIZE}..${MAX_SEGMENT_SIZE}`,
    );
  }
  return {
    segmentSize,
    keyId: bytes.subarray(OFFSET.keyId, OFFSET.keyId + KEY_ID_BYTES).toString('hex'),
    contentId: bytes.subarray(OFFSET.contentId, OFFSET.contentId + CONTENT_ID_BYTES).toString('hex'),
    keySalt: bytes.subarray(OFFSET.keySalt, OFFSET.keySalt + KEY_SALT_BYTES),
    noncePrefix: bytes.subarray(OFFSET.noncePrefix, OFFSET.noncePrefix + NONCE_PREFIX_BYTES),
    bytes,
  };
}

export function segmentNonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, NONCE_PREFIX_BYTES);
  nonce[NONCE_BYTES - 1] = last ? 1 : 0;
  return nonce;
}

export function encodeDescriptor(length: number, final: boolean): Buffer {
  const descriptor = Buffer.alloc(DESCRIPTOR_BYTES);
  descriptor.writeUInt32BE((final ? FINAL_SEGMENT_BIT : 0) + length);
  return descriptor;
}

/** Size of the sealed object for a payload (compressed stream) of `payloadBytes`. */
export function sealedSizeFor(payloadBytes: number, segmentSize = SEGMENT_SIZE): number {
  const segments = Math.max(1, Math.ceil(payloadBytes / segmentSize));
  return HEADER_BYTES + payloadBytes + segments * (DESCRIPTOR_BYTES + TAG_BYTES);
}
