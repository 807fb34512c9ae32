import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { segmentNonce, TAG_BYTES, type SealedHeader } from './format.js';

const OBJECT_KEY_INFO = 'mlr/object/v1';

/** Per-object key: HKDF-SHA256(K_enc, salt = header key salt, info = "mlr/object/v1" ‖ 0x00 ‖ content id). */
export function deriveObjectKey(encKey: KeyObject, header: SealedHeader): KeyObject {
  const info = Buffer.concat([
    Buffer.from(OBJECT_KEY_INFO, 'latin1'),
    Buffer.from([0]),
    Buffer.from(header.contentId, 'hex'),
  ]);
  return createSecretKey(Buffer.from(hkdfSync('sha256', encKey, header.keySalt, info, 32)));
}

/** Seals one segment; returns ciphertext and tag as separate buffers, so nothing is copied twice. */
export function sealSegment(
  key: KeyObject,
  header: SealedHeader,
  index: number,
  final: boolean,
  plaintext: Buffer,
): [Buffer, Buffer] {
  const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(header.noncePrefix, index, final), {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(header.bytes);
  const ciphertext = plaintext.length > 0 ? cipher.update(plaintext) : Buffer.alloc(0);
  cipher.final();
  return [ciphertext, cipher.getAuthTag()];
}

/** Opens one segment (ciphertext ‖ tag); undefined when it does not authenticate under these parameters. */
export function openSegment(
  key: KeyObject,
  header: SealedHeader,
  index: number,
  final: boolean,
  sealed: Buffer,
): Buffer | undefined {
  const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(header.noncePrefix, index, final), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(header.bytes);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const ciphertext = sealed.subarray(0, sealed.length - TAG_BYTES);
  const plaintext = ciphertext.length > 0 ? decipher.update(ciphertext) : Buffer.alloc(0);
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plaintext;
}
