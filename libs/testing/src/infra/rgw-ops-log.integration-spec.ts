import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../paths.js';
import { startCeph, type CephInfo } from './ceph.js';
import { RgwRequestCounter } from './rgw-ops-log.js';
import type { ServiceHandle } from './types.js';

const BUCKET = 'ops-log-check';

/** S3 requests counted at the S3 side: RGW's ops log over a window, every kind the platform uses. */
describe('RGW request counting (ops log)', () => {
  let dir: string;
  let ceph: ServiceHandle<CephInfo>;
  let client: S3Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'rgw-ops-log-it-'));
    ceph = await startCeph({ dir, opsLog: true });
    client = new S3Client({
      endpoint: ceph.info.endpoint,
      region: ceph.info.region,
      forcePathStyle: true,
      credentials: { accessKeyId: ceph.info.accessKey, secretAccessKey: ceph.info.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  afterAll(async () => {
    client?.destroy();
    await ceph?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a Ceph started without its ops log', async () => {
    const { opsLog: _opsLog, ...withoutLog } = ceph.info;
    await expect(RgwRequestCounter.start(withoutLog, BUCKET)).rejects.toThrow(/without its ops log/);
  });

  it('counts each kind of request made inside the window, and none made before or after it', async () => {
    const put = (key: string, body: string | Buffer) =>
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    await put('before-1', 'not counted');
    await put('before-2', 'not counted');

    const counter = await RgwRequestCounter.start(ceph.info, BUCKET);
    for (const key of ['a', 'b', 'c']) await put(key, `object ${key}`);
    // Many in flight: RGW then sometimes writes two entries without a newline between them.
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < 200; i = next++) await put(`burst-${i}`, Buffer.alloc(20_000, i));
      }),
    );
    await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a' }))).Body!.transformToByteArray();
    await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'b' }))).Body!.transformToByteArray();
    await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'c' }));
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'missing' }))).rejects.toThrow();
    await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'c' }));
    const upload = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi' }));
    const parts = [];
    for (const [i, body] of [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.from('last part')].entries()) {
      const part = await client.send(
        new UploadPartCommand({
          Bucket: BUCKET,
          Key: 'multi',
          UploadId: upload.UploadId,
          PartNumber: i + 1,
          Body: body,
        }),
      );
      parts.push({ PartNumber: i + 1, ETag: part.ETag });
    }
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'multi',
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    // RGW never logs ListBuckets: only its request counter sees it.
    await client.send(new ListBucketsCommand({}));
    const count = await counter.stop();
    await put('after', 'not counted');

    expect(count.byKind).toEqual({
      'PUT object': 203,
      'GET object': 2,
      'HEAD object': 2,
      'LIST objects': 1,
      'DELETE object': 1,
      'multipart init': 1,
      'multipart part': 2,
      'multipart complete': 1,
    });
    expect(count.total).toBe(213);
    expect(count.failed).toBe(1);
    expect(count.unreadable).toBe(0);
    expect(count.bytesReceived).toBeGreaterThanOrEqual(5 * 1024 * 1024 + 200 * 20_000);
    expect(count.rgwRequests).toBe(214);
  });
});
