import { z } from 'zod';

/**
 * Tenant, connector and job ids become NATS subject tokens, S3 key segments and database keys:
 * lower-case letters, digits and dashes only, so no id can smuggle a `.`, `*` or `>` into a subject.
 */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const idSchema = (what: string) =>
  z
    .string()
    .regex(ID_PATTERN, `${what} must be 1-63 lower-case letters, digits or dashes, starting with a letter or digit`);

export const tenantIdSchema = idSchema('tenant id');
export const connectorIdSchema = idSchema('connector id');
export const jobIdSchema = idSchema('job id');

/** Content id: hex HMAC-SHA256 of the raw message bytes under the tenant's id key. */
export const contentIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'content id must be 64 lower-case hex characters');

export const isoDateSchema = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });
