import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type Job, type PrismaClient } from '@mlr/db';
import type { JobDetail, JobItemErrorView, JobSummary } from '@mlr/contracts';

/** Reads jobs of a tenant (newest first) with their counters and item errors. */
export interface JobRepository {
  get(tenantId: string, jobId: string, errorLimit: number): Promise<JobDetail | null>;
  list(
    tenantId: string,
    options: { planId?: string | undefined; requestedBy?: string | undefined; limit: number },
  ): Promise<JobSummary[]>;
}

export const JOB_REPOSITORY = Symbol('JOB_REPOSITORY');

const ERROR_SCOPES = new Set<JobItemErrorView['scope']>(['job', 'mailbox', 'folder', 'message']);

function summary(job: Job & { _count: { itemErrors: number } }): JobSummary {
  return {
    id: job.id,
    tenantId: job.tenantId,
    connectorId: job.connectorId,
    planId: job.planId,
    kind: job.kind,
    state: job.state,
    requestedBy: job.requestedBy,
    counters: {
      seen: job.seenCount,
      new: job.newCount,
      deduplicated: job.deduplicatedCount,
      bytes: Number(job.bytes),
      failed: job.failedCount,
      restored: job.restoredCount,
      skipped: job.skippedCount,
    },
    error: job.error,
    stalledReason: job.state === 'stalled' ? job.stalledReason : null,
    errorCount: job._count.itemErrors,
    createdAt: job.createdAt.toISOString(),
    publishedAt: job.publishedAt?.toISOString() ?? null,
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    updatedAt: job.updatedAt.toISOString(),
  };
}

@Injectable()
export class PrismaJobRepository implements JobRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async get(tenantId: string, jobId: string, errorLimit: number): Promise<JobDetail | null> {
    const job = await this.prisma.job.findFirst({
      where: { id: jobId, tenantId },
      include: {
        _count: { select: { itemErrors: true } },
        itemErrors: { orderBy: [{ at: 'asc' }, { id: 'asc' }], take: errorLimit },
      },
    });
    if (!job) return null;
    return {
      ...summary(job),
      errors: job.itemErrors.map((error) => ({
        scope: ERROR_SCOPES.has(error.scope as JobItemErrorView['scope'])
          ? (error.scope as JobItemErrorView['scope'])
          : 'message',
        target: error.target ?? [error.mailbox, error.folder, error.sightingId].filter(Boolean).join('/'),
        message: error.message,
        at: error.at.toISOString(),
        ...(error.mailbox && error.folder && error.sightingSource && error.sightingEpoch && error.sightingId
          ? {
              item: {
                mailbox: error.mailbox,
                folder: error.folder,
                sourceKey: { source: error.sightingSource, epoch: error.sightingEpoch, id: error.sightingId },
              },
            }
          : {}),
      })),
    };
  }

  async list(
    tenantId: string,
    options: { planId?: string | undefined; requestedBy?: string | undefined; limit: number },
  ): Promise<JobSummary[]> {
    const jobs = await this.prisma.job.findMany({
      where: {
        tenantId,
        ...(options.planId ? { planId: options.planId } : {}),
        ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: options.limit,
      include: { _count: { select: { itemErrors: true } } },
    });
    return jobs.map(summary);
  }
}
