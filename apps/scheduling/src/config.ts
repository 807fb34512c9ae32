import { databaseEnvSchema, serviceEnvSchema } from '@mlr/config';
import type { z } from 'zod';

export const schedulingConfigSchema = serviceEnvSchema.extend(databaseEnvSchema.shape);
export type SchedulingConfig = z.output<typeof schedulingConfigSchema>;
