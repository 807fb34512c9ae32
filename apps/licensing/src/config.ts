import { databaseEnvSchema, serviceEnvSchema } from '@mlr/config';
import type { z } from 'zod';

export const licensingConfigSchema = serviceEnvSchema.extend(databaseEnvSchema.shape);
export type LicensingConfig = z.output<typeof licensingConfigSchema>;
