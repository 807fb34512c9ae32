import type { IndexedBatch, SightingResult, StoredRecord, StoredRecordBatch } from '@mlr/contracts';
import { describeError, PermanentFailure, type MessagingLogger } from '@mlr/messaging';
import { BatchCollector } from './batch-collector.js';
import { toIndexRow, UnstorableRecord, type IndexRow } from './index-row.js';
import { indexedBatchMsgId, resultState, sightingOf, storedResultOf } from './indexed-event.js';
import type { IngestMetrics } from './ingest.metrics.js';
import type { IndexRecordRepository, SightingOutcome } from './repositories/index-record.repository.js';
import { isDataError, sqlStateOf } from './repositories/postgres-errors.js';

/** Where the end-to-end acknowledgements go (JetStream `mlr.<tenant>.indexed` in production). */
export interface IndexedEventSink {
  /** Resolves once the acknowledgement is durably published; `msgId` deduplicates republishing. */
  publish(batch: IndexedBatch, msgId: string): Promise<void>;
}

export interface RecordIngestOptions {
  maxBatchRecords: number;
  maxBatchWaitMs: number;
  batchConcurrency: number;
}

function describeSighting(row: IndexRow): Record<string, unknown> {
  return {
    tenantId: row.tenantId,
    mailbox: row.mailbox,
    folder: row.folder,
    sighting: [row.sightingSource, row.sightingEpoch, row.sightingId],
    contentId: row.contentId,
    objectId: row.objectId,
  };
}

/**
 * The ingest path: the records of a StoredRecordBatch become rows of the index (written in database
 * batches together with the records of other deliveries that arrive around the same time), then one
 * acknowledgement answers every sighting of the batch. `ingest` resolves only after both, so the
 * caller acknowledges the delivery only then. A record that can never be stored is answered as
 * refused, with the reason, and its batch-mates are stored; any other failure throws, and the whole
 * delivery is retried (the upsert is idempotent).
 */
export class RecordIngest {
  private readonly collector: BatchCollector<IndexRow, SightingOutcome>;

  constructor(
    private readonly repository: IndexRecordRepository,
    private readonly sink: IndexedEventSink,
    private readonly metrics: IngestMetrics,
    private readonly logger: MessagingLogger,
    options: RecordIngestOptions,
  ) {
    this.collector = new BatchCollector({
      maxItems: options.maxBatchRecords,
      maxWaitMs: options.maxBatchWaitMs,
      maxConcurrentFlushes: options.batchConcurrency,
      flush: (rows) => this.writeBatch(rows),
    });
  }

  async ingest(batch: StoredRecordBatch): Promise<IndexedBatch> {
    const settled = await Promise.allSettled(batch.records.map((stored) => this.ingestOne(stored)));
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const answers = settled.map(
      (outcome) => (outcome as PromiseFulfilledResult<{ result: SightingResult; state: unknown[] }>).value,
    );
    const acknowledgement: IndexedBatch = {
      tenantId: batch.tenantId,
      jobId: batch.jobId,
      results: answers.map((answer) => answer.result),
    };
    try {
      await this.sink.publish(
        acknowledgement,
        indexedBatchMsgId(
          acknowledgement,
          answers.map((a) => a.state),
        ),
      );
    } catch (error) {
      this.metrics.publishFailed();
      throw error;
    }
    return acknowledgement;
  }

  /** Writes whatever has been collected; resolves when no batch is left in flight. */
  drain(): Promise<void> {
    return this.collector.drain();
  }

  private async ingestOne(stored: StoredRecord): Promise<{ result: SightingResult; state: unknown[] }> {
    const refuse = (reason: string, row?: IndexRow) => {
      const result: SightingResult = { ...sightingOf(stored), outcome: 'rejected', stage: 'indexing', reason };
      return { result, state: resultState(stored, row, result) };
    };
    let row: IndexRow;
    try {
      row = toIndexRow(stored);
    } catch (error) {
      if (!(error instanceof UnstorableRecord)) throw error;
      this.metrics.recordRejected('unstorable');
      return refuse(`record of job ${stored.jobId} cannot be indexed: ${error.message}`);
    }
    let outcome: SightingOutcome;
    try {
      outcome = await this.collector.add(row);
    } catch (error) {
      if (error instanceof PermanentFailure) return refuse(error.message, row);
      throw error;
    }
    if (outcome.storedContentId !== row.contentId) {
      // Only a source that reuses a UID for other content gets here; the first content stays indexed.
      this.logger.warn(
        { ...describeSighting(row), indexedContentId: outcome.storedContentId, jobId: stored.jobId },
        'sighting already indexed with another content id; kept the indexed content',
      );
    }
    this.metrics.recordStored(outcome.recordStored);
    const result = storedResultOf(stored, outcome);
    return { result, state: resultState(stored, row, result) };
  }

  private async writeBatch(rows: readonly IndexRow[]): Promise<Array<SightingOutcome | Error>> {
    const started = performance.now();
    try {
      const outcomes = await this.repository.upsertBatch(rows);
      this.metrics.batchWritten(rows.length, (performance.now() - started) / 1000);
      return outcomes;
    } catch (error) {
      const dataError = isDataError(error);
      this.metrics.batchFailed(dataError ? 'data' : 'error');
      if (!dataError) {
        this.logger.warn(
          { size: rows.length, error: describeError(error) },
          'index batch failed; its records will be redelivered',
        );
        throw error;
      }
      if (rows.length === 1) return [this.refused(rows[0] as IndexRow, error)];
      this.logger.warn(
        { size: rows.length, sqlState: sqlStateOf(error), error: describeError(error) },
        'database refused an index batch; writing its records one by one',
      );
      return this.writeOneByOne(rows);
    }
  }

  /** Isolates the record(s) the database refuses so that their batch-mates are stored. */
  private async writeOneByOne(rows: readonly IndexRow[]): Promise<Array<SightingOutcome | Error>> {
    const results: Array<SightingOutcome | Error> = [];
    for (const row of rows) {
      const started = performance.now();
      try {
        const [outcome] = await this.repository.upsertBatch([row]);
        if (!outcome) throw new Error('upsert of one record returned no outcome');
        this.metrics.batchWritten(1, (performance.now() - started) / 1000);
        results.push(outcome);
      } catch (error) {
        results.push(isDataError(error) ? this.refused(row, error) : toError(error));
      }
    }
    return results;
  }

  private refused(row: IndexRow, error: unknown): PermanentFailure {
    if (isMissingObject(error)) {
      // Storage has no such object (any more): the foreign key says so, indexing reads none of storage's tables.
      this.metrics.recordRejected('object-missing');
      const reason =
        `stored object ${row.objectId} of tenant ${row.tenantId} with content id ${row.contentId} does not exist; ` +
        'the record cannot be indexed';
      this.logger.error({ ...describeSighting(row), reason }, 'record rejected');
      return new PermanentFailure(reason);
    }
    this.metrics.recordRejected('refused-by-database');
    const reason = `the database refuses the record (SQLSTATE ${sqlStateOf(error) ?? 'unknown'}): ${databaseMessage(error)}`;
    this.logger.error({ ...describeSighting(row), reason }, 'record rejected');
    return new PermanentFailure(reason);
  }
}

/** The record's object is not in `stored_objects`: the foreign key of index_records.object_id refused it. */
function isMissingObject(error: unknown): boolean {
  return sqlStateOf(error) === '23503' && /index_records_object_id_fkey/.test(toError(error).message);
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Prisma prefixes its messages with the call site; the database's own words are the last line. */
function databaseMessage(error: unknown): string {
  const message = toError(error).message.trim();
  const lines = message.split('\n').filter((line) => line.trim() !== '');
  return lines[lines.length - 1] ?? message;
}
