import { z } from 'zod';
import { connectorIdSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { reportedCheckpointSchema } from '../jobs/checkpoint.js';
import { sightingKeySchema } from '../index-records/index-record.js';
import { restoreItemResultSchema } from '../restore/restore.js';

/** What a connector reports of its job in events. */
export const JOB_EVENT_STATES = ['queued', 'running', 'succeeded', 'partially_failed', 'failed', 'cancelled'] as const;

/**
 * What a job can be, as the platform shows it: the event states, and `stalled` — running, but
 * without progress for a while (scheduling's stall watch says why); its next progress makes it
 * running again. Never final.
 */
export const JOB_STATES = [
  'queued',
  'running',
  'stalled',
  'succeeded',
  'partially_failed',
  'failed',
  'cancelled',
] as const;

/** The states a job ends in: nothing follows them. */
const FINISHED_JOB_STATES: ReadonlySet<string> = new Set(['succeeded', 'partially_failed', 'failed', 'cancelled']);

/** Whether a job in `state` has finished (a string as an API or the database answers it). */
export function isFinishedJobState(state: string): boolean {
  return FINISHED_JOB_STATES.has(state);
}

export const jobCountersSchema = z.strictObject({
  seen: z.number().int().nonnegative(),
  new: z.number().int().nonnegative(),
  deduplicated: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  restored: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
});

/** Progress and results of a job, on `mlr.<tenant>.events.<job>`. */
export const jobEventSchema = z.strictObject({
  tenantId: tenantIdSchema,
  jobId: jobIdSchema,
  connectorId: connectorIdSchema,
  kind: z.enum(['backup', 'restore']),
  /** Increases with every event of a job, so a late or repeated event cannot roll state back. */
  sequence: z.number().int().nonnegative(),
  at: isoDateSchema,
  state: z.enum(JOB_EVENT_STATES),
  /** Totals so far (not deltas): the latest event always carries the whole picture. */
  counters: jobCountersSchema,
  /** Checkpoints that advanced since the previous event (committed end to end). */
  checkpoints: z.array(reportedCheckpointSchema).default([]),
  /** Restore jobs: results of the items finished since the previous event. */
  items: z.array(restoreItemResultSchema).default([]),
  /** Per-item or per-mailbox problems found since the previous event. */
  errors: z.array(
    z.strictObject({
      scope: z.enum(['job', 'mailbox', 'folder', 'message']),
      target: z.string(),
      message: z.string().min(1),
      /** A `message` problem: the item it is about, by its sighting key. */
      item: z
        .strictObject({ mailbox: z.string().min(1), folder: z.string().min(1), sourceKey: sightingKeySchema })
        .optional(),
    }),
  ),
});

export type JobEvent = z.infer<typeof jobEventSchema>;
export type JobState = (typeof JOB_STATES)[number];
export type JobEventState = (typeof JOB_EVENT_STATES)[number];
export type JobCounters = z.infer<typeof jobCountersSchema>;
