export type {
  DeleteOptions,
  EnsureBucketOptions,
  ObjectHead,
  ObjectKey,
  ObjectLocator,
  ObjectRetention,
  ObjectStore,
  ObjectVersion,
  PutOptions,
  PutResult,
  RetentionMode,
} from './object-store.js';
export {
  isObjectStoreError,
  ObjectStoreError,
  ObjectStoreErrorCode,
  type ObjectStoreErrorDetails,
  type ObjectStoreOperation,
} from './object-store.exception.js';
export { createS3Client, createS3ObjectStore, type S3ObjectStoreConfig } from './s3-object-store.js';
export {
  backupBucketPolicy,
  BackupBucketError,
  servicePrincipal,
  setUpBackupBucket,
  type BackupBucketReport,
  type BackupBucketSettings,
  type DefaultRetention,
} from './backup-bucket.js';
export { messageObjectKey, tenantObjectsPrefix } from './locators/message-object-key.js';
export { packObjectKey, tenantPacksPrefix } from './locators/pack-key.js';
export {
  checkPackHeader,
  decodePackFooter,
  decodePackTrailer,
  encodePack,
  layoutMembers,
  packFooterSchema,
  PackFormatError,
  packHeader,
  packTail,
  MAX_FOOTER_BYTES,
  PACK_FORMAT_VERSION,
  PACK_HEADER_BYTES,
  PACK_TRAILER_BYTES,
  type PackFooter,
  type PackMember,
  type PackTrailer,
} from './packs/pack-format.js';
