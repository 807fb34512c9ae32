import { Readable } from 'node:stream';
import type { ObjectChunk, ObjectCommit, StoredRecord } from '@mlr/contracts';
import type { ObjectHead, ObjectKey, ObjectLocator, ObjectStore, PutOptions, PutResult } from '@mlr/objectstore';
import { describe, expect, it } from 'vitest';
import { buildObjectCommit } from '../__tests__/object-commit.factory.js';
import { BackupError, BackupErrorCode } from './backup.exception.js';
import type { ChunkListing, InvalidChunk } from './chunk-plan.js';
import type { ChunkBody, ChunkStore } from './chunk-store.js';
import type { StorageMetrics } from './storage-metrics.js';
import { StoreObjectCommit } from './store-object-commit.use-case.js';
import type { NewStoredObject, StoredObject, StoredObjectRepository } from './stored-object.repository.js';

const TENANT = 'acme';
const contentId = 'd'.repeat(64);
const HOUR = 3_600_000;

/** In-memory versioned bucket. */
class MemoryStore implements ObjectStore {
  readonly versions = new Map<string, Array<{ id: string; data: Buffer }>>();
  readonly deleted: string[] = [];
  private next = 1;
  ensureBucket(): Promise<void> {
    return Promise.resolve();
  }
  async put(target: ObjectKey, body: Buffer | Readable, _options?: PutOptions): Promise<PutResult> {
    const parts: Buffer[] = [];
    for await (const part of body as Readable) parts.push(part as Buffer);
    const id = `v${this.next++}`;
    const list = this.versions.get(target.key) ?? [];
    list.push({ id, data: Buffer.concat(parts) });
    this.versions.set(target.key, list);
    return { etag: 'etag', versionId: id };
  }
  async get(locator: ObjectLocator): Promise<Readable> {
    return Readable.from([await this.getBuffer(locator)]);
  }
  async getBuffer(locator: ObjectLocator): Promise<Buffer> {
    const list = this.versions.get(locator.key) ?? [];
    const version = locator.versionId ? list.find((v) => v.id === locator.versionId) : list.at(-1);
    if (!version) throw new Error('not found');
    return version.data;
  }
  async head(locator: ObjectLocator): Promise<ObjectHead | null> {
    const data = await this.getBuffer(locator).catch(() => null);
    return data ? { size: data.length, etag: 'etag' } : null;
  }
  async exists(locator: ObjectLocator): Promise<boolean> {
    return (await this.head(locator)) !== null;
  }
  async delete(locator: ObjectLocator): Promise<void> {
    this.deleted.push(`${locator.key}@${locator.versionId}`);
    const list = this.versions.get(locator.key) ?? [];
    this.versions.set(
      locator.key,
      list.filter((v) => v.id !== locator.versionId),
    );
  }
  close(): void {
    this.versions.clear();
  }
}

class MemoryChunks implements ChunkStore {
  readonly retentionMs = 24 * HOUR;
  readonly messages: Array<{ sequence: number; header: ObjectChunk; data: Buffer }> = [];
  readonly purged: string[] = [];
  add(
    uploadId: string,
    data: Buffer,
    chunkSize: number,
    skip: number[] = [],
  ): { chunkCount: number; sealedSize: number } {
    const chunkCount = Math.ceil(data.length / chunkSize);
    for (let index = 0; index < chunkCount; index++) {
      if (skip.includes(index)) continue;
      const offset = index * chunkSize;
      this.messages.push({
        sequence: this.messages.length + 1,
        header: { tenantId: TENANT, uploadId, contentId, chunkIndex: index, chunkCount, offset },
        data: data.subarray(offset, offset + chunkSize),
      });
    }
    return { chunkCount, sealedSize: data.length };
  }
  async list(_tenantId: string, uploadId: string): Promise<ChunkListing> {
    return this.messages
      .filter((m) => m.header.uploadId === uploadId)
      .map((m) => ({ sequence: m.sequence, size: m.data.length, header: m.header }));
  }
  async read(_tenantId: string, uploadId: string, sequence: number): Promise<ChunkBody | InvalidChunk | null> {
    const message = this.messages.find((m) => m.sequence === sequence && m.header.uploadId === uploadId);
    return message ? { header: message.header, data: message.data } : null;
  }
  async purge(_tenantId: string, uploadId: string): Promise<number> {
    this.purged.push(uploadId);
    return 0;
  }
}

class MemoryObjects implements StoredObjectRepository {
  readonly rows: StoredObject[] = [];
  /** Simulates another replica inserting the same content between our write and our insert. */
  raceWinner: NewStoredObject | undefined;
  async findByContentId(tenantId: string, id: string): Promise<StoredObject | null> {
    return this.rows.find((r) => r.tenantId === tenantId && r.contentId === id) ?? null;
  }
  async tenantExists(tenantId: string): Promise<boolean> {
    return tenantId === TENANT;
  }
  async insertIfAbsent(object: NewStoredObject): Promise<{ object: StoredObject; inserted: boolean }> {
    if (this.raceWinner) {
      this.insert(this.raceWinner);
      this.raceWinner = undefined;
    }
    const existing = await this.findByContentId(object.tenantId, object.contentId);
    if (existing) return { object: existing, inserted: false };
    return { object: this.insert(object), inserted: true };
  }
  private insert(object: NewStoredObject): StoredObject {
    const row: StoredObject = {
      id: `obj-${this.rows.length + 1}`,
      tenantId: object.tenantId,
      contentId: object.contentId,
      locator: { bucket: object.bucket, key: object.key },
      plainSize: object.plainSize,
      sealedSize: object.sealedSize,
      keyId: object.keyId,
      retainUntil: object.retainUntil,
      createdAt: new Date(),
    };
    this.rows.push(row);
    return row;
  }
}

const ignore = (): void => undefined;
const quietMetrics: StorageMetrics = { objectStored: ignore, objectDeduplicated: ignore, commitFailed: ignore };
const quietLogger = { debug: ignore, info: ignore, warn: ignore };

function setup(now = new Date('2026-03-01T12:00:00Z')) {
  const store = new MemoryStore();
  const chunks = new MemoryChunks();
  const objects = new MemoryObjects();
  const published: Array<{ record: StoredRecord; msgId: string; rowsAtPublish: number }> = [];
  const useCase = new StoreObjectCommit({
    objects,
    chunks,
    store,
    records: {
      publish: async (record, msgId) => {
        published.push({ record, msgId, rowsAtPublish: objects.rows.length });
      },
    },
    bucket: 'mlr-objects',
    metrics: quietMetrics,
    logger: quietLogger,
    now: () => now,
  });
  return { store, chunks, objects, published, useCase };
}

function commitFor(upload: ObjectCommit['upload'], mailbox = 'alice@acme.test'): ObjectCommit {
  return buildObjectCommit(TENANT, contentId, upload, { mailbox });
}

async function codeOf(promise: Promise<unknown>): Promise<BackupErrorCode> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(BackupError);
  return (error as BackupError).code;
}

describe('StoreObjectCommit', () => {
  const sealed = Buffer.from('0123456789abcdefghij');
  const key = `tenants/${TENANT}/objects/dd/${contentId}`;

  it('stores the object, records it, drops the chunks, and only then publishes the record', async () => {
    const { store, chunks, objects, published, useCase } = setup();
    const upload = { uploadId: 'u1', ...chunks.add('u1', sealed, 6) };
    const outcome = await useCase.execute(commitFor(upload), { sequence: 3, publishedAt: new Date() });
    expect(outcome.objectStored).toBe('new');
    expect((await store.getBuffer({ bucket: 'mlr-objects', key })).equals(sealed)).toBe(true);
    expect(objects.rows).toHaveLength(1);
    expect(chunks.purged).toEqual(['u1']);
    expect(published).toEqual([
      {
        record: expect.objectContaining({ objectId: objects.rows[0]!.id, objectStored: 'new' }),
        msgId: outcome.recordMsgId,
        rowsAtPublish: 1,
      },
    ]);
  });

  it('does not write again what the tenant already has', async () => {
    const { store, chunks, published, useCase } = setup();
    await useCase.execute(commitFor({ uploadId: 'u1', ...chunks.add('u1', sealed, 6) }), {
      sequence: 1,
      publishedAt: new Date(),
    });
    const again = await useCase.execute(
      commitFor({ uploadId: 'u2', ...chunks.add('u2', Buffer.from('x'.repeat(20)), 6) }, 'bob@acme.test'),
      {
        sequence: 2,
        publishedAt: new Date(),
      },
    );
    expect(again.objectStored).toBe('deduplicated');
    expect(store.versions.get(key)).toHaveLength(1);
    expect(chunks.purged).toEqual(['u1', 'u2']);
    expect(published.map((p) => p.record.objectStored)).toEqual(['new', 'deduplicated']);
  });

  it('removes its own copy when another replica recorded the object first', async () => {
    const { store, chunks, objects, published, useCase } = setup();
    const upload = { uploadId: 'u1', ...chunks.add('u1', sealed, 6) };
    objects.raceWinner = {
      tenantId: TENANT,
      contentId,
      bucket: 'mlr-objects',
      key,
      plainSize: 5,
      sealedSize: sealed.length,
      keyId: '0123456789abcdef',
      retainUntil: null,
    };
    const outcome = await useCase.execute(commitFor(upload), { sequence: 1, publishedAt: new Date() });
    expect(outcome.objectStored).toBe('deduplicated');
    expect(objects.rows).toHaveLength(1);
    expect(store.deleted).toEqual([`${key}@v1`]);
    expect(published).toHaveLength(1);
  });

  it('waits for missing chunks while they may still come, then gives up for good', async () => {
    const commitTime = new Date('2026-03-01T00:00:00Z');
    const early = setup(new Date(commitTime.getTime() + HOUR));
    const upload = { uploadId: 'u1', ...early.chunks.add('u1', sealed, 6, [2]) };
    expect(await codeOf(early.useCase.execute(commitFor(upload), { sequence: 1, publishedAt: commitTime }))).toBe(
      BackupErrorCode.ChunksMissing,
    );
    expect(early.objects.rows).toHaveLength(0);
    expect(early.published).toHaveLength(0);
    expect(early.chunks.purged).toHaveLength(0);

    const late = setup(new Date(commitTime.getTime() + 25 * HOUR));
    late.chunks.add('u1', sealed, 6, [2]);
    expect(await codeOf(late.useCase.execute(commitFor(upload), { sequence: 1, publishedAt: commitTime }))).toBe(
      BackupErrorCode.ChunksExpired,
    );
  });

  it('refuses a commit without upload for an object the tenant does not have', async () => {
    const { published, useCase } = setup();
    expect(await codeOf(useCase.execute(commitFor(null), { sequence: 1, publishedAt: new Date() }))).toBe(
      BackupErrorCode.ObjectNotStored,
    );
    expect(published).toHaveLength(0);
  });

  it('refuses a commit for a tenant that does not exist before writing anything', async () => {
    const { store, chunks, useCase } = setup();
    const commit = commitFor({ uploadId: 'u1', ...chunks.add('u1', sealed, 6) });
    commit.tenantId = 'nobody';
    expect(await codeOf(useCase.execute(commit, { sequence: 1, publishedAt: new Date() }))).toBe(
      BackupErrorCode.TenantUnknown,
    );
    expect(store.versions.size).toBe(0);
  });
});
