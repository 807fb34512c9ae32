import { metrics, type Meter } from '@opentelemetry/api';

/** What storage counts (exposed for Prometheus on /metrics). */
export interface StorageMetrics {
  objectStored(sealedBytes: number, writeSeconds: number): void;
  objectDeduplicated(): void;
  /** A commit that failed this time; `permanent` ones are given up. */
  commitFailed(reason: string, permanent: boolean): void;
}

export function createStorageMetrics(meter: Meter = metrics.getMeter('mlr-storage')): StorageMetrics {
  const stored = meter.createCounter('mlr.storage.objects.stored', {
    description: 'Sealed message objects written to object storage',
  });
  const deduplicated = meter.createCounter('mlr.storage.objects.deduplicated', {
    description: 'Commits whose object the tenant already had (single-instance storage)',
  });
  const bytes = meter.createCounter('mlr.storage.bytes.written', {
    description: 'Sealed bytes written to object storage',
    unit: 'By',
  });
  const failures = meter.createCounter('mlr.storage.commits.failed', {
    description: 'Object commits that failed, by reason; permanent ones are not retried',
  });
  const writeTime = meter.createHistogram('mlr.storage.object.write.duration', {
    description: 'Time to copy one object from the chunk stream into object storage',
    unit: 's',
  });
  return {
    objectStored: (sealedBytes, writeSeconds) => {
      stored.add(1);
      bytes.add(sealedBytes);
      writeTime.record(writeSeconds);
    },
    objectDeduplicated: () => deduplicated.add(1),
    commitFailed: (reason, permanent) => failures.add(1, { reason, permanent: String(permanent) }),
  };
}
