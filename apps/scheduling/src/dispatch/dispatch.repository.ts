import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type Prisma, type PrismaClient } from '@mlr/db';
import { jobCommandSchema, type FolderCheckpoint, type JobCommand } from '@mlr/contracts';
import { cursorOfRow, reportedCursor, stallReason, type CursorRow } from '../events/job-event-rules.js';
import type { ConnectorRef } from '../licensing/connector-directory.js';
import type { MlrVerdict } from '../licensing/mlr-gate.js';
import { planFromRow, type PlanRecord } from '../plans/plan.js';
import {
  buildBackupCommand,
  CONNECTOR_CLI_REQUESTER,
  SCHEDULE_REQUESTER,
  type BackupCommand,
} from './backup-command.js';

type Tx = Prisma.TransactionClient;

export type PlanRunOutcome =
  { queued: BackupCommand } | { refused: 'not_found' | 'disabled' } | { refused: 'connector_revoked'; reason: string };

/** A due plan whose tenant licensing refused: recorded as a failed job that was never published. */
export interface RefusedRun {
  jobId: string;
  tenantId: string;
  planId: string;
  reason: string;
}

/** A due run not queued because the plan's previous job has not finished yet. */
export interface SkippedRun {
  tenantId: string;
  planId: string;
  /** The plan's job that is still queued, running or stalled. */
  pendingJobId: string;
}

/** Creating jobs from plans, and keeping track of which job commands reached the queue. */
export interface DispatchRepository {
  /** Tenants of the (up to `limit`) plans due at `now` that `queueDuePlans` would claim first. */
  tenantsWithDuePlans(now: Date, limit: number): Promise<string[]>;
  /**
   * In one transaction: claims up to `limit` enabled plans due at `now` of the tenants in `verdicts`
   * (plans another replica is claiming are skipped, not waited for), creates one job for each and
   * moves its next run to `nextRun(plan)`. The job of a tenant licensing refused, or of a plan whose
   * connector `connectors` (licensing's, per tenant) says is revoked or gone, is created failed,
   * with the reason, and never published. A plan whose previous job has not finished gets
   * no second one (an hourly plan during a days-long first backup would otherwise pile up runs): that
   * run is skipped and its next run moves on. Returns the commands to publish, the refused runs and
   * the skipped ones.
   */
  queueDuePlans(
    now: Date,
    limit: number,
    nextRun: (plan: PlanRecord) => Date | null,
    verdicts: ReadonlyMap<string, MlrVerdict>,
    connectors: ReadonlyMap<string, readonly ConnectorRef[]>,
  ): Promise<{ queued: BackupCommand[]; refused: RefusedRun[]; skipped: SkippedRun[] }>;
  /** Queues a job for one plan now (run-now); `connectors` are the tenant's, as licensing says. */
  queuePlanRun(
    tenantId: string,
    planId: string,
    requestedBy: string,
    full: boolean,
    now: Date,
    connectors: readonly ConnectorRef[],
  ): Promise<PlanRunOutcome>;
  markPublished(jobId: string, at: Date): Promise<void>;
  /** Queued jobs created before `createdBefore` whose command never reached the queue. */
  unpublishedJobIds(createdBefore: Date, limit: number): Promise<string[]>;
  /**
   * Publishes one still-unpublished job while holding its row, so that two replicas never both do;
   * false when it is published already or another replica holds it.
   */
  republish(jobId: string, at: Date, publish: (command: JobCommand) => Promise<void>): Promise<boolean>;
  /**
   * Marks up to `limit` running jobs whose counters have not moved for `stallAfterMs` before `now`
   * stalled, with the reason (`stallReason`); a job that made progress meanwhile is left alone.
   */
  markStalled(now: Date, stallAfterMs: number, limit: number): Promise<StalledJob[]>;
}

/** A job `markStalled` marked. */
export interface StalledJob {
  jobId: string;
  tenantId: string;
  connectorId: string;
  reason: string;
}

export const DISPATCH_REPOSITORY = Symbol('DISPATCH_REPOSITORY');

interface CheckpointRow extends CursorRow {
  mailbox: string;
  folder: string;
}

/** Why a plan of a revoked connector does not run: its credentials are void, it takes no jobs. */
/** Why a plan's connector takes no job (revoked, or no longer the tenant's), or null when it may. */
function connectorRefusal(connectorId: string, connectors: readonly ConnectorRef[]): string | null {
  const connector = connectors.find((candidate) => candidate.id === connectorId);
  if (!connector)
    return `connector ${connectorId} is not the tenant's any more; move the plan to an enrolled connector`;
  if (connector.revokedAt === null) return null;
  return `connector ${connectorId} was revoked on ${connector.revokedAt.toISOString()}; move the plan to an enrolled connector`;
}

@Injectable()
export class PrismaDispatchRepository implements DispatchRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async tenantsWithDuePlans(now: Date, limit: number): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<Array<{ tenant_id: string }>>`
      SELECT DISTINCT tenant_id FROM (
        SELECT tenant_id FROM backup_plans
        WHERE enabled AND deleted_at IS NULL AND cron IS NOT NULL AND next_run_at <= ${now}
        ORDER BY next_run_at
        LIMIT ${limit}
      ) due`;
    return rows.map((row) => row.tenant_id);
  }

  async queueDuePlans(
    now: Date,
    limit: number,
    nextRun: (plan: PlanRecord) => Date | null,
    verdicts: ReadonlyMap<string, MlrVerdict>,
    connectors: ReadonlyMap<string, readonly ConnectorRef[]>,
  ): Promise<{ queued: BackupCommand[]; refused: RefusedRun[]; skipped: SkippedRun[] }> {
    const checkedTenants = [...verdicts.keys()].filter((tenantId) => connectors.has(tenantId));
    if (checkedTenants.length === 0) return { queued: [], refused: [], skipped: [] };
    return this.prisma.$transaction(
      async (tx) => {
        // SKIP LOCKED: a plan another replica is claiming is its business. When that replica
        // commits, the plan's next_run_at has moved on, so nobody claims the same due time twice.
        // Only plans of tenants licensing was asked about: one that became due since waits a tick.
        const due = await tx.$queryRaw<Array<{ id: string }>>`
          SELECT id FROM backup_plans
          WHERE enabled AND deleted_at IS NULL AND cron IS NOT NULL AND next_run_at <= ${now}
            AND tenant_id = ANY(${checkedTenants})
          ORDER BY next_run_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED`;
        if (due.length === 0) return { queued: [], refused: [], skipped: [] };
        const rows = await tx.backupPlan.findMany({ where: { id: { in: due.map((d) => d.id) } } });
        const pending = await tx.job.findMany({
          where: { planId: { in: rows.map((row) => row.id) }, state: { in: ['queued', 'running', 'stalled'] } },
          select: { id: true, planId: true },
          orderBy: { createdAt: 'asc' },
        });
        const pendingOf = new Map(pending.map((job) => [job.planId, job.id]));
        const queued: BackupCommand[] = [];
        const refused: RefusedRun[] = [];
        const skipped: SkippedRun[] = [];
        for (const row of rows) {
          const plan = planFromRow(row);
          const pendingJobId = pendingOf.get(plan.id);
          if (pendingJobId !== undefined) {
            skipped.push({ tenantId: plan.tenantId, planId: plan.id, pendingJobId });
            await tx.backupPlan.update({ where: { id: plan.id }, data: { nextRunAt: nextRun(plan) } });
            continue;
          }
          const verdict = verdicts.get(plan.tenantId);
          const refusal =
            verdict && !verdict.allowed
              ? verdict.message
              : connectorRefusal(plan.connectorId, connectors.get(plan.tenantId) ?? []);
          if (refusal) {
            const reason = `backup refused before any mail was read: ${refusal}`;
            const command = await this.queueJob(tx, plan, SCHEDULE_REQUESTER, false, now, reason);
            refused.push({ jobId: command.jobId, tenantId: plan.tenantId, planId: plan.id, reason });
          } else {
            queued.push(await this.queueJob(tx, plan, SCHEDULE_REQUESTER, false, now));
          }
          await tx.backupPlan.update({ where: { id: plan.id }, data: { nextRunAt: nextRun(plan), lastRunAt: now } });
        }
        return { queued, refused, skipped };
      },
      { timeout: 30_000 },
    );
  }

  async queuePlanRun(
    tenantId: string,
    planId: string,
    requestedBy: string,
    full: boolean,
    now: Date,
    connectors: readonly ConnectorRef[],
  ): Promise<PlanRunOutcome> {
    return this.prisma.$transaction(
      async (tx): Promise<PlanRunOutcome> => {
        const locked = await tx.$queryRaw<Array<{ id: string }>>`
          SELECT id FROM backup_plans
          WHERE id = ${planId} AND tenant_id = ${tenantId} AND deleted_at IS NULL
          FOR UPDATE`;
        if (locked.length === 0) return { refused: 'not_found' };
        const row = await tx.backupPlan.findUniqueOrThrow({ where: { id: planId } });
        if (!row.enabled) return { refused: 'disabled' };
        const refusal = connectorRefusal(row.connectorId, connectors);
        if (refusal) return { refused: 'connector_revoked', reason: refusal };
        const command = await this.queueJob(tx, planFromRow(row), requestedBy, full, now);
        await tx.backupPlan.update({ where: { id: planId }, data: { lastRunAt: now } });
        return { queued: command };
      },
      { timeout: 30_000 },
    );
  }

  async markPublished(jobId: string, at: Date): Promise<void> {
    await this.prisma.job.updateMany({ where: { id: jobId, publishedAt: null }, data: { publishedAt: at } });
  }

  async markStalled(now: Date, stallAfterMs: number, limit: number): Promise<StalledJob[]> {
    const cutoff = new Date(now.getTime() - stallAfterMs);
    const candidates = await this.prisma.job.findMany({
      where: {
        state: 'running',
        OR: [{ progressAt: { lt: cutoff } }, { progressAt: null, startedAt: { lt: cutoff } }],
      },
      orderBy: { startedAt: 'asc' },
      take: limit,
      select: { id: true, tenantId: true, connectorId: true, progressAt: true, startedAt: true, lastEventAt: true },
    });
    const stalled: StalledJob[] = [];
    for (const job of candidates) {
      const reason = stallReason(job, now, stallAfterMs);
      // Only if nothing moved since it was read: an event applied meanwhile wins.
      const { count } = await this.prisma.job.updateMany({
        where: { id: job.id, state: 'running', progressAt: job.progressAt },
        data: { state: 'stalled', stalledReason: reason },
      });
      if (count === 1) stalled.push({ jobId: job.id, tenantId: job.tenantId, connectorId: job.connectorId, reason });
    }
    return stalled;
  }

  async unpublishedJobIds(createdBefore: Date, limit: number): Promise<string[]> {
    const rows = await this.prisma.job.findMany({
      where: {
        state: 'queued',
        publishedAt: null,
        createdAt: { lt: createdBefore },
        requestedBy: { not: CONNECTOR_CLI_REQUESTER },
      },
      orderBy: { createdAt: 'asc' },
      take: limit,
      select: { id: true },
    });
    return rows.map((row) => row.id);
  }

  async republish(jobId: string, at: Date, publish: (command: JobCommand) => Promise<void>): Promise<boolean> {
    return this.prisma.$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<Array<{ request: unknown }>>`
          SELECT request FROM jobs
          WHERE id = ${jobId} AND published_at IS NULL AND state = 'queued'
          FOR UPDATE SKIP LOCKED`;
        const row = rows[0];
        if (!row) return false;
        await publish(jobCommandSchema.parse(row.request));
        await tx.job.update({ where: { id: jobId }, data: { publishedAt: at } });
        return true;
      },
      { timeout: 60_000 },
    );
  }

  /** Creates the job of one plan run; with `refusal` it is created failed for that reason (never published). */
  private async queueJob(
    tx: Tx,
    plan: PlanRecord,
    requestedBy: string,
    full: boolean,
    now: Date,
    refusal?: string,
  ): Promise<BackupCommand> {
    const command = buildBackupCommand({
      jobId: randomUUID(),
      plan,
      checkpoints: full ? [] : await this.checkpointsFor(tx, plan),
      requestedAt: now,
      requestedBy,
      full,
    });
    await tx.job.create({
      data: {
        id: command.jobId,
        tenantId: plan.tenantId,
        connectorId: plan.connectorId,
        planId: plan.id,
        kind: 'backup',
        request: command as unknown as Prisma.InputJsonObject,
        requestedBy,
        createdAt: now,
        ...(refusal === undefined ? { state: 'queued' } : { state: 'failed', error: refusal, finishedAt: now }),
      },
    });
    return command;
  }

  /** The connector's committed checkpoints of the plan's mailboxes (addresses compare case-blind). */
  private async checkpointsFor(tx: Tx, plan: PlanRecord): Promise<FolderCheckpoint[]> {
    const rows = await tx.$queryRaw<CheckpointRow[]>`
      SELECT mailbox, folder, source, cursor_version, epoch, position, changes, state FROM folder_checkpoints
      WHERE tenant_id = ${plan.tenantId} AND connector_id = ${plan.connectorId}
      ORDER BY mailbox, folder`;
    const wanted =
      plan.mailboxes.kind === 'list' ? new Set(plan.mailboxes.mailboxes.map((m) => m.toLowerCase())) : null;
    return rows
      .filter((row) => !wanted || wanted.has(row.mailbox.toLowerCase()))
      .map((row) => ({
        mailbox: row.mailbox,
        folder: row.folder,
        cursor: reportedCursor(cursorOfRow(row)),
      }));
  }
}
