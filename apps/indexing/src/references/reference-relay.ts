import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { REFERENCE_BATCH_MAX, type AppliedReferences, type ApplyReferencesRequest } from '@mlr/contracts';
import type { PrismaClient } from '@mlr/db';
import { describeError } from '@mlr/messaging';
import { PeriodicTask } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { metrics } from '@opentelemetry/api';

/** Batches relayed per tick at most; the rest waits for the next tick. */
const MAX_BATCHES_PER_TICK = 20;
/** The backlog gauge counts up to this many changes (a count of more would read the whole outbox). */
const BACKLOG_CAP = 1_000_000;

export interface ReferenceRelaySettings {
  everyMs: number;
  /** Changes per `references.apply` (at most REFERENCE_BATCH_MAX). */
  batchSize?: number;
}

/**
 * Brings indexing's reference changes (reference_changes, written with the records) to storage,
 * which owns the counts: a batch at a time, oldest first, in a transaction that holds its rows
 * (another replica's relay skips them) until storage has answered, then removes them. Storage applies
 * each change once by its id, so a batch sent again after a lost answer or a crash counts nothing
 * twice; `settledBelow` (the smallest id still in the outbox) tells it which ids it may forget. While
 * storage cannot be asked, the changes wait in the outbox, and storage's collector removes nothing of
 * a tenant that has some (`references.pending`).
 */
export class ReferenceRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodic: PeriodicTask;
  private readonly batchSize: number;
  private readonly backlog = metrics.getMeter('mlr-indexing').createGauge('mlr.indexing.reference_changes.pending', {
    description: 'Reference changes in the outbox that storage has not applied yet (capped at 1,000,000)',
  });

  constructor(
    private readonly prisma: PrismaClient,
    private readonly apply: (request: ApplyReferencesRequest) => Promise<AppliedReferences>,
    private readonly logger: Logger,
    settings: ReferenceRelaySettings,
  ) {
    this.batchSize = Math.min(settings.batchSize ?? REFERENCE_BATCH_MAX, REFERENCE_BATCH_MAX);
    this.periodic = new PeriodicTask(() => this.relay(), {
      everyMs: settings.everyMs,
      onError: (error) =>
        logger.warn(
          { event: 'references.relay.failed', error: describeError(error) },
          'reference changes not relayed to storage this time; they wait in the outbox',
        ),
    });
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodic.stop();
  }

  /** Relays what is in the outbox (up to MAX_BATCHES_PER_TICK batches); answers how many changes went. */
  async relay(): Promise<number> {
    let relayed = 0;
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_TICK; batch++) {
        const sent = await this.relayBatch();
        relayed += sent;
        if (sent < this.batchSize) break;
      }
    } finally {
      await this.measureBacklog().catch(() => undefined);
    }
    return relayed;
  }

  private async relayBatch(): Promise<number> {
    return this.prisma.$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<Array<{ id: bigint; object_id: string; delta: number }>>`
          SELECT id, object_id, delta FROM reference_changes ORDER BY id LIMIT ${this.batchSize} FOR UPDATE SKIP LOCKED`;
        if (rows.length === 0) return 0;
        // The smallest id still in the outbox (another replica's rows included): every lower id has
        // been applied and removed, or belongs to a transaction not yet committed, never sent.
        const [floor] = await tx.$queryRaw<Array<{ min: bigint }>>`SELECT min(id) AS min FROM reference_changes`;
        const answer = await this.apply({
          changes: rows.map((row) => ({ id: Number(row.id), objectId: row.object_id, delta: row.delta })),
          settledBelow: Number(floor?.min ?? rows[0]?.id),
        });
        if (answer.unknownObjects > 0) {
          this.logger.warn(
            { event: 'references.unknown-objects', unknownObjects: answer.unknownObjects },
            'storage has no object for some reference changes (removed already); nothing to count for them',
          );
        }
        await tx.$executeRaw`DELETE FROM reference_changes WHERE id = ANY(${rows.map((row) => Number(row.id))}::bigint[])`;
        return rows.length;
      },
      { timeout: 60_000 },
    );
  }

  private async measureBacklog(): Promise<void> {
    const [row] = await this.prisma.$queryRaw<Array<{ n: bigint }>>`
      SELECT count(*) AS n FROM (SELECT 1 FROM reference_changes LIMIT ${BACKLOG_CAP}) capped`;
    this.backlog.record(Number(row?.n ?? 0));
  }
}
