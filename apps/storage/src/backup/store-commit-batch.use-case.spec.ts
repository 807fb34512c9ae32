import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { noMetrics } from '../__tests__/no-metrics.js';
import type { IndexedBatch, ObjectChunk, ObjectCommitBatch, ObjectCommitItem, StoredRecordBatch } from '@mlr/contracts';
import { sealedShape } from '@mlr/testing';
import { buildCommitItem } from '../__tests__/commit-batch.factory.js';
import type { ChunkBody, ChunkStore } from './chunk-store.js';
import { StoreCommitBatch } from './store-commit-batch.use-case.js';
import type { MemberToStore, ObjectWriter, StoredMember } from './writers/object-writer.js';

const TENANT = 'acme';
const newContentId = () => randomBytes(32).toString('hex');

class RecordingWriter implements ObjectWriter {
  readonly stored: Array<MemberToStore & { read?: never } & { streamed?: Buffer }> = [];
  readonly flushes: string[] = [];
  failWith: Error | undefined;
  flush(tenantId: string): void {
    this.flushes.push(tenantId);
  }
  async store(
    _tenantId: string,
    members: readonly MemberToStore[],
    options: { onPlaced?: () => void } = {},
  ): Promise<Array<StoredMember | Error>> {
    options.onPlaced?.();
    const results: Array<StoredMember | Error> = [];
    for (const member of members) {
      if (this.failWith) {
        results.push(this.failWith);
        continue;
      }
      let streamed: Buffer | undefined;
      if (member.read) {
        const pieces: Buffer[] = [];
        for await (const piece of member.read()) pieces.push(piece);
        streamed = Buffer.concat(pieces);
      }
      this.stored.push({ ...member, read: undefined as never, ...(streamed ? { streamed } : {}) });
      results.push({ objectId: `o-${member.contentId.slice(0, 6)}`, objectStored: 'new' });
    }
    return results;
  }
}

class MemoryChunks implements ChunkStore {
  readonly messages = new Map<number, { header: ObjectChunk; data: Uint8Array; subject: string }>();
  readonly purged: string[] = [];
  private next = 1;
  add(uploadId: string, contentId: string, sealed: Buffer, chunkSize: number) {
    const chunkCount = Math.ceil(sealed.length / chunkSize);
    const chunks = [];
    for (let index = 0; index < chunkCount; index++) {
      const offset = index * chunkSize;
      const data = sealed.subarray(offset, offset + chunkSize);
      const sequence = this.next++;
      this.messages.set(sequence, {
        header: { tenantId: TENANT, uploadId, contentId, chunkIndex: index, chunkCount, offset },
        data,
        subject: uploadId,
      });
      chunks.push({ sequence, offset, length: data.length });
    }
    return { kind: 'chunks' as const, uploadId, sealedSize: sealed.length, chunks };
  }
  async read(_tenantId: string, uploadId: string, sequence: number): Promise<ChunkBody | { problem: string } | null> {
    const message = this.messages.get(sequence);
    if (!message) return null;
    if (message.subject !== uploadId) return { problem: `it is a message of upload ${message.subject}` };
    return { header: message.header, data: message.data };
  }
  async purge(_tenantId: string, uploadId: string): Promise<number> {
    this.purged.push(uploadId);
    return 0;
  }
}

function setup(options: { existing?: Map<string, string>; tenant?: boolean } = {}) {
  const writer = new RecordingWriter();
  const individual = new RecordingWriter();
  const chunks = new MemoryChunks();
  const published: { records: Array<[StoredRecordBatch, string]>; rejections: Array<[IndexedBatch, string]> } = {
    records: [],
    rejections: [],
  };
  const useCase = new StoreCommitBatch({
    repository: {
      findIdsByContentIds: async (_t, ids) =>
        new Map([...(options.existing ?? new Map<string, string>())].filter(([id]) => ids.includes(id))),
    },
    layouts: { layoutOf: async () => (options.tenant === false ? null : 'packed') },
    chunks,
    writers: { packed: writer, individual },
    sink: {
      records: async (batch, msgId) => void published.records.push([batch, msgId]),
      rejections: async (batch, msgId) => void published.rejections.push([batch, msgId]),
    },
    metrics: noMetrics,
    holdUpToBytes: 100_000,
    logger: { warn: () => undefined, error: () => undefined },
  });
  return { useCase, writer, chunks, published };
}

function batchOf(parts: Array<{ contentId: string; sealed: Buffer | ObjectCommitItem['sealed'] }>) {
  const data: Buffer[] = [];
  let offset = 0;
  const items = parts.map((part, i) => {
    if (!Buffer.isBuffer(part.sealed)) return buildCommitItem(TENANT, part.contentId, part.sealed, { uid: i + 1 });
    data.push(part.sealed);
    const item = buildCommitItem(
      TENANT,
      part.contentId,
      { kind: 'inline', offset, length: part.sealed.length },
      { uid: i + 1 },
    );
    offset += part.sealed.length;
    return item;
  });
  const batch: ObjectCommitBatch = { tenantId: TENANT, jobId: 'job-1', batchId: 'b1', items };
  return { batch, data: Buffer.concat(data) };
}

describe('StoreCommitBatch', () => {
  it('stores new objects, takes known ones as they are, and forwards every record in one batch', async () => {
    const known = newContentId();
    const fresh = newContentId();
    const { useCase, writer, published } = setup({ existing: new Map([[known, 'o-known']]) });
    const { batch, data } = batchOf([
      { contentId: known, sealed: sealedShape(known, 1_000) },
      { contentId: fresh, sealed: sealedShape(fresh, 2_000) },
    ]);
    expect(await useCase.execute(batch, data, { sequence: 42 })).toEqual({ stored: 2, deduplicated: 1, rejected: 0 });
    expect(writer.stored.map((m) => m.contentId)).toEqual([fresh]);
    expect(published.records).toEqual([
      [
        {
          tenantId: TENANT,
          jobId: 'job-1',
          records: [
            {
              tenantId: TENANT,
              jobId: 'job-1',
              objectId: 'o-known',
              objectStored: 'deduplicated',
              record: batch.items[0]!.record,
            },
            {
              tenantId: TENANT,
              jobId: 'job-1',
              objectId: `o-${fresh.slice(0, 6)}`,
              objectStored: 'new',
              record: batch.items[1]!.record,
            },
          ],
        },
        'records-42',
      ],
    ]);
    expect(published.rejections).toEqual([]);
  });

  it('refuses bytes that are no sealed object of the item, alone, and stores the rest', async () => {
    const good = newContentId();
    const bad = newContentId();
    const { useCase, writer, published } = setup();
    const { batch, data } = batchOf([
      { contentId: bad, sealed: sealedShape(newContentId(), 1_000) },
      { contentId: good, sealed: sealedShape(good, 1_000) },
    ]);
    expect(await useCase.execute(batch, data, { sequence: 7 })).toMatchObject({ stored: 1, rejected: 1 });
    expect(writer.stored.map((m) => m.contentId)).toEqual([good]);
    expect(published.rejections).toEqual([
      [
        {
          tenantId: TENANT,
          jobId: 'job-1',
          results: [
            expect.objectContaining({
              contentId: bad,
              sourceKey: { source: 'imap', epoch: '1700000000', id: '1' },
              outcome: 'rejected',
              stage: 'storage',
              reason: expect.stringMatching(/header names content id/),
            }),
          ],
        },
        'rejected-7',
      ],
    ]);
  });

  it('reads chunked objects by sequence: held in memory when small, streamed when large', async () => {
    const small = newContentId();
    const large = newContentId();
    const smallBytes = sealedShape(small, 50_000);
    const largeBytes = sealedShape(large, 300_000);
    const { useCase, writer, chunks } = setup();
    const { batch, data } = batchOf([
      { contentId: small, sealed: chunks.add('u-small', small, smallBytes, 20_000) },
      { contentId: large, sealed: chunks.add('u-large', large, largeBytes, 64_000) },
    ]);
    await useCase.execute(batch, data, { sequence: 1 });
    expect(writer.stored[0]!.bytes).toEqual(smallBytes);
    expect(writer.stored[1]!.bytes).toBeUndefined();
    expect(writer.stored[1]!.streamed).toEqual(largeBytes);
    expect(chunks.purged.sort()).toEqual(['u-large', 'u-small']);
  });

  it('refuses an item whose chunk is gone or belongs to another upload', async () => {
    const gone = newContentId();
    const foreign = newContentId();
    const { useCase, chunks, published } = setup();
    const goneRef = chunks.add('u-gone', gone, sealedShape(gone, 30_000), 20_000);
    chunks.messages.delete(goneRef.chunks[1]!.sequence);
    const foreignRef = {
      ...chunks.add('u-other', foreign, sealedShape(foreign, 30_000), 20_000),
      uploadId: 'u-claimed',
    };
    const { batch, data } = batchOf([
      { contentId: gone, sealed: goneRef },
      { contentId: foreign, sealed: foreignRef },
    ]);
    await useCase.execute(batch, data, { sequence: 3 });
    const reasons = published.rejections[0]![0].results.map((r) => (r.outcome === 'rejected' ? r.reason : ''));
    expect(reasons[0]).toMatch(/chunk 1 \(stream sequence \d+\) of upload u-gone is no longer in the chunk stream/);
    expect(reasons[1]).toMatch(/of upload u-claimed is not valid: it is a message of upload u-other/);
  });

  it('refuses every item of a tenant that does not exist, storing nothing', async () => {
    const contentId = newContentId();
    const { useCase, writer, published } = setup({ tenant: false });
    const { batch, data } = batchOf([{ contentId, sealed: sealedShape(contentId, 1_000) }]);
    expect(await useCase.execute(batch, data, { sequence: 9 })).toMatchObject({ stored: 0, rejected: 1 });
    expect(writer.stored).toEqual([]);
    expect(published.records).toEqual([]);
    expect(published.rejections[0]![0].results[0]).toMatchObject({
      reason: 'tenant acme does not exist; nothing is stored',
    });
  });

  it('passes a flush on to the writer, also for a batch without items', async () => {
    const contentId = newContentId();
    const { useCase, writer, published } = setup();
    const { batch, data } = batchOf([{ contentId, sealed: sealedShape(contentId, 1_000) }]);
    await useCase.execute({ ...batch, flush: true }, data, { sequence: 1 });
    await useCase.execute({ ...batch, items: [], flush: true }, Buffer.alloc(0), { sequence: 2 });
    expect(writer.flushes).toEqual([TENANT, TENANT]);
    expect(published.records).toHaveLength(1);
  });

  it('flushes only once the batches that came before have handed their members to the writer', async () => {
    const slow = newContentId();
    const { writer, chunks } = setup();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const useCase = new StoreCommitBatch({
      repository: {
        // The earlier batch is still looking up its content ids when the flush arrives.
        findIdsByContentIds: async (_t, ids) => {
          if (ids.includes(slow)) await gate;
          return new Map();
        },
      },
      layouts: { layoutOf: async () => 'packed' },
      chunks,
      writers: { packed: writer, individual: writer },
      sink: { records: async () => undefined, rejections: async () => undefined },
      metrics: noMetrics,
      holdUpToBytes: 100_000,
      logger: { warn: () => undefined, error: () => undefined },
    });
    const earlier = batchOf([{ contentId: slow, sealed: sealedShape(slow, 1_000) }]);
    const first = useCase.execute(earlier.batch, earlier.data, { sequence: 1 });
    const flush = useCase.execute({ ...earlier.batch, items: [], flush: true }, Buffer.alloc(0), { sequence: 2 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(writer.flushes).toEqual([]);
    release();
    await Promise.all([first, flush]);
    expect(writer.stored.map((m) => m.contentId)).toEqual([slow]);
    expect(writer.flushes).toEqual([TENANT]);
  });

  it('fails the whole batch, publishing nothing, when an object could not be written', async () => {
    const contentId = newContentId();
    const { useCase, writer, published } = setup();
    writer.failWith = new Error('S3 unavailable');
    const { batch, data } = batchOf([{ contentId, sealed: sealedShape(contentId, 1_000) }]);
    await expect(useCase.execute(batch, data, { sequence: 9 })).rejects.toThrow('S3 unavailable');
    expect(published).toEqual({ records: [], rejections: [] });
  });
});
