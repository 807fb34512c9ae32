import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { REPO_ROOT, startCeph, type S3Info, type ServiceHandle } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3ObjectStore, ObjectStoreError, ObjectStoreErrorCode, type ObjectStore } from './index.js';

const MIB = 1024 * 1024;

/** Rejects with the ObjectStoreError the promise fails with (or fails the test). */
async function storeError(promise: Promise<unknown>): Promise<ObjectStoreError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ObjectStoreError);
  return error as ObjectStoreError;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A stream that yields `data` in uneven chunks, like a socket would. */
function chunked(data: Buffer, chunkSize = 300_001): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += chunkSize)
    chunks.push(data.subarray(offset, offset + chunkSize));
  return Readable.from(chunks);
}

describe('S3 object store on Ceph RGW', () => {
  let dir: string;
  let ceph: ServiceHandle<S3Info>;
  let store: ObjectStore;
  const bucket = 'mlr-plain';
  const lockedBucket = 'mlr-locked';

  beforeAll(async () => {
    mkdirSync(join(REPO_ROOT, 'tmp'), { recursive: true });
    dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'objectstore-it-'));
    ceph = await startCeph({ dir });
    store = createS3ObjectStore({ ...ceph.info, multipartThresholdBytes: 8 * MIB });
    await store.ensureBucket(bucket, { objectLock: false });
    await store.ensureBucket(lockedBucket, { objectLock: true });
  });

  afterAll(async () => {
    store?.close();
    await ceph?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('returns the running instance when started again with the same directory', async () => {
    const again = await startCeph({ dir });
    expect(again.reused).toBe(true);
    expect(again.info).toEqual(ceph.info);
  });

  it('round-trips a message byte for byte, from a buffer and from a stream', async () => {
    const message = randomBytes(50 * 1024);
    const fromBuffer = await store.put({ bucket, key: 'tenant-a/m1' }, message);
    expect(fromBuffer.etag).toMatch(/^[0-9a-f]{32}$/);
    expect((await store.getBuffer({ bucket, key: 'tenant-a/m1' })).equals(message)).toBe(true);

    await store.put({ bucket, key: 'tenant-a/m2' }, chunked(message, 4096), { contentLength: message.length });
    const streamed = await store.get({ bucket, key: 'tenant-a/m2' });
    const chunks: Buffer[] = [];
    for await (const chunk of streamed) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(message)).toBe(true);
  });

  it('reads exactly the requested byte range', async () => {
    const data = randomBytes(10_000);
    await store.put({ bucket, key: 'bundle-1' }, data);
    const slice = await store.getBuffer({ bucket, key: 'bundle-1', range: { offset: 1234, length: 567 } });
    expect(slice.equals(data.subarray(1234, 1234 + 567))).toBe(true);
    const last = await store.getBuffer({ bucket, key: 'bundle-1', range: { offset: 9_999, length: 1 } });
    expect(last.equals(data.subarray(9_999))).toBe(true);

    expect((await storeError(store.get({ bucket, key: 'bundle-1', range: { offset: 9_990, length: 20 } }))).code).toBe(
      ObjectStoreErrorCode.InvalidRange,
    );
    expect((await storeError(store.get({ bucket, key: 'bundle-1', range: { offset: 20_000, length: 1 } }))).code).toBe(
      ObjectStoreErrorCode.InvalidRange,
    );
    expect((await storeError(store.get({ bucket, key: 'bundle-1', range: { offset: 0, length: 0 } }))).code).toBe(
      ObjectStoreErrorCode.InvalidArgument,
    );
  });

  it('reports size and etag with head, and null / NotFound for what does not exist', async () => {
    const data = Buffer.from('From: a@example.com\r\n\r\nhello\r\n');
    const put = await store.put({ bucket, key: 'm-head' }, data);
    expect(await store.head({ bucket, key: 'm-head' })).toMatchObject({ size: data.length, etag: put.etag });
    expect(put.etag).toBe(createHash('md5').update(data).digest('hex'));
    expect(await store.exists({ bucket, key: 'm-head' })).toBe(true);

    expect(await store.head({ bucket, key: 'missing' })).toBeNull();
    expect(await store.exists({ bucket, key: 'missing' })).toBe(false);
    expect(await store.head({ bucket: 'no-such-bucket', key: 'x' })).toBeNull();
    const notFound = await storeError(store.get({ bucket, key: 'missing' }));
    expect(notFound.code).toBe(ObjectStoreErrorCode.NotFound);
    expect(notFound.message).toContain(`s3://${bucket}/missing`);
    expect((await storeError(store.get({ bucket: 'no-such-bucket', key: 'x' }))).code).toBe(
      ObjectStoreErrorCode.BucketNotFound,
    );
  });

  it('uploads a 20 MiB body as multipart and reads it back intact', async () => {
    const big = randomBytes(20 * MIB);
    const fromStream = await store.put({ bucket, key: 'big-stream' }, chunked(big));
    // Ceph answers CompleteMultipartUpload with an empty ETag: the store must fill it in.
    expect(fromStream.etag).toMatch(/^[0-9a-f]{32}-3$/);
    const fromBuffer = await store.put({ bucket, key: 'big-buffer' }, big);
    expect(fromBuffer.etag).toBe(fromStream.etag);

    expect(await store.head({ bucket, key: 'big-stream' })).toMatchObject({ size: big.length, etag: fromStream.etag });
    expect(sha256(await store.getBuffer({ bucket, key: 'big-stream' }))).toBe(sha256(big));
    const tail = await store.getBuffer({ bucket, key: 'big-buffer', range: { offset: 20 * MIB - 100, length: 100 } });
    expect(tail.equals(big.subarray(20 * MIB - 100))).toBe(true);
  });

  it('fails the put, and nothing else, when its body stream fails half way (single PUT and multipart)', async () => {
    // Storage streams a large message's chunks from NATS into the PUT: a NATS restart makes that
    // stream fail, and an 'error' event nobody handled used to end the storage process.
    const failing = (bytes: number, after: number) =>
      Readable.from(
        (async function* () {
          let sent = 0;
          while (sent < after) {
            const piece = Buffer.alloc(Math.min(64 * 1024, after - sent), 7);
            sent += piece.length;
            yield piece;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new Error(`chunk read timed out (${bytes} bytes promised)`);
        })(),
      );
    for (const [key, size] of [
      ['broken-single', 2 * MIB],
      ['broken-multipart', 20 * MIB],
    ] as const) {
      const error = await store.put({ bucket, key }, failing(size, size / 2), { contentLength: size }).then(
        () => undefined,
        (reason: unknown) => reason as Error,
      );
      expect(error?.message, key).toContain('chunk read timed out');
      expect(await store.head({ bucket, key }), key).toBeNull();
    }
    // The store still works afterwards.
    await store.put({ bucket, key: 'after-broken' }, Buffer.from('fine'));
    expect((await store.getBuffer({ bucket, key: 'after-broken' })).toString()).toBe('fine');
  });

  it('deletes objects for good', async () => {
    await store.put({ bucket, key: 'to-delete' }, Buffer.from('bye'));
    await store.delete({ bucket, key: 'to-delete' });
    expect(await store.exists({ bucket, key: 'to-delete' })).toBe(false);
    await store.delete({ bucket, key: 'to-delete' }); // idempotent
  });

  it('refuses to delete a version under COMPLIANCE retention, which stays readable', async () => {
    const message = randomBytes(2048);
    const retainUntil = new Date(Date.now() + 24 * 3600 * 1000);
    const put = await store.put({ bucket: lockedBucket, key: 'held' }, message, {
      retainUntil,
      retentionMode: 'COMPLIANCE',
    });
    expect(put.versionId).toBeTruthy();
    const head = await store.head({ bucket: lockedBucket, key: 'held' });
    expect(head).toMatchObject({ size: message.length, retentionMode: 'COMPLIANCE', versionId: put.versionId });
    expect(Math.abs((head?.retainUntil?.getTime() ?? 0) - retainUntil.getTime())).toBeLessThan(1_000);

    const locator = { bucket: lockedBucket, key: 'held', versionId: put.versionId ?? '' };
    const refused = await storeError(store.delete(locator));
    expect(refused.code).toBe(ObjectStoreErrorCode.ObjectLocked);
    expect(refused.message).toContain('Object Lock');
    expect((await storeError(store.delete(locator, { bypassGovernanceRetention: true }))).code).toBe(
      ObjectStoreErrorCode.ObjectLocked,
    );
    expect((await storeError(store.delete({ bucket: lockedBucket, key: 'held' }))).code).toBe(
      ObjectStoreErrorCode.ObjectLocked,
    );

    expect((await store.getBuffer({ bucket: lockedBucket, key: 'held' })).equals(message)).toBe(true);
    expect((await store.getBuffer(locator)).equals(message)).toBe(true);
  });

  it('keeps multipart uploads under retention too', async () => {
    const big = randomBytes(9 * MIB);
    const put = await store.put({ bucket: lockedBucket, key: 'held-big' }, chunked(big), {
      retainUntil: new Date(Date.now() + 3600 * 1000),
    });
    expect(put.etag).toMatch(/-2$/);
    expect(
      (await storeError(store.delete({ bucket: lockedBucket, key: 'held-big', versionId: put.versionId ?? '' }))).code,
    ).toBe(ObjectStoreErrorCode.ObjectLocked);
    expect(await store.head({ bucket: lockedBucket, key: 'held-big' })).toMatchObject({
      size: big.length,
      retentionMode: 'COMPLIANCE',
    });
  });

  it('refuses to treat a bucket without Object Lock as a locked one', async () => {
    const error = await storeError(store.ensureBucket(bucket, { objectLock: true }));
    expect(error.code).toBe(ObjectStoreErrorCode.BucketMisconfigured);
    await store.ensureBucket(lockedBucket, { objectLock: true }); // idempotent
  });

  it('says so when the credentials are wrong or the store is down', async () => {
    const wrongKey = createS3ObjectStore({ ...ceph.info, secretKey: 'wrong' });
    const denied = await storeError(wrongKey.get({ bucket, key: 'm-head' }));
    expect(denied.code).toBe(ObjectStoreErrorCode.AccessDenied);
    wrongKey.close();

    const down = createS3ObjectStore({ ...ceph.info, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
    const unavailable = await storeError(down.put({ bucket, key: 'x' }, Buffer.from('x')));
    expect(unavailable.code).toBe(ObjectStoreErrorCode.Unavailable);
    expect(unavailable.retryable).toBe(true);
    expect(unavailable.message).toContain('127.0.0.1:9');
    down.close();
  });
});
