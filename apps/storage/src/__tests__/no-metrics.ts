import type { StorageMetrics } from '../backup/storage-metrics.js';

/** Storage metrics that count nothing, for tests of the parts that report to them. */
export const noMetrics: StorageMetrics = {
  objectStored: () => undefined,
  objectDeduplicated: () => undefined,
  objectWritten: () => undefined,
  packWritten: () => undefined,
  itemRejected: () => undefined,
  batchFailed: () => undefined,
};
