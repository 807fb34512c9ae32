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
    /** Commit batches held at once by one replica (each up to ~1 MiB; most wait for their pack). */
    STORAGE_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(32),
    /** A tenant's open pack is written once it holds this many bytes (1 MiB to 64 MiB). */
    STORAGE_PACK_TARGET_BYTES: z.coerce
      .number()
      .int()
      .min(1024 * 1024, 'must be at least 1048576 (1 MiB)')
      .max(64 * 1024 * 1024, 'must be at most 67108864 (64 MiB)')
      .default(8 * 1024 * 1024),
    /** ... or this long after its first member arrived: how long a backup waits for a pack at most. */
    STORAGE_PACK_MAX_WAIT_MS: z.coerce.number().int().min(10).max(60_000).default(2_000),
    /** Bytes held in open packs and packs being written by one replica, all tenants together. */
    STORAGE_PACK_BUFFER_BYTES: z.coerce
      .number()
      .int()
      .min(2 * 1024 * 1024)
      .max(4 * 1024 * 1024 * 1024)
      .default(32 * 1024 * 1024),
    /** Packs (or individual objects) written to S3 at once by one replica. */
    STORAGE_WRITE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    /**
     * An upload (a large message's chunks) none of whose chunks arrived for this long is removed from
     * its tenant's chunk stream, while none of the tenant's commits waits for storage. Above the
     * connector's 30 minutes of sending a commit again to a platform it cannot reach.
     */
    STORAGE_ABANDONED_UPLOAD_MS: z.coerce
      .number()
      .int()
      .min(1_000)
      .default(60 * 60_000),
    /** How often storage looks for abandoned uploads. */
    STORAGE_UPLOAD_SWEEP_MS: z.coerce.number().int().min(100).default(60_000),
    /**
     * How often storage lists the bucket for object versions beside the recorded ones (overwrites
     * of packs or objects), which it reports to the audit trail and in a metric. One list request
     * per 1,000 object versions.
     */
    STORAGE_VERSION_CHECK_MS: z.coerce
      .number()
      .int()
      .min(1_000)
      .default(60 * 60_000),
    /**
     * How often storage locks again the referenced objects and packs whose Object Lock ends within
     * STORAGE_LOCK_RENEW_WITHIN_DAYS (until now + the tenant's retention): what a plan keeps stays
     * locked while its records exist.
     */
    STORAGE_LOCK_RENEW_MS: z.coerce
      .number()
      .int()
      .min(1_000)
      .default(60 * 60_000),
    STORAGE_LOCK_RENEW_WITHIN_DAYS: z.coerce
      .number()
      .int('must be a whole number of days')
      .min(1, 'must be at least 1')
      .max(3_650)
      .default(7),
  });
export type StorageConfig = z.output<typeof storageConfigSchema>;
