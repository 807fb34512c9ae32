import { z } from 'zod';
import { tenantIdSchema } from '../common/ids.js';

/*
 * Reference counts are storage's (`stored_objects.ref_count`); index records, which are the
 * references, are indexing's. Indexing writes each change (+1 for a new sighting, -1 for a
 * superseded or expired one) to an outbox in the statement that changes the records, and relays it:
 * - `references.apply` (storage): applies changes, each once by its id (a change sent again after a
 *   lost answer is not counted twice), and forgets the ids below `settledBelow`, which have left the
 *   outbox for good.
 * - `references.pending` (indexing): which of the given tenants still have changes in the outbox —
 *   storage's collector removes nothing of such a tenant, whose counts are not final yet.
 */

/** Changes relayed in one `references.apply` at most (about 100 bytes each: far below NATS's 1 MiB payload). */
export const REFERENCE_BATCH_MAX = 2_000;

const changeId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const referenceChangeSchema = z.strictObject({
  id: changeId,
  objectId: z.string().min(1).max(200),
  delta: z
    .number()
    .int()
    .min(-1_000_000)
    .max(1_000_000)
    .refine((delta) => delta !== 0, 'a change of 0 is no change'),
});

export const applyReferencesRequestSchema = z
  .strictObject({
    changes: z.array(referenceChangeSchema).min(1).max(REFERENCE_BATCH_MAX),
    /** Every change with a lower id has left indexing's outbox: it will never be sent again. */
    settledBelow: changeId,
  })
  .refine((request) => request.changes.every((change) => change.id >= request.settledBelow), {
    message: 'a change below settledBelow would be one indexing said it will never send again',
    path: ['settledBelow'],
  });

export const applyReferencesSchema = z.strictObject({
  /** Changes applied now. */
  applied: z.number().int().nonnegative(),
  /** Changes applied before (sent again): left as they were. */
  repeated: z.number().int().nonnegative(),
  /** Objects named by a change that storage does not have (removed already): nothing to count. */
  unknownObjects: z.number().int().nonnegative(),
});

export const pendingReferencesRequestSchema = z.strictObject({
  tenantIds: z.array(tenantIdSchema).min(1).max(1_000),
});
export const pendingReferencesSchema = z.strictObject({ tenants: z.array(tenantIdSchema) });

export type ReferenceChange = z.infer<typeof referenceChangeSchema>;
export type ApplyReferencesRequest = z.infer<typeof applyReferencesRequestSchema>;
export type AppliedReferences = z.infer<typeof applyReferencesSchema>;

export interface ReferenceCalls {
  'references.apply': { request: z.input<typeof applyReferencesRequestSchema>; response: AppliedReferences };
  'references.pending': {
    request: z.input<typeof pendingReferencesRequestSchema>;
    response: z.infer<typeof pendingReferencesSchema>;
  };
}

export const referenceCallSchemas = {
  'references.apply': { request: applyReferencesRequestSchema, response: applyReferencesSchema },
  'references.pending': { request: pendingReferencesRequestSchema, response: pendingReferencesSchema },
} as const;
