import { Inject, Injectable } from '@nestjs/common';
import { isUniqueViolation, PRISMA, type Prisma, type PrismaClient } from '@mlr/db';
import type { ConnectorCapability, ConnectorKind, ReceiveAsCapability } from '@mlr/contracts';

export interface ConnectorRecord {
  id: string;
  tenantId: string;
  name: string;
  kind: ConnectorKind;
  enrolmentTokenHash: string | null;
  enrolmentTokenExpiresAt: Date | null;
  enrolmentTokenUsedAt: Date | null;
  natsUserPublicKey: string | null;
  receiveAs: ReceiveAsCapability;
  capabilityWarnings: string[];
  capabilityCheckedAt: Date | null;
  agentVersion: string | null;
  revokedAt: Date | null;
  natsRevokedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A revoked connector that had NATS credentials, and whether the server revokes them yet. */
export interface RevokedCredentials {
  id: string;
  tenantId: string;
  natsUserPublicKey: string;
  natsRevokedAt: Date | null;
}

export interface EnrolmentUpdate {
  tokenHash: string;
  now: Date;
  natsUserPublicKey: string;
  capability: ConnectorCapability;
  agentVersion: string;
  /** Key id of the tenant key the agent will seal with. */
  tenantKeyId: string;
}

/** The connector an enrolment was for (its token was not taken, so nothing else of it is reported). */
export type EnrolmentTarget = Pick<ConnectorRecord, 'id' | 'tenantId'>;

/** What `enroll` did; nothing changed unless the outcome is `enrolled`. */
export type EnrolmentOutcome =
  | { outcome: 'enrolled'; connector: ConnectorRecord }
  /** The token was not taken: unknown, used, expired, or its connector revoked (the caller finds out which). */
  | { outcome: 'token_not_taken' }
  /** The tenant's backups are sealed with `tenantKeyId`, not with the key the agent would use. */
  | { outcome: 'tenant_key_differs'; connector: EnrolmentTarget; tenantKeyId: string }
  /** The agent's key is recorded as another tenant's key. */
  | { outcome: 'key_of_another_tenant'; connector: EnrolmentTarget };

/** A refusal found inside the enrolment transaction: thrown to roll it back, so that the token stays usable. */
class EnrolmentRolledBack extends Error {
  constructor(readonly outcome: Exclude<EnrolmentOutcome, { outcome: 'enrolled' | 'token_not_taken' }>) {
    super(outcome.outcome);
  }
}

export interface ConnectorRepository {
  tenantExists(tenantId: string): Promise<boolean>;
  /** Throws Prisma's unique violation (P2002) when the tenant has a connector of that name. */
  create(input: {
    tenantId: string;
    name: string;
    kind: ConnectorKind;
    tokenHash: string;
    expiresAt: Date;
  }): Promise<ConnectorRecord>;
  /** The tenant's connectors by name. */
  list(tenantId: string): Promise<ConnectorRecord[]>;
  get(tenantId: string, connectorId: string): Promise<ConnectorRecord | null>;
  byTokenHash(tokenHash: string): Promise<ConnectorRecord | null>;
  /**
   * Uses the token and holds the tenant to one key, in one transaction. The token is taken by one
   * conditional UPDATE: only a token that is unused, unexpired at `now` and of a connector not
   * revoked is taken, so two concurrent enrolments with it cannot both succeed. The tenant's key id
   * is then recorded if it has none (a concurrent first enrolment of the tenant waits for this one
   * and then finds the key set); an enrolment with another key, or with another tenant's key, rolls
   * everything back, the token included.
   */
  enroll(update: EnrolmentUpdate): Promise<EnrolmentOutcome>;
  /** Marks the connector revoked (a revoked connector stays revoked, with its first date). */
  revoke(tenantId: string, connectorId: string, now: Date): Promise<ConnectorRecord | null>;
  /** Every revoked connector with a NATS user key (all tenants), for the revocation reconciler. */
  revokedCredentials(): Promise<RevokedCredentials[]>;
  /** Records that the NATS server revokes these connectors' keys (the first date is kept). */
  markNatsRevoked(connectorIds: string[], now: Date): Promise<void>;
}

export const CONNECTOR_REPOSITORY = Symbol('CONNECTOR_REPOSITORY');

const connectorColumns = {
  id: true,
  tenantId: true,
  name: true,
  kind: true,
  enrolmentTokenHash: true,
  enrolmentTokenExpiresAt: true,
  enrolmentTokenUsedAt: true,
  natsUserPublicKey: true,
  receiveAs: true,
  capabilityWarnings: true,
  capabilityCheckedAt: true,
  agentVersion: true,
  revokedAt: true,
  natsRevokedAt: true,
  createdAt: true,
  updatedAt: true,
} as const;

@Injectable()
export class PrismaConnectorRepository implements ConnectorRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async tenantExists(tenantId: string): Promise<boolean> {
    return (await this.prisma.tenant.count({ where: { id: tenantId } })) > 0;
  }

  create(input: {
    tenantId: string;
    name: string;
    kind: ConnectorKind;
    tokenHash: string;
    expiresAt: Date;
  }): Promise<ConnectorRecord> {
    return this.prisma.connector.create({
      data: {
        tenantId: input.tenantId,
        name: input.name,
        kind: input.kind,
        enrolmentTokenHash: input.tokenHash,
        enrolmentTokenExpiresAt: input.expiresAt,
      },
      select: connectorColumns,
    });
  }

  list(tenantId: string): Promise<ConnectorRecord[]> {
    return this.prisma.connector.findMany({
      where: { tenantId },
      orderBy: [{ name: 'asc' }, { id: 'asc' }],
      select: connectorColumns,
    });
  }

  get(tenantId: string, connectorId: string): Promise<ConnectorRecord | null> {
    return this.prisma.connector.findFirst({ where: { id: connectorId, tenantId }, select: connectorColumns });
  }

  byTokenHash(tokenHash: string): Promise<ConnectorRecord | null> {
    return this.prisma.connector.findUnique({ where: { enrolmentTokenHash: tokenHash }, select: connectorColumns });
  }

  async enroll(update: EnrolmentUpdate): Promise<EnrolmentOutcome> {
    try {
      return await this.prisma.$transaction(
        async (tx): Promise<EnrolmentOutcome> => {
          const taken = await tx.connector.updateMany({
            where: {
              enrolmentTokenHash: update.tokenHash,
              enrolmentTokenUsedAt: null,
              enrolmentTokenExpiresAt: { gt: update.now },
              revokedAt: null,
            },
            data: {
              enrolmentTokenUsedAt: update.now,
              natsUserPublicKey: update.natsUserPublicKey,
              receiveAs: update.capability.receiveAs,
              capabilityWarnings: update.capability.warnings,
              capabilityCheckedAt: new Date(update.capability.checkedAt),
              agentVersion: update.agentVersion,
              lastSeenAt: update.now,
            },
          });
          if (taken.count !== 1) return { outcome: 'token_not_taken' };
          const connector = await tx.connector.findUniqueOrThrow({
            where: { enrolmentTokenHash: update.tokenHash },
            select: connectorColumns,
          });
          await holdTenantToKey(tx, connector, update.tenantKeyId);
          return { outcome: 'enrolled', connector };
        },
        // Enrolments of one tenant queue on its row: a burst of them must not fail for want of a connection.
        { maxWait: 10_000, timeout: 10_000 },
      );
    } catch (error) {
      if (error instanceof EnrolmentRolledBack) return error.outcome;
      throw error;
    }
  }

  async revoke(tenantId: string, connectorId: string, now: Date): Promise<ConnectorRecord | null> {
    await this.prisma.connector.updateMany({
      where: { id: connectorId, tenantId, revokedAt: null },
      data: { revokedAt: now },
    });
    return this.get(tenantId, connectorId);
  }

  async revokedCredentials(): Promise<RevokedCredentials[]> {
    const rows = await this.prisma.connector.findMany({
      where: { revokedAt: { not: null }, natsUserPublicKey: { not: null } },
      select: { id: true, tenantId: true, natsUserPublicKey: true, natsRevokedAt: true },
      orderBy: { revokedAt: 'asc' },
    });
    return rows.map((row) => ({ ...row, natsUserPublicKey: row.natsUserPublicKey ?? '' }));
  }

  async markNatsRevoked(connectorIds: string[], now: Date): Promise<void> {
    if (connectorIds.length === 0) return;
    await this.prisma.connector.updateMany({
      where: { id: { in: connectorIds }, natsRevokedAt: null },
      data: { natsRevokedAt: now },
    });
  }
}

/**
 * Records the tenant's key id when it has none, or checks that it is `tenantKeyId`; throws
 * EnrolmentRolledBack otherwise. Race-free under READ COMMITTED: a concurrent first enrolment of the
 * tenant holds the tenant row until it commits, after which the conditional UPDATE here no longer
 * matches (the key is set) and the read sees the key that won.
 */
async function holdTenantToKey(
  tx: Prisma.TransactionClient,
  connector: EnrolmentTarget,
  tenantKeyId: string,
): Promise<void> {
  const target = { id: connector.id, tenantId: connector.tenantId };
  try {
    const recorded = await tx.tenant.updateMany({
      where: { id: connector.tenantId, tenantKeyId: null },
      data: { tenantKeyId },
    });
    if (recorded.count === 1) return;
  } catch (error) {
    // tenants.tenant_key_id is unique: the key is another tenant's.
    if (isUniqueViolation(error)) {
      throw new EnrolmentRolledBack({ outcome: 'key_of_another_tenant', connector: target });
    }
    throw error;
  }
  const tenant = await tx.tenant.findUniqueOrThrow({
    where: { id: connector.tenantId },
    select: { tenantKeyId: true },
  });
  if (tenant.tenantKeyId !== tenantKeyId) {
    // Null is not possible here: the UPDATE above would have matched.
    throw new EnrolmentRolledBack({
      outcome: 'tenant_key_differs',
      connector: target,
      tenantKeyId: tenant.tenantKeyId ?? '(none)',
    });
  }
}
