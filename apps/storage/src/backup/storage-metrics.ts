import { metrics, type Meter } from '@opentelemetry/api';

/** What storage counts (exposed for Prometheus on /metrics). */
export interface StorageMetrics {
  /** A sealed object newly stored for its tenant (a pack member or an object of its own). */
  objectStored(sealedBytes: number): void;
  /** A commit item whose content the tenant already had (single-instance storage). */
  objectDeduplicated(): void;
  /** One S3 object of the `individual` layout written. */
  objectWritten(bytes: number, seconds: number): void;
  /** One pack written and recorded. */
  packWritten(members: number, bytes: number, seconds: number): void;
  /** A commit item refused for good, by reason. */
  itemRejected(code: string): void;
  /** A commit batch that failed this time and will be redelivered. */
  batchFailed(): void;
}

export function createStorageMetrics(meter: Meter = metrics.getMeter('mlr-storage')): StorageMetrics {
  const stored = meter.createCounter('mlr.storage.objects.stored', {
    description: 'Sealed message objects newly stored (pack members or objects of their own)',
  });
  const storedBytes = meter.createCounter('mlr.storage.objects.stored.bytes', {
    description: 'Sealed bytes of newly stored message objects',
    unit: 'By',
  });
  const deduplicated = meter.createCounter('mlr.storage.objects.deduplicated', {
    description: 'Commit items whose object the tenant already had (single-instance storage)',
  });
  const written = meter.createCounter('mlr.storage.bytes.written', {
    description: 'Bytes written to object storage (packs with their footers, and individual objects)',
    unit: 'By',
  });
  const puts = meter.createCounter('mlr.storage.puts', {
    description: 'PUTs of packs and individual objects, by layout',
  });
  const members = meter.createHistogram('mlr.storage.pack.members', {
    description: 'Members per pack written',
  });
  const writeTime = meter.createHistogram('mlr.storage.write.duration', {
    description: 'Time to write and record one pack or individual object',
    unit: 's',
  });
  const rejected = meter.createCounter('mlr.storage.items.rejected', {
    description: 'Commit items refused for good, by reason',
  });
  const failed = meter.createCounter('mlr.storage.batches.failed', {
    description: 'Commit batches that failed and will be redelivered',
  });
  return {
    objectStored: (sealedBytes) => {
      stored.add(1);
      storedBytes.add(sealedBytes);
    },
    objectDeduplicated: () => deduplicated.add(1),
    objectWritten: (bytes, seconds) => {
      puts.add(1, { layout: 'individual' });
      written.add(bytes);
      writeTime.record(seconds, { layout: 'individual' });
    },
    packWritten: (count, bytes, seconds) => {
      puts.add(1, { layout: 'packed' });
      written.add(bytes);
      members.record(count);
      writeTime.record(seconds, { layout: 'packed' });
    },
    itemRejected: (code) => rejected.add(1, { reason: code }),
    batchFailed: () => failed.add(1),
  };
}
