import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, Prisma, type PrismaClient } from '@mlr/db';
import type { BackupFilter, PlanSchedule } from '@mlr/contracts';
import { SchedulingErrorCode, SchedulingException } from '../common/scheduling.exception.js';
import { planFromRow, type MailboxSelection, type PlanRecord } from './plan.js';

export interface NewPlan {
  connectorId: string;
  name: string;
  mailboxes: MailboxSelection;
  filter: BackupFilter;
  schedule: PlanSchedule | null;
  retentionDays: number | null;
  enabled: boolean;
  nextRunAt: Date | null;
  createdBy: string;
}

export type PlanChanges = Partial<Omit<NewPlan, 'createdBy'>>;

/** Backup plans of a tenant. Every method is scoped to the tenant; deleted plans are invisible. */
export interface PlanRepository {
  create(tenantId: string, plan: NewPlan): Promise<PlanRecord>;
  list(tenantId: string, connectorId?: string): Promise<PlanRecord[]>;
  get(tenantId: string, planId: string): Promise<PlanRecord | null>;
  update(tenantId: string, planId: string, changes: PlanChanges): Promise<PlanRecord | null>;
  /** Marks the plan deleted (it never runs again); null when there is no such live plan. */
  delete(tenantId: string, planId: string, at: Date): Promise<Date | null>;
}

export const PLAN_REPOSITORY = Symbol('PLAN_REPOSITORY');

function nameTaken(error: unknown, name: string | undefined): never {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
    throw new SchedulingException(
      SchedulingErrorCode.PLAN_NAME_TAKEN,
      `name: this tenant already has a plan called "${name ?? ''}" (names of deleted plans stay taken)`,
      'name',
    );
  }
  throw error;
}

function columns(changes: PlanChanges): Prisma.BackupPlanUncheckedUpdateInput {
  const data: Prisma.BackupPlanUncheckedUpdateInput = {};
  if (changes.connectorId !== undefined) data.connectorId = changes.connectorId;
  if (changes.name !== undefined) data.name = changes.name;
  if (changes.mailboxes !== undefined) data.mailboxSelection = changes.mailboxes;
  if (changes.filter !== undefined) data.filter = changes.filter as Prisma.InputJsonObject;
  if (changes.schedule !== undefined) {
    data.cron = changes.schedule?.cron ?? null;
    if (changes.schedule) data.timezone = changes.schedule.timezone;
  }
  if (changes.retentionDays !== undefined) data.retentionDays = changes.retentionDays;
  if (changes.enabled !== undefined) data.enabled = changes.enabled;
  if (changes.nextRunAt !== undefined) data.nextRunAt = changes.nextRunAt;
  return data;
}

@Injectable()
export class PrismaPlanRepository implements PlanRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async create(tenantId: string, plan: NewPlan): Promise<PlanRecord> {
    try {
      const row = await this.prisma.backupPlan.create({
        data: {
          tenantId,
          connectorId: plan.connectorId,
          name: plan.name,
          mailboxSelection: plan.mailboxes,
          filter: plan.filter as Prisma.InputJsonObject,
          cron: plan.schedule?.cron ?? null,
          timezone: plan.schedule?.timezone ?? 'UTC',
          retentionDays: plan.retentionDays,
          enabled: plan.enabled,
          nextRunAt: plan.nextRunAt,
          createdBy: plan.createdBy,
        },
      });
      return planFromRow(row);
    } catch (error) {
      return nameTaken(error, plan.name);
    }
  }

  async list(tenantId: string, connectorId?: string): Promise<PlanRecord[]> {
    const rows = await this.prisma.backupPlan.findMany({
      where: { tenantId, deletedAt: null, ...(connectorId ? { connectorId } : {}) },
      orderBy: [{ name: 'asc' }],
    });
    return rows.map(planFromRow);
  }

  async get(tenantId: string, planId: string): Promise<PlanRecord | null> {
    const row = await this.prisma.backupPlan.findFirst({ where: { id: planId, tenantId, deletedAt: null } });
    return row ? planFromRow(row) : null;
  }

  async update(tenantId: string, planId: string, changes: PlanChanges): Promise<PlanRecord | null> {
    try {
      const updated = await this.prisma.backupPlan.updateManyAndReturn({
        where: { id: planId, tenantId, deletedAt: null },
        data: columns(changes),
      });
      const row = updated[0];
      return row ? planFromRow(row) : null;
    } catch (error) {
      return nameTaken(error, changes.name);
    }
  }

  async delete(tenantId: string, planId: string, at: Date): Promise<Date | null> {
    const { count } = await this.prisma.backupPlan.updateMany({
      where: { id: planId, tenantId, deletedAt: null },
      data: { deletedAt: at, enabled: false, nextRunAt: null },
    });
    return count === 1 ? at : null;
  }
}
