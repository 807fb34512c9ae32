import { env, serviceEnvSchema } from '@mlr/config';
import type { z } from 'zod';

export const gatewayConfigSchema = serviceEnvSchema.extend({ HTTP_PORT: env.port(8080) });
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
