import type { IndexedEvent } from '@mlr/contracts';
import { PermanentFailure, silentLogger } from '@mlr/messaging';
import { describe, expect, it } from 'vitest';
import { aStoredRecord } from '../../test/factories/stored-record.js';
import type { IndexRow } from './index-row.js';
import { IngestMetrics } from './ingest.metrics.js';
import { RecordIngest, type IndexedEventSink } from './record-ingest.js';
import type { IndexRecordRepository, SightingOutcome } from './repositories/index-record.repository.js';

function pgError(sqlState: string, message: string): Error {
  return Object.assign(new Error(`Invalid \`prisma.$queryRaw()\` invocation:\n\n${message}`), {
    code: 'P2010',
    meta: { driverAdapterError: { cause: { originalCode: sqlState } } },
  });
}

/** Stores rows in memory; a row whose object id is in `refuse` fails its whole batch like a broken FK. */
class MemoryRepository implements IndexRecordRepository {
  readonly batches: number[] = [];
  readonly refuse = new Set<string>();
  readonly missing = new Set<string>();
  failWith: Error | undefined;
  private readonly rows = new Map<string, IndexRow & { id: string }>();

  async upsertBatch(rows: readonly IndexRow[]): Promise<SightingOutcome[]> {
    this.batches.push(rows.length);
    if (this.failWith) throw this.failWith;
    const refused = rows.find((row) => this.refuse.has(row.objectId));
    if (refused) throw pgError('23503', `violates foreign key constraint (object ${refused.objectId})`);
    return rows.map((row) => {
      if (this.missing.has(row.objectId)) return { kind: 'object-missing' };
      const key = `${row.mailbox}/${row.folder}/${row.uidValidity}/${row.uid}`;
      const existing = this.rows.get(key);
      const id = existing?.id ?? `r-${this.rows.size + 1}`;
      this.rows.set(key, { ...row, id });
      const recordStored = !existing ? 'new' : existing.seen === row.seen ? 'unchanged' : 'updated';
      return { kind: 'stored', recordStored, recordId: id, storedContentId: existing?.contentId ?? row.contentId };
    });
  }
}

class MemorySink implements IndexedEventSink {
  readonly published: Array<{ event: IndexedEvent; msgId: string }> = [];
  fail = false;
  async publish(event: IndexedEvent, msgId: string): Promise<void> {
    if (this.fail) throw new Error('no PubAck');
    this.published.push({ event, msgId });
  }
}

function setup(maxBatchRecords = 10) {
  const repository = new MemoryRepository();
  const sink = new MemorySink();
  const ingest = new RecordIngest(repository, sink, new IngestMetrics(), silentLogger, {
    maxBatchRecords,
    maxBatchWaitMs: 1,
    batchConcurrency: 1,
  });
  return { repository, sink, ingest };
}

const sighting = (uid: number, objectId = 'object-1', seen = true) =>
  aStoredRecord({
    objectId,
    record: {
      sourceKey: { uidValidity: '1700000000', uid },
      flags: { seen, answered: false, flagged: false, draft: false, deleted: false },
    },
  });

describe('RecordIngest', () => {
  it('stores records in one batch and publishes one IndexedEvent each', async () => {
    const { repository, sink, ingest } = setup();
    await expect(Promise.all([1, 2, 3].map((uid) => ingest.ingest(sighting(uid))))).resolves.toEqual([
      'new',
      'new',
      'new',
    ]);
    expect(repository.batches).toEqual([3]);
    expect(sink.published.map((p) => [p.event.uid, p.event.recordStored, p.event.recordId])).toEqual([
      [1, 'new', 'r-1'],
      [2, 'new', 'r-2'],
      [3, 'new', 'r-3'],
    ]);
  });

  it('answers unchanged and updated for known sightings, with a stable msgId for an identical one', async () => {
    const { sink, ingest } = setup();
    await ingest.ingest(sighting(1));
    await expect(ingest.ingest(sighting(1))).resolves.toBe('unchanged');
    await expect(ingest.ingest(sighting(1, 'object-1', false))).resolves.toBe('updated');
    const [first, again, changed] = sink.published;
    expect(again?.msgId).toBe(first?.msgId);
    expect(changed?.msgId).not.toBe(first?.msgId);
  });

  it('terminates a record whose stored object does not exist, and only it', async () => {
    const { repository, sink, ingest } = setup();
    repository.missing.add('gone');
    const results = await Promise.allSettled([ingest.ingest(sighting(1)), ingest.ingest(sighting(2, 'gone'))]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 'new' });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: expect.any(PermanentFailure) });
    expect(String((results[1] as PromiseRejectedResult).reason.message)).toContain('stored object gone');
    expect(sink.published.map((p) => p.event.uid)).toEqual([1]);
  });

  it('writes a batch the database refuses record by record and terminates only the bad record', async () => {
    const { repository, sink, ingest } = setup();
    repository.refuse.add('bad');
    const results = await Promise.allSettled([
      ingest.ingest(sighting(1)),
      ingest.ingest(sighting(2, 'bad')),
      ingest.ingest(sighting(3)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const reason = (results[1] as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(PermanentFailure);
    expect(reason.message).toBe(
      'the database refuses the record (SQLSTATE 23503): violates foreign key constraint (object bad)',
    );
    expect(repository.batches).toEqual([3, 1, 1, 1]);
    expect(sink.published.map((p) => p.event.uid)).toEqual([1, 3]);
  });

  it('fails the whole batch for retry when the database is unavailable', async () => {
    const { repository, sink, ingest } = setup();
    repository.failWith = new Error("Can't reach database server");
    const results = await Promise.allSettled([ingest.ingest(sighting(1)), ingest.ingest(sighting(2))]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).not.toBeInstanceOf(PermanentFailure);
    }
    expect(repository.batches).toEqual([2]);
    expect(sink.published).toEqual([]);
  });

  it('terminates a record the index can never hold without writing anything', async () => {
    const { repository, ingest } = setup();
    const stored = aStoredRecord({ record: { sourceKey: { uidValidity: '99999999999999999999', uid: 1 } } });
    await expect(ingest.ingest(stored)).rejects.toBeInstanceOf(PermanentFailure);
    expect(repository.batches).toEqual([]);
  });

  it('does not acknowledge a record whose IndexedEvent could not be published', async () => {
    const { sink, ingest } = setup();
    sink.fail = true;
    const failure = await ingest.ingest(sighting(1)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(PermanentFailure);
  });
});
