import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import {
  EXPIRE_MAX_MAILBOXES,
  expireRecordsResponseSchema,
  serviceSubject,
  type AuditEventInput,
  type ExpireRecordsRequest,
  type ExpireRecordsResponse,
} from '@mlr/contracts';
import type { PrismaClient } from '@mlr/db';
import { describeError } from '@mlr/messaging';
import { PeriodicTask } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { metrics } from '@opentelemetry/api';
import { mailboxRetention } from './mailbox-retention.js';

const DAY_MS = 24 * 60 * 60_000;
/** Calls a mailbox gets per run at most (each removes up to EXPIRE_MAX_RECORDS): the rest waits for the next run. */
const MAX_ROUNDS = 100;

/** The calls the expiry makes: indexing's `records.expire`, licensing's `audit.record`. */
export interface ExpiryCalls {
  expire(request: ExpireRecordsRequest): Promise<ExpireRecordsResponse>;
  audit(event: AuditEventInput): Promise<void>;
}

export interface ExpiryRun {
  tenants: number;
  /** Mailboxes with a retention in days (the others are kept until deleted). */
  mailboxes: number;
  expired: number;
  released: number;
  /** Mailboxes a legal hold kept. */
  held: number;
  /** Mailboxes whose expiry failed this time (the next run tries again). */
  failed: number;
}

/**
 * Enforces the plans' retention: every `everyMs`, for each tenant, works out how long each mailbox
 * is kept (`mailboxRetention`: the longest plan covering it; "until deleted" wins) and asks indexing
 * to remove the index records first backed up longer ago than that, except where a legal hold
 * covers the mailbox or the tenant; their objects lose those references (and go to the collector
 * once nothing references them and their lock has ended). What went is audited per mailbox
 * (`records.expire`, by system/scheduling). A failed tenant does not stop the others; the next run
 * takes up what this one could not. Several replicas may run it at once: indexing removes each
 * record once (rows are locked and skipped), so each one is audited once.
 */
export class RetentionExpiry implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodic: PeriodicTask;
  private readonly expiredCounter = metrics.getMeter('mlr-scheduling').createCounter('mlr.scheduling.records.expired', {
    description: 'Index records removed because their plan retention ended',
  });

  constructor(
    private readonly prisma: PrismaClient,
    private readonly calls: ExpiryCalls,
    private readonly logger: Logger,
    everyMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.periodic = new PeriodicTask(() => this.run(), {
      everyMs,
      immediately: true,
      onError: (error) =>
        logger.warn({ event: 'expiry.failed', error: describeError(error) }, 'retention expiry did not run this time'),
    });
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodic.stop();
  }

  async run(): Promise<ExpiryRun> {
    const outcome: ExpiryRun = { tenants: 0, mailboxes: 0, expired: 0, released: 0, held: 0, failed: 0 };
    const plans = await this.prisma.backupPlan.findMany({
      where: { deletedAt: null },
      select: { tenantId: true, connectorId: true, mailboxSelection: true, retentionDays: true },
    });
    const allMailboxConnectors = [
      ...new Set(
        plans
          .filter((plan) => (plan.mailboxSelection as { kind?: unknown } | null)?.kind === 'all')
          .map((plan) => plan.connectorId),
      ),
    ];
    // The mailboxes a connector backs up: those it has checkpoints of (and any it has listed).
    const [checkpoints, listed] = await Promise.all([
      this.prisma.folderCheckpoint.findMany({
        where: { connectorId: { in: allMailboxConnectors } },
        select: { connectorId: true, mailbox: true },
        distinct: ['connectorId', 'mailbox'],
      }),
      this.prisma.mailbox.findMany({
        where: { connectorId: { in: allMailboxConnectors } },
        select: { connectorId: true, address: true },
      }),
    ]);
    const known = [
      ...checkpoints,
      ...listed.map((mailbox) => ({ connectorId: mailbox.connectorId, mailbox: mailbox.address })),
    ];
    const mailboxesOf = (connectorId: string) =>
      known.filter((entry) => entry.connectorId === connectorId).map((entry) => entry.mailbox);
    const now = this.now();
    for (const [tenantId, retention] of mailboxRetention(plans, mailboxesOf)) {
      const due = [...retention].flatMap(([mailbox, days]) =>
        days === null ? [] : [{ mailbox, days, before: new Date(now - days * DAY_MS).toISOString() }],
      );
      if (due.length === 0) continue;
      outcome.tenants++;
      outcome.mailboxes += due.length;
      // Each call removes a bounded number of records a mailbox and says where more are left: those
      // are asked again, so that every removal is answered — and audited — in time.
      let pending = due;
      for (let round = 0; pending.length > 0 && round < MAX_ROUNDS; round++) {
        const more: typeof due = [];
        for (let start = 0; start < pending.length; start += EXPIRE_MAX_MAILBOXES) {
          more.push(...(await this.expireBatch(tenantId, pending.slice(start, start + EXPIRE_MAX_MAILBOXES), outcome)));
        }
        pending = more;
      }
    }
    if (outcome.expired > 0 || outcome.failed > 0) {
      this.logger.info({ event: 'expiry.run', ...outcome }, 'retention expiry ran');
    }
    return outcome;
  }

  /** One `records.expire` call; returns the mailboxes with records left past their cut-off. */
  private async expireBatch(
    tenantId: string,
    batch: Array<{ mailbox: string; days: number; before: string }>,
    outcome: ExpiryRun,
  ): Promise<Array<{ mailbox: string; days: number; before: string }>> {
    const more: Array<{ mailbox: string; days: number; before: string }> = [];
    let answer: ExpireRecordsResponse;
    try {
      answer = await this.calls.expire({
        tenantId,
        mailboxes: batch.map(({ mailbox, before }) => ({ mailbox, before })),
      });
    } catch (error) {
      outcome.failed += batch.length;
      this.logger.warn(
        { event: 'expiry.tenant-failed', tenantId, mailboxes: batch.length, error: describeError(error) },
        `index records of tenant ${tenantId} not expired this time`,
      );
      return more;
    }
    for (const result of answer.mailboxes) {
      if (result.held) outcome.held++;
      const rule = batch.find((entry) => entry.mailbox === result.mailbox);
      if (result.more && rule) more.push(rule);
      if (result.expired === 0) continue;
      outcome.expired += result.expired;
      outcome.released += result.released;
      this.expiredCounter.add(result.expired);
      await this.audit({
        tenantId,
        actor: 'scheduling',
        role: 'system',
        action: 'records.expire',
        target: `mailbox:${result.mailbox}`,
        outcome: 'success',
        detail: {
          expired: result.expired,
          releasedObjects: result.released,
          retentionDays: rule?.days ?? null,
          backedUpBefore: rule?.before ?? null,
        },
      });
    }
    return more;
  }

  /** The records are gone either way: an audit that fails is logged with everything it would have said. */
  private async audit(event: AuditEventInput): Promise<void> {
    try {
      await this.calls.audit(event);
    } catch (error) {
      this.logger.error(
        { event: 'expiry.audit-failed', audit: event, error: describeError(error) },
        'expired index records could not be recorded in the audit trail',
      );
    }
  }
}

/** The expiry's calls over NATS, through `request` (a Nest verb request: subject, data, timeout). */
export function natsExpiryCalls(
  request: (subject: string, data: unknown, timeoutMs: number) => Promise<unknown>,
): ExpiryCalls {
  return {
    // Removing a large mailbox's expired records takes a while: batches of 2,000 rows each.
    expire: async (data) =>
      expireRecordsResponseSchema.parse(await request(serviceSubject('indexing', 'records.expire'), data, 300_000)),
    audit: async (event) => {
      await request(serviceSubject('licensing', 'audit.record'), event, 10_000);
    },
  };
}
