import { z } from 'zod';
import { connectorIdSchema, idSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { backupFilterSchema } from '../jobs/backup-filter.js';
import { mailboxSelectionSchema } from '../jobs/job-command.js';
import { JOB_STATES, jobCountersSchema } from '../events/job-event.js';
import { sightingKeySchema } from '../index-records/index-record.js';

/*
 * Request/reply verbs of the scheduling service (`mlr.svc.scheduling.<verb>`): backup plans and jobs.
 * The gateway validates HTTP bodies with the `*InputSchema`s below; the service validates the whole
 * request again (it trusts no caller). Field names of the requests are those of the HTTP bodies, so an
 * error that names a field means the same thing at both ends.
 */

export const planIdSchema = idSchema('plan id');

/** Who asks: the authenticated principal once the gateway has authentication; `api` until then. */
const actorSchema = z.string().min(1).max(320);

/** True for names of the IANA time zone database (e.g. `Europe/Berlin`, `UTC`) this runtime knows. */
export function isIanaTimeZone(value: string): boolean {
  // Intl also accepts offsets in some runtimes ("+01:00"); a plan needs a real zone, so that its
  // local times follow daylight saving time.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(value)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * When a plan runs by itself: a five-field cron expression (minute hour day-of-month month
 * day-of-week) read in an IANA time zone. The expression's syntax is checked by the scheduling
 * service (it owns the cron dialect); the time zone here.
 */
export const planScheduleSchema = z.strictObject({
  cron: z.string().trim().min(1, 'must be a five-field cron expression such as "0 2 * * *"').max(200),
  timezone: z
    .string()
    .min(1)
    .max(64)
    .refine(isIanaTimeZone, 'must be an IANA time zone such as "Europe/Berlin" or "UTC"')
    .default('UTC'),
});

const planFields = {
  name: z.string().trim().min(1, 'must not be empty').max(200),
  connectorId: connectorIdSchema,
  mailboxes: mailboxSelectionSchema,
  filter: backupFilterSchema,
  /** null: no schedule, the plan runs on demand only. */
  schedule: planScheduleSchema.nullable(),
  /** Days to keep what the plan backs up; null keeps it until deleted. */
  retentionDays: z.number().int().positive().max(36_500).nullable(),
  enabled: z.boolean(),
};

/** Body of `POST /v1/tenants/:tenantId/plans`. */
export const planInputSchema = z.strictObject({
  ...planFields,
  filter: planFields.filter.default({}),
  schedule: planFields.schedule.default(null),
  retentionDays: planFields.retentionDays.default(null),
  enabled: planFields.enabled.default(true),
});

/** Body of `PATCH /v1/tenants/:tenantId/plans/:planId`: the fields to change, at least one. */
export const planPatchSchema = z
  .strictObject({
    name: planFields.name.optional(),
    connectorId: planFields.connectorId.optional(),
    mailboxes: planFields.mailboxes.optional(),
    filter: planFields.filter.optional(),
    schedule: planFields.schedule.optional(),
    retentionDays: planFields.retentionDays.optional(),
    enabled: planFields.enabled.optional(),
  })
  .refine((patch) => Object.values(patch).some((value) => value !== undefined), {
    message: 'give at least one field to change',
  });

/** Body of `POST /v1/tenants/:tenantId/plans/:planId/run` (may be empty). */
export const planRunInputSchema = z.strictObject({
  /** Rescan everything instead of continuing from the checkpoints. */
  full: z.boolean().default(false),
});

export const planSchema = z.strictObject({
  id: planIdSchema,
  tenantId: tenantIdSchema,
  ...planFields,
  schedule: planScheduleSchema.extend({ timezone: z.string() }).nullable(),
  nextRunAt: isoDateSchema.nullable(),
  lastRunAt: isoDateSchema.nullable(),
  createdBy: z.string(),
  createdAt: isoDateSchema,
  updatedAt: isoDateSchema,
});

export const jobItemErrorSchema = z.strictObject({
  scope: z.enum(['job', 'mailbox', 'folder', 'message']),
  target: z.string(),
  message: z.string(),
  at: isoDateSchema,
  /** A `message` problem: the item, by the sighting key its index record has (or would have). */
  item: z.strictObject({ mailbox: z.string(), folder: z.string(), sourceKey: sightingKeySchema }).optional(),
});

export const jobSummarySchema = z.strictObject({
  id: jobIdSchema,
  tenantId: tenantIdSchema,
  connectorId: connectorIdSchema,
  planId: planIdSchema.nullable(),
  kind: z.enum(['backup', 'restore', 'export']),
  state: z.enum(JOB_STATES),
  /** `schedule`, `connector-cli`, or the principal that asked. */
  requestedBy: z.string(),
  counters: jobCountersSchema,
  /** Why the job failed as a whole. */
  error: z.string().nullable(),
  /** Why the job is `stalled` (no word from its connector, or no progress), while it is; else null. */
  stalledReason: z.string().nullable(),
  /** Per-item problems recorded for the job. */
  errorCount: z.number().int().nonnegative(),
  createdAt: isoDateSchema,
  /** When the job command was handed to the connector's queue; null until then. */
  publishedAt: isoDateSchema.nullable(),
  startedAt: isoDateSchema.nullable(),
  finishedAt: isoDateSchema.nullable(),
  updatedAt: isoDateSchema,
});

export const jobDetailSchema = jobSummarySchema.extend({
  /** The first `errorLimit` per-item problems, oldest first (`errorCount` says how many there are). */
  errors: z.array(jobItemErrorSchema),
});

const tenantScoped = { tenantId: tenantIdSchema };

export const createPlanRequestSchema = planInputSchema.extend({ ...tenantScoped, actor: actorSchema });
export const listPlansRequestSchema = z.strictObject({ ...tenantScoped, connectorId: connectorIdSchema.optional() });
export const planRefRequestSchema = z.strictObject({ ...tenantScoped, planId: planIdSchema });
export const updatePlanRequestSchema = z.strictObject({
  ...tenantScoped,
  planId: planIdSchema,
  actor: actorSchema,
  changes: planPatchSchema,
});
export const deletePlanRequestSchema = planRefRequestSchema.extend({ actor: actorSchema });
export const runPlanRequestSchema = planRefRequestSchema.extend({
  actor: actorSchema,
  full: planRunInputSchema.shape.full,
});
export const getJobRequestSchema = z.strictObject({
  ...tenantScoped,
  jobId: jobIdSchema,
  errorLimit: z.number().int().min(0).max(1_000).default(100),
});
export const listJobsRequestSchema = z.strictObject({
  ...tenantScoped,
  planId: planIdSchema.optional(),
  /** Only the jobs this principal asked for (a user sees their own jobs only). */
  requestedBy: actorSchema.optional(),
  limit: z.number().int().min(1).max(500).default(50),
});

export const planListSchema = z.strictObject({ plans: z.array(planSchema) });
export const planDeletedSchema = z.strictObject({ id: planIdSchema, deletedAt: isoDateSchema });
export const planRunAcceptedSchema = z.strictObject({ jobId: jobIdSchema, state: z.literal('queued') });
export const jobListSchema = z.strictObject({ jobs: z.array(jobSummarySchema) });

/**
 * The reply of a service call that was refused: a domain error, mapped once in the service from its
 * exception codes. The gateway maps `code` to an HTTP status (invalid_request 400, forbidden 403,
 * not_found 404, conflict 409). `field` names the (first) request field at fault.
 */
/** `unavailable`: a service the answer needs could not be asked; the same request may succeed later. */
export const SERVICE_ERROR_CODES = ['invalid_request', 'not_found', 'conflict', 'forbidden', 'unavailable'] as const;
export const serviceErrorReplySchema = z.strictObject({
  code: z.enum(SERVICE_ERROR_CODES),
  message: z.string().min(1),
  field: z.string().optional(),
  problems: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
});

export type PlanSchedule = z.infer<typeof planScheduleSchema>;
export type PlanInput = z.input<typeof planInputSchema>;
export type PlanPatch = z.infer<typeof planPatchSchema>;
export type Plan = z.infer<typeof planSchema>;
export type JobItemErrorView = z.infer<typeof jobItemErrorSchema>;
export type JobSummary = z.infer<typeof jobSummarySchema>;
export type JobDetail = z.infer<typeof jobDetailSchema>;
export type ServiceErrorCode = (typeof SERVICE_ERROR_CODES)[number];
export type ServiceErrorReply = z.infer<typeof serviceErrorReplySchema>;

/** The scheduling verbs, as entries of `ServiceCalls` (requests as the caller may send them). */
export interface SchedulingCalls {
  'plans.create': { request: z.input<typeof createPlanRequestSchema>; response: Plan };
  'plans.list': { request: z.input<typeof listPlansRequestSchema>; response: z.infer<typeof planListSchema> };
  'plans.get': { request: z.input<typeof planRefRequestSchema>; response: Plan };
  'plans.update': { request: z.input<typeof updatePlanRequestSchema>; response: Plan };
  'plans.delete': { request: z.input<typeof deletePlanRequestSchema>; response: z.infer<typeof planDeletedSchema> };
  'plans.run': { request: z.input<typeof runPlanRequestSchema>; response: z.infer<typeof planRunAcceptedSchema> };
  'jobs.get': { request: z.input<typeof getJobRequestSchema>; response: JobDetail };
  'jobs.list': { request: z.input<typeof listJobsRequestSchema>; response: z.infer<typeof jobListSchema> };
}

export const schedulingCallSchemas = {
  'plans.create': { request: createPlanRequestSchema, response: planSchema },
  'plans.list': { request: listPlansRequestSchema, response: planListSchema },
  'plans.get': { request: planRefRequestSchema, response: planSchema },
  'plans.update': { request: updatePlanRequestSchema, response: planSchema },
  'plans.delete': { request: deletePlanRequestSchema, response: planDeletedSchema },
  'plans.run': { request: runPlanRequestSchema, response: planRunAcceptedSchema },
  'jobs.get': { request: getJobRequestSchema, response: jobDetailSchema },
  'jobs.list': { request: listJobsRequestSchema, response: jobListSchema },
} as const;
