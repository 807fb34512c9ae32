import { z } from 'zod';
import { isoDateSchema, tenantIdSchema } from '../common/ids.js';

/*
 * Retention and legal hold, served by indexing (which owns the index records they act on):
 * - `holds.set` / `holds.release` / `holds.list`: a legal hold on a whole tenant (`mailbox: null`)
 *   or on one mailbox stops every expiry of the records it covers until it is released.
 * - `records.expire`: removes the index records of the given mailboxes first backed up before the
 *   given time, unless a hold covers them, and releases their objects (reference counts). Asked by
 *   scheduling, which knows the plans' retention.
 */

/** A mailbox as the index names it (the connector's address, compared in lower case). */
export const heldMailboxSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(320)
  .refine((mailbox) => mailbox !== '*', 'is not a mailbox (a hold on the whole tenant has a path of its own)')
  .transform((mailbox) => mailbox.toLowerCase());

export const legalHoldInputSchema = z.strictObject({
  /** Why (a case, a request): shown to whoever lists the holds and kept in the audit trail. */
  reason: z.string().trim().min(1, 'must say why').max(500),
});

export const legalHoldSchema = z.strictObject({
  tenantId: tenantIdSchema,
  /** null: the whole tenant. */
  mailbox: z.string().nullable(),
  reason: z.string(),
  setBy: z.string(),
  setAt: isoDateSchema,
});
export type LegalHold = z.infer<typeof legalHoldSchema>;

const actorSchema = z.string().min(1).max(320);

export const setHoldRequestSchema = legalHoldInputSchema.extend({
  tenantId: tenantIdSchema,
  mailbox: heldMailboxSchema.nullable(),
  actor: actorSchema,
});
export const releaseHoldRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  mailbox: heldMailboxSchema.nullable(),
  actor: actorSchema,
});
export const releaseHoldResponseSchema = z.strictObject({
  /** False when there was no such hold (releasing is idempotent). */
  released: z.boolean(),
});
export const listHoldsRequestSchema = z.strictObject({ tenantId: tenantIdSchema });
export const listHoldsResponseSchema = z.strictObject({ holds: z.array(legalHoldSchema) });

/** Mailboxes per `records.expire` request at most. */
export const EXPIRE_MAX_MAILBOXES = 200;
/** Records one `records.expire` request removes per mailbox at most (so that it answers in time). */
export const EXPIRE_MAX_RECORDS = 10_000;

export const expireRecordsRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  mailboxes: z
    .array(
      z.strictObject({
        mailbox: heldMailboxSchema,
        /** Records first backed up before this time go. */
        before: isoDateSchema,
      }),
    )
    .min(1)
    .max(EXPIRE_MAX_MAILBOXES),
});
export const expireRecordsResponseSchema = z.strictObject({
  mailboxes: z.array(
    z.strictObject({
      mailbox: z.string(),
      /** Index records removed. */
      expired: z.number().int().nonnegative(),
      /** Objects whose last reference went with them (garbage for the collector once their lock ends). */
      released: z.number().int().nonnegative(),
      /** A legal hold covers the mailbox (or its tenant): nothing was removed. */
      held: z.boolean(),
      /** Records past the cut-off are left: ask again (each call removes at most EXPIRE_MAX_RECORDS a mailbox). */
      more: z.boolean(),
    }),
  ),
});
export type ExpireRecordsRequest = z.infer<typeof expireRecordsRequestSchema>;
export type ExpireRecordsResponse = z.infer<typeof expireRecordsResponseSchema>;

export interface RetentionCalls {
  'holds.set': { request: z.input<typeof setHoldRequestSchema>; response: LegalHold };
  'holds.release': {
    request: z.input<typeof releaseHoldRequestSchema>;
    response: z.infer<typeof releaseHoldResponseSchema>;
  };
  'holds.list': {
    request: z.input<typeof listHoldsRequestSchema>;
    response: z.infer<typeof listHoldsResponseSchema>;
  };
  'records.expire': { request: z.input<typeof expireRecordsRequestSchema>; response: ExpireRecordsResponse };
}

export const retentionCallSchemas = {
  'holds.set': { request: setHoldRequestSchema, response: legalHoldSchema },
  'holds.release': { request: releaseHoldRequestSchema, response: releaseHoldResponseSchema },
  'holds.list': { request: listHoldsRequestSchema, response: listHoldsResponseSchema },
  'records.expire': { request: expireRecordsRequestSchema, response: expireRecordsResponseSchema },
} as const;
