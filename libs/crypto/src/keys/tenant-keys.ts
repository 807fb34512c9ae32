import { createHash, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_ID_BYTES } from '@mlr/envelope';

/** Length in bytes of a tenant's root key, K_root. */
export const ROOT_KEY_BYTES = 32;

/** Length in bytes of a key id (its hex form is twice as long), as the sealed-object header holds it. */
export { KEY_ID_BYTES };

const ENC_INFO = 'mlr/enc/v1';
const ID_INFO = 'mlr/id/v1';
const KEY_ID_LABEL = 'mlr/key-id/v1';

/**
 * The keys one tenant's connector works with, all derived from K_root. The secrets are KeyObjects so
 * that logging or serialising a TenantKeys never prints key material.
 */
export interface TenantKeys {
  /** Hex id of K_root, written into every sealed object so that opening can pick the right keys. */
  readonly keyId: string;
  /** K_enc = HKDF-SHA256(K_root, info "mlr/enc/v1"): per-object encryption keys are derived from it. */
  readonly encKey: KeyObject;
  /** K_id = HKDF-SHA256(K_root, info "mlr/id/v1"): the HMAC key of content ids. */
  readonly idKey: KeyObject;
}

/** A new tenant root key: 32 bytes from the system CSPRNG. Keep it on the customer's side only. */
export function generateRootKey(): Buffer {
  return randomBytes(ROOT_KEY_BYTES);
}

export function assertRootKey(root: Uint8Array): void {
  if (!(root instanceof Uint8Array)) throw new TypeError('root key must be a Uint8Array');
  if (root.length !== ROOT_KEY_BYTES) {
    throw new RangeError(`root key must be ${ROOT_KEY_BYTES} bytes, got ${root.length}`);
  }
}

/** Key id of a root key: the first 8 bytes of SHA-256("mlr/key-id/v1" ‖ K_root), in hex. */
export function rootKeyId(root: Uint8Array): string {
  assertRootKey(root);
  return createHash('sha256').update(KEY_ID_LABEL).update(root).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

function hkdf(root: Uint8Array, info: string): KeyObject {
  // No salt: K_root is already uniformly random, so HKDF-Extract needs none (RFC 5869 §3.1).
  return createSecretKey(Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), info, 32)));
}

export function deriveTenantKeys(root: Uint8Array): TenantKeys {
  assertRootKey(root);
  return Object.freeze({ keyId: rootKeyId(root), encKey: hkdf(root, ENC_INFO), idKey: hkdf(root, ID_INFO) });
}
