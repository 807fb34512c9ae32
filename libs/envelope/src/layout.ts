/*
 * The public layout of a sealed object, format version 1 (all integers big-endian). Everything here
 * can be read without a key; what it protects (the segments' contents) cannot. The connector seals
 * (libs/crypto) and the cloud checks and packs (apps/storage) by this one description.
 *
 *   offset size  field
 *        0    4  magic "MLRO"
 *        4    1  format version = 1
 *        5    1  AEAD id: 1 = AES-256-GCM
 *        6    1  compression id: 1 = zstd
 *        7    1  flags, reserved: 0
 *        8    4  plaintext segment size S
 *       12    8  key id
 *       20   32  content id
 *       52   16  key salt
 *       68    7  nonce prefix
 *       75       segments, at least one:
 *                  4  descriptor: bit 31 = final segment, bits 0..30 = plaintext length n
 *                  n  ciphertext
 *                 16  GCM tag
 *
 * Every segment but the final one holds exactly S bytes; the final one 0..S. The descriptors make an
 * object self-delimiting: its end is found from its own bytes, inside a pack of many objects.
 */

export const MAGIC = Buffer.from('MLRO', 'latin1');
export const FORMAT_VERSION = 1;
export const AEAD_AES_256_GCM = 1;
export const COMPRESSION_ZSTD = 1;
export const KEY_ID_BYTES = 8;
export const CONTENT_ID_BYTES = 32;
export const KEY_SALT_BYTES = 16;
export const NONCE_PREFIX_BYTES = 7;
export const TAG_BYTES = 16;
export const DESCRIPTOR_BYTES = 4;
export const FINAL_SEGMENT_BIT = 0x8000_0000;
/** Readers accept these segment sizes, so a later writer may tune it without a new version. */
export const MIN_SEGMENT_SIZE = 1024;
export const MAX_SEGMENT_SIZE = 16 * 1024 * 1024;

export const HEADER_OFFSET = {
  version: 4,
  aead: 5,
  compression: 6,
  flags: 7,
  segmentSize: 8,
  keyId: 12,
  contentId: 20,
  keySalt: 52,
  noncePrefix: 68,
} as const;

export const HEADER_BYTES = HEADER_OFFSET.noncePrefix + NONCE_PREFIX_BYTES;

export function decodeDescriptor(value: number): { length: number; final: boolean } {
  return { length: value % FINAL_SEGMENT_BIT, final: value >= FINAL_SEGMENT_BIT };
}
