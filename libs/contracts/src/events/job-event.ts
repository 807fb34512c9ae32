import { z } from 'zod';
import { isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';

export const JOB_STATES = ['queued', 'running', 'succeeded', 'partially_failed', 'failed', 'cancelled'] as const;

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
  at: isoDateSchema,
  state: z.enum(JOB_STATES),
  counters: jobCountersSchema,
  /** Per-item or per-mailbox problems found since the previous event. */
  errors: z.array(
    z.strictObject({
      scope: z.enum(['job', 'mailbox', 'folder', 'message']),
      target: z.string(),
      message: z.string().min(1),
    }),
  ),
});

export type JobEvent = z.infer<typeof jobEventSchema>;
export type JobState = (typeof JOB_STATES)[number];
export type JobCounters = z.infer<typeof jobCountersSchema>;
