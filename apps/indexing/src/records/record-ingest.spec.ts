import type { IndexedBatch, SightingResult } from '@mlr/contracts';
import { PermanentFailure, silentLogger } from '@mlr/messaging';
import { describe, expect, it } from 'vitest';
import { aRecordBatch, aStoredRecord } from '../../test/factories/stored-record.js';
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
    const gone = rows.find((row) => this.missing.has(row.objectId));
    if (gone) {
      throw pgError(
        '23503',
        `insert or update on table "index_records" violates foreign key constraint "index_records_object_id_fkey"`,
      );
    }
    return rows.map((row) => {
      const key = `${row.mailbox}/${row.folder}/${row.sightingSource}/${row.sightingEpoch}/${row.sightingId}`;
      const existing = this.rows.get(key);
      const id = existing?.id ?? `r-${this.rows.size + 1}`;
      this.rows.set(key, { ...row, id });
      const recordStored = !existing ? 'new' : existing.seen === row.seen ? 'unchanged' : 'updated';
      return { kind: 'stored', recordStored, recordId: id, storedContentId: existing?.contentId ?? row.contentId };
    });
  }
}

class MemorySink implements IndexedEventSink {
  readonly published: Array<{ batch: IndexedBatch; msgId: string }> = [];
  fail = false;
  async publish(batch: IndexedBatch, msgId: string): Promise<void> {
    if (this.fail) throw new Error('no PubAck');
    this.published.push({ batch, msgId });
  }

  get results(): SightingResult[] {
    return this.published.flatMap((p) => p.batch.results);
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
      sourceKey: { source: 'imap', epoch: '1700000000', id: String(uid) },
      flags: { seen, answered: false, flagged: false, draft: false, deleted: false },
    },
  });

const outcomes = (batch: IndexedBatch) =>
  batch.results.map((r) => (r.outcome === 'stored' ? r.recordStored : 'rejected'));

describe('RecordIngest', () => {
  it('stores the records of a batch in one database batch and acknowledges them in one message', async () => {
    const { repository, sink, ingest } = setup();
    const answer = await ingest.ingest(aRecordBatch([1, 2, 3].map((uid) => sighting(uid))));
    expect(outcomes(answer)).toEqual(['new', 'new', 'new']);
    expect(repository.batches).toEqual([3]);
    expect(sink.published).toHaveLength(1);
    expect(
      sink.results.map((r) => [
        Number(r.sourceKey.id),
        r.outcome === 'stored' && r.recordStored,
        r.outcome === 'stored' && r.recordId,
      ]),
    ).toEqual([
      [1, 'new', 'r-1'],
      [2, 'new', 'r-2'],
      [3, 'new', 'r-3'],
    ]);
  });

  it('writes the records of several deliveries arriving together in one database batch', async () => {
    const { repository, ingest } = setup();
    await Promise.all([
      ingest.ingest(aRecordBatch([sighting(1)])),
      ingest.ingest(aRecordBatch([sighting(2), sighting(3)])),
    ]);
    expect(repository.batches).toEqual([3]);
  });

  it('answers unchanged and updated for known sightings, with a stable msgId for an identical batch', async () => {
    const { sink, ingest } = setup();
    await ingest.ingest(aRecordBatch([sighting(1)]));
    expect(outcomes(await ingest.ingest(aRecordBatch([sighting(1)])))).toEqual(['unchanged']);
    expect(outcomes(await ingest.ingest(aRecordBatch([sighting(1, 'object-1', false)])))).toEqual(['updated']);
    const [first, again, changed] = sink.published;
    expect(again?.msgId).toBe(first?.msgId);
    expect(changed?.msgId).not.toBe(first?.msgId);
  });

  it('answers a record whose stored object does not exist (the foreign key) as refused, and stores its batch-mates', async () => {
    const { repository, ingest } = setup();
    repository.missing.add('gone');
    const answer = await ingest.ingest(aRecordBatch([sighting(1), sighting(2, 'gone'), sighting(3)]));
    expect(outcomes(answer)).toEqual(['new', 'rejected', 'new']);
    expect(answer.results[1]).toMatchObject({
      outcome: 'rejected',
      stage: 'indexing',
      reason: expect.stringContaining('stored object gone'),
    });
  });

  it('writes a batch the database refuses record by record and refuses only the bad record', async () => {
    const { repository, ingest } = setup();
    repository.refuse.add('bad');
    const answer = await ingest.ingest(aRecordBatch([sighting(1), sighting(2, 'bad'), sighting(3)]));
    expect(outcomes(answer)).toEqual(['new', 'rejected', 'new']);
    expect(answer.results[1]).toMatchObject({
      reason: 'the database refuses the record (SQLSTATE 23503): violates foreign key constraint (object bad)',
    });
    expect(repository.batches).toEqual([3, 1, 1, 1]);
  });

  it('fails the whole delivery for retry when the database is unavailable', async () => {
    const { repository, sink, ingest } = setup();
    repository.failWith = new Error("Can't reach database server");
    const failure = await ingest.ingest(aRecordBatch([sighting(1), sighting(2)])).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(PermanentFailure);
    expect(repository.batches).toEqual([2]);
    expect(sink.published).toEqual([]);
  });

  it('refuses a record the index can never hold without writing it', async () => {
    const { repository, ingest } = setup();
    const stored = aStoredRecord({ record: { observedAt: 'not a date' } });
    const answer = await ingest.ingest(aRecordBatch([stored]));
    expect(answer.results[0]).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/cannot be indexed/),
    });
    expect(repository.batches).toEqual([]);
  });

  it('does not acknowledge a batch whose acknowledgement could not be published', async () => {
    const { sink, ingest } = setup();
    sink.fail = true;
    const failure = await ingest.ingest(aRecordBatch([sighting(1)])).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(PermanentFailure);
  });
});
