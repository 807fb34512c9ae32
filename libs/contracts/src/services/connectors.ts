import { z } from 'zod';
import { connectorIdSchema, isoDateSchema, tenantIdSchema } from '../common/ids.js';

/*
 * Connector enrolment (`mlr.svc.licensing.connectors.*`). A tenant admin or operator creates a
 * connector and is shown a single-use enrolment token once (only its SHA-256 is stored). On the
 * customer's side `connector enroll` generates the connector's own NATS user key pair (the seed never
 * leaves the customer), sends the public key with the token, and receives a user JWT that allows
 * only its tenant's subjects. The tenant key is created (or imported from a recovery kit) locally and
 * never leaves the customer; only its key id travels, so that licensing can hold every connector of a
 * tenant to the tenant's one key.
 */

/** Mail systems a connector reads (the `connector_kind` of the database). */
export const CONNECTOR_KINDS = [
  'imap',
  'graph',
  'pst',
  'outlook_profile',
  'mail_files',
  'domino',
  'groupwise',
] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

/** Whether the connector's service account holds the "Receive As" right, as the enrolment check found. */
export const RECEIVE_AS_CAPABILITIES = ['yes', 'no', 'unknown'] as const;
export type ReceiveAsCapability = (typeof RECEIVE_AS_CAPABILITIES)[number];

/**
 * The three warnings the product has always given about the service account. The connector picks
 * the ones that apply; enrolment continues either way and the platform records them.
 */
export const CAPABILITY_WARNINGS = {
  notDomainAdmin:
    'The service account is not a domain administrator: the connector will grant itself the "Receive As" right where it can.',
  notFullAdministrator:
    'The service account is neither a domain administrator nor a full (Exchange) administrator: only users that hold the "Receive As" right can back up mailboxes other than their own.',
  cannotVerify:
    'The connector could not verify the rights of the service account: only users that hold the "Receive As" right can back up mailboxes other than their own.',
} as const;

/** Enrolment token: `mlr-enrol-` and 43 base64url characters (32 random bytes). */
export const ENROLMENT_TOKEN_PREFIX = 'mlr-enrol-';
export const ENROLMENT_TOKEN_PATTERN = /^mlr-enrol-[A-Za-z0-9_-]{43}$/;

/** NATS user NKey public key (base32, 56 characters starting with `U`); its checksum is checked by licensing. */
export const NATS_USER_PUBLIC_KEY_PATTERN = /^U[A-Z2-7]{55}$/;

/**
 * Key id of a tenant key: 8 bytes of SHA-256 over a label and the key, in lower-case hex (libs/crypto
 * `rootKeyId`). A fingerprint, not a secret: it cannot give back the key.
 */
export const TENANT_KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

export const connectorNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters');

/** Body of `POST /v1/tenants/:tenantId/connectors`. */
export const connectorInputSchema = z.strictObject({
  name: connectorNameSchema,
  kind: z.enum(CONNECTOR_KINDS, { error: `kind must be one of ${CONNECTOR_KINDS.join(', ')}` }),
  /** How long the enrolment token stays valid; default 24 hours, at most 7 days. */
  enrolmentTtlMinutes: z.number().int().min(5).max(10_080).optional(),
});

export const CONNECTOR_STATES = ['awaiting_enrolment', 'enrolment_expired', 'enrolled', 'revoked'] as const;
export type ConnectorState = (typeof CONNECTOR_STATES)[number];

const PRODUCT_WARNINGS: readonly string[] = Object.values(CAPABILITY_WARNINGS);

/** What is wrong with a reported capability: its warnings must be the product's, as the finding implies. */
function capabilityProblem(capability: { receiveAs: ReceiveAsCapability; warnings: string[] }): string | null {
  const { receiveAs, warnings } = capability;
  const foreign = warnings.find((warning) => !PRODUCT_WARNINGS.includes(warning));
  if (foreign !== undefined) {
    return `warnings must be the product's capability warnings; not one: ${foreign.slice(0, 80)}`;
  }
  if (receiveAs === 'yes' && warnings.length > 0) return 'warnings must be empty when receiveAs is "yes"';
  if (receiveAs === 'unknown' && (warnings.length !== 1 || warnings[0] !== CAPABILITY_WARNINGS.cannotVerify)) {
    return 'warnings must be exactly the "cannot verify" warning when receiveAs is "unknown"';
  }
  if (receiveAs === 'no' && (warnings.length === 0 || warnings.includes(CAPABILITY_WARNINGS.cannotVerify))) {
    return 'warnings must name what the service account lacks (not "cannot verify") when receiveAs is "no"';
  }
  return null;
}

export const connectorCapabilitySchema = z
  .strictObject({
    receiveAs: z.enum(RECEIVE_AS_CAPABILITIES),
    /** The warnings shown to whoever enrolled the connector (in words). */
    warnings: z.array(z.string().min(1).max(1_000)).max(10),
    checkedAt: isoDateSchema,
  })
  .superRefine((capability, context) => {
    const problem = capabilityProblem(capability);
    if (problem) context.addIssue({ code: 'custom', path: ['warnings'], message: problem });
  });
export type ConnectorCapability = z.infer<typeof connectorCapabilitySchema>;

export const connectorSchema = z.strictObject({
  id: connectorIdSchema,
  tenantId: tenantIdSchema,
  name: z.string(),
  kind: z.enum(CONNECTOR_KINDS),
  state: z.enum(CONNECTOR_STATES),
  /** Until when the (unused) enrolment token may be used; null once enrolled. */
  enrolmentExpiresAt: isoDateSchema.nullable(),
  enrolledAt: isoDateSchema.nullable(),
  natsUserPublicKey: z.string().nullable(),
  receiveAs: z.enum(RECEIVE_AS_CAPABILITIES),
  capabilityWarnings: z.array(z.string()),
  capabilityCheckedAt: isoDateSchema.nullable(),
  agentVersion: z.string().nullable(),
  revokedAt: isoDateSchema.nullable(),
  /** When the NATS server started refusing the connector's credentials; null while only revoked here. */
  natsRevokedAt: isoDateSchema.nullable(),
  createdAt: isoDateSchema,
  updatedAt: isoDateSchema,
});
export type ConnectorView = z.infer<typeof connectorSchema>;

/** Who asks: the authenticated principal (operator or tenant admin). */
const actorSchema = z.string().min(1).max(320);

export const createConnectorRequestSchema = connectorInputSchema.extend({
  tenantId: tenantIdSchema,
  actor: actorSchema,
});

export const createdConnectorSchema = z.strictObject({
  connector: connectorSchema,
  /** Shown once: only its SHA-256 is stored, so nobody can show it again. */
  enrolmentToken: z.string().regex(ENROLMENT_TOKEN_PATTERN),
  expiresAt: isoDateSchema,
});
export type CreatedConnector = z.infer<typeof createdConnectorSchema>;

export const listConnectorsRequestSchema = z.strictObject({ tenantId: tenantIdSchema });
export const connectorListSchema = z.strictObject({ connectors: z.array(connectorSchema) });
export const connectorRefRequestSchema = z.strictObject({ tenantId: tenantIdSchema, connectorId: connectorIdSchema });
export const revokeConnectorRequestSchema = connectorRefRequestSchema.extend({ actor: actorSchema });

/** Body of `POST /v1/enrolments` (public: the token is the credential) and the `connectors.enroll` request. */
export const enrolmentRequestSchema = z.strictObject({
  token: z
    .string()
    .regex(ENROLMENT_TOKEN_PATTERN, `token must be an enrolment token ("${ENROLMENT_TOKEN_PREFIX}" and 43 characters)`),
  natsPublicKey: z
    .string()
    .regex(
      NATS_USER_PUBLIC_KEY_PATTERN,
      'natsPublicKey must be a NATS user public key (56 characters starting with U)',
    ),
  capability: connectorCapabilitySchema,
  agentVersion: z.string().min(1).max(100),
  /** The kind of mail source the agent is configured for: it must be the kind the connector was created for. */
  sourceKind: z.enum(CONNECTOR_KINDS, { error: `sourceKind must be one of ${CONNECTOR_KINDS.join(', ')}` }),
  /**
   * The key id of the tenant key the agent will seal with (the one it creates, imports or keeps). The
   * first enrolment of a tenant records it; a later connector of the tenant must use the same key.
   */
  tenantKeyId: z
    .string()
    .regex(TENANT_KEY_ID_PATTERN, 'tenantKeyId must be the key id of a tenant key (16 lower-case hex characters)'),
});
export type EnrolmentRequest = z.infer<typeof enrolmentRequestSchema>;

export const enrolmentSchema = z.strictObject({
  tenantId: tenantIdSchema,
  connectorId: connectorIdSchema,
  /** The connector's NATS user JWT (signed by the platform account); with its own seed it makes the creds file. */
  userJwt: z.string().min(1),
  /** Reply subjects of this connector must start with this prefix (its permissions allow no other inbox). */
  inboxPrefix: z.string().min(1),
});
export type Enrolment = z.infer<typeof enrolmentSchema>;

/** The connector verbs, as entries of `ServiceCalls`. */
export interface ConnectorCalls {
  'connectors.create': { request: z.input<typeof createConnectorRequestSchema>; response: CreatedConnector };
  'connectors.list': {
    request: z.input<typeof listConnectorsRequestSchema>;
    response: z.infer<typeof connectorListSchema>;
  };
  'connectors.get': { request: z.input<typeof connectorRefRequestSchema>; response: ConnectorView };
  'connectors.enroll': { request: z.input<typeof enrolmentRequestSchema>; response: Enrolment };
  'connectors.revoke': { request: z.input<typeof revokeConnectorRequestSchema>; response: ConnectorView };
}

export const connectorCallSchemas = {
  'connectors.create': { request: createConnectorRequestSchema, response: createdConnectorSchema },
  'connectors.list': { request: listConnectorsRequestSchema, response: connectorListSchema },
  'connectors.get': { request: connectorRefRequestSchema, response: connectorSchema },
  'connectors.enroll': { request: enrolmentRequestSchema, response: enrolmentSchema },
  'connectors.revoke': { request: revokeConnectorRequestSchema, response: connectorSchema },
} as const;
