import { databaseEnvSchema, serviceEnvSchema } from '@mlr/config';
import { z } from 'zod';

const milliseconds = (fallback: number, min: number) => z.coerce.number().int().min(min).default(fallback);

export const schedulingConfigSchema = serviceEnvSchema.extend(databaseEnvSchema.shape).extend({
  /** How often each replica looks for due plans and for job commands still to publish. */
  SCHEDULING_TICK_MS: milliseconds(5_000, 50),
  /** A queued job whose command is still unpublished after this long is published again. */
  SCHEDULING_REPUBLISH_AFTER_MS: milliseconds(30_000, 0),
  /**
   * A running job whose counters have not moved for this long is marked stalled, with the reason
   * (its connector sends word at least every minute while it works). Its next progress makes it
   * running again.
   */
  SCHEDULING_STALL_AFTER_MS: milliseconds(5 * 60_000, 1_000),
  /** Plans claimed (and jobs re-published) per tick at most. */
  SCHEDULING_BATCH_SIZE: z.coerce.number().int().min(1).max(1_000).default(50),
  /**
   * How often the plans' retention is enforced: index records first backed up longer ago than
   * their mailbox's retention are removed (except under a legal hold).
   */
  SCHEDULING_EXPIRY_EVERY_MS: milliseconds(60 * 60_000, 1_000),
  /** Job events applied at once by one replica. */
  SCHEDULING_EVENT_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
});
export type SchedulingConfig = z.output<typeof schedulingConfigSchema>;
