import { z } from 'zod';
import { isoDateSchema, tenantIdSchema } from '../common/ids.js';

/*
 * Request/reply verbs of the licensing service (`mlr.svc.licensing.<verb>`): the vendor licence, the
 * tenants of the MSP, MLR enablement per tenant and metered usage. As with scheduling, the gateway
 * validates HTTP bodies with the `*InputSchema`s and the service validates the whole request again.
 */

/** Version of the licence document format; a document of another format is refused as malformed. */
export const LICENCE_FORMAT = 'mlr-licence/1';
/** The feature a licence needs before any tenant may have Message-Level Restore enabled. */
export const MLR_FEATURE = 'mlr';

/**
 * The serialisation a licence signature covers: JSON with object keys sorted by UTF-16 code units at
 * every level, no insignificant white space, strings and numbers as `JSON.stringify` writes them
 * (the rules of RFC 8785 for the values a licence holds). The same document always yields the same
 * text, whatever order or spacing it travelled in, so verification does not depend on the transport.
 * Throws for what JSON cannot carry (undefined, functions, non-finite numbers, bigints).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot carry the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object') {
    if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
      throw new TypeError('canonical JSON carries plain objects only');
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot carry a ${typeof value}`);
}

const featureSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a feature code is 1-32 lower-case letters, digits or dashes, e.g. "mlr"');

const noOuterSpace = (value: string) => value.trim() === value;

/**
 * The licence document the vendor signs. No transforms: what is parsed is exactly what was signed.
 * Features are text, not an enum, so that a newer licence may carry features this build ignores.
 */
export const licenceDocumentSchema = z
  .strictObject({
    format: z.literal(LICENCE_FORMAT, { error: `must be "${LICENCE_FORMAT}"` }),
    serial: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, dots, dashes or underscores'),
    /** The MSP the licence is issued to. */
    licensee: z.string().min(1).max(200).refine(noOuterSpace, 'must not start or end with white space'),
    features: z
      .array(featureSchema)
      .max(32)
      .refine((features) => new Set(features).size === features.length, 'must not repeat a feature'),
    /** Tenants the MSP may have, and (a second limit) tenants with MLR enabled. */
    maxTenants: z.number().int().min(0).max(1_000_000),
    /** Mailboxes with a backup in the usage window, summed over the tenants. */
    maxProtectedMailboxes: z.number().int().min(0).max(1_000_000_000),
    issuedAt: isoDateSchema,
    expiresAt: isoDateSchema,
    /** Days after `expiresAt` during which the licence still works (a short bridge to the renewal). */
    graceDays: z.number().int().min(0).max(90),
  })
  .refine((document) => Date.parse(document.expiresAt) > Date.parse(document.issuedAt), {
    message: 'must be after issuedAt',
    path: ['expiresAt'],
  });

/**
 * A signed licence as the vendor ships it and the operator imports it (`POST /v1/licence`). The
 * document is any JSON object here: the signature is checked over its canonical JSON first, and only
 * then is it read as a licence, so that a changed byte is reported as tampering, not as a bad field.
 */
export const signedLicenceSchema = z.strictObject({
  document: z.record(z.string(), z.unknown()),
  /** Base64 Ed25519 signature over `canonicalJson(document)`. */
  signature: z.string().min(1).max(200),
  /** Fingerprint of the vendor key that signed it (see the licensing service's verifier). */
  keyId: z.string().min(1).max(100),
});

export const LICENCE_STATES = ['valid', 'in_grace', 'expired'] as const;

export const licenceStatusSchema = z.strictObject({
  state: z.enum(LICENCE_STATES),
  /** Whole days until `expiresAt` (rounded up); 0 once it has passed. */
  daysLeft: z.number().int().nonnegative(),
  graceEndsAt: isoDateSchema,
  /** Whole days until the grace period ends (rounded up); 0 once it has ended. */
  graceDaysLeft: z.number().int().nonnegative(),
  /** One sentence for the operator. */
  message: z.string(),
});

export const licenceViewSchema = z.strictObject({
  serial: z.string(),
  licensee: z.string(),
  features: z.array(z.string()),
  maxTenants: z.number().int().nonnegative(),
  maxProtectedMailboxes: z.number().int().nonnegative(),
  issuedAt: isoDateSchema,
  expiresAt: isoDateSchema,
  graceDays: z.number().int().nonnegative(),
  keyId: z.string(),
  importedAt: isoDateSchema,
  importedBy: z.string(),
  status: licenceStatusSchema,
  /** What the licence limits, as of now. */
  tenants: z.strictObject({ total: z.number().int().nonnegative(), mlrEnabled: z.number().int().nonnegative() }),
});

/** Short, URL-safe name of a tenant, chosen by the operator. */
export const tenantSlugSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'slug must be 1-63 lower-case letters, digits or dashes');

/**
 * How storage lays out a tenant's sealed messages in S3: many to a pack (`packed`, the default: few
 * requests, cheap), or one S3 object each (`individual`, for customers whose policy requires it).
 * Every message stays individually sealed and addressable either way.
 */
export const OBJECT_LAYOUTS = ['packed', 'individual'] as const;
export type ObjectLayout = (typeof OBJECT_LAYOUTS)[number];

/** Body of `POST /v1/tenants`. */
export const tenantInputSchema = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  slug: tenantSlugSchema,
  objectLayout: z.enum(OBJECT_LAYOUTS).default('packed'),
});

const MIB = 1024 * 1024;

/**
 * A tenant's upload quota: the bytes of large messages' chunks its connectors may have waiting in
 * NATS for storage at once (the byte limit of the tenant's chunk stream, reserved in the JetStream
 * file store). At the quota a connector waits for storage instead of failing messages; a message
 * larger than the quota cannot be backed up and is refused naming it. Set by the operator per tenant
 * (`PUT /v1/tenants/{id}/upload-quota`); tenants without one have the platform default.
 */
export const UPLOAD_QUOTA_DEFAULT_BYTES = 1024 * MIB;
export const UPLOAD_QUOTA_MIN_BYTES = 16 * MIB;
export const UPLOAD_QUOTA_MAX_BYTES = 1024 * 1024 * MIB;

export const uploadQuotaBytesSchema = z
  .number()
  .int('must be a whole number of bytes')
  .min(UPLOAD_QUOTA_MIN_BYTES, `must be at least ${UPLOAD_QUOTA_MIN_BYTES} bytes (16 MiB)`)
  .max(UPLOAD_QUOTA_MAX_BYTES, `must be at most ${UPLOAD_QUOTA_MAX_BYTES} bytes (1 TiB)`);

/** Body of `PUT /v1/tenants/{id}/upload-quota`: bytes, or null for the platform default. */
export const uploadQuotaInputSchema = z.strictObject({ bytes: uploadQuotaBytesSchema.nullable() });

/**
 * A tenant's default Object Lock retention: every object and pack of the tenant written from then on
 * stays locked at least this many days (`PUT /v1/tenants/{id}/object-retention`). It never shortens
 * the platform's: storage locks for the longest of the bucket's default retention, its own
 * STORAGE_RETENTION_DAYS and this. What is written stays locked as written (COMPLIANCE cannot be
 * shortened by anybody).
 */
export const objectRetentionDaysSchema = z
  .number()
  .int('must be a whole number of days')
  .min(1, 'must be at least 1 day')
  .max(36_500, 'must be at most 36500 days (100 years)');

/** Body of `PUT /v1/tenants/{id}/object-retention`: days, or null for the platform's default. */
export const objectRetentionInputSchema = z.strictObject({ days: objectRetentionDaysSchema.nullable() });

/** Query of `GET /v1/tenants` (query values arrive as text). */
export const tenantListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1_000).default(200),
  /** Slug of the last tenant of the previous page. */
  after: tenantSlugSchema.optional(),
});

export const tenantSchema = z.strictObject({
  id: tenantIdSchema,
  name: z.string(),
  slug: z.string(),
  mlrEnabled: z.boolean(),
  enabledAt: isoDateSchema.nullable(),
  enabledBy: z.string().nullable(),
  disabledAt: isoDateSchema.nullable(),
  /**
   * Key id (not secret) of the tenant key its backups are sealed with, recorded at its first connector
   * enrolment; every connector of the tenant must use that key. Null until a connector enrolled.
   */
  tenantKeyId: z.string().nullable(),
  objectLayout: z.enum(OBJECT_LAYOUTS),
  /** The upload quota in force, and whether it is the platform default (none set for the tenant). */
  uploadQuota: z.strictObject({ bytes: z.number().int().positive(), isDefault: z.boolean() }),
  /** The tenant's default Object Lock retention in days; null: the platform's default. */
  objectRetentionDays: objectRetentionDaysSchema.nullable(),
  createdAt: isoDateSchema,
  updatedAt: isoDateSchema,
});

/** Why jobs of a tenant may not run (`tenants.status`). */
export const MLR_REFUSAL_REASONS = [
  'tenant_not_found',
  'mlr_disabled',
  'licence_expired',
  'licence_lacks_mlr',
  /** Backups only: more mailboxes are protected than the licence allows (restores still run). */
  'mailbox_limit_exceeded',
] as const;

export const tenantMlrStatusSchema = z.strictObject({
  tenantId: tenantIdSchema,
  mlrEnabled: z.boolean(),
  /** May restore jobs (and, with `backupAllowed`, backup jobs) of this tenant run now? */
  allowed: z.boolean(),
  /** May backup jobs run now? Also false when the licence's protected-mailbox limit is exceeded. */
  backupAllowed: z.boolean(),
  /** Protected mailboxes of all tenants with MLR enabled (last 30 days) and the licence's limit. */
  protectedMailboxes: z.strictObject({ count: z.number().int().nonnegative(), limit: z.number().int().nullable() }),
  reason: z.enum(MLR_REFUSAL_REASONS).nullable(),
  /** Why (not), in one sentence that can be shown to the person who asked for the job. */
  message: z.string().min(1),
  /** State of the licence in force; `none` when no licence was ever imported. */
  licence: z.enum([...LICENCE_STATES, 'none']),
  /** The tenant's upload quota in bytes (what a connector may have waiting for storage at once). */
  uploadQuotaBytes: z.number().int().positive(),
});

/** Query of `GET /v1/usage` and `GET /v1/usage.csv`. */
export const usageQuerySchema = z.strictObject({ tenantId: tenantIdSchema.optional() });

export const usageRowSchema = z.strictObject({
  tenantId: tenantIdSchema,
  slug: z.string(),
  name: z.string(),
  mlrEnabled: z.boolean(),
  /**
   * Distinct mailboxes that a finished backup job selected without a mailbox error (or whose
   * checkpoint advanced) within the usage window, whether or not anything new was found.
   */
  protectedMailboxes: z.number().int().nonnegative(),
  storedObjects: z.number().int().nonnegative(),
  /** Sealed (compressed + encrypted) bytes in object storage. */
  storedBytes: z.number().int().nonnegative(),
});

export const usageReportSchema = z.strictObject({
  generatedAt: isoDateSchema,
  /** Length of the window `protectedMailboxes` counts over. */
  windowDays: z.number().int().positive(),
  tenants: z.array(usageRowSchema),
  totals: z.strictObject({
    tenants: z.number().int().nonnegative(),
    mlrTenants: z.number().int().nonnegative(),
    protectedMailboxes: z.number().int().nonnegative(),
    storedObjects: z.number().int().nonnegative(),
    storedBytes: z.number().int().nonnegative(),
  }),
  /** Limits of the licence in force; null without one. */
  limits: z
    .strictObject({ maxTenants: z.number().int().nonnegative(), maxProtectedMailboxes: z.number().int().nonnegative() })
    .nullable(),
  /** Limits the totals exceed, in words (only for a report over all tenants). */
  warnings: z.array(z.string()),
});

/** Who asks: the authenticated operator once the gateway has authentication; `api` until then. */
const actorSchema = z.string().min(1).max(320);

export const importLicenceRequestSchema = z.strictObject({ licence: signedLicenceSchema, actor: actorSchema });
export const getLicenceRequestSchema = z.strictObject({});
export const createTenantRequestSchema = tenantInputSchema.extend({ actor: actorSchema });
export const listTenantsRequestSchema = z.strictObject({
  limit: z.number().int().min(1).max(1_000).default(200),
  after: tenantSlugSchema.optional(),
});
export const tenantRefRequestSchema = z.strictObject({ tenantId: tenantIdSchema });
export const tenantActionRequestSchema = tenantRefRequestSchema.extend({ actor: actorSchema });
export const usageReportRequestSchema = z.strictObject({ tenantId: tenantIdSchema.optional() });
export const setUploadQuotaRequestSchema = tenantActionRequestSchema.extend(uploadQuotaInputSchema.shape);
export const setObjectRetentionRequestSchema = tenantActionRequestSchema.extend(objectRetentionInputSchema.shape);

export const tenantListSchema = z.strictObject({
  tenants: z.array(tenantSchema),
  /** `after` for the next page; null on the last page. */
  next: tenantSlugSchema.nullable(),
});

export type SignedLicence = z.infer<typeof signedLicenceSchema>;
export type LicenceDocument = z.infer<typeof licenceDocumentSchema>;
export type LicenceState = (typeof LICENCE_STATES)[number];
export type LicenceStatus = z.infer<typeof licenceStatusSchema>;
export type LicenceView = z.infer<typeof licenceViewSchema>;
export type TenantInput = z.infer<typeof tenantInputSchema>;
export type TenantView = z.infer<typeof tenantSchema>;
export type MlrRefusalReason = (typeof MLR_REFUSAL_REASONS)[number];
export type TenantMlrStatus = z.infer<typeof tenantMlrStatusSchema>;
export type UsageRow = z.infer<typeof usageRowSchema>;
export type UsageReport = z.infer<typeof usageReportSchema>;

/** The licensing verbs, as entries of `ServiceCalls` (requests as the caller may send them). */
export interface LicensingCalls {
  'licence.import': { request: z.input<typeof importLicenceRequestSchema>; response: LicenceView };
  'licence.get': { request: z.input<typeof getLicenceRequestSchema>; response: LicenceView };
  'tenants.create': { request: z.input<typeof createTenantRequestSchema>; response: TenantView };
  'tenants.list': { request: z.input<typeof listTenantsRequestSchema>; response: z.infer<typeof tenantListSchema> };
  'tenants.get': { request: z.input<typeof tenantRefRequestSchema>; response: TenantView };
  'tenants.enableMlr': { request: z.input<typeof tenantActionRequestSchema>; response: TenantView };
  'tenants.disableMlr': { request: z.input<typeof tenantActionRequestSchema>; response: TenantView };
  'tenants.status': { request: z.input<typeof tenantRefRequestSchema>; response: TenantMlrStatus };
  'tenants.setUploadQuota': { request: z.input<typeof setUploadQuotaRequestSchema>; response: TenantView };
  'tenants.setObjectRetention': {
    request: z.input<typeof setObjectRetentionRequestSchema>;
    response: TenantView;
  };
  'usage.report': { request: z.input<typeof usageReportRequestSchema>; response: UsageReport };
}

export const licensingCallSchemas = {
  'licence.import': { request: importLicenceRequestSchema, response: licenceViewSchema },
  'licence.get': { request: getLicenceRequestSchema, response: licenceViewSchema },
  'tenants.create': { request: createTenantRequestSchema, response: tenantSchema },
  'tenants.list': { request: listTenantsRequestSchema, response: tenantListSchema },
  'tenants.get': { request: tenantRefRequestSchema, response: tenantSchema },
  'tenants.enableMlr': { request: tenantActionRequestSchema, response: tenantSchema },
  'tenants.disableMlr': { request: tenantActionRequestSchema, response: tenantSchema },
  'tenants.status': { request: tenantRefRequestSchema, response: tenantMlrStatusSchema },
  'tenants.setUploadQuota': { request: setUploadQuotaRequestSchema, response: tenantSchema },
  'tenants.setObjectRetention': { request: setObjectRetentionRequestSchema, response: tenantSchema },
  'usage.report': { request: usageReportRequestSchema, response: usageReportSchema },
} as const;
