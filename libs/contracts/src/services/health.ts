import { z } from 'zod';

export const SERVICE_NAMES = ['licensing', 'scheduling', 'indexing', 'storage', 'gateway'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const healthRequestSchema = z.strictObject({});

export const healthReportSchema = z.strictObject({
  service: z.enum(SERVICE_NAMES),
  instance: z.string().min(1),
  status: z.enum(['ok', 'degraded', 'down']),
  checks: z.record(z.string(), z.strictObject({ ok: z.boolean(), detail: z.string().optional() })),
  uptimeSeconds: z.number().nonnegative(),
});

export type HealthRequest = z.infer<typeof healthRequestSchema>;
export type HealthReport = z.infer<typeof healthReportSchema>;
