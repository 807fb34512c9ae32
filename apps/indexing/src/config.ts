import { databaseEnvSchema, serviceEnvSchema } from '@mlr/config';
import type { z } from 'zod';

export const indexingConfigSchema = serviceEnvSchema.extend(databaseEnvSchema.shape);
export type IndexingConfig = z.output<typeof indexingConfigSchema>;
