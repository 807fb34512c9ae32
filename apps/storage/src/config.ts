import { databaseEnvSchema, s3EnvSchema, serviceEnvSchema } from '@mlr/config';
import type { z } from 'zod';

export const storageConfigSchema = serviceEnvSchema.extend(databaseEnvSchema.shape).extend(s3EnvSchema.shape);
export type StorageConfig = z.output<typeof storageConfigSchema>;
