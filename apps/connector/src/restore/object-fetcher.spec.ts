import { randomBytes } from 'node:crypto';
import { FETCH_MAX_BYTES, type TenantCalls } from '@mlr/contracts';
import type { ServiceReply } from '@mlr/messaging';
import { describe, expect, it } from 'vitest';
import { BatchingObjectSource, ObjectFetcher, ObjectFetchError, type ObjectFetchClient } from './object-fetcher.js';

type FetchRequest = TenantCalls['objects.fetch']['request'];
type FetchResponse = TenantCalls['objects.fetch']['response'];

const TENANT = 'acme';

/** A range request's content id, offset and length (a batch request is none). */
function ranged(payload: FetchRequest): [string, number, number] {
  if ('contentIds' in payload) throw new Error('a batch request where a range request was due');
  return [payload.contentId, payload.offset, payload.length];
}
const contentId = 'a'.repeat(64);

/** Storage as the connector sees it: objects by content id, answers by range, or scripted failures. */
class FakeStorage implements ObjectFetchClient {
  readonly requests: Array<{ subject: string; payload: FetchRequest }> = [];
  failures: Array<{ code: string; message: string }> = [];
  /** Content ids a batch answers with an internal error (S3 failed); a range fetch still reads them. */
  readonly batchErrors = new Set<string>();

  constructor(private readonly objects: Map<string, Buffer>) {}

  /** Answers batches as storage does (whole objects while they fit); false: as a storage that does not know them. */
  batches = true;

  async request(_verb: 'objects.fetch', subject: string, payload: FetchRequest): Promise<ServiceReply<FetchResponse>> {
    this.requests.push({ subject, payload });
    const failure = this.failures.shift();
    if (failure) return { ok: false, error: failure };
    if ('contentIds' in payload) {
      if (!this.batches) return { ok: false, error: { code: 'invalid_request', message: 'invalid objects.fetch' } };
      let budget = FETCH_MAX_BYTES;
      return {
        ok: true,
        value: {
          objects: payload.contentIds.map((id) => {
            const sealed = this.objects.get(id);
            if (!sealed) return { contentId: id, error: { code: 'not_found', message: `no object ${id}` } };
            if (this.batchErrors.has(id)) return { contentId: id, error: { code: 'internal', message: 'S3 failed' } };
            if (sealed.length > budget) {
              budget = 0;
              return { contentId: id, sealedSize: sealed.length, keyId: 'k1' };
            }
            budget -= sealed.length;
            return { contentId: id, sealedSize: sealed.length, keyId: 'k1', data: sealed.toString('base64') };
          }),
        },
      };
    }
    const sealed = this.objects.get(payload.contentId);
    if (!sealed) return { ok: false, error: { code: 'not_found', message: `no object ${payload.contentId}` } };
    const data = sealed.subarray(payload.offset, payload.offset + payload.length);
    return {
      ok: true,
      value: {
        contentId: payload.contentId,
        sealedSize: sealed.length,
        keyId: 'k1',
        offset: payload.offset,
        data: data.toString('base64'),
      },
    };
  }
}

describe('ObjectFetcher', () => {
  it('pages through an object in FETCH_MAX_BYTES slices on its tenant subject', async () => {
    const sealed = randomBytes(2 * FETCH_MAX_BYTES + 11);
    const storage = new FakeStorage(new Map([[contentId, sealed]]));
    const fetched = await new ObjectFetcher(storage, TENANT).fetchSealed(contentId);
    expect(fetched.equals(sealed)).toBe(true);
    expect(storage.requests.map((r) => [r.subject, ...ranged(r.payload).slice(1)])).toEqual([
      ['mlr.acme.fetch', 0, FETCH_MAX_BYTES],
      ['mlr.acme.fetch', FETCH_MAX_BYTES, FETCH_MAX_BYTES],
      ['mlr.acme.fetch', 2 * FETCH_MAX_BYTES, FETCH_MAX_BYTES],
    ]);
    expect(storage.requests.every((r) => r.payload.tenantId === TENANT && ranged(r.payload)[0] === contentId)).toBe(
      true,
    );
  });

  it('fetches a small object in one call and an empty one too', async () => {
    const small = randomBytes(100);
    const empty = 'e'.repeat(64);
    const storage = new FakeStorage(
      new Map([
        [contentId, small],
        [empty, Buffer.alloc(0)],
      ]),
    );
    const fetcher = new ObjectFetcher(storage, TENANT);
    expect((await fetcher.fetchSealed(contentId)).equals(small)).toBe(true);
    expect(await fetcher.fetchSealed(empty)).toEqual(Buffer.alloc(0));
    expect(storage.requests).toHaveLength(2);
  });

  it('names the content id when storage does not have it', async () => {
    const fetcher = new ObjectFetcher(new FakeStorage(new Map()), TENANT);
    const error = await fetcher.fetchSealed(contentId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectFetchError);
    expect(error).toMatchObject({ code: 'not_found', contentId });
    expect((error as Error).message).toMatch(new RegExp(`no object with content id ${contentId} for tenant acme`));
  });

  it('tries again when storage times out, then gives up naming the content id', async () => {
    const sealed = randomBytes(10);
    const storage = new FakeStorage(new Map([[contentId, sealed]]));
    const fetcher = new ObjectFetcher(storage, TENANT, { attempts: 3, retryDelayMs: 1 });

    storage.failures = [{ code: 'timeout', message: 'no reply on mlr.acme.fetch within 30000 ms' }];
    expect((await fetcher.fetchSealed(contentId)).equals(sealed)).toBe(true);

    storage.failures = Array.from({ length: 3 }, () => ({ code: 'timeout', message: 'no reply' }));
    await expect(fetcher.fetchSealed(contentId)).rejects.toThrow(
      new RegExp(`sealed object ${contentId} at offset 0: storage did not answer in time \\(after 3 tries\\)`),
    );
  });

  it('reports storage being unreachable', async () => {
    const storage = new FakeStorage(new Map([[contentId, randomBytes(10)]]));
    storage.failures = [{ code: 'unavailable', message: 'no service answers on mlr.acme.fetch' }];
    const fetcher = new ObjectFetcher(storage, TENANT, { attempts: 1 });
    await expect(fetcher.fetchSealed(contentId)).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(new RegExp(`${contentId}.*storage is unreachable`)),
    });
  });

  it('does not retry a refused request', async () => {
    const storage = new FakeStorage(new Map([[contentId, randomBytes(10)]]));
    storage.failures = [{ code: 'invalid_request', message: 'offset beyond the end' }];
    const fetcher = new ObjectFetcher(storage, TENANT, { attempts: 3, retryDelayMs: 1 });
    await expect(fetcher.fetchSealed(contentId)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(storage.requests).toHaveLength(1);
  });

  it('refuses a reply that does not fit the request', async () => {
    const short: ObjectFetchClient = {
      request: async (_verb, _subject, payload) => ({
        ok: true,
        value: { contentId, sealedSize: 1_000, keyId: 'k1', offset: ranged(payload)[1], data: '' },
      }),
    };
    await expect(new ObjectFetcher(short, TENANT).fetchSealed(contentId)).rejects.toThrow(
      /returned 0 bytes at offset 0 where 1000 were due/,
    );
  });

  it('refuses a slice size above FETCH_MAX_BYTES', () => {
    expect(() => new ObjectFetcher(new FakeStorage(new Map()), TENANT, { sliceBytes: FETCH_MAX_BYTES + 1 })).toThrow(
      /sliceBytes must be a whole number from 1 to/,
    );
  });
});

describe('BatchingObjectSource', () => {
  const id = (n: number) => n.toString(16).padStart(64, '0');

  it('asks for the objects wanted in the same turn with one call, and for the rest once they fit', async () => {
    const objects = new Map(Array.from({ length: 5 }, (_, i) => [id(i), randomBytes(FETCH_MAX_BYTES / 4)] as const));
    const storage = new FakeStorage(new Map(objects));
    const source = new BatchingObjectSource(new ObjectFetcher(storage, TENANT));
    const fetched = await Promise.all([...objects.keys(), id(0)].map((c) => source.fetchSealed(c)));
    expect(fetched.map((b) => b.length)).toEqual(Array(6).fill(FETCH_MAX_BYTES / 4));
    expect(fetched.every((b, i) => b.equals(objects.get(id(i % 5))!))).toBe(true);
    // Four fit in one reply; the fifth came with the next call. The repeated one was asked once.
    expect(storage.requests.map((r) => ('contentIds' in r.payload ? r.payload.contentIds.length : 'range'))).toEqual(
      [5, 1].map((n) => (n === 1 ? 'range' : n)),
    );
  });

  it('fetches a large object by ranges, fails a missing one with its reason and retries one S3 failed for', async () => {
    const large = randomBytes(FETCH_MAX_BYTES + 10);
    const small = randomBytes(100);
    const flaky = randomBytes(200);
    const storage = new FakeStorage(
      new Map([
        [id(1), large],
        [id(2), small],
        [id(3), flaky],
      ]),
    );
    storage.batchErrors.add(id(3));
    const source = new BatchingObjectSource(new ObjectFetcher(storage, TENANT));
    const [a, b, c, d] = await Promise.allSettled([id(1), id(2), id(3), id(4)].map((x) => source.fetchSealed(x)));
    const value = (r: PromiseSettledResult<Buffer> | undefined) => (r?.status === 'fulfilled' ? r.value : undefined);
    expect(value(a)?.equals(large)).toBe(true);
    expect(value(b)?.equals(small)).toBe(true);
    expect(value(c)?.equals(flaky)).toBe(true);
    expect(d).toMatchObject({ status: 'rejected', reason: { code: 'not_found', contentId: id(4) } });
  });

  it('goes on one object at a time with a storage that does not know batches', async () => {
    const objects = new Map([
      [id(1), randomBytes(10)],
      [id(2), randomBytes(20)],
    ]);
    const storage = new FakeStorage(new Map(objects));
    storage.batches = false;
    const source = new BatchingObjectSource(new ObjectFetcher(storage, TENANT));
    expect((await Promise.all([id(1), id(2)].map((x) => source.fetchSealed(x)))).map((b) => b.length)).toEqual([
      10, 20,
    ]);
    expect((await Promise.all([id(1), id(2)].map((x) => source.fetchSealed(x)))).map((b) => b.length)).toEqual([
      10, 20,
    ]);
    // One refused batch, then ranges only.
    expect(storage.requests.filter((r) => 'contentIds' in r.payload)).toHaveLength(1);
    expect(storage.requests).toHaveLength(5);
  });

  it('refuses a batch reply about other objects than asked', async () => {
    const wrong: ObjectFetchClient = {
      request: async () => ({ ok: true, value: { objects: [] } }),
    };
    await expect(new ObjectFetcher(wrong, TENANT).fetchBatch([id(1), id(2)])).rejects.toMatchObject({
      code: 'invalid_response',
    });
  });
});
