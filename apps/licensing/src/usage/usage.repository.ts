import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, Prisma, type PrismaClient } from '@mlr/db';
import type { UsageRow } from '@mlr/contracts';
import { protectedMailboxesByTenant } from '../tenants/protected-mailboxes.js';

export interface UsageRepository {
  /**
   * Usage of every tenant (or of `tenantId` only) at `now`, ordered by slug: its protected
   * mailboxes (backed up in the window, as the licence counts them: tenants/protected-mailboxes),
   * and the objects in storage (one per distinct content) with their sealed bytes.
   */
  measure(now: Date, tenantId: string | undefined): Promise<UsageRow[]>;
  /** Keeps the measured rows as usage samples taken at `at`. */
  recordSamples(rows: UsageRow[], at: Date): Promise<void>;
}

export const USAGE_REPOSITORY = Symbol('USAGE_REPOSITORY');

interface UsageSqlRow {
  id: string;
  slug: string;
  name: string;
  mlr_enabled: boolean;
  stored_objects: bigint;
  stored_bytes: bigint;
}

/** Counts and byte totals fit a JavaScript number by many orders of magnitude (2^53 bytes = 8 PiB). */
function count(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${value} exceeds the safe integer range`);
  return Number(value);
}

@Injectable()
export class PrismaUsageRepository implements UsageRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async measure(now: Date, tenantId: string | undefined): Promise<UsageRow[]> {
    const onlyTenant = tenantId === undefined ? Prisma.empty : Prisma.sql`WHERE t.id = ${tenantId}`;
    const protectedMailboxes = await protectedMailboxesByTenant(
      this.prisma,
      now,
      tenantId === undefined ? {} : { tenantId },
    );
    // Per tenant (LATERAL), so that the aggregates walk that tenant's rows through its tenant index.
    // Stored objects are the sealed messages (one per tenant and content id); stored bytes are what
    // S3 holds for the tenant: its packs whole (footers, and members another replica's copy won,
    // included) and its objects of their own.
    const rows = await this.prisma.$queryRaw<UsageSqlRow[]>`
      SELECT t.id, t.slug, t.name, t.mlr_enabled, o.stored_objects,
        (o.individual_bytes + p.pack_bytes)::bigint AS stored_bytes
      FROM tenants t
      CROSS JOIN LATERAL (
        SELECT count(*)::bigint AS stored_objects,
          COALESCE(sum(s.sealed_size) FILTER (WHERE s.pack_id IS NULL), 0)::bigint AS individual_bytes
        FROM stored_objects s
        WHERE s.tenant_id = t.id
      ) o
      CROSS JOIN LATERAL (
        SELECT COALESCE(sum(k.size), 0)::bigint AS pack_bytes FROM packs k WHERE k.tenant_id = t.id
      ) p
      ${onlyTenant}
      ORDER BY t.slug`;
    return rows.map((row) => ({
      tenantId: row.id,
      slug: row.slug,
      name: row.name,
      mlrEnabled: row.mlr_enabled,
      protectedMailboxes: protectedMailboxes.get(row.id) ?? 0,
      storedObjects: count(row.stored_objects, 'stored objects'),
      storedBytes: count(row.stored_bytes, 'stored bytes'),
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
