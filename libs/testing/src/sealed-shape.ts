import { randomBytes } from 'node:crypto';
import { DESCRIPTOR_BYTES, FINAL_SEGMENT_BIT, HEADER_BYTES, HEADER_OFFSET, MAGIC, TAG_BYTES } from '@mlr/envelope';

const SEGMENT_SIZE = 64 * 1024;

/**
 * Bytes shaped exactly like a sealed object of `contentId` under `keyId` (header, segment
 * descriptors, tags), about `approxBytes` long, with random bytes where the ciphertext would be.
 * What cloud services see of a real sealed object, for their tests: they check the shape, never open
 * one (no key can, these have no plaintext).
 */
export function sealedShape(contentId: string, approxBytes: number, keyId = '0123456789abcdef'): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[HEADER_OFFSET.version] = 1;
  header[HEADER_OFFSET.aead] = 1;
  header[HEADER_OFFSET.compression] = 1;
  header.writeUInt32BE(SEGMENT_SIZE, HEADER_OFFSET.segmentSize);
  Buffer.from(keyId, 'hex').copy(header, HEADER_OFFSET.keyId);
  Buffer.from(contentId, 'hex').copy(header, HEADER_OFFSET.contentId);
  randomBytes(23).copy(header, HEADER_OFFSET.keySalt);
  const parts = [header];
  let left = Math.max(0, approxBytes - HEADER_BYTES);
  for (;;) {
    const room = left - DESCRIPTOR_BYTES - TAG_BYTES;
    const final = room <= SEGMENT_SIZE;
    const length = final ? Math.max(0, room) : SEGMENT_SIZE;
    const descriptor = Buffer.alloc(DESCRIPTOR_BYTES);
    descriptor.writeUInt32BE((final ? FINAL_SEGMENT_BIT : 0) + length);
    parts.push(descriptor, randomBytes(length + TAG_BYTES));
    left -= DESCRIPTOR_BYTES + length + TAG_BYTES;
    if (final) break;
  }
  return Buffer.concat(parts);
}
