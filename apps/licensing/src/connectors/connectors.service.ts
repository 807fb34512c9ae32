import { Inject, Injectable } from '@nestjs/common';
import { fromPublic } from '@nats-io/jwt';
import {
  tenantInboxPrefix,
  type ConnectorKind,
  type ConnectorView,
  type CreatedConnector,
  type Enrolment,
  type EnrolmentRequest,
} from '@mlr/contracts';
import { isUniqueViolation } from '@mlr/db';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { AUDIT_REPOSITORY, type AuditRepository } from '../audit/audit.repository.js';
import { CLOCK, type Clock } from '../common/clock.js';
import { tenantNotFound } from '../tenants/tenants.service.js';
import type { ConnectorJwtIssuer } from './connector-jwt.js';
import { ConnectorRevocations } from './connector-revocations.js';
import { connectorState, connectorView } from './connector-view.js';
import { ConnectorErrorCode, ConnectorException } from './connectors.exception.js';
import {
  CONNECTOR_REPOSITORY,
  type ConnectorRecord,
  type ConnectorRepository,
  type EnrolmentOutcome,
  type EnrolmentTarget,
} from './connectors.repository.js';
import { enrolmentExpiry, hashEnrolmentToken, isEnrolmentExpired, newEnrolmentToken } from './enrolment-token.js';

/** The issuer of connector NATS credentials; null when the service has no account signing key. */
export const CONNECTOR_JWT_ISSUER = Symbol('CONNECTOR_JWT_ISSUER');

@Injectable()
export class ConnectorsService {
  private readonly logger: Logger;

  constructor(
    @Inject(CONNECTOR_REPOSITORY) private readonly connectors: ConnectorRepository,
    @Inject(CONNECTOR_JWT_ISSUER) private readonly issuer: ConnectorJwtIssuer | null,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDIT_REPOSITORY) private readonly audit: AuditRepository,
    private readonly revocations: ConnectorRevocations,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ scope: 'connectors' });
  }

  /** Creates the connector and its enrolment token; the token is in this answer and nowhere else. */
  async create(
    input: { tenantId: string; name: string; kind: ConnectorKind; enrolmentTtlMinutes?: number | undefined },
    actor: string,
  ): Promise<CreatedConnector> {
    if (!(await this.connectors.tenantExists(input.tenantId))) throw tenantNotFound(input.tenantId);
    const now = this.clock.now();
    const token = newEnrolmentToken();
    const expiresAt = enrolmentExpiry(now, input.enrolmentTtlMinutes);
    let connector: ConnectorRecord;
    try {
      connector = await this.connectors.create({
        tenantId: input.tenantId,
        name: input.name,
        kind: input.kind,
        tokenHash: hashEnrolmentToken(token),
        expiresAt,
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConnectorException(
          ConnectorErrorCode.NAME_TAKEN,
          `name: tenant ${input.tenantId} already has a connector named "${input.name}"`,
          'name',
        );
      }
      throw error;
    }
    this.logger.info(
      {
        event: 'connector.created',
        tenantId: input.tenantId,
        connectorId: connector.id,
        kind: input.kind,
        expiresAt: expiresAt.toISOString(),
        actor,
      },
      'connector created; enrolment token issued',
    );
    return { connector: connectorView(connector, now), enrolmentToken: token, expiresAt: expiresAt.toISOString() };
  }

  async list(tenantId: string): Promise<{ connectors: ConnectorView[] }> {
    if (!(await this.connectors.tenantExists(tenantId))) throw tenantNotFound(tenantId);
    const now = this.clock.now();
    return { connectors: (await this.connectors.list(tenantId)).map((c) => connectorView(c, now)) };
  }

  async get(tenantId: string, connectorId: string): Promise<ConnectorView> {
    const connector = await this.connectors.get(tenantId, connectorId);
    if (!connector) throw connectorNotFound(tenantId, connectorId);
    return connectorView(connector, this.clock.now());
  }

  /**
   * Exchanges a single-use token and the connector's own NATS public key for its user JWT. The
   * token is taken atomically; a replayed, expired, unknown or revoked one is refused, saying which.
   * Every connector of a tenant seals with the tenant's one key: the first enrolment of the tenant
   * records the key id the agent sends, a later one with another key is refused and its token stays
   * usable.
   */
  async enroll(request: EnrolmentRequest): Promise<Enrolment> {
    // Checked before the token is taken, so that a misconfigured service does not burn tokens.
    if (!this.issuer) {
      throw new ConnectorException(
        ConnectorErrorCode.SIGNING_KEY_NOT_CONFIGURED,
        'connector credentials cannot be issued: the licensing service has no NATS account signing key ' +
          '(LICENSING_NATS_ACCOUNT_PUBLIC_KEY and LICENSING_NATS_ACCOUNT_SIGNING_SEED); the token was not used',
      );
    }
    try {
      fromPublic(request.natsPublicKey);
    } catch (error) {
      throw new ConnectorException(
        ConnectorErrorCode.NATS_KEY_INVALID,
        `natsPublicKey: not a valid NATS user public key (${(error as Error).message})`,
        'natsPublicKey',
      );
    }
    const now = this.clock.now();
    const tokenHash = hashEnrolmentToken(request.token);
    // Checked before the token is taken: an agent set up for another mail system keeps the token usable.
    const intended = await this.connectors.byTokenHash(tokenHash);
    if (intended && intended.kind !== request.sourceKind && connectorState(intended, now) === 'awaiting_enrolment') {
      const refusal = new ConnectorException(
        ConnectorErrorCode.KIND_MISMATCH,
        `sourceKind: connector ${intended.id} was created for ${KIND_LABELS[intended.kind]} (${intended.kind}), but this ` +
          `agent is configured for ${KIND_LABELS[request.sourceKind]} (${request.sourceKind}); create a connector of kind ` +
          `${request.sourceKind} for it. The token was not used`,
        'sourceKind',
      );
      throw await this.deny(intended, request, refusal);
    }
    let outcome: EnrolmentOutcome;
    try {
      outcome = await this.connectors.enroll({
        tokenHash,
        now,
        natsUserPublicKey: request.natsPublicKey,
        capability: request.capability,
        agentVersion: request.agentVersion,
        tenantKeyId: request.tenantKeyId,
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConnectorException(
          ConnectorErrorCode.NATS_KEY_TAKEN,
          'natsPublicKey: another connector already enrolled with this key; generate a new key pair',
          'natsPublicKey',
        );
      }
      throw error;
    }
    if (outcome.outcome === 'token_not_taken') {
      const known = await this.connectors.byTokenHash(tokenHash);
      throw await this.deny(known, request, this.refusal(known, now));
    }
    if (outcome.outcome === 'tenant_key_differs') {
      const { tenantId } = outcome.connector;
      const refusal = new ConnectorException(
        ConnectorErrorCode.TENANT_KEY_MISMATCH,
        `tenantKeyId: the backups of tenant ${tenantId} are sealed with tenant key ${outcome.tenantKeyId}, but this ` +
          `connector would use key ${request.tenantKeyId}; every connector of a tenant must use the tenant's key. ` +
          'Import it with --recovery-kit <file> (a recovery kit made by "connector export-recovery-kit" on a ' +
          'connector that has the key). The token was not used',
        'tenantKeyId',
      );
      throw await this.deny(outcome.connector, request, refusal);
    }
    if (outcome.outcome === 'key_of_another_tenant') {
      const { tenantId } = outcome.connector;
      const refusal = new ConnectorException(
        ConnectorErrorCode.TENANT_KEY_OF_ANOTHER_TENANT,
        `tenantKeyId: key ${request.tenantKeyId} is the tenant key of another tenant, and a tenant key belongs to one ` +
          `tenant; enrol with a new stateDir (or keyFile) so that a key is made for tenant ${tenantId}, or import ` +
          "this tenant's key with --recovery-kit <file>. The token was not used",
        'tenantKeyId',
      );
      throw await this.deny(outcome.connector, request, refusal);
    }
    const { connector } = outcome;
    const userJwt = await this.issuer.mint({
      tenantId: connector.tenantId,
      connectorId: connector.id,
      userPublicKey: request.natsPublicKey,
    });
    this.logger.info(
      {
        event: 'connector.enrolled',
        tenantId: connector.tenantId,
        connectorId: connector.id,
        natsUserPublicKey: request.natsPublicKey,
        receiveAs: request.capability.receiveAs,
        warnings: request.capability.warnings.length,
        agentVersion: request.agentVersion,
        tenantKeyId: request.tenantKeyId,
      },
      'connector enrolled',
    );
    await this.recordEnrolment(connector, request, {});
    return {
      tenantId: connector.tenantId,
      connectorId: connector.id,
      userJwt,
      inboxPrefix: tenantInboxPrefix(connector.tenantId),
    };
  }

  /**
   * A user JWT with today's claims for an enrolled connector's own NATS key, asked for by a connector
   * whose JWT is older than its build (enrolled before its permissions or limits changed): `refused`
   * says why not. Needs no credential of its own: the JWT works only with the seed of that key, which
   * never leaves the connector; a revoked connector, or a key that is not the connector's, gets none
   * (a JWT issued after a revocation would not be covered by it).
   */
  async refreshCredentials(
    tenantId: string,
    connectorId: string,
    natsPublicKey: string,
  ): Promise<{ userJwt: string } | { refused: string }> {
    const connector = await this.connectors.get(tenantId, connectorId);
    const state = connector ? connectorState(connector, this.clock.now()) : null;
    let refused: string | null = null;
    if (!this.issuer) refused = 'the licensing service has no NATS account signing key to issue credentials with';
    else if (!connector) refused = `tenant ${tenantId} has no connector ${connectorId}`;
    else if (state !== 'enrolled') refused = `connector ${connectorId} is ${String(state).replace('_', ' ')}`;
    else if (connector.natsUserPublicKey !== natsPublicKey) {
      refused = `${natsPublicKey} is not the NATS key connector ${connectorId} enrolled with`;
    }
    const outcome = refused === null ? 'success' : 'denied';
    try {
      await this.audit.record({
        tenantId,
        actor: `nkey:${natsPublicKey}`,
        role: 'connector',
        action: 'connector.credentials.refresh',
        target: `connector:${connectorId}`,
        outcome,
        detail: refused === null ? {} : { reason: refused },
      });
    } catch (error) {
      this.logger.error(
        { event: 'connector.credentials.audit-failed', connectorId, error: (error as Error).message },
        'could not write the audit event of a credentials refresh',
      );
    }
    // (Without an issuer `refused` is set: the second test only tells the compiler so.)
    if (refused !== null || !this.issuer) {
      const reason = refused ?? 'no signing key';
      this.logger.warn({ event: 'connector.credentials.refused', tenantId, connectorId, natsPublicKey }, reason);
      return { refused: reason };
    }
    const userJwt = await this.issuer.mint({ tenantId, connectorId, userPublicKey: natsPublicKey });
    this.logger.info(
      { event: 'connector.credentials.refreshed', tenantId, connectorId, natsUserPublicKey: natsPublicKey },
      "connector's NATS credentials renewed with today's permissions and limits",
    );
    return { userJwt };
  }

  /**
   * Revokes the connector: scheduling gives it no more jobs, and its NATS credentials are revoked on
   * the server (the view's `natsRevokedAt` says when that took effect; null while it is pending or
   * not configured, in which case the reconciler keeps trying).
   */
  async revoke(tenantId: string, connectorId: string, actor: string): Promise<ConnectorView> {
    let connector = await this.connectors.revoke(tenantId, connectorId, this.clock.now());
    if (!connector) throw connectorNotFound(tenantId, connectorId);
    this.logger.info({ event: 'connector.revoked', tenantId, connectorId, actor }, 'connector revoked');
    if (connector.natsUserPublicKey && !connector.natsRevokedAt) {
      const { natsUserPublicKey, natsRevokedAt } = connector;
      if (await this.revocations.apply([{ id: connectorId, tenantId, natsUserPublicKey, natsRevokedAt }])) {
        connector = (await this.connectors.get(tenantId, connectorId)) ?? connector;
      }
    }
    return connectorView(connector, this.clock.now());
  }

  /**
   * The audit trail keeps every enrolment and every refused attempt (a replayed token is worth
   * seeing), in the connector's tenant; an unknown token's attempt is platform-wide. A failure to
   * write it is logged, never turned into a failed enrolment (the token is already spent then).
   */
  private async recordEnrolment(
    connector: EnrolmentTarget | null,
    request: EnrolmentRequest,
    outcome: { denied?: ConnectorException },
  ): Promise<void> {
    try {
      await this.audit.record({
        tenantId: connector?.tenantId ?? null,
        actor: `nkey:${request.natsPublicKey}`,
        role: 'connector',
        action: 'connector.enroll',
        target: connector ? `connector:${connector.id}` : null,
        outcome: outcome.denied ? 'denied' : 'success',
        detail: outcome.denied
          ? {
              reason: outcome.denied.code,
              message: outcome.denied.message,
              agentVersion: request.agentVersion,
              tenantKeyId: request.tenantKeyId,
            }
          : {
              receiveAs: request.capability.receiveAs,
              warnings: request.capability.warnings,
              agentVersion: request.agentVersion,
              tenantKeyId: request.tenantKeyId,
            },
      });
    } catch (error) {
      this.logger.error(
        { event: 'connector.enroll.audit-failed', connectorId: connector?.id, error: (error as Error).message },
        'could not write the audit event of an enrolment',
      );
    }
  }

  /** Logs and audits a refused enrolment; returns the refusal to throw. */
  private async deny(
    connector: EnrolmentTarget | null,
    request: EnrolmentRequest,
    refusal: ConnectorException,
  ): Promise<ConnectorException> {
    this.logger.warn(
      {
        event: 'connector.enroll.refused',
        code: refusal.code,
        tenantId: connector?.tenantId,
        connectorId: connector?.id,
      },
      refusal.message,
    );
    await this.recordEnrolment(connector, request, { denied: refusal });
    return refusal;
  }

  /** Why a token was not taken: the refusal names the reason. */
  private refusal(connector: ConnectorRecord | null, now: Date): ConnectorException {
    if (!connector) {
      return new ConnectorException(
        ConnectorErrorCode.TOKEN_UNKNOWN,
        'token: this enrolment token is unknown (mistyped, or not issued by this platform); ask for a new one',
        'token',
      );
    } else if (connector.revokedAt) {
      return new ConnectorException(
        ConnectorErrorCode.CONNECTOR_REVOKED,
        `token: connector ${connector.id} was revoked on ${connector.revokedAt.toISOString()}; its token can no longer be used`,
        'token',
      );
    } else if (connector.enrolmentTokenUsedAt) {
      return new ConnectorException(
        ConnectorErrorCode.TOKEN_USED,
        `token: this enrolment token was already used on ${connector.enrolmentTokenUsedAt.toISOString()} ` +
          '(a token enrols one connector once); ask for a new connector and token',
        'token',
      );
    } else if (connector.enrolmentTokenExpiresAt && isEnrolmentExpired(connector.enrolmentTokenExpiresAt, now)) {
      return new ConnectorException(
        ConnectorErrorCode.TOKEN_EXPIRED,
        `token: this enrolment token expired on ${connector.enrolmentTokenExpiresAt.toISOString()}; ask for a new one`,
        'token',
      );
    } else {
      // Taken by a concurrent enrolment between the update and this read.
      return new ConnectorException(
        ConnectorErrorCode.TOKEN_USED,
        'token: this enrolment token was used by another enrolment at the same moment; ask for a new one',
        'token',
      );
    }
  }
}

function connectorNotFound(tenantId: string, connectorId: string): ConnectorException {
  return new ConnectorException(
    ConnectorErrorCode.CONNECTOR_NOT_FOUND,
    `connectorId: tenant ${tenantId} has no connector ${connectorId}`,
    'connectorId',
  );
}

/** The mail systems of the connector kinds, in words. */
const KIND_LABELS: Record<ConnectorKind, string> = {
  imap: 'an IMAP server',
  graph: 'Microsoft Graph',
  pst: 'Outlook PST files',
  outlook_profile: 'an Outlook profile',
  mail_files: 'mail files',
  domino: 'HCL Domino',
  groupwise: 'GroupWise',
};
