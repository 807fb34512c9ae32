import { z } from 'zod';
import { connectorIdSchema, isoDateSchema, tenantIdSchema } from '../common/ids.js';

/*
 * Who asks, and what they did: the claims of the gateway's access tokens, the licensing verbs that
 * say what a tenant's connectors may reach (`tenants.access`) and the audit trail (`audit.record`,
 * `audit.list`), kept by the licensing service in `audit_events`.
 */

/** Roles of a person calling the API. Operators (MSP staff) see no mail content. */
export const PRINCIPAL_ROLES = ['operator', 'tenant_admin', 'user'] as const;
export type PrincipalRole = (typeof PRINCIPAL_ROLES)[number];

/** Roles an audit event may name: people, and the platform's own actors. */
export const AUDIT_ROLES = [...PRINCIPAL_ROLES, 'connector', 'system'] as const;
export const AUDIT_OUTCOMES = ['success', 'denied', 'failure'] as const;

const mailboxClaimSchema = z
  .string()
  .min(1, 'a mailbox must not be empty')
  .max(320)
  // Mailbox names are compared in lower case everywhere; an issuer's capitals change nothing.
  .transform((mailbox) => mailbox.toLowerCase());

/**
 * The claims of an access token, beyond the registered ones (`iss`, `aud`, `exp`, which the verifier
 * checks): who (`sub`), in which role, of which tenant, and for a user the mailboxes they own or were
 * delegated. Operators belong to no tenant; tenant admins and users to exactly one.
 */
export const accessTokenClaimsSchema = z
  .object({
    sub: z.string({ error: 'is required' }).min(1, 'must not be empty').max(320),
    role: z.enum(PRINCIPAL_ROLES, { error: `must be one of ${PRINCIPAL_ROLES.join(', ')}` }),
    tenant: tenantIdSchema.optional(),
    mailboxes: z.array(mailboxClaimSchema).max(10_000).default([]),
  })
  .superRefine((claims, ctx) => {
    if (claims.role !== 'operator' && claims.tenant === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tenant'], message: `is required for the role ${claims.role}` });
    }
    if (claims.role === 'operator' && claims.tenant !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['tenant'], message: 'an operator belongs to no tenant' });
    }
  });
export type AccessTokenClaims = z.infer<typeof accessTokenClaimsSchema>;
export type AccessTokenClaimsInput = z.input<typeof accessTokenClaimsSchema>;

// ---------------------------------------------------------------------------------------------------
// tenants.access
// ---------------------------------------------------------------------------------------------------

/** What enrolment found about a connector's service account (`connectors.receive_as`). */
const receiveAsCapabilities = ['yes', 'no', 'unknown'] as const;

export const tenantAccessRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  /** Answer for this connector (e.g. the one a restore names) instead of for the whole tenant. */
  connectorId: connectorIdSchema.optional(),
});
export const tenantAccessSchema = z.strictObject({
  tenantId: tenantIdSchema,
  /**
   * May a tenant admin see every mailbox, and may the service account act for them? Only connectors
   * in service count (enrolled, not revoked; one still awaiting enrolment has not been checked yet).
   * With `connectorId`: when that connector is in service and its service account has "Receive As"
   * (`yes`). Without: when the tenant has connectors in service and every one of them says `yes`.
   * `no` or `unknown` narrows the admin to their own mailboxes, since doubt never widens access.
   */
  receiveAs: z.boolean(),
  /** The connectors in service (enrolled, not revoked) and what enrolment found about their service account. */
  connectors: z.array(
    z.strictObject({
      id: connectorIdSchema,
      name: z.string(),
      receiveAs: z.enum(receiveAsCapabilities),
      checkedAt: isoDateSchema.nullable(),
    }),
  ),
});
export type TenantAccess = z.infer<typeof tenantAccessSchema>;

// ---------------------------------------------------------------------------------------------------
// audit.record / audit.list
// ---------------------------------------------------------------------------------------------------

/** Dotted lower-case verb, e.g. `search`, `restore.create`, `tenant.mlr.enable`. */
export const auditActionSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,5}$/, 'an action is dotted lower-case words, e.g. "plan.create"')
  .max(100);

export const auditEventInputSchema = z.strictObject({
  /** The tenant the action concerns; null for platform-wide actions (licences, the tenant list). */
  tenantId: tenantIdSchema.nullable(),
  actor: z.string().min(1, 'must not be empty').max(320),
  role: z.enum(AUDIT_ROLES),
  action: auditActionSchema,
  /** What was acted on, e.g. `plan:<id>`, `tenant:<id>`, `mailbox:<name>`. */
  target: z.string().min(1).max(500).nullable(),
  outcome: z.enum(AUDIT_OUTCOMES),
  /** Facts that explain the event (criteria, the refusal's reason); never mail content. */
  detail: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEventInput = z.infer<typeof auditEventInputSchema>;

export const auditEventSchema = auditEventInputSchema.extend({
  /** Increases with every event: events are listed newest (highest id) first. */
  id: z.string().regex(/^[0-9]+$/),
  at: isoDateSchema,
});
export type AuditEvent = z.infer<typeof auditEventSchema>;

export const AUDIT_LIST_LIMIT = { min: 1, max: 500, default: 100 } as const;

const auditFilterFields = {
  /** An action, or a dotted prefix of actions (`plan` matches `plan.create` and `plan.run`). */
  action: auditActionSchema.optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  actor: z.string().min(1).max(320).optional(),
  /** Events at or after this time. */
  since: isoDateSchema.optional(),
  /** Events before this time. */
  until: isoDateSchema.optional(),
  /** `nextCursor` of the previous page. */
  cursor: z
    .string()
    .regex(/^[0-9]{1,19}$/, 'cursor must be the nextCursor of the previous page')
    .optional(),
};

/** Query of `GET /v1/audit` (operators; `tenantId` narrows to one tenant) and `GET /v1/tenants/:t/audit`. */
export const auditListQuerySchema = z.strictObject({
  ...auditFilterFields,
  tenantId: tenantIdSchema.optional(),
  limit: z.coerce.number().int().min(AUDIT_LIST_LIMIT.min).max(AUDIT_LIST_LIMIT.max).default(AUDIT_LIST_LIMIT.default),
});

export const auditListRequestSchema = z.strictObject({
  ...auditFilterFields,
  /** Only this tenant's events; absent = every event (platform-wide ones included). */
  tenantId: tenantIdSchema.optional(),
  limit: z.number().int().min(AUDIT_LIST_LIMIT.min).max(AUDIT_LIST_LIMIT.max).default(AUDIT_LIST_LIMIT.default),
});
export const auditListSchema = z.strictObject({
  events: z.array(auditEventSchema),
  nextCursor: z.string().nullable(),
});
export type AuditListRequest = z.input<typeof auditListRequestSchema>;
export type AuditList = z.infer<typeof auditListSchema>;

export const auditRecordedSchema = z.strictObject({ id: z.string(), at: isoDateSchema });

/** The access and audit verbs (licensing), as entries of `ServiceCalls`. */
export interface AuditCalls {
  'tenants.access': { request: z.input<typeof tenantAccessRequestSchema>; response: TenantAccess };
  'audit.record': { request: z.input<typeof auditEventInputSchema>; response: z.infer<typeof auditRecordedSchema> };
  'audit.list': { request: AuditListRequest; response: AuditList };
}

export const auditCallSchemas = {
  'tenants.access': { request: tenantAccessRequestSchema, response: tenantAccessSchema },
  'audit.record': { request: auditEventInputSchema, response: auditRecordedSchema },
  'audit.list': { request: auditListRequestSchema, response: auditListSchema },
} as const;
