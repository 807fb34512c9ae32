export { deriveTenantKeys, generateRootKey, rootKeyId, ROOT_KEY_BYTES, type TenantKeys } from './keys/tenant-keys.js';
export {
  contentId,
  contentIdOfStream,
  createContentIdHasher,
  isContentId,
  type ContentIdHasher,
} from './keys/content-id.js';
export { SealedObjectError, SealedObjectErrorCode } from './sealed-object/sealed-object.error.js';
export {
  createSealStream,
  sealMessage,
  SealStream,
  type SealedMessage,
  type SealOptions,
  type SealStreamOptions,
} from './sealed-object/seal.js';
export {
  createOpenStream,
  openSealedObject,
  OpenStream,
  type KeyRing,
  type OpenOptions,
} from './sealed-object/open.js';
export { readSealedHeader, SEALED_HEADER_BYTES, type SealedObjectInfo } from './sealed-object/header.js';
export { DEFAULT_COMPRESSION_LEVEL, MAX_COMPRESSION_LEVEL, MIN_COMPRESSION_LEVEL } from './sealed-object/zstd.js';
export { SEGMENT_SIZE } from './sealed-object/format.js';
export {
  exportRecoveryKit,
  importRecoveryKit,
  MIN_PASSPHRASE_CHARACTERS,
  SCRYPT_PARAMS,
} from './recovery-kit/recovery-kit.js';
export { RecoveryKitError, RecoveryKitErrorCode } from './recovery-kit/recovery-kit.error.js';
