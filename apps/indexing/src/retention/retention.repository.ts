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
  /** Records of the mailbox past the cut-off are left (the call's limit was reached). */
  more: boolean;
}

/** The advisory lock that orders a tenant's hold changes and expiry batches. */
function holdLock(tenantId: string): string {
  return `mlr.legal_hold.${tenantId}`;
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

  /**
   * Sets the hold (or changes the reason of the one there); returns it. Takes the tenant's hold
   * lock exclusively: it waits for an expiry batch of the tenant under way, and every later batch
   * sees the hold — once this returns, nothing it covers expires.
   */
  async setHold(tenantId: string, mailbox: string | null, reason: string, actor: string): Promise<LegalHold> {
    const scope = mailbox ?? TENANT_SCOPE;
    const row = await this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${holdLock(tenantId)}))`;
      return tx.legalHold.upsert({
        where: { tenantId_scope: { tenantId, scope } },
        create: { tenantId, scope, reason, setBy: actor },
        update: { reason, setBy: actor, setAt: new Date() },
      });
    });
    return holdOf(row);
  }

  async releaseHold(tenantId: string, mailbox: string | null): Promise<boolean> {
    const { count } = await this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${holdLock(tenantId)}))`;
      return tx.legalHold.deleteMany({ where: { tenantId, scope: mailbox ?? TENANT_SCOPE } });
    });
    return count > 0;
  }

  async listHolds(tenantId: string): Promise<LegalHold[]> {
    const rows = await this.prisma.legalHold.findMany({ where: { tenantId }, orderBy: { scope: 'asc' } });
    return rows.map(holdOf);
  }

  /**
   * Removes the mailbox's index records first backed up before `before` (at most `maxRecords`;
   * `more` says whether some are left), a batch per transaction, and takes their references off
   * their objects. Nothing when a hold covers the mailbox or its tenant: each batch takes the
   * tenant's hold lock shared and only then reads the holds, so a hold being set waits for the batch
   * under way and stops every later one. Mailboxes compare in lower case. The references go as
   * changes in the outbox (storage owns the counts); `released` counts the objects no record
   * references any more.
   */
  async expire(tenantId: string, mailbox: string, before: Date, maxRecords: number): Promise<ExpiredMailbox> {
    const outcome: ExpiredMailbox = { mailbox, expired: 0, released: 0, held: false, more: false };
    for (;;) {
      const limit = Math.min(EXPIRE_BATCH, maxRecords - outcome.expired);
      if (limit <= 0) {
        outcome.more = true;
        return outcome;
      }
      const [row] = await this.prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock_shared(hashtext(${holdLock(tenantId)}))`;
        return tx.$queryRaw<Array<{ held: boolean; expired: number; released: number }>>`
        WITH hold AS (
          SELECT EXISTS (
            SELECT 1 FROM legal_holds h
            WHERE h.tenant_id = ${tenantId} AND h.scope IN (${TENANT_SCOPE}, ${mailbox})
          ) AS held
        ),
        doomed AS (
          SELECT r.id FROM index_records r
          WHERE r.tenant_id = ${tenantId} AND lower(r.mailbox) = ${mailbox} AND r.created_at < ${before}
            AND NOT (SELECT held FROM hold)
          ORDER BY r.created_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED
        ),
        deleted AS (
          DELETE FROM index_records r USING doomed d WHERE r.id = d.id RETURNING r.id, r.object_id
        ),
        changed AS (
          INSERT INTO reference_changes (tenant_id, object_id, delta)
          SELECT ${tenantId}, object_id, -count(*)::int FROM deleted GROUP BY object_id
          RETURNING object_id
        )
        SELECT (SELECT held FROM hold) AS held,
          (SELECT count(*)::int FROM deleted) AS expired,
          -- Objects no record references any more (the statement still sees the rows it deletes).
          (SELECT count(*)::int FROM changed c WHERE NOT EXISTS (
            SELECT 1 FROM index_records r
            WHERE r.object_id = c.object_id AND NOT EXISTS (SELECT 1 FROM deleted d WHERE d.id = r.id)
          )) AS released`;
      });
      if (!row) return outcome;
      outcome.held = row.held;
      outcome.expired += row.expired;
      outcome.released += row.released;
      if (row.held || row.expired < limit) return outcome;
    }
  }
}
