import { randomBytes } from 'node:crypto';
import { FETCH_MAX_BYTES, type TenantCalls } from '@mlr/contracts';
import type { ServiceReply } from '@mlr/messaging';
import { describe, expect, it } from 'vitest';
import { ObjectFetcher, ObjectFetchError, type ObjectFetchClient } from './object-fetcher.js';

type FetchRequest = TenantCalls['objects.fetch']['request'];
type FetchResponse = TenantCalls['objects.fetch']['response'];

const TENANT = 'acme';
const contentId = 'a'.repeat(64);

/** Storage as the connector sees it: objects by content id, answers by range, or scripted failures. */
class FakeStorage implements ObjectFetchClient {
  readonly requests: Array<{ subject: string; payload: FetchRequest }> = [];
  failures: Array<{ code: string; message: string }> = [];

  constructor(private readonly objects: Map<string, Buffer>) {}

  async request(_verb: 'objects.fetch', subject: string, payload: FetchRequest): Promise<ServiceReply<FetchResponse>> {
    this.requests.push({ subject, payload });
    const failure = this.failures.shift();
    if (failure) return { ok: false, error: failure };
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
    expect(storage.requests.map((r) => [r.subject, r.payload.offset, r.payload.length])).toEqual([
      ['mlr.acme.fetch', 0, FETCH_MAX_BYTES],
      ['mlr.acme.fetch', FETCH_MAX_BYTES, FETCH_MAX_BYTES],
      ['mlr.acme.fetch', 2 * FETCH_MAX_BYTES, FETCH_MAX_BYTES],
    ]);
    expect(storage.requests.every((r) => r.payload.tenantId === TENANT && r.payload.contentId === contentId)).toBe(
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
        value: { contentId, sealedSize: 1_000, keyId: 'k1', offset: payload.offset, data: '' },
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
