import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, Prisma, type PrismaClient } from '@mlr/db';
import type { AuditEvent, AuditEventInput } from '@mlr/contracts';

/** The filters of `audit.list`, validated. */
export interface AuditQuery {
  tenantId?: string | undefined;
  action?: string | undefined;
  outcome?: AuditEvent['outcome'] | undefined;
  actor?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Events with an id below this one (the previous page's last). */
  before?: bigint | undefined;
  limit: number;
}

export interface AuditRepository {
  /**
   * Appends an event. An event about a tenant that does not exist (a refused request naming an
   * unknown tenant) is still kept: platform-wide, with the tenant named in its detail.
   */
  record(event: AuditEventInput): Promise<{ id: string; at: Date }>;
  /** Events matching `query`, newest first, at most `limit`. */
  list(query: AuditQuery): Promise<AuditEvent[]>;
}

export const AUDIT_REPOSITORY = Symbol('AUDIT_REPOSITORY');

type AuditRow = Prisma.AuditEventGetPayload<object>;

function toEvent(row: AuditRow): AuditEvent {
  return {
    id: row.id.toString(),
    tenantId: row.tenantId,
    actor: row.actor,
    role: row.role,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    detail: (row.detail as Record<string, unknown> | null) ?? null,
    at: row.at.toISOString(),
  };
}

/** Events written by one statement at most. */
const AUDIT_BATCH_MAX = 200;

interface QueuedEvent {
  event: AuditEventInput;
  resolve(row: { id: string; at: Date }): void;
  reject(error: unknown): void;
}

/**
 * Writes events as they come, several in one statement when they come together: while one write is
 * under way, the events that arrive meanwhile wait and then go in one INSERT (one commit, one WAL
 * flush) — no timer, so a lone event is written at once. Every caller still learns its own event's
 * id only once it is durable. An event naming a tenant that does not exist is kept platform-wide
 * with the tenant named in its detail (`unknownTenant`).
 */
@Injectable()
export class PrismaAuditRepository implements AuditRepository {
  private readonly queue: QueuedEvent[] = [];
  private writing = false;

  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  record(event: AuditEventInput): Promise<{ id: string; at: Date }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch = this.queue.splice(0, AUDIT_BATCH_MAX);
    void this.write(batch).finally(() => {
      this.writing = false;
      this.drain();
    });
  }

  private async write(batch: QueuedEvent[]): Promise<void> {
    const column = <T>(pick: (event: AuditEventInput) => T) => batch.map(({ event }) => pick(event));
    let rows: Array<{ id: bigint; at: Date }>;
    try {
      rows = await this.prisma.$queryRaw<Array<{ id: bigint; at: Date }>>`
        INSERT INTO audit_events (tenant_id, actor, role, action, target, outcome, detail)
        SELECT t.id, v.actor, v.role::actor_role, v.action, v.target, v.outcome::audit_outcome,
               CASE WHEN v.tenant_id IS NOT NULL AND t.id IS NULL
                    THEN coalesce(v.detail::jsonb, '{}'::jsonb) || jsonb_build_object('unknownTenant', v.tenant_id)
                    ELSE v.detail::jsonb END
        FROM unnest(
          ${column((e) => e.tenantId)}::text[], ${column((e) => e.actor)}::text[], ${column((e) => e.role)}::text[],
          ${column((e) => e.action)}::text[], ${column((e) => e.target)}::text[], ${column((e) => e.outcome)}::text[],
          ${column((e) => (e.detail === null ? null : JSON.stringify(e.detail)))}::text[]
        ) WITH ORDINALITY AS v(tenant_id, actor, role, action, target, outcome, detail, n)
        LEFT JOIN tenants t ON t.id = v.tenant_id
        ORDER BY v.n
        RETURNING id, at`;
    } catch (error) {
      for (const queued of batch) queued.reject(error);
      return;
    }
    // Ids are handed out in the order the rows were inserted: the order of the batch.
    rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const [index, queued] of batch.entries()) {
      const row = rows[index];
      if (row) queued.resolve({ id: row.id.toString(), at: row.at });
      else queued.reject(new Error(`the audit event was not written (${rows.length} of ${batch.length} were)`));
    }
  }

  async list(query: AuditQuery): Promise<AuditEvent[]> {
    const where: Prisma.AuditEventWhereInput = {};
    if (query.tenantId !== undefined) where.tenantId = query.tenantId;
    if (query.action !== undefined) {
      where.OR = [{ action: query.action }, { action: { startsWith: `${query.action}.` } }];
    }
    if (query.outcome !== undefined) where.outcome = query.outcome;
    if (query.actor !== undefined) where.actor = query.actor;
    if (query.since !== undefined || query.until !== undefined) {
      where.at = {
        ...(query.since !== undefined ? { gte: query.since } : {}),
        ...(query.until !== undefined ? { lt: query.until } : {}),
      };
    }
    if (query.before !== undefined) where.id = { lt: query.before };
    const rows = await this.prisma.auditEvent.findMany({ where, orderBy: { id: 'desc' }, take: query.limit });
    return rows.map(toEvent);
  }
}
