import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type PrismaClient } from '@mlr/db';
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
   * Uses the token, in one conditional UPDATE: only a token that is unused, unexpired at `now` and
   * of a connector not revoked is taken, so two concurrent enrolments with it cannot both succeed.
   * Null when nothing was taken (the caller finds out why).
   */
  enroll(update: EnrolmentUpdate): Promise<ConnectorRecord | null>;
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

  async enroll(update: EnrolmentUpdate): Promise<ConnectorRecord | null> {
    const taken = await this.prisma.connector.updateMany({
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
    return taken.count === 1 ? this.byTokenHash(update.tokenHash) : null;
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
