export type {
  DeleteOptions,
  EnsureBucketOptions,
  ObjectHead,
  ObjectKey,
  ObjectLocator,
  ObjectStore,
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
export { createS3ObjectStore, type S3ObjectStoreConfig } from './s3-object-store.js';
export { messageObjectKey, tenantObjectsPrefix } from './locators/message-object-key.js';
