import { env, s3EnvSchema } from '@mlr/config';
import { z } from 'zod';

/** What `setup-bucket` reads from its environment: the bucket owner's key, never the services'. */
export const setupBucketConfigSchema = s3EnvSchema.omit({ S3_ACCESS_KEY: true, S3_SECRET_KEY: true }).extend({
  S3_OWNER_ACCESS_KEY: env.string(),
  S3_OWNER_SECRET_KEY: env.string(),
  S3_SERVICE_USER: z
    .string({ error: 'is required' })
    .regex(/^[A-Za-z0-9_.@:/=+,-]+$/, 'must be an S3 user id or a principal ARN'),
  /** The collector's S3 user, when it runs: it may remove versions whose lock has ended, nothing else. */
  S3_COLLECTOR_USER: z
    .string()
    .regex(/^[A-Za-z0-9_.@:/=+,-]+$/, 'must be an S3 user id or a principal ARN')
    .optional(),
  STORAGE_DEFAULT_RETENTION_DAYS: z.coerce
    .number()
    .int('must be a whole number of days')
    .min(1, 'must be at least 1')
    .max(36_500, 'must be at most 36500 (100 years)')
    .default(30),
  STORAGE_DEFAULT_RETENTION_MODE: z.enum(['COMPLIANCE', 'GOVERNANCE']).default('COMPLIANCE'),
});
