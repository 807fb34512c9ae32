import { z } from 'zod';
import { isoDateSchema } from '../common/ids.js';

const addressPattern = z
  .string()
  .trim()
  .min(1)
  .max(320)
  .refine((value) => /^[^\s@]*@?[^\s@]*$/.test(value), 'must be an e-mail address or a part of one, without spaces');

/**
 * Which messages a backup selects. Every criterion is optional; all given criteria must hold.
 * Dates compare with the message's submission date (Date header, else INTERNALDATE).
 */
export const backupFilterSchema = z
  .strictObject({
    fromDate: isoDateSchema.optional(),
    toDate: isoDateSchema.optional(),
    fromAddress: addressPattern.optional(),
    toAddress: addressPattern.optional(),
    includeFolders: z.array(z.string().min(1)).optional(),
    excludeFolders: z.array(z.string().min(1)).optional(),
    subjectContains: z.string().min(1).max(998).optional(),
    minSize: z.number().int().nonnegative().optional(),
    maxSize: z.number().int().positive().optional(),
    hasAttachment: z.boolean().optional(),
  })
  .superRefine((filter, ctx) => {
    if (filter.fromDate && filter.toDate && Date.parse(filter.fromDate) > Date.parse(filter.toDate)) {
      ctx.addIssue({ code: 'custom', path: ['toDate'], message: 'toDate is before fromDate' });
    }
    if (filter.minSize !== undefined && filter.maxSize !== undefined && filter.minSize > filter.maxSize) {
      ctx.addIssue({ code: 'custom', path: ['maxSize'], message: 'maxSize is smaller than minSize' });
    }
  });

export type BackupFilter = z.infer<typeof backupFilterSchema>;
