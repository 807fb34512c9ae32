import { databaseEnvSchema, s3EnvSchema, serviceEnvSchema } from '@mlr/config';
import { z } from 'zod';

export const storageConfigSchema = serviceEnvSchema
  .extend(databaseEnvSchema.shape)
  .extend(s3EnvSchema.shape)
  .extend({
    /** Object Lock retention of newly written objects, in days; unset = no retention lock. */
    STORAGE_RETENTION_DAYS: z.coerce
      .number()
      .int('must be a whole number of days')
      .positive('must be at least 1')
      .max(36_500, 'must be at most 36500 (100 years)')
      .optional(),
    /** COMPLIANCE: nobody can shorten or lift it; GOVERNANCE: users with the bypass permission can. */
    STORAGE_RETENTION_MODE: z.enum(['COMPLIANCE', 'GOVERNANCE']).default('COMPLIANCE'),
    /** Object commits handled at once by one replica. */
    STORAGE_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(64),
  });
export type StorageConfig = z.output<typeof storageConfigSchema>;
