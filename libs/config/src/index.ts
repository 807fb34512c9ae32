export * from './process.js';
import { z } from 'zod';

/** Configuration that failed validation at start-up; lists every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly app: string,
    readonly problems: ReadonlyArray<{ variable: string; message: string }>,
  ) {
    super(`${app}: invalid configuration: ${problems.map((p) => `${p.variable}: ${p.message}`).join('; ')}`);
  }
}

/**
 * Validates the environment once, at start-up, and returns a typed, frozen object. Apps call this in
 * main.ts and inject the result; nothing else in the code base reads `process.env`.
 */
export function loadConfig<T extends z.ZodObject>(
  app: string,
  schema: T,
  env: NodeJS.ProcessEnv,
): Readonly<z.output<T>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      app,
      result.error.issues.map((issue) => ({
        variable: issue.path.map(String).join('.') || '(env)',
        message: issue.message,
      })),
    );
  }
  return Object.freeze(result.data);
}

/** Reusable pieces for config schemas. */
export const env = {
  url: (protocols: string[]) =>
    z
      .string({ error: 'is required' })
      .url('must be a URL')
      .refine(
        (value) => protocols.some((p) => value.startsWith(`${p}:`)),
        `must start with ${protocols.join(' or ')}:`,
      ),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  string: () => z.string({ error: 'is required' }).min(1, 'must not be empty'),
  optionalString: () => z.string().min(1).optional(),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1'),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** NATS connection settings shared by every service. */
export const natsEnvSchema = z.object({
  NATS_URL: env.url(['nats', 'tls']),
  NATS_USER: env.optionalString(),
  NATS_PASSWORD: env.optionalString(),
});

/** Settings every service has. */
export const serviceEnvSchema = natsEnvSchema.extend({
  HTTP_PORT: env.port(0),
  HTTP_HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: env.logLevel(),
  OTEL_EXPORTER_OTLP_ENDPOINT: env.url(['http', 'https']).optional(),
  INSTANCE_ID: z.string().min(1).optional(),
});

export const databaseEnvSchema = z.object({ DATABASE_URL: env.url(['postgresql', 'postgres']) });

export const s3EnvSchema = z.object({
  S3_ENDPOINT: env.url(['http', 'https']),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY: env.string(),
  S3_SECRET_KEY: env.string(),
  S3_BUCKET: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      'must be a valid S3 bucket name (3-63 lower-case letters, digits, dots, dashes)',
    ),
});
