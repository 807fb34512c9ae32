import { ServiceError } from '@mlr/messaging';
import { ObjectStoreError, ObjectStoreErrorCode, type ObjectLocator } from '@mlr/objectstore';
import type { Logger } from '@mlr/telemetry';
import { describe, expect, it } from 'vitest';
import type { StoredObject } from '../backup/stored-object.repository.js';
import { FetchObjectRange } from './fetch-object-range.use-case.js';

const TENANT = 'acme';
const contentId = 'c'.repeat(64);

function storedObject(overrides: Partial<StoredObject> = {}): StoredObject {
  return {
    id: 'row-1',
    tenantId: TENANT,
    contentId,
    locator: { bucket: 'mlr', key: 'acme/cc' },
    packId: null,
    plainSize: 10,
    sealedSize: 100,
    keyId: 'k1',
    retainUntil: null,
    createdAt: new Date(),
    ...overrides,
  };
}

function setup(object: StoredObject | null, bucketBytes: Buffer, failure?: Error) {
  const reads: ObjectLocator[] = [];
  const errors: unknown[] = [];
  const logger = { error: (fields: unknown) => errors.push(fields) } as unknown as Logger;
  const useCase = new FetchObjectRange({
    objects: {
      findByContentId: async (t, c) => (object && t === object.tenantId && c === object.contentId ? object : null),
    },
    store: {
      getBuffer: async (locator) => {
        reads.push(locator);
        if (failure) throw failure;
        const range = locator.range ?? { offset: 0, length: bucketBytes.length };
        return bucketBytes.subarray(range.offset, range.offset + range.length);
      },
    },
    logger,
  });
  return { useCase, reads, errors };
}

const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));

describe('FetchObjectRange', () => {
  it('answers a range of the sealed object with its size and key id', async () => {
    const { useCase, reads } = setup(storedObject(), bytes.subarray(0, 100));
    const reply = await useCase.execute({ tenantId: TENANT, contentId, offset: 10, length: 20 });
    expect(reply).toMatchObject({ contentId, sealedSize: 100, keyId: 'k1', offset: 10 });
    expect(Buffer.from(reply.data, 'base64')).toEqual(bytes.subarray(10, 30));
    expect(reads).toEqual([{ bucket: 'mlr', key: 'acme/cc', range: { offset: 10, length: 20 } }]);
  });

  it('never reads past the end of the sealed object', async () => {
    const { useCase, reads } = setup(storedObject(), bytes.subarray(0, 100));
    const reply = await useCase.execute({ tenantId: TENANT, contentId, offset: 90, length: 50 });
    expect(Buffer.from(reply.data, 'base64')).toEqual(bytes.subarray(90, 100));
    expect(reads[0]?.range).toEqual({ offset: 90, length: 10 });
  });

  it('moves the range into a shared S3 object by the row byte offset', async () => {
    const object = storedObject({
      locator: { bucket: 'mlr', key: 'pack', range: { offset: 150, length: 100 } },
      sealedSize: 100,
    });
    const { useCase, reads } = setup(object, bytes);
    const reply = await useCase.execute({ tenantId: TENANT, contentId, offset: 95, length: 50 });
    expect(reads[0]?.range).toEqual({ offset: 245, length: 5 });
    expect(Buffer.from(reply.data, 'base64')).toEqual(bytes.subarray(245, 250));
  });

  it('refuses an unknown content id with not_found', async () => {
    const { useCase } = setup(storedObject(), bytes);
    const error = await useCase
      .execute({ tenantId: TENANT, contentId: 'd'.repeat(64), offset: 0, length: 10 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceError);
    expect(error).toMatchObject({ code: 'not_found', message: expect.stringContaining('d'.repeat(64)) });
  });

  it("does not answer another tenant's content id", async () => {
    const { useCase } = setup(storedObject(), bytes);
    await expect(useCase.execute({ tenantId: 'globex', contentId, offset: 0, length: 10 })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('refuses an offset at or beyond the end with invalid_request', async () => {
    const { useCase, reads } = setup(storedObject(), bytes.subarray(0, 100));
    for (const offset of [100, 5_000]) {
      await expect(useCase.execute({ tenantId: TENANT, contentId, offset, length: 1 })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(new RegExp(`offset ${offset} is beyond the end .*100 bytes`)),
      });
    }
    expect(reads).toEqual([]);
  });

  it('logs and rethrows object store failures (an internal error for the caller)', async () => {
    const failure = new ObjectStoreError(ObjectStoreErrorCode.Unavailable, 'S3 down', {
      operation: 'get',
      bucket: 'mlr',
      key: 'acme/cc',
    });
    const { useCase, errors } = setup(storedObject(), bytes, failure);
    await expect(useCase.execute({ tenantId: TENANT, contentId, offset: 0, length: 10 })).rejects.toBe(failure);
    expect(errors).toEqual([
      expect.objectContaining({ event: 'object-fetch-failed', tenantId: TENANT, contentId, code: 'UNAVAILABLE' }),
    ]);
  });

  it('refuses to read a row whose byte range contradicts its sealed size', async () => {
    const object = storedObject({ locator: { bucket: 'mlr', key: 'pack', range: { offset: 0, length: 80 } } });
    const { useCase } = setup(object, bytes);
    await expect(useCase.execute({ tenantId: TENANT, contentId, offset: 0, length: 10 })).rejects.toThrow(
      /sealed size 100 but a byte range of 80 bytes/,
    );
  });
});
