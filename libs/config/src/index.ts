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
  // The NATS credential rule spans variables; it lives here so that schemas built on natsEnvSchema
  // stay plain objects that apps can extend (zod refuses to override keys of refined objects).
  const natsProblems = 'NATS_URL' in schema.shape ? natsCredentialProblems(env) : [];
  if (!result.success || natsProblems.length > 0) {
    throw new ConfigError(app, [
      ...(result.success
        ? []
        : result.error.issues.map((issue) => ({
            variable: issue.path.map(String).join('.') || '(env)',
            message: issue.message,
          }))),
      ...natsProblems,
    ]);
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

/**
 * NATS connection settings shared by every service. The services authenticate with a creds file
 * (operator mode: a user JWT and its NKey seed), with a user and password, or not at all; never
 * with both kinds (`loadConfig` checks that, see `natsCredentialProblems`).
 */
export const natsEnvSchema = z.object({
  NATS_URL: env.url(['nats', 'tls']),
  /** Path of a `.creds` file (as `nsc generate creds` writes it); read when the service starts. */
  NATS_CREDS: env.optionalString(),
  NATS_USER: env.optionalString(),
  NATS_PASSWORD: env.optionalString(),
});

/** What is wrong with the combination of NATS credential variables in `env` (empty: nothing). */
export function natsCredentialProblems(
  env: Readonly<Record<string, unknown>>,
): Array<{ variable: string; message: string }> {
  const given = (name: string) => env[name] !== undefined;
  if (given('NATS_CREDS') && (given('NATS_USER') || given('NATS_PASSWORD'))) {
    return [
      {
        variable: 'NATS_CREDS',
        message: `give NATS_CREDS (a creds file) or NATS_USER and NATS_PASSWORD, not both (${[
          'NATS_USER',
          'NATS_PASSWORD',
        ]
          .filter(given)
          .join(' and ')} also set)`,
      },
    ];
  }
  if (given('NATS_USER') && !given('NATS_PASSWORD')) {
    return [{ variable: 'NATS_PASSWORD', message: 'is required with NATS_USER' }];
  }
  if (given('NATS_PASSWORD') && !given('NATS_USER')) {
    return [{ variable: 'NATS_USER', message: 'is required with NATS_PASSWORD' }];
  }
  return [];
}

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
