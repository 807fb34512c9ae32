import { z } from 'zod';

/**
 * Where an incremental backup of one folder stands: UIDVALIDITY + the highest UID of which every
 * message up to it is stored and indexed, and the HIGHESTMODSEQ up to which flag changes are.
 * A UIDVALIDITY other than the server's means the folder must be scanned in full again.
 */
export const folderCheckpointSchema = z.strictObject({
  mailbox: z.string().min(1),
  folder: z.string().min(1),
  uidValidity: z.string().regex(/^\d+$/, 'uidValidity must be a decimal number'),
  lastUid: z.number().int().nonnegative(),
  highestModSeq: z.string().regex(/^\d+$/, 'highestModSeq must be a decimal number').nullable(),
});

export type FolderCheckpoint = z.infer<typeof folderCheckpointSchema>;
