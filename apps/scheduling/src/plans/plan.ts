import {
  backupFilterSchema,
  mailboxSelectionSchema,
  type BackupFilter,
  type Plan,
  type PlanSchedule,
} from '@mlr/contracts';
import type { z } from 'zod';

export type MailboxSelection = z.infer<typeof mailboxSelectionSchema>;

/** A backup plan as the scheduling domain sees it. */
export interface PlanRecord {
  id: string;
  tenantId: string;
  connectorId: string;
  name: string;
  mailboxes: MailboxSelection;
  filter: BackupFilter;
  schedule: PlanSchedule | null;
  retentionDays: number | null;
  enabled: boolean;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The stored columns, as the repository reads them (JSON columns not yet validated). */
export interface StoredPlanRow {
  id: string;
  tenantId: string;
  connectorId: string;
  name: string;
  mailboxSelection: unknown;
  filter: unknown;
  cron: string | null;
  timezone: string;
  retentionDays: number | null;
  enabled: boolean;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Reads a stored plan; its JSON columns were validated on the way in, and are again on the way out. */
export function planFromRow(row: StoredPlanRow): PlanRecord {
  return {
    id: row.id,
    tenantId: row.tenantId,
    connectorId: row.connectorId,
    name: row.name,
    mailboxes: mailboxSelectionSchema.parse(row.mailboxSelection),
    filter: backupFilterSchema.parse(row.filter),
    schedule: row.cron === null ? null : { cron: row.cron, timezone: row.timezone },
    retentionDays: row.retentionDays,
    enabled: row.enabled,
    nextRunAt: row.nextRunAt,
    lastRunAt: row.lastRunAt,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function planView(plan: PlanRecord): Plan {
  return {
    id: plan.id,
    tenantId: plan.tenantId,
    name: plan.name,
    connectorId: plan.connectorId,
    mailboxes: plan.mailboxes,
    filter: plan.filter,
    schedule: plan.schedule,
    retentionDays: plan.retentionDays,
    enabled: plan.enabled,
    nextRunAt: plan.nextRunAt?.toISOString() ?? null,
    lastRunAt: plan.lastRunAt?.toISOString() ?? null,
    createdBy: plan.createdBy,
    createdAt: plan.createdAt.toISOString(),
    updatedAt: plan.updatedAt.toISOString(),
  };
}
