import type { Readable } from 'node:stream';
import type { DefaultRetention } from './backup-bucket.js';

/** Where an object lives. */
export interface ObjectKey {
  bucket: string;
  key: string;
}

/** An object, optionally one version of it, optionally a byte range of it. */
export interface ObjectLocator extends ObjectKey {
  /** A specific version (versioned and Object Lock buckets); the current one when absent. */
  versionId?: string;
  /** Bytes `offset` .. `offset + length - 1`; the whole object when absent. */
  range?: { offset: number; length: number };
}

export type RetentionMode = 'GOVERNANCE' | 'COMPLIANCE';

export interface EnsureBucketOptions {
  /** Create the bucket with S3 Object Lock (implies versioning); an existing bucket must have it. */
  objectLock: boolean;
}

export interface PutOptions {
  /** Size of `body` when it is a stream; lets small streams go up in one request. */
  contentLength?: number;
  contentType?: string;
  /** Object Lock retention: the object version cannot be deleted or overwritten before this date. */
  retainUntil?: Date;
  /** Required with `retainUntil`; defaults to COMPLIANCE (no one, not even an admin, can shorten it). */
  retentionMode?: RetentionMode;
}

export interface PutResult {
  /** Entity tag without quotes (for multipart uploads the `<md5>-<parts>` form). */
  etag: string;
  /** Set on versioned (and Object Lock) buckets. */
  versionId?: string;
}

export interface ObjectHead {
  size: number;
  /** Entity tag without quotes. */
  etag: string;
  versionId?: string;
  retentionMode?: RetentionMode;
  retainUntil?: Date;
  lastModified?: Date;
}

/** An object version's Object Lock retention. */
export interface ObjectRetention {
  mode: RetentionMode;
  retainUntil: Date;
}

/** One stored version of an object, as a listing shows it. */
export interface ObjectVersion {
  key: string;
  versionId: string;
  size: number;
  lastModified: Date;
  /** The version a read without version id returns. */
  isLatest: boolean;
  /** The S3 user who wrote it (its canonical id; on Ceph RGW the user id), when the store says. */
  owner?: string;
}

export interface DeleteOptions {
  /** Lets a caller with the permission remove a version under GOVERNANCE retention. */
  bypassGovernanceRetention?: boolean;
}

/**
 * The platform's port to object storage: one object per message, written once, read by locator.
 * Every method throws `ObjectStoreError` (see `ObjectStoreErrorCode`) and nothing else.
 */
export interface ObjectStore {
  /** Creates the bucket unless it exists; idempotent. */
  ensureBucket(name: string, options: EnsureBucketOptions): Promise<void>;
  /**
   * The retention every new object version of the bucket gets (its Object Lock default rule), or
   * undefined when it has none. Throws BucketMisconfigured when the bucket has no Object Lock.
   */
  defaultRetention(bucket: string): Promise<DefaultRetention | undefined>;
  /** Stores `body` under `target`; large or unknown-length bodies go up as multipart uploads. */
  put(target: ObjectKey, body: Buffer | Readable, options?: PutOptions): Promise<PutResult>;
  /** Streams the object (or its range). Throws NotFound when it does not exist. */
  get(locator: ObjectLocator): Promise<Readable>;
  /** Reads the object (or its range) into memory. Throws NotFound when it does not exist. */
  getBuffer(locator: ObjectLocator): Promise<Buffer>;
  /** Size and entity tag, or null when the object does not exist. */
  head(locator: ObjectLocator): Promise<ObjectHead | null>;
  exists(locator: ObjectLocator): Promise<boolean>;
  /** The S3 id of the user whose key this store uses (as listings name the writer of a version). */
  callerId(): Promise<string | undefined>;
  /** The version's Object Lock retention, or null when it has none. */
  retention(locator: ObjectLocator & { versionId: string }): Promise<ObjectRetention | null>;
  /**
   * Locks the version until `retention.retainUntil` in `retention.mode`. S3 lets a retention be
   * extended only: a shorter date, or GOVERNANCE over COMPLIANCE, is refused (ObjectLocked or
   * AccessDenied, as the store says).
   */
  extendRetention(locator: ObjectLocator & { versionId: string }, retention: ObjectRetention): Promise<void>;
  /**
   * Every version of every object whose key starts with `prefix` (delete markers left out), as S3
   * lists them: in key order, newest version first within a key; unversioned buckets say 'null'.
   */
  listVersions(bucket: string, prefix: string): AsyncIterable<ObjectVersion>;
  /**
   * Removes the object for good: the version named by `locator.versionId`, or else every version
   * of the key (so no data stays behind a delete marker). Deleting what does not exist succeeds.
   * Throws ObjectLocked when Object Lock protects a version: protected versions stay readable,
   * unprotected ones of the same key are still removed.
   */
  delete(locator: ObjectLocator, options?: DeleteOptions): Promise<void>;
  /** Releases connections. */
  close(): void;
}
