import { randomBytes } from 'node:crypto';
import { FETCH_MAX_BYTES } from '@mlr/contracts';
import type { ObjectLocator } from '@mlr/objectstore';
import type { Logger } from '@mlr/telemetry';
import { describe, expect, it } from 'vitest';
import type { StoredObject } from '../backup/stored-object.repository.js';
import { FetchObjectBatch } from './fetch-object-batch.use-case.js';

const TENANT = 'acme';
const id = (n: number) => n.toString(16).padStart(64, '0');

/** S3 objects by key; stored objects as rows pointing into them. */
function setup(
  files: Record<string, Buffer>,
  rows: Array<{ n: number; key: string; offset?: number; size: number; versionId?: string }>,
  options: { failKey?: string; maxGapBytes?: number } = {},
) {
  const reads: ObjectLocator[] = [];
  const errors: Array<Record<string, unknown>> = [];
  const logger = { error: (fields: Record<string, unknown>) => errors.push(fields) } as unknown as Logger;
  const objects: StoredObject[] = rows.map((r) => ({
    id: `row-${r.n}`,
    tenantId: TENANT,
    contentId: id(r.n),
    locator: {
      bucket: 'mlr',
      key: r.key,
      ...(r.versionId ? { versionId: r.versionId } : {}),
      ...(r.offset !== undefined ? { range: { offset: r.offset, length: r.size } } : {}),
    },
    packId: r.offset !== undefined ? r.key : null,
    plainSize: r.size * 3,
    sealedSize: r.size,
    keyId: 'k1',
    retainUntil: null,
    createdAt: new Date(),
  }));
  const useCase = new FetchObjectBatch({
    objects: {
      findByContentIds: async (tenantId, ids) =>
        objects.filter((o) => o.tenantId === tenantId && ids.includes(o.contentId)).reverse(),
    },
    store: {
      getBuffer: async (locator) => {
        reads.push(locator);
        if (locator.key === options.failKey) throw new Error(`s3://mlr/${locator.key}: NoSuchKey`);
        const file = files[locator.key] ?? Buffer.alloc(0);
        const range = locator.range ?? { offset: 0, length: file.length };
        return file.subarray(range.offset, range.offset + range.length);
      },
    },
    logger,
    ...(options.maxGapBytes !== undefined ? { maxGapBytes: options.maxGapBytes } : {}),
  });
  return { useCase, reads, errors };
}

const decoded = (answer: unknown) => {
  const data = (answer as { data?: string }).data;
  return data === undefined ? undefined : Buffer.from(data, 'base64');
};

describe('FetchObjectBatch', () => {
  it('reads neighbouring members of a pack with one ranged GET of the pinned version, and answers in the order asked', async () => {
    const pack = randomBytes(10_000);
    const { useCase, reads } = setup({ p1: pack }, [
      { n: 1, key: 'p1', offset: 100, size: 1_000, versionId: 'v7' },
      { n: 2, key: 'p1', offset: 1_100, size: 2_000, versionId: 'v7' },
      { n: 3, key: 'p1', offset: 3_150, size: 500, versionId: 'v7' },
    ]);
    const { objects } = await useCase.execute({ tenantId: TENANT, contentIds: [id(3), id(1), id(2)] });
    expect(objects.map((o) => o.contentId)).toEqual([id(3), id(1), id(2)]);
    expect(decoded(objects[0])?.equals(pack.subarray(3_150, 3_650))).toBe(true);
    expect(decoded(objects[1])?.equals(pack.subarray(100, 1_100))).toBe(true);
    expect(decoded(objects[2])?.equals(pack.subarray(1_100, 3_100))).toBe(true);
    expect(reads).toEqual([{ bucket: 'mlr', key: 'p1', versionId: 'v7', range: { offset: 100, length: 3_550 } }]);
  });

  it('splits a read where members lie far apart, and reads objects of their own whole', async () => {
    const pack = randomBytes(300_000);
    const own = randomBytes(700);
    const { useCase, reads } = setup({ p1: pack, own }, [
      { n: 1, key: 'p1', offset: 0, size: 1_000 },
      { n: 2, key: 'p1', offset: 200_000, size: 1_000 },
      { n: 3, key: 'own', size: 700 },
    ]);
    const { objects } = await useCase.execute({ tenantId: TENANT, contentIds: [id(1), id(2), id(3)] });
    expect(objects.map((o) => decoded(o)?.length)).toEqual([1_000, 1_000, 700]);
    expect(decoded(objects[2])?.equals(own)).toBe(true);
    expect(reads.map((r) => [r.key, r.range?.offset, r.range?.length])).toEqual([
      ['p1', 0, 1_000],
      ['p1', 200_000, 1_000],
      ['own', 0, 700],
    ]);
  });

  it('answers with its size only what does not fit in one reply, and everything after it', async () => {
    const pack = randomBytes(FETCH_MAX_BYTES * 2);
    const { useCase } = setup({ p1: pack }, [
      { n: 1, key: 'p1', offset: 0, size: FETCH_MAX_BYTES - 10 },
      { n: 2, key: 'p1', offset: FETCH_MAX_BYTES, size: 100 },
      { n: 3, key: 'p1', offset: FETCH_MAX_BYTES + 100, size: 5 },
    ]);
    const { objects } = await useCase.execute({ tenantId: TENANT, contentIds: [id(1), id(2), id(3)] });
    expect(decoded(objects[0])?.length).toBe(FETCH_MAX_BYTES - 10);
    expect(objects.slice(1)).toEqual([
      { contentId: id(2), sealedSize: 100, keyId: 'k1' },
      { contentId: id(3), sealedSize: 5, keyId: 'k1' },
    ]);
  });

  it('answers a missing object and a failed read each on their own, logging S3 words without passing them on', async () => {
    const { useCase, errors } = setup(
      { p1: randomBytes(100) },
      [
        { n: 1, key: 'p1', offset: 0, size: 50 },
        { n: 2, key: 'gone', size: 10 },
      ],
      { failKey: 'gone' },
    );
    const { objects } = await useCase.execute({ tenantId: TENANT, contentIds: [id(9), id(2), id(1)] });
    expect(objects[0]).toEqual({
      contentId: id(9),
      error: { code: 'not_found', message: expect.stringContaining(id(9)) },
    });
    expect(objects[1]).toEqual({ contentId: id(2), error: { code: 'internal', message: expect.any(String) } });
    expect(JSON.stringify(objects[1])).not.toContain('NoSuchKey');
    expect(decoded(objects[2])?.length).toBe(50);
    expect(errors).toEqual([
      expect.objectContaining({
        event: 'object-fetch-failed',
        key: 'gone',
        reason: expect.stringContaining('NoSuchKey'),
      }),
    ]);
  });

  it('refuses to read a row whose byte range contradicts its sealed size', async () => {
    const { useCase, reads } = setup({ p1: randomBytes(100) }, [{ n: 1, key: 'p1', offset: 0, size: 50 }]);
    const broken = new FetchObjectBatch({
      objects: {
        findByContentIds: async () => [
          {
            id: 'r',
            tenantId: TENANT,
            contentId: id(1),
            locator: { bucket: 'mlr', key: 'p1', range: { offset: 0, length: 40 } },
            packId: 'p1',
            plainSize: 1,
            sealedSize: 50,
            keyId: 'k1',
            retainUntil: null,
            createdAt: new Date(),
          },
        ],
      },
      store: { getBuffer: async () => Buffer.alloc(0) },
      logger: { error: () => undefined } as unknown as Logger,
    });
    const { objects } = await broken.execute({ tenantId: TENANT, contentIds: [id(1)] });
    expect(objects[0]).toMatchObject({ error: { code: 'internal' } });
    expect(reads).toEqual([]);
    expect((await useCase.execute({ tenantId: TENANT, contentIds: [id(1)] })).objects[0]).toHaveProperty('data');
  });
});
