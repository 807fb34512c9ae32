import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type Prisma, type PrismaClient, type RestoreItem as RestoreItemRow } from '@mlr/db';
import {
  messageFlagsSchema,
  type JobCommand,
  type ResolvedRecord,
  type RestoreItem,
  type RestoreItemView,
  type RestoreOutcome,
} from '@mlr/contracts';

export type RestoreCommand = Extract<JobCommand, { kind: 'restore' }>;

/** Items written per statement when a job is created (15 parameters each, far below PostgreSQL's 32767). */
const INSERT_CHUNK = 1_000;

/** Restore and export jobs with their items, always within one tenant. */
export interface RestoreRepository {
  /**
   * In one transaction: the job (queued, its command as request) and its items, numbered from 0 in
   * the order given. Nothing is written when anything fails.
   */
  createJob(input: {
    command: RestoreCommand;
    kind: 'restore' | 'export';
    items: readonly ResolvedRecord[];
    createdAt: Date;
    /** The caller runs the job: it counts as handed over at creation and is never published. */
    handedToCaller?: boolean;
  }): Promise<void>;
  /** Whether the tenant has a restore or export job of that id. */
  restoreJobExists(tenantId: string, jobId: string): Promise<boolean>;
  /** Up to `limit` items with `seq` greater than `after`, in `seq` order, for the connector. */
  itemsAfter(jobId: string, after: number, limit: number): Promise<RestoreItem[]>;
  /** How many items the job has. */
  itemCount(jobId: string): Promise<number>;
  /**
   * Up to `limit` items with `seq` greater than `after`, with their results; only those with that
   * outcome and in those mailboxes, when given.
   */
  itemViews(
    jobId: string,
    options: { after: number; limit: number; outcome?: RestoreOutcome | 'pending'; mailboxes?: readonly string[] },
  ): Promise<RestoreItemView[]>;
}

export const RESTORE_REPOSITORY = Symbol('RESTORE_REPOSITORY');

export function toRestoreItem(row: RestoreItemRow): RestoreItem {
  return {
    seq: row.seq,
    recordId: row.recordId,
    contentId: row.contentId,
    mailbox: row.mailbox,
    folder: row.folder,
    messageId: row.messageId,
    subject: row.subject,
    internalDate: row.internalDate?.toISOString() ?? null,
    // Written by createJob from a validated item; a row that does not parse is a bug worth failing on.
    flags: messageFlagsSchema.parse(row.flags),
    keywords: row.keywords,
    size: Number(row.size),
    itemType: row.itemType,
    form: row.form,
  };
}

export function toRestoreItemView(row: RestoreItemRow): RestoreItemView {
  return {
    seq: row.seq,
    recordId: row.recordId,
    mailbox: row.mailbox,
    folder: row.folder,
    messageId: row.messageId,
    subject: row.subject,
    size: Number(row.size),
    itemType: row.itemType,
    form: row.form,
    outcome: row.outcome,
    reason: row.reason,
    targetMailbox: row.targetMailbox,
    targetFolder: row.targetFolder,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

@Injectable()
export class PrismaRestoreRepository implements RestoreRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async createJob(input: {
    command: RestoreCommand;
    kind: 'restore' | 'export';
    items: readonly ResolvedRecord[];
    createdAt: Date;
    handedToCaller?: boolean;
  }): Promise<void> {
    const { command } = input;
    await this.prisma.$transaction(
      async (tx) => {
        await tx.job.create({
          data: {
            id: command.jobId,
            tenantId: command.tenantId,
            connectorId: command.connectorId,
            kind: input.kind,
            state: 'queued',
            request: command as unknown as Prisma.InputJsonObject,
            requestedBy: command.requestedBy,
            createdAt: input.createdAt,
            ...(input.handedToCaller ? { publishedAt: input.createdAt } : {}),
          },
        });
        for (let start = 0; start < input.items.length; start += INSERT_CHUNK) {
          await tx.restoreItem.createMany({
            data: input.items.slice(start, start + INSERT_CHUNK).map((item, index) => ({
              jobId: command.jobId,
              seq: start + index,
              recordId: item.recordId,
              contentId: item.contentId,
              mailbox: item.mailbox,
              folder: item.folder,
              messageId: item.messageId,
              subject: item.subject,
              internalDate: item.internalDate === null ? null : new Date(item.internalDate),
              flags: item.flags,
              keywords: item.keywords,
              size: BigInt(item.size),
              itemType: item.itemType,
              form: item.form,
            })),
          });
        }
      },
      { timeout: 60_000 },
    );
  }

  async restoreJobExists(tenantId: string, jobId: string): Promise<boolean> {
    const job = await this.prisma.job.findFirst({
      where: { id: jobId, tenantId, kind: { in: ['restore', 'export'] } },
      select: { id: true },
    });
    return job !== null;
  }

  async itemsAfter(jobId: string, after: number, limit: number): Promise<RestoreItem[]> {
    const rows = await this.prisma.restoreItem.findMany({
      where: { jobId, seq: { gt: after } },
      orderBy: { seq: 'asc' },
      take: limit,
    });
    return rows.map(toRestoreItem);
  }

  itemCount(jobId: string): Promise<number> {
    return this.prisma.restoreItem.count({ where: { jobId } });
  }

  async itemViews(
    jobId: string,
    options: { after: number; limit: number; outcome?: RestoreOutcome | 'pending'; mailboxes?: readonly string[] },
  ): Promise<RestoreItemView[]> {
    const rows = await this.prisma.restoreItem.findMany({
      where: {
        jobId,
        seq: { gt: options.after },
        ...(options.outcome ? { outcome: options.outcome } : {}),
        ...(options.mailboxes ? { mailbox: { in: [...options.mailboxes] } } : {}),
      },
      orderBy: { seq: 'asc' },
      take: options.limit,
    });
    return rows.map(toRestoreItemView);
  }
}
