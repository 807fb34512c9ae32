import type { PrismaClient } from '@mlr/db';
import type { LegalHold } from '@mlr/contracts';

/** The scope of a hold on the whole tenant (a mailbox's own scope is the mailbox). */
export const TENANT_SCOPE = '*';

/** Records removed per statement: each batch is one transaction, so a long expiry never holds locks long. */
const EXPIRE_BATCH = 2_000;

export interface ExpiredMailbox {
  mailbox: string;
  expired: number;
  released: number;
  held: boolean;
}

function holdOf(row: { tenantId: string; scope: string; reason: string; setBy: string; setAt: Date }): LegalHold {
  return {
    tenantId: row.tenantId,
    mailbox: row.scope === TENANT_SCOPE ? null : row.scope,
    reason: row.reason,
    setBy: row.setBy,
    setAt: row.setAt.toISOString(),
  };
}

/** Legal holds and the expiry of index records (tables of indexing: legal_holds, index_records). */
export class RetentionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Sets the hold (or changes the reason of the one there); returns it. */
  async setHold(tenantId: string, mailbox: string | null, reason: string, actor: string): Promise<LegalHold> {
    const scope = mailbox ?? TENANT_SCOPE;
    const row = await this.prisma.legalHold.upsert({
      where: { tenantId_scope: { tenantId, scope } },
      create: { tenantId, scope, reason, setBy: actor },
      update: { reason, setBy: actor, setAt: new Date() },
    });
    return holdOf(row);
  }

  async releaseHold(tenantId: string, mailbox: string | null): Promise<boolean> {
    const { count } = await this.prisma.legalHold.deleteMany({ where: { tenantId, scope: mailbox ?? TENANT_SCOPE } });
    return count > 0;
  }

  async listHolds(tenantId: string): Promise<LegalHold[]> {
    const rows = await this.prisma.legalHold.findMany({ where: { tenantId }, orderBy: { scope: 'asc' } });
    return rows.map(holdOf);
  }

  /**
   * Removes the mailbox's index records first backed up before `before`, a batch per statement, and
   * takes their references off their objects. Nothing when a hold covers the mailbox or its tenant:
   * every statement checks the holds itself, so a hold set while an expiry runs stops its next batch.
   */
  async expire(tenantId: string, mailbox: string, before: Date): Promise<ExpiredMailbox> {
    const outcome: ExpiredMailbox = { mailbox, expired: 0, released: 0, held: false };
    for (;;) {
      const [row] = await this.prisma.$queryRaw<Array<{ held: boolean; expired: number; released: number }>>`
        WITH hold AS (
          SELECT EXISTS (
            SELECT 1 FROM legal_holds h
            WHERE h.tenant_id = ${tenantId} AND h.scope IN (${TENANT_SCOPE}, ${mailbox})
          ) AS held
        ),
        doomed AS (
          SELECT r.id FROM index_records r
          WHERE r.tenant_id = ${tenantId} AND r.mailbox = ${mailbox} AND r.created_at < ${before}
            AND NOT (SELECT held FROM hold)
          ORDER BY r.created_at
          LIMIT ${EXPIRE_BATCH}
          FOR UPDATE SKIP LOCKED
        ),
        deleted AS (
          DELETE FROM index_records r USING doomed d WHERE r.id = d.id RETURNING r.object_id
        ),
        released AS (
          UPDATE stored_objects so
          SET ref_count = GREATEST(so.ref_count - c.n, 0)
          FROM (SELECT object_id, count(*)::int AS n FROM deleted GROUP BY object_id) c
          WHERE so.id = c.object_id
          RETURNING so.ref_count
        )
        SELECT (SELECT held FROM hold) AS held,
          (SELECT count(*)::int FROM deleted) AS expired,
          (SELECT count(*)::int FROM released WHERE ref_count = 0) AS released`;
      if (!row) return outcome;
      outcome.held = row.held;
      outcome.expired += row.expired;
      outcome.released += row.released;
      if (row.held || row.expired < EXPIRE_BATCH) return outcome;
    }
  }
}
