import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, Prisma, type PrismaClient } from '@mlr/db';
import type { UsageRow } from '@mlr/contracts';

export interface UsageRepository {
  /**
   * Usage of every tenant (or of `tenantId` only), ordered by slug: mailboxes with an index record
   * created or updated since `since`, and the objects and sealed bytes in storage.
   */
  measure(since: Date, tenantId: string | undefined): Promise<UsageRow[]>;
  /** Keeps the measured rows as usage samples taken at `at`. */
  recordSamples(rows: UsageRow[], at: Date): Promise<void>;
}

export const USAGE_REPOSITORY = Symbol('USAGE_REPOSITORY');

interface UsageSqlRow {
  id: string;
  slug: string;
  name: string;
  mlr_enabled: boolean;
  protected_mailboxes: bigint;
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

  async measure(since: Date, tenantId: string | undefined): Promise<UsageRow[]> {
    const onlyTenant = tenantId === undefined ? Prisma.empty : Prisma.sql`WHERE t.id = ${tenantId}`;
    // Per tenant (LATERAL), so that each aggregate walks that tenant's rows through its tenant index.
    const rows = await this.prisma.$queryRaw<UsageSqlRow[]>`
      SELECT t.id, t.slug, t.name, t.mlr_enabled,
        m.protected_mailboxes, o.stored_objects, o.stored_bytes
      FROM tenants t
      CROSS JOIN LATERAL (
        SELECT count(DISTINCT r.mailbox)::bigint AS protected_mailboxes
        FROM index_records r
        WHERE r.tenant_id = t.id AND r.updated_at >= ${since}
      ) m
      CROSS JOIN LATERAL (
        SELECT count(*)::bigint AS stored_objects, COALESCE(sum(s.sealed_size), 0)::bigint AS stored_bytes
        FROM stored_objects s
        WHERE s.tenant_id = t.id
      ) o
      ${onlyTenant}
      ORDER BY t.slug`;
    return rows.map((row) => ({
      tenantId: row.id,
      slug: row.slug,
      name: row.name,
      mlrEnabled: row.mlr_enabled,
      protectedMailboxes: count(row.protected_mailboxes, 'protected mailboxes'),
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
