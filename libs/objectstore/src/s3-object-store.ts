import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

import { BackupBucketError, readDefaultRetention, type DefaultRetention } from './backup-bucket.js';
import { ObjectStoreError, ObjectStoreErrorCode, type ObjectStoreOperation } from './object-store.exception.js';
import type {
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

const MIB = 1024 * 1024;
/** S3 refuses multipart parts below 5 MiB (except the last one). */
const MIN_PART_SIZE = 5 * MIB;

export interface S3ObjectStoreConfig {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`); Ceph RGW without wildcard DNS needs them. Default true. */
  forcePathStyle?: boolean;
  /** Bodies of this size or more (and streams of unknown size) go up as multipart uploads. Default 8 MiB. */
  multipartThresholdBytes?: number;
  /** Parts uploaded in parallel by one multipart upload. Default 4. */
  multipartConcurrency?: number;
  /** Time to establish a TCP connection. Default 5 s. */
  connectTimeoutMs?: number;
  /** Socket inactivity allowed during a request (a full memstore makes Ceph hang). Default 60 s. */
  requestTimeoutMs?: number;
  /** Attempts per request, including the first, for retryable failures. Default 3. */
  maxAttempts?: number;
}

interface Target {
  operation: ObjectStoreOperation;
  bucket: string;
  key?: string;
  versionId?: string;
}

/** An S3 client as MLR talks to S3 (path-style URLs, checksums only where required, bounded waits). */
export function createS3Client(config: S3ObjectStoreConfig): S3Client {
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    credentials: { accessKeyId: config.accessKey, secretAccessKey: config.secretKey },
    forcePathStyle: config.forcePathStyle ?? true,
    // Otherwise the SDK adds trailing checksums that need a known length: PutObject with a
    // stream body then fails with 411 MissingContentLength.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: config.maxAttempts ?? 3,
    requestHandler: {
      connectionTimeout: config.connectTimeoutMs ?? 5_000,
      requestTimeout: config.requestTimeoutMs ?? 60_000,
    },
  });
}

/** The S3 adapter of the `ObjectStore` port (tested against Ceph RGW). */
export function createS3ObjectStore(config: S3ObjectStoreConfig): ObjectStore {
  return new S3ObjectStore(config);
}

class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private readonly multipartThreshold: number;
  private readonly multipartConcurrency: number;

  constructor(private readonly config: S3ObjectStoreConfig) {
    this.multipartThreshold = Math.max(config.multipartThresholdBytes ?? 8 * MIB, MIN_PART_SIZE);
    this.multipartConcurrency = Math.max(1, config.multipartConcurrency ?? 4);
    this.client = createS3Client(config);
  }

  async defaultRetention(bucket: string): Promise<DefaultRetention | undefined> {
    const target: Target = { operation: 'checkBucket', bucket };
    try {
      return await readDefaultRetention(this.client, bucket);
    } catch (error) {
      if (error instanceof BackupBucketError) {
        throw new ObjectStoreError(ObjectStoreErrorCode.BucketMisconfigured, error.message, {
          ...target,
          cause: error,
        });
      }
      throw this.toError(error, target);
    }
  }

  async ensureBucket(name: string, options: EnsureBucketOptions): Promise<void> {
    const target: Target = { operation: 'ensureBucket', bucket: name };
    try {
      await this.client.send(
        new CreateBucketCommand({ Bucket: name, ...(options.objectLock ? { ObjectLockEnabledForBucket: true } : {}) }),
      );
    } catch (error) {
      if (errorName(error) !== 'BucketAlreadyOwnedByYou') throw this.toError(error, target);
    }
    if (!options.objectLock) return;
    // Creating an existing bucket succeeds without changing it: check that Object Lock is really on.
    let enabled = false;
    try {
      const lock = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: name }));
      enabled = lock.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    } catch (error) {
      if (errorName(error) !== 'ObjectLockConfigurationNotFoundError') throw this.toError(error, target);
    }
    if (!enabled) {
      throw new ObjectStoreError(
        ObjectStoreErrorCode.BucketMisconfigured,
        `bucket '${name}' exists without Object Lock; Object Lock can only be enabled when a bucket is created, so use a new bucket`,
        target,
      );
    }
  }

  async put(target: ObjectKey, body: Buffer | Readable, options: PutOptions = {}): Promise<PutResult> {
    const where: Target = { operation: 'put', bucket: target.bucket, key: target.key };
    validateKey(where);
    const retention = retentionParams(options, where);
    const size = Buffer.isBuffer(body) ? body.length : options.contentLength;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      throw new ObjectStoreError(
        ObjectStoreErrorCode.InvalidArgument,
        `put ${describe(where)}: contentLength must be a non-negative integer, got ${size}`,
        where,
      );
    }
    const params = {
      Bucket: target.bucket,
      Key: target.key,
      ContentType: options.contentType ?? 'application/octet-stream',
      ...retention,
    };
    // A body stream can fail on its own (storage streams a large message's chunks out of NATS, which
    // may restart meanwhile): the S3 client does not always listen for that, and an 'error' event
    // nobody listens for ends the process. Listened for here, it aborts the request instead, and the
    // put fails with the body's own error (its class tells the caller whether a retry can help).
    const abort = new AbortController();
    let bodyFailure: Error | undefined;
    if (!Buffer.isBuffer(body)) {
      body.once('error', (error: Error) => {
        bodyFailure ??= error;
        abort.abort(error);
      });
    }
    try {
      if (size !== undefined && size < this.multipartThreshold) {
        const output = await this.client.send(
          new PutObjectCommand({
            ...params,
            Body: body,
            ContentLength: size,
            // Lets the store reject a body corrupted on the way; cheap for in-memory bodies.
            ...(Buffer.isBuffer(body) ? { ContentMD5: createHash('md5').update(body).digest('base64') } : {}),
          }),
          { abortSignal: abort.signal },
        );
        return { etag: unquote(output.ETag), ...(output.VersionId ? { versionId: output.VersionId } : {}) };
      }
      const upload = new Upload({
        client: this.client,
        params: { ...params, Body: body },
        partSize: this.multipartThreshold,
        queueSize: this.multipartConcurrency,
        leavePartsOnError: false,
        abortController: abort,
      });
      const output = await upload.done();
      const versionId = output.VersionId || undefined;
      const version = { Bucket: target.bucket, Key: target.key, ...(versionId ? { VersionId: versionId } : {}) };
      if (retention.ObjectLockMode && retention.ObjectLockRetainUntilDate) {
        // Ceph RGW 16 ignores the Object Lock headers of CreateMultipartUpload: set retention on the
        // completed version, then check below that it holds.
        await this.client.send(
          new PutObjectRetentionCommand({
            ...version,
            Retention: { Mode: retention.ObjectLockMode, RetainUntilDate: retention.ObjectLockRetainUntilDate },
          }),
        );
      }
      let etag = unquote(output.ETag);
      if (etag === '' || retention.ObjectLockMode) {
        // Ceph RGW answers CompleteMultipartUpload with an empty ETag; HeadObject has it.
        const head = await this.client.send(new HeadObjectCommand(version));
        etag = unquote(head.ETag);
        if (retention.ObjectLockMode && head.ObjectLockMode !== retention.ObjectLockMode) {
          throw new ObjectStoreError(
            ObjectStoreErrorCode.Unknown,
            `put ${describe({ ...where, ...(versionId ? { versionId } : {}) })}: the store did not apply ${retention.ObjectLockMode} retention to the uploaded object`,
            where,
          );
        }
      }
      return { etag, ...(versionId ? { versionId } : {}) };
    } catch (error) {
      if (bodyFailure) throw bodyFailure;
      throw this.toError(error, where);
    }
  }

  async get(locator: ObjectLocator): Promise<Readable> {
    const where = targetOf('get', locator);
    validateKey(where);
    const range = rangeHeader(locator, where);
    let body: unknown;
    let contentLength: number | undefined;
    try {
      const output = await this.client.send(
        new GetObjectCommand({
          Bucket: locator.bucket,
          Key: locator.key,
          ...(locator.versionId ? { VersionId: locator.versionId } : {}),
          ...(range ? { Range: range } : {}),
        }),
      );
      body = output.Body;
      contentLength = output.ContentLength;
    } catch (error) {
      throw this.toError(error, where);
    }
    if (!(body instanceof Readable)) {
      throw new ObjectStoreError(
        ObjectStoreErrorCode.Unknown,
        `get ${describe(where)}: the S3 client returned no readable body`,
        where,
      );
    }
    if (locator.range && contentLength !== undefined && contentLength < locator.range.length) {
      // S3 silently shortens a range that runs past the end; for us that is a wrong locator.
      body.destroy();
      throw new ObjectStoreError(
        ObjectStoreErrorCode.InvalidRange,
        `get ${describe(where)}: range ${locator.range.offset}+${locator.range.length} runs past the end of the object (only ${contentLength} bytes from offset ${locator.range.offset})`,
        where,
      );
    }
    // Errors while streaming (reset connection, time-out) surface as ObjectStoreError too.
    const source = body;
    const output = new PassThrough();
    source.on('error', (error) => output.destroy(this.toError(error, where)));
    output.on('close', () => {
      if (!source.destroyed) source.destroy();
    });
    source.pipe(output);
    return output;
  }

  async getBuffer(locator: ObjectLocator): Promise<Buffer> {
    const stream = await this.get(locator);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async head(locator: ObjectLocator): Promise<ObjectHead | null> {
    const where = targetOf('head', locator);
    validateKey(where);
    let output: HeadObjectCommandOutput;
    try {
      output = await this.client.send(
        new HeadObjectCommand({
          Bucket: locator.bucket,
          Key: locator.key,
          ...(locator.versionId ? { VersionId: locator.versionId } : {}),
        }),
      );
    } catch (error) {
      const mapped = this.toError(error, where);
      if (mapped.code === ObjectStoreErrorCode.NotFound || mapped.code === ObjectStoreErrorCode.BucketNotFound)
        return null;
      throw mapped;
    }
    return {
      size: output.ContentLength ?? 0,
      etag: unquote(output.ETag),
      ...(output.VersionId ? { versionId: output.VersionId } : {}),
      ...(output.ObjectLockMode ? { retentionMode: output.ObjectLockMode as RetentionMode } : {}),
      ...(output.ObjectLockRetainUntilDate ? { retainUntil: output.ObjectLockRetainUntilDate } : {}),
      ...(output.LastModified ? { lastModified: output.LastModified } : {}),
    };
  }

  async exists(locator: ObjectLocator): Promise<boolean> {
    return (await this.head(locator)) !== null;
  }

  async *listVersions(bucket: string, prefix: string): AsyncIterable<ObjectVersion> {
    for await (const page of this.versionPages({ operation: 'list', bucket, key: prefix }, prefix)) {
      for (const entry of page.Versions ?? []) {
        if (entry.Key === undefined || entry.VersionId === undefined) continue;
        yield {
          key: entry.Key,
          versionId: entry.VersionId,
          size: entry.Size ?? 0,
          lastModified: entry.LastModified ?? new Date(0),
          isLatest: entry.IsLatest ?? false,
          ...(entry.Owner?.ID ? { owner: entry.Owner.ID } : {}),
        };
      }
    }
  }

  async delete(locator: ObjectLocator, options: DeleteOptions = {}): Promise<void> {
    const where = targetOf('delete', locator);
    validateKey(where);
    if (locator.versionId) {
      await this.deleteVersion(locator.bucket, locator.key, locator.versionId, options);
      return;
    }
    const locked: string[] = [];
    for (const versionId of await this.listVersionIds(locator.bucket, locator.key)) {
      try {
        await this.deleteVersion(locator.bucket, locator.key, versionId, options);
      } catch (error) {
        if (error instanceof ObjectStoreError && error.code === ObjectStoreErrorCode.ObjectLocked)
          locked.push(versionId);
        else throw error;
      }
    }
    if (locked.length > 0) {
      throw new ObjectStoreError(
        ObjectStoreErrorCode.ObjectLocked,
        `delete ${describe(where)} refused: Object Lock protects ${locked.length === 1 ? 'version' : 'versions'} ${locked.join(', ')}`,
        where,
      );
    }
  }

  close(): void {
    this.client.destroy();
  }

  /** Every version and delete marker of exactly `key` ('null' for objects of unversioned buckets). */
  private async listVersionIds(bucket: string, key: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of this.versionPages({ operation: 'delete', bucket, key }, key)) {
      const entries = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
      for (const entry of entries) {
        if (entry.Key === key && entry.VersionId) ids.push(entry.VersionId);
      }
      // Listing is sorted by key: once past `key`, the rest only shares its prefix.
      if (entries.some((entry) => entry.Key !== undefined && entry.Key > key)) break;
    }
    return ids;
  }

  /** The pages of ListObjectVersions under `prefix`, one request each. */
  private async *versionPages(where: Target, prefix: string): AsyncGenerator<ListObjectVersionsCommandOutput> {
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      let page: ListObjectVersionsCommandOutput;
      try {
        page = await this.client.send(
          new ListObjectVersionsCommand({
            Bucket: where.bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
          }),
        );
      } catch (error) {
        throw this.toError(error, where);
      }
      yield page;
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  }

  private async deleteVersion(bucket: string, key: string, versionId: string, options: DeleteOptions): Promise<void> {
    const where: Target = { operation: 'delete', bucket, key, versionId };
    try {
      await this.client.send(
        new DeleteObjectCommand({
          Bucket: bucket,
          Key: key,
          VersionId: versionId,
          ...(options.bypassGovernanceRetention ? { BypassGovernanceRetention: true } : {}),
        }),
      );
    } catch (error) {
      const mapped = this.toError(error, where);
      if (mapped.code === ObjectStoreErrorCode.AccessDenied && (await this.isLocked(bucket, key, versionId))) {
        throw new ObjectStoreError(ObjectStoreErrorCode.ObjectLocked, lockedMessage(where), { ...where, cause: error });
      }
      throw mapped;
    }
  }

  async callerId(): Promise<string | undefined> {
    try {
      return (await this.client.send(new ListBucketsCommand({}))).Owner?.ID;
    } catch (error) {
      throw this.toError(error, { operation: 'list', bucket: '' });
    }
  }

  async retention(locator: ObjectLocator & { versionId: string }): Promise<ObjectRetention | null> {
    const where = targetOf('head', locator);
    try {
      const answer = await this.client.send(
        new GetObjectRetentionCommand({ Bucket: locator.bucket, Key: locator.key, VersionId: locator.versionId }),
      );
      const mode = answer.Retention?.Mode as RetentionMode | undefined;
      const until = answer.Retention?.RetainUntilDate;
      return mode && until ? { mode, retainUntil: until } : null;
    } catch (error) {
      // S3 answers a version without retention with an error of its own.
      if (
        errorName(error) === 'NoSuchObjectLockConfiguration' ||
        errorName(error) === 'ObjectLockConfigurationNotFoundError'
      ) {
        return null;
      }
      throw this.toError(error, where);
    }
  }

  async extendRetention(locator: ObjectLocator & { versionId: string }, retention: ObjectRetention): Promise<void> {
    const where = targetOf('put', locator);
    try {
      await this.client.send(
        new PutObjectRetentionCommand({
          Bucket: locator.bucket,
          Key: locator.key,
          VersionId: locator.versionId,
          Retention: { Mode: retention.mode, RetainUntilDate: retention.retainUntil },
        }),
      );
    } catch (error) {
      throw this.toError(error, where);
    }
  }

  /** Whether retention or a legal hold protects the version (when the store's message does not say). */
  private async isLocked(bucket: string, key: string, versionId: string): Promise<boolean> {
    // Retention first: a key allowed to remove versions (the collector's) may read it, not the object.
    try {
      const retention = await this.retention({ bucket, key, versionId });
      if (retention && retention.retainUntil.getTime() > Date.now()) return true;
    } catch {
      // Then what HEAD says.
    }
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      const retained =
        head.ObjectLockRetainUntilDate !== undefined && head.ObjectLockRetainUntilDate.getTime() > Date.now();
      return retained || head.ObjectLockLegalHoldStatus === 'ON';
    } catch {
      return false;
    }
  }

  private toError(error: unknown, where: Target): ObjectStoreError {
    if (error instanceof ObjectStoreError) return error;
    const name = errorName(error);
    const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
    const systemCode = (error as { code?: unknown } | undefined)?.code;
    const detail = error instanceof Error ? error.message : String(error);
    const subject = `${where.operation} ${describe(where)}`;
    const make = (code: ObjectStoreErrorCode, message: string) =>
      new ObjectStoreError(code, message, { ...where, cause: error });

    if (name === 'NoSuchBucket') {
      return make(
        ObjectStoreErrorCode.BucketNotFound,
        `${subject} failed: bucket '${where.bucket}' does not exist (create it with ensureBucket)`,
      );
    }
    if (name === 'NoSuchKey' || name === 'NoSuchVersion' || name === 'NotFound' || status === 404) {
      return make(
        ObjectStoreErrorCode.NotFound,
        `${subject} failed: ${where.key === undefined ? `bucket '${where.bucket}'` : 'object'} does not exist`,
      );
    }
    if (name === 'InvalidRange' || status === 416) {
      return make(
        ObjectStoreErrorCode.InvalidRange,
        `${subject} failed: the requested range starts past the end of the object`,
      );
    }
    if (/object ?lock/i.test(detail) && (name === 'AccessDenied' || status === 403)) {
      return make(ObjectStoreErrorCode.ObjectLocked, lockedMessage(where));
    }
    if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
      return make(
        ObjectStoreErrorCode.AccessDenied,
        `${subject} refused: the S3 credentials are wrong (${name}) for ${this.config.endpoint}`,
      );
    }
    if (name === 'AccessDenied' || name === 'BucketAlreadyExists' || status === 403) {
      return make(
        ObjectStoreErrorCode.AccessDenied,
        `${subject} refused: access denied (${detail || name}); check the S3 user's permissions`,
      );
    }
    if (isUnavailable(name, status, systemCode)) {
      return make(
        ObjectStoreErrorCode.Unavailable,
        `${subject} failed: S3 at ${this.config.endpoint} is unavailable (${[name, typeof systemCode === 'string' ? systemCode : undefined, status, detail].filter(Boolean).join(': ')})`,
      );
    }
    if (
      status === 400 ||
      status === 411 ||
      name === 'InvalidArgument' ||
      name === 'InvalidRequest' ||
      name === 'InvalidBucketName'
    ) {
      return make(ObjectStoreErrorCode.InvalidArgument, `${subject} rejected by S3: ${name}: ${detail}`);
    }
    return make(
      ObjectStoreErrorCode.Unknown,
      `${subject} failed: ${name}${status ? ` (HTTP ${status})` : ''}: ${detail}`,
    );
  }
}

const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'AbortError',
]);
const UNAVAILABLE_SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

function isUnavailable(name: string, status: number | undefined, systemCode: unknown): boolean {
  return (
    UNAVAILABLE_NAMES.has(name) ||
    (typeof systemCode === 'string' && UNAVAILABLE_SYSTEM_CODES.has(systemCode)) ||
    (status !== undefined && status >= 500)
  );
}

function errorName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'Unknown';
  const withCode = error as { Code?: unknown; name?: unknown };
  if (typeof withCode.Code === 'string' && withCode.Code !== '') return withCode.Code;
  return typeof withCode.name === 'string' ? withCode.name : 'Unknown';
}

function lockedMessage(where: Target): string {
  return `${where.operation} ${describe(where)} refused: Object Lock (retention or legal hold) protects this object version`;
}

function describe(where: Target): string {
  if (where.key === undefined) return `bucket '${where.bucket}'`;
  return `s3://${where.bucket}/${where.key}${where.versionId ? ` (version ${where.versionId})` : ''}`;
}

function targetOf(operation: ObjectStoreOperation, locator: ObjectLocator): Target {
  return {
    operation,
    bucket: locator.bucket,
    key: locator.key,
    ...(locator.versionId ? { versionId: locator.versionId } : {}),
  };
}

function validateKey(where: Target): void {
  if (!where.bucket)
    throw new ObjectStoreError(
      ObjectStoreErrorCode.InvalidArgument,
      `${where.operation}: the bucket name is empty`,
      where,
    );
  if (!where.key)
    throw new ObjectStoreError(
      ObjectStoreErrorCode.InvalidArgument,
      `${where.operation} in bucket '${where.bucket}': the object key is empty`,
      where,
    );
}

function rangeHeader(locator: ObjectLocator, where: Target): string | undefined {
  if (!locator.range) return undefined;
  const { offset, length } = locator.range;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 1) {
    throw new ObjectStoreError(
      ObjectStoreErrorCode.InvalidArgument,
      `get ${describe(where)}: invalid range offset=${offset} length=${length} (offset must be >= 0 and length >= 1, both integers)`,
      where,
    );
  }
  return `bytes=${offset}-${offset + length - 1}`;
}

function retentionParams(
  options: PutOptions,
  where: Target,
): { ObjectLockMode?: RetentionMode; ObjectLockRetainUntilDate?: Date } {
  if (options.retainUntil === undefined) {
    if (options.retentionMode !== undefined) {
      throw new ObjectStoreError(
        ObjectStoreErrorCode.InvalidArgument,
        `put ${describe(where)}: retentionMode needs retainUntil`,
        where,
      );
    }
    return {};
  }
  if (Number.isNaN(options.retainUntil.getTime()) || options.retainUntil.getTime() <= Date.now()) {
    throw new ObjectStoreError(
      ObjectStoreErrorCode.InvalidArgument,
      `put ${describe(where)}: retainUntil must be a valid date in the future, got ${String(options.retainUntil)}`,
      where,
    );
  }
  return { ObjectLockMode: options.retentionMode ?? 'COMPLIANCE', ObjectLockRetainUntilDate: options.retainUntil };
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"+|"+$/g, '');
}
