import { Inject, Injectable } from '@nestjs/common';
import { enrolledConnectorWhere, PRISMA, type PrismaClient } from '@mlr/db';

export interface ConnectorCapability {
  id: string;
  name: string;
  receiveAs: 'yes' | 'no' | 'unknown';
  checkedAt: Date | null;
}

export interface AccessRepository {
  /**
   * The tenant's connectors in service, oldest first: enrolled (their enrolment token used, or
   * provisioned without one) and not revoked.
   */
  connectorsInService(tenantId: string): Promise<ConnectorCapability[]>;
}

export const ACCESS_REPOSITORY = Symbol('ACCESS_REPOSITORY');

@Injectable()
export class PrismaAccessRepository implements AccessRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async connectorsInService(tenantId: string): Promise<ConnectorCapability[]> {
    const rows = await this.prisma.connector.findMany({
      where: {
        tenantId,
        revokedAt: null,
        ...enrolledConnectorWhere,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      select: { id: true, name: true, receiveAs: true, capabilityCheckedAt: true },
    });
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      receiveAs: row.receiveAs,
      checkedAt: row.capabilityCheckedAt,
    }));
  }
}
