import type {
  FolderCheckpoint,
  IndexRecord,
  JobCounters,
  JobEvent,
  JobEventState,
  RestoreItemResult,
} from '@mlr/contracts';
import type { SealedMessage } from '@mlr/crypto';

export type JobError = JobEvent['errors'][number];

/** Where a runner tells how its job goes (the connector's JobReporter, which publishes job events). */
export interface JobProgress {
  readonly counters: JobCounters;
  readonly errors: number;
  error(error: JobError): void;
  checkpoint(checkpoint: FolderCheckpoint): void;
  /** The result of one restore item: counted, and sent with the next event. */
  itemResult(result: RestoreItemResult): void;
  /** Sends progress when it is due; cheap to call after every item. */
  tick(): Promise<void>;
  /** Sends what is pending now, with `state`. */
  flush(state: JobEventState): Promise<void>;
}

/**
 * Counts one restore item's result into a job's counters (seen, and restored, skipped or failed; an
 * item the target refused was not restored: it counts as failed, its result says why).
 */
export function countItemResult(counters: JobCounters, result: Pick<RestoreItemResult, 'outcome'>): void {
  counters.seen++;
  if (result.outcome === 'restored') counters.restored++;
  else if (result.outcome === 'skipped') counters.skipped++;
  else counters.failed++;
}

export interface UploadOutcome {
  objectStored: 'new' | 'deduplicated';
  recordStored: 'new' | 'updated' | 'unchanged';
}

/** Where a backup hands each sighting it reads (the connector's CommitBatcher, or a recording one in tests). */
export interface SightingUploader {
  /** Stores one sealed message with its index record (whose content id is the sealed message's). */
  upload(jobId: string, sealed: SealedMessage, record: IndexRecord): Promise<UploadOutcome>;
  /**
   * Nothing more will come for the job for now: what is collected goes out at once, and the
   * platform is asked to write what it holds for the job rather than wait for more.
   */
  flush(jobId: string): void;
}
