import { z } from 'zod';
import { isoDateSchema, tenantIdSchema } from '../common/ids.js';

/*
 * What licensing's usage report and licence limits ask of the services that own the data (licensing
 * reads no other service's table):
 * - `objects.usage` (storage): the objects and sealed bytes stored per tenant.
 * - `mailboxes.protected` (scheduling): the mailboxes protected per tenant at a moment — backed up
 *   within the last PROTECTED_WINDOW_DAYS days (apps/scheduling/src/usage/protected-mailboxes.ts has
 *   the one definition).
 */

/** Days a mailbox stays protected after its last completed backup (the metering window). */
export const PROTECTED_WINDOW_DAYS = 30;

const count = z.number().int().nonnegative();

export const objectsUsageRequestSchema = z.strictObject({ tenantId: tenantIdSchema.optional() });
export const objectsUsageSchema = z.strictObject({
  /** Tenants that store anything (a tenant without objects is absent). */
  tenants: z.array(
    z.strictObject({
      tenantId: tenantIdSchema,
      /** Sealed messages, one per tenant and content id. */
      storedObjects: count,
      /** What S3 holds for the tenant: its packs whole and its objects of their own. */
      storedBytes: count,
    }),
  ),
});

export const protectedMailboxesRequestSchema = z
  .strictObject({
    /** The moment the window ends at. */
    at: isoDateSchema,
    tenantId: tenantIdSchema.optional(),
    /** Also name them (one tenant only: for support and tests). */
    names: z.boolean().default(false),
  })
  .refine((request) => !request.names || request.tenantId !== undefined, {
    message: 'names are given for one tenant only: say which (tenantId)',
    path: ['names'],
  });
export const protectedMailboxesSchema = z.strictObject({
  windowDays: z.number().int().positive(),
  /** Tenants with protected mailboxes (a tenant without any is absent). */
  tenants: z.array(
    z.strictObject({ tenantId: tenantIdSchema, mailboxes: count, names: z.array(z.string()).optional() }),
  ),
});

export type ObjectsUsage = z.infer<typeof objectsUsageSchema>;
export type ProtectedMailboxes = z.infer<typeof protectedMailboxesSchema>;

export interface UsageCalls {
  'objects.usage': { request: z.input<typeof objectsUsageRequestSchema>; response: ObjectsUsage };
  'mailboxes.protected': { request: z.input<typeof protectedMailboxesRequestSchema>; response: ProtectedMailboxes };
}

export const usageCallSchemas = {
  'objects.usage': { request: objectsUsageRequestSchema, response: objectsUsageSchema },
  'mailboxes.protected': { request: protectedMailboxesRequestSchema, response: protectedMailboxesSchema },
} as const;
