export enum ObjectStoreErrorCode {
  /** The object (or the version asked for) does not exist. */
  NotFound = 'NOT_FOUND',
  /** The bucket does not exist. */
  BucketNotFound = 'BUCKET_NOT_FOUND',
  /** Object Lock (retention or legal hold) forbids the change. */
  ObjectLocked = 'OBJECT_LOCKED',
  /** The bucket exists but is configured differently from what was asked (e.g. without Object Lock). */
  BucketMisconfigured = 'BUCKET_MISCONFIGURED',
  /** The requested byte range lies outside the object. */
  InvalidRange = 'INVALID_RANGE',
  /** The caller passed something the store cannot accept. */
  InvalidArgument = 'INVALID_ARGUMENT',
  /** Wrong credentials or missing permission. */
  AccessDenied = 'ACCESS_DENIED',
  /** The store cannot be reached, timed out or answered 5xx: worth retrying later. */
  Unavailable = 'UNAVAILABLE',
  Unknown = 'UNKNOWN',
}

export type ObjectStoreOperation = 'ensureBucket' | 'checkBucket' | 'put' | 'get' | 'head' | 'delete' | 'list';

export interface ObjectStoreErrorDetails {
  operation: ObjectStoreOperation;
  bucket: string;
  key?: string;
  versionId?: string;
  cause?: unknown;
}

/** The one error type the object store port throws; `code` says what went wrong. */
export class ObjectStoreError extends Error {
  override readonly name = 'ObjectStoreError';
  readonly operation: ObjectStoreOperation;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly versionId: string | undefined;

  constructor(
    readonly code: ObjectStoreErrorCode,
    message: string,
    details: ObjectStoreErrorDetails,
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.operation = details.operation;
    this.bucket = details.bucket;
    this.key = details.key;
    this.versionId = details.versionId;
  }

  /** True for failures that may succeed when retried later (network, time-out, 5xx). */
  get retryable(): boolean {
    return this.code === ObjectStoreErrorCode.Unavailable;
  }
}

export function isObjectStoreError(error: unknown, code?: ObjectStoreErrorCode): error is ObjectStoreError {
  return error instanceof ObjectStoreError && (code === undefined || error.code === code);
}
