import { z } from 'zod';
import { connectorIdSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { backupFilterSchema } from './backup-filter.js';
import { folderCheckpointSchema } from './checkpoint.js';

export const mailboxSelectionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('all') }),
  z.strictObject({ kind: z.literal('list'), mailboxes: z.array(z.string().min(1).max(320)).min(1) }),
]);

const base = {
  jobId: jobIdSchema,
  tenantId: tenantIdSchema,
  connectorId: connectorIdSchema,
  requestedAt: isoDateSchema,
  requestedBy: z.string().min(1),
};

/** A job for one connector, published by scheduling on `mlr.<tenant>.jobs.<connector>`. */
export const jobCommandSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    ...base,
    kind: z.literal('backup'),
    mailboxes: mailboxSelectionSchema,
    filter: backupFilterSchema,
    /** Full rescan instead of incremental (checkpoints are ignored, nothing is stored twice). */
    full: z.boolean().default(false),
    /** The last committed checkpoints of the folders this connector backed up before. */
    checkpoints: z.array(folderCheckpointSchema).default([]),
  }),
  z.strictObject({
    ...base,
    kind: z.literal('restore'),
    recordIds: z.array(z.string().min(1)).min(1),
    target: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('original') }),
      z.strictObject({ kind: z.literal('folder'), folder: z.string().min(1) }),
      z.strictObject({ kind: z.literal('mailbox'), mailbox: z.string().min(1), folder: z.string().min(1).optional() }),
      z.strictObject({ kind: z.literal('export'), format: z.enum(['mbox', 'eml-zip']), path: z.string().min(1) }),
    ]),
    duplicate: z.boolean().default(false),
  }),
]);

export type JobCommand = z.infer<typeof jobCommandSchema>;
