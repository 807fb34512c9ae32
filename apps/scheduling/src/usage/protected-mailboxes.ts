import { PROTECTED_WINDOW_DAYS } from '@mlr/contracts';
import { Prisma, type PrismaClient } from '@mlr/db';

/*
 * What a protected mailbox is: the one definition behind the licence's `maxProtectedMailboxes`
 * and the usage report operators bill from. Scheduling owns what it reads (jobs, their errors,
 * checkpoints) and answers licensing's `mailboxes.protected` with it.
 *
 * A mailbox is protected while it was backed up in the last PROTECTED_WINDOW_DAYS days. "Backed
 * up" must not depend on the mailbox having new mail: an index record changes only for a new
 * message or a flag change, and a folder checkpoint only when it advances (scheduling keeps an
 * unchanged checkpoint as it is), so both stand still for a mailbox backed up every night with
 * nothing new. What records the completed backup itself is the job: a mailbox M of tenant T was
 * backed up at time t when
 *   - a backup job of one of T's connectors finished at t having run (succeeded or
 *     partially_failed; a failed job reached no mailbox), and
 *   - the job selected M (its command named M, or selected all the connector's mailboxes), and
 *   - the connector holds checkpoints of M (it has backed M up: a mailbox that never opened has
 *     none, and "all" means the mailboxes the connector backs up), and
 *   - the job reported no mailbox-level error for M (it could not open or list it);
 * or a checkpoint of M advanced at t (a run stored new mail of M; this also covers jobs the
 * connector started itself from its command line, whose command the platform never saw).
 * Mailboxes are counted by name per tenant, as the connector reports them (`#public` for public
 * folders), once however many connectors back them up.
 */

const DAY_MS = 86_400_000;

type Db = Prisma.TransactionClient | PrismaClient;

export interface ProtectedMailboxScope {
  /** Only this tenant. */
  tenantId?: string;
}

/** The start of the window: a backup finished at or after it protects its mailbox at `now`. */
export function protectedWindowStart(now: Date): Date {
  return new Date(now.getTime() - PROTECTED_WINDOW_DAYS * DAY_MS);
}

/** (tenant_id, mailbox) of every mailbox protected at `now`, each once. */
function protectedMailboxesSql(now: Date, scope: ProtectedMailboxScope): Prisma.Sql {
  const since = protectedWindowStart(now);
  const tenant = scope.tenantId === undefined ? Prisma.empty : Prisma.sql`AND c.tenant_id = ${scope.tenantId}`;
  return Prisma.sql`
    SELECT DISTINCT m.tenant_id, m.mailbox
    FROM (
      SELECT c.tenant_id, c.connector_id, c.mailbox, max(c.updated_at) AS advanced_at
      FROM folder_checkpoints c
      WHERE TRUE ${tenant}
      GROUP BY c.tenant_id, c.connector_id, c.mailbox
    ) m
    WHERE m.advanced_at >= ${since}
       OR EXISTS (
         SELECT 1 FROM jobs j
         WHERE j.connector_id = m.connector_id AND j.tenant_id = m.tenant_id
           AND j.kind = 'backup' AND j.state IN ('succeeded', 'partially_failed')
           AND j.finished_at >= ${since}
           AND (j.request -> 'mailboxes' ->> 'kind' = 'all'
                OR j.request -> 'mailboxes' -> 'mailboxes' @> jsonb_build_array(m.mailbox))
           AND NOT EXISTS (
             SELECT 1 FROM job_item_errors e
             WHERE e.job_id = j.id AND e.scope = 'mailbox' AND e.target = m.mailbox))`;
}

/** Protected mailboxes at `now` per tenant (tenants without any are absent). */
export async function protectedMailboxesByTenant(
  db: Db,
  now: Date,
  scope: ProtectedMailboxScope = {},
): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<Array<{ tenant_id: string; mailboxes: bigint }>>`
    SELECT p.tenant_id, count(*)::bigint AS mailboxes
    FROM (${protectedMailboxesSql(now, scope)}) p
    GROUP BY p.tenant_id`;
  return new Map(rows.map((row) => [row.tenant_id, Number(row.mailboxes)]));
}

/** The protected mailboxes of one tenant at `now`, by name, sorted (for tests and support). */
export async function listProtectedMailboxes(db: Db, now: Date, tenantId: string): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ mailbox: string }>>`
    SELECT p.mailbox FROM (${protectedMailboxesSql(now, { tenantId })}) p ORDER BY p.mailbox`;
  return rows.map((row) => row.mailbox);
}
