import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type JobState, type Prisma, type PrismaClient } from '@mlr/db';
import type { FolderCheckpoint, JobEvent } from '@mlr/contracts';
import { CONNECTOR_CLI_REQUESTER } from '../dispatch/backup-command.js';
import { applyRestoreResults } from '../restores/restore-results.js';
import { CONNECTOR_DIRECTORY, type ConnectorDirectory } from '../licensing/connector-directory.js';
import {
  cursorOfRow,
  earlierStart,
  mergeCheckpoint,
  progressAfter,
  type CursorRow,
  type JobProgress,
} from './job-event-rules.js';

type Tx = Prisma.TransactionClient;

/** An event that can never be applied (it names a connector or job of another tenant, or none). */
export class JobEventRefused extends Error {
  override readonly name = 'JobEventRefused';
}

export interface ApplyOutcome {
  /** The job did not exist: a job the connector started itself (CLI), now recorded. */
  createdJob: boolean;
  /** False when the event was not newer than the last one applied (only its errors/checkpoints counted). */
  progressed: boolean;
  state: JobState;
  checkpointsWritten: number;
  /** Restore items whose result this event recorded (0 when all were recorded before). */
  itemResultsApplied: number;
}

/** Applies job events to jobs, their item errors and the connector's folder checkpoints. */
export interface JobEventRepository {
  apply(event: JobEvent): Promise<ApplyOutcome>;
}

export const JOB_EVENT_REPOSITORY = Symbol('JOB_EVENT_REPOSITORY');

interface LockedJob {
  tenant_id: string;
  connector_id: string;
  kind: string;
  state: JobState;
  last_event_sequence: bigint | null;
  started_at: Date | null;
  finished_at: Date | null;
  seen_count: number;
  new_count: number;
  deduplicated_count: number;
  bytes: bigint;
  failed_count: number;
  restored_count: number;
  skipped_count: number;
}

function progressOf(job: LockedJob): JobProgress {
  return {
    state: job.state,
    lastEventSequence: job.last_event_sequence === null ? null : Number(job.last_event_sequence),
    startedAt: job.started_at,
    finishedAt: job.finished_at,
    counters: {
      seen: job.seen_count,
      new: job.new_count,
      deduplicated: job.deduplicated_count,
      bytes: Number(job.bytes),
      failed: job.failed_count,
      restored: job.restored_count,
      skipped: job.skipped_count,
    },
  };
}

@Injectable()
export class PrismaJobEventRepository implements JobEventRepository {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(CONNECTOR_DIRECTORY) private readonly connectors: ConnectorDirectory,
  ) {}

  async apply(event: JobEvent): Promise<ApplyOutcome> {
    // A job scheduling never created (the connector started it): its connector must be the tenant's,
    // as licensing says — asked before the transaction, which holds no lock meanwhile. Licensing
    // unreachable: the event fails and is delivered again later.
    const known = await this.prisma.job.findUnique({ where: { id: event.jobId }, select: { id: true } });
    if (!known) await this.requireConnector(event);
    return this.prisma.$transaction((tx) => this.applyIn(tx, event), { timeout: 30_000 });
  }

  private async requireConnector(event: JobEvent): Promise<void> {
    const connectors = await this.connectors.list(event.tenantId);
    if (!connectors.some((connector) => connector.id === event.connectorId)) {
      throw new JobEventRefused(
        `event of unknown job ${event.jobId} names connector ${event.connectorId}, which tenant ${event.tenantId} does not have`,
      );
    }
  }

  private async applyIn(tx: Tx, event: JobEvent): Promise<ApplyOutcome> {
    let job = await this.lockJob(tx, event.jobId);
    let createdJob = false;
    if (!job) {
      await this.createConnectorJob(tx, event);
      job = await this.lockJob(tx, event.jobId);
      createdJob = true;
      if (!job) throw new Error(`job ${event.jobId} vanished while being recorded`);
    }
    if (job.tenant_id !== event.tenantId || job.connector_id !== event.connectorId) {
      throw new JobEventRefused(
        `job ${event.jobId} belongs to connector ${job.connector_id} of tenant ${job.tenant_id}, not to connector ${event.connectorId} of tenant ${event.tenantId}`,
      );
    }

    const progress = progressAfter(progressOf(job), event);
    // Scheduling's own clock: the connector's may be off.
    const heardAt = new Date();
    const startedEarlier = progress ? null : earlierStart(progressOf(job), event);
    if (startedEarlier) await tx.job.update({ where: { id: event.jobId }, data: { startedAt: startedEarlier } });
    if (progress) {
      await tx.job.update({
        where: { id: event.jobId },
        data: {
          state: progress.state,
          lastEventSequence: BigInt(event.sequence),
          seenCount: progress.counters.seen,
          newCount: progress.counters.new,
          deduplicatedCount: progress.counters.deduplicated,
          bytes: BigInt(progress.counters.bytes),
          failedCount: progress.counters.failed,
          restoredCount: progress.counters.restored,
          skippedCount: progress.counters.skipped,
          startedAt: progress.startedAt,
          finishedAt: progress.finishedAt,
          lastEventAt: heardAt,
          // The stall watch measures from the last progress (`markStalled` of the dispatch repository).
          ...(progress.progressed ? { progressAt: heardAt } : {}),
          ...(progress.state === 'stalled' ? {} : { stalledReason: null }),
          ...(progress.state === 'failed' ? { error: this.jobError(event) } : {}),
        },
      });
    }

    // Errors and checkpoints of an event are news since the previous event of its job, so even a
    // straggler's count; (sequence, index) keeps a redelivered event from adding them twice.
    if (event.errors.length > 0) {
      await tx.jobItemError.createMany({
        data: event.errors.map((error, index) => ({
          jobId: event.jobId,
          tenantId: event.tenantId,
          scope: error.scope,
          target: error.target,
          message: error.message,
          ...(error.item
            ? {
                mailbox: error.item.mailbox,
                folder: error.item.folder,
                sightingSource: error.item.sourceKey.source,
                sightingEpoch: error.item.sourceKey.epoch,
                sightingId: error.item.sourceKey.id,
              }
            : {}),
          eventSequence: BigInt(event.sequence),
          eventIndex: index,
          at: new Date(event.at),
        })),
        skipDuplicates: true,
      });
    }
    // Item results, like errors, are news since the previous event; each item keeps the newest event's.
    const itemResultsApplied =
      job.kind === 'restore' || job.kind === 'export' ? await applyRestoreResults(tx, event) : 0;
    let checkpointsWritten = 0;
    // A fixed order, so that two jobs of one connector never wait on each other's rows in a cycle.
    const ordered = [...event.checkpoints].sort((a, b) =>
      a.mailbox === b.mailbox ? a.folder.localeCompare(b.folder) : a.mailbox.localeCompare(b.mailbox),
    );
    for (const checkpoint of ordered) {
      if (await this.writeCheckpoint(tx, event, checkpoint, progress !== null)) checkpointsWritten++;
    }
    return {
      createdJob,
      progressed: progress !== null,
      state: progress?.state ?? job.state,
      checkpointsWritten,
      itemResultsApplied,
    };
  }

  private jobError(event: JobEvent): string | null {
    const jobLevel = event.errors.filter((e) => e.scope === 'job').map((e) => e.message);
    return jobLevel.length > 0 ? jobLevel.join('; ') : null;
  }

  private async lockJob(tx: Tx, jobId: string): Promise<LockedJob | null> {
    const rows = await tx.$queryRaw<LockedJob[]>`
      SELECT tenant_id, connector_id, kind::text AS kind, state::text AS state, last_event_sequence, started_at, finished_at,
             seen_count, new_count, deduplicated_count, bytes, failed_count, restored_count, skipped_count
      FROM jobs WHERE id = ${jobId} FOR UPDATE`;
    return rows[0] ?? null;
  }

  /** Records a job the connector started by itself (e.g. a one-off CLI backup; its connector checked in `apply`). */
  private async createConnectorJob(tx: Tx, event: JobEvent): Promise<void> {
    await tx.job.createMany({
      data: [
        {
          id: event.jobId,
          tenantId: event.tenantId,
          connectorId: event.connectorId,
          kind: event.kind,
          state: 'queued',
          // There is no command of ours: the connector started it.
          request: { kind: event.kind, origin: CONNECTOR_CLI_REQUESTER },
          requestedBy: CONNECTOR_CLI_REQUESTER,
          createdAt: new Date(event.at),
        },
      ],
      skipDuplicates: true,
    });
  }

  private async writeCheckpoint(
    tx: Tx,
    event: JobEvent,
    checkpoint: FolderCheckpoint,
    fromNewestEvent: boolean,
  ): Promise<boolean> {
    const key = { connectorId: event.connectorId, mailbox: checkpoint.mailbox, folder: checkpoint.folder };
    const rows = await tx.$queryRaw<CursorRow[]>`
      SELECT source, cursor_version, epoch, position, changes, state FROM folder_checkpoints
      WHERE connector_id = ${key.connectorId} AND mailbox = ${key.mailbox} AND folder = ${key.folder}
      FOR UPDATE`;
    const current = rows[0];
    const decision = mergeCheckpoint(current ? cursorOfRow(current) : null, checkpoint, fromNewestEvent);
    if (decision.action === 'keep') return false;
    const { version, ...rest } = decision.value;
    const value = { ...rest, cursorVersion: version };
    if (!current) {
      // Two events may create the same folder's first checkpoint at once: the loser merges into the winner's row.
      const inserted = await tx.folderCheckpoint.createMany({
        data: [{ tenantId: event.tenantId, ...key, ...value }],
        skipDuplicates: true,
      });
      if (inserted.count === 1) return true;
      return this.writeCheckpoint(tx, event, checkpoint, fromNewestEvent);
    }
    await tx.folderCheckpoint.update({ where: { connectorId_mailbox_folder: key }, data: value });
    return true;
  }
}
