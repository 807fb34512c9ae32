import { z } from 'zod';
import { connectorIdSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { backupFilterSchema } from './backup-filter.js';
import { folderCheckpointSchema } from './checkpoint.js';
import { restoreTargetSchema } from '../restore/restore.js';

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
    /** How many items the job has; the connector pages through them with the `restore.items` tenant call. */
    itemCount: z.number().int().positive(),
    target: restoreTargetSchema,
    /** Restore even when the same message (Message-ID and content) is already in the target folder. */
    duplicate: z.boolean().default(false),
  }),
]);

export type JobCommand = z.infer<typeof jobCommandSchema>;
