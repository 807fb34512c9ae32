import { metrics, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import type { RecordStored } from './indexed-event.js';

export type RejectionReason = 'object-missing' | 'refused-by-database' | 'unstorable';
export type BatchFailure = 'data' | 'error';

/** The ingest path's instruments (exported for Prometheus by the service's telemetry). */
export class IngestMetrics {
  private readonly records: Counter;
  private readonly rejected: Counter;
  private readonly batchSize: Histogram;
  private readonly batchDuration: Histogram;
  private readonly batchFailures: Counter;
  private readonly publishFailures: Counter;

  constructor(meter: Meter = metrics.getMeter('mlr-indexing')) {
    this.records = meter.createCounter('mlr.indexing.records', {
      description: 'Index records stored, by what the upsert did (new, updated, unchanged)',
    });
    this.rejected = meter.createCounter('mlr.indexing.records.rejected', {
      description: 'Records that can never be stored and were terminated, by reason',
    });
    this.batchSize = meter.createHistogram('mlr.indexing.batch.size', {
      description: 'Records per upsert batch',
      advice: { explicitBucketBoundaries: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] },
    });
    this.batchDuration = meter.createHistogram('mlr.indexing.batch.duration', {
      description: 'Time to write one batch (transaction included)',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
    });
    this.batchFailures = meter.createCounter('mlr.indexing.batch.failures', {
      description: 'Batches whose transaction failed (data: retried record by record; error: all redelivered)',
    });
    this.publishFailures = meter.createCounter('mlr.indexing.indexed_events.publish_failures', {
      description: 'IndexedEvents that could not be published (their records are redelivered)',
    });
  }

  recordStored(outcome: RecordStored): void {
    this.records.add(1, { outcome });
  }

  recordRejected(reason: RejectionReason): void {
    this.rejected.add(1, { reason });
  }

  batchWritten(size: number, seconds: number): void {
    this.batchSize.record(size);
    this.batchDuration.record(seconds);
  }

  batchFailed(kind: BatchFailure): void {
    this.batchFailures.add(1, { kind });
  }

  publishFailed(): void {
    this.publishFailures.add(1);
  }
}
