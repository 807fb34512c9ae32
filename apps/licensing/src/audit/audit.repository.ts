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

const detailValue = (detail: Record<string, unknown> | null) =>
  detail === null ? Prisma.DbNull : (detail as Prisma.InputJsonObject);

function isMissingTenant(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003';
}

@Injectable()
export class PrismaAuditRepository implements AuditRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async record(event: AuditEventInput): Promise<{ id: string; at: Date }> {
    const data = {
      tenantId: event.tenantId,
      actor: event.actor,
      role: event.role,
      action: event.action,
      target: event.target,
      outcome: event.outcome,
      detail: detailValue(event.detail),
    };
    let row: { id: bigint; at: Date };
    try {
      row = await this.prisma.auditEvent.create({ data, select: { id: true, at: true } });
    } catch (error) {
      if (!isMissingTenant(error) || event.tenantId === null) throw error;
      row = await this.prisma.auditEvent.create({
        data: { ...data, tenantId: null, detail: { ...event.detail, unknownTenant: event.tenantId } },
        select: { id: true, at: true },
      });
    }
    return { id: row.id.toString(), at: row.at };
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
