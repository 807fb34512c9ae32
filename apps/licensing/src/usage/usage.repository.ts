import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type PrismaClient } from '@mlr/db';
import type { UsageRow } from '@mlr/contracts';
import { SERVICE_USAGE, type ServiceUsage } from './service-usage.js';

export interface UsageRepository {
  /**
   * Usage of every tenant (or of `tenantId` only) at `now`, ordered by slug: its protected
   * mailboxes (backed up in the window, as the licence counts them: scheduling's answer), and the
   * objects in storage (one per distinct content) with their sealed bytes (storage's answer).
   */
  measure(now: Date, tenantId: string | undefined): Promise<UsageRow[]>;
  /** Keeps the measured rows as usage samples taken at `at`. */
  recordSamples(rows: UsageRow[], at: Date): Promise<void>;
}

export const USAGE_REPOSITORY = Symbol('USAGE_REPOSITORY');

@Injectable()
export class PrismaUsageRepository implements UsageRepository {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(SERVICE_USAGE) private readonly services: ServiceUsage,
  ) {}

  async measure(now: Date, tenantId: string | undefined): Promise<UsageRow[]> {
    const tenants = await this.prisma.tenant.findMany({
      where: tenantId === undefined ? {} : { id: tenantId },
      select: { id: true, slug: true, name: true, mlrEnabled: true },
      orderBy: { slug: 'asc' },
    });
    if (tenants.length === 0) return [];
    // Asked of their owners, at once: scheduling's jobs and checkpoints, storage's objects and packs.
    const [protectedMailboxes, stored] = await Promise.all([
      this.services.protectedMailboxes(now, tenantId),
      this.services.storedObjects(tenantId),
    ]);
    return tenants.map((tenant) => ({
      tenantId: tenant.id,
      slug: tenant.slug,
      name: tenant.name,
      mlrEnabled: tenant.mlrEnabled,
      protectedMailboxes: protectedMailboxes.get(tenant.id) ?? 0,
      storedObjects: stored.get(tenant.id)?.storedObjects ?? 0,
      storedBytes: stored.get(tenant.id)?.storedBytes ?? 0,
    }));
  }

  async recordSamples(rows: UsageRow[], at: Date): Promise<void> {
    if (rows.length === 0) return;
    await this.prisma.usageSample.createMany({
      data: rows.map((row) => ({
        tenantId: row.tenantId,
        sampledAt: at,
        protectedMailboxes: row.protectedMailboxes,
        storedObjects: BigInt(row.storedObjects),
        storedBytes: BigInt(row.storedBytes),
      })),
    });
  }
}
