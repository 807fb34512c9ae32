import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../paths.js';
import { cephObjectStore, startCeph, type CephInfo } from './ceph.js';
import type { ServiceHandle } from './types.js';

function s3(info: CephInfo): S3Client {
  return new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKey, secretAccessKey: info.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function status(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return 200;
  } catch (error) {
    return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  }
}

/** Durable (BlueStore on a file) against memstore: what survives a stop and start of the daemons. */
describe('Ceph object stores', () => {
  const dirs: string[] = [];
  const handles: Array<ServiceHandle<CephInfo>> = [];
  const newDir = () => {
    const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'ceph-it-'));
    dirs.push(dir);
    return dir;
  };
  const start = async (dir: string, durable: boolean) => {
    const handle = await startCeph({ dir, durable });
    handles.push(handle);
    return handle;
  };

  afterAll(async () => {
    for (const handle of handles) await handle.stop().catch(() => undefined);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps an object across a stop and start of a durable instance', async () => {
    const dir = newDir();
    const first = await start(dir, true);
    expect(first.info.objectStore).toBe('bluestore');
    const body = Buffer.from(`survives a restart ${Date.now()}`);
    const client = s3(first.info);
    await client.send(new CreateBucketCommand({ Bucket: 'durable-check' }));
    await client.send(new PutObjectCommand({ Bucket: 'durable-check', Key: 'kept', Body: body }));
    client.destroy();
    await first.stop();

    const second = await start(dir, true);
    expect(second.reused).toBe(false);
    expect(second.info.endpoint).toBe(first.info.endpoint);
    const again = s3(second.info);
    const read = await again.send(new GetObjectCommand({ Bucket: 'durable-check', Key: 'kept' }));
    expect(Buffer.from(await read.Body!.transformToByteArray())).toEqual(body);
    again.destroy();

    // Asking for memstore now would wipe what the instance holds: refused, running or stopped.
    await expect(startCeph({ dir })).rejects.toThrow(/running with bluestore/);
    await second.stop();
    await expect(startCeph({ dir })).rejects.toThrow(/holds durable \(BlueStore\) objects/);
    expect(cephObjectStore(dir)).toBe('bluestore');
  });

  it('loses every object of a memstore instance when it stops, and says it is memstore', async () => {
    const dir = newDir();
    const first = await start(dir, false);
    expect(first.info.objectStore).toBe('memstore');
    const client = s3(first.info);
    await client.send(new CreateBucketCommand({ Bucket: 'memstore-check' }));
    await client.send(new PutObjectCommand({ Bucket: 'memstore-check', Key: 'lost', Body: 'gone after a stop' }));
    client.destroy();

    // A running memstore instance is not silently turned into a durable one (or the reverse).
    await expect(startCeph({ dir, durable: true })).rejects.toThrow(/running with memstore/);
    await first.stop();

    const second = await start(dir, false);
    const again = s3(second.info);
    expect(await status(again.send(new HeadBucketCommand({ Bucket: 'memstore-check' })))).toBe(404);
    again.destroy();
    await second.stop();

    // Nothing is left to keep once a memstore instance has stopped: a durable start takes the directory.
    const durable = await start(dir, true);
    expect(durable.info.objectStore).toBe('bluestore');
    expect(cephObjectStore(dir)).toBe('bluestore');
  });
});
