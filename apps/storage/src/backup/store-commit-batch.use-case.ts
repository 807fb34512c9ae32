import {
  subjects,
  type Channel,
  type ChannelPayloads,
  type IndexedBatch,
  type ObjectCommitBatch,
  type ObjectCommitItem,
  type ObjectLayout,
  type SightingResult,
  type StoredRecord,
  type StoredRecordBatch,
  type Subject,
} from '@mlr/contracts';
import type { Publisher } from '@mlr/messaging';
import type { ChunkStore } from './chunk-store.js';
import { CommitRejection } from './commit-rejection.js';
import { sealedObjectOf } from './sealed-bytes.js';
import type { StorageMetrics } from './storage-metrics.js';
import type { StoredObjectRepository } from './stored-object.repository.js';
import type { TenantLayouts } from './tenant-layouts.js';
import type { MemberToStore, ObjectWriter, StoredMember } from './writers/object-writer.js';

/** Where storage sends what it did with a batch (JetStream in production). */
export interface CommitOutcomeSink {
  /** The records of stored items, to indexing; resolves once durably published. */
  records(batch: StoredRecordBatch, msgId: string): Promise<void>;
  /** Items refused for good, straight to the connector; resolves once durably published. */
  rejections(batch: IndexedBatch, msgId: string): Promise<void>;
}

export interface StoreCommitBatchDeps {
  repository: Pick<StoredObjectRepository, 'findIdsByContentIds'>;
  /** Licensing's answer: tenants are licensing's. */
  layouts: TenantLayouts;
  chunks: ChunkStore;
  writers: Record<ObjectLayout, ObjectWriter>;
  sink: CommitOutcomeSink;
  metrics: StorageMetrics;
  /** Large sealed objects (chunked) up to this size are held in memory; larger ones are streamed. */
  holdUpToBytes: number;
  logger: {
    warn(fields: Record<string, unknown>, message: string): void;
    error(fields: Record<string, unknown>, message: string): void;
  };
}

/** The commit batch as JetStream delivered it. */
export interface BatchDelivery {
  /** Stream sequence of the batch (the same on every redelivery). */
  sequence: number;
}

export interface BatchOutcome {
  stored: number;
  deduplicated: number;
  rejected: number;
}

type ItemOutcome = { stored: StoredMember } | { rejected: CommitRejection };

const sightingOf = (item: ObjectCommitItem) => ({
  contentId: item.contentId,
  mailbox: item.record.mailbox,
  folder: item.record.folder,
  sourceKey: item.record.sourceKey,
});

/**
 * Stores one commit batch: every item's object durable in S3 (packed with others, or on its own, as
 * the tenant's layout says) and recorded in `stored_objects` — or already stored for the tenant
 * (single-instance) — before the batch's records go to indexing. An item that can never be stored
 * (its bytes are no sealed object of its content id, its chunks are gone, its tenant does not exist)
 * is answered to the connector with the reason, and its batch-mates are stored regardless. Anything
 * else (S3, PostgreSQL or NATS failing) fails the whole batch, which is redelivered: every step is
 * idempotent, so a redelivery stores nothing twice.
 */
export class StoreCommitBatch {
  /**
   * Per tenant, the batches being handled, each until its members are taken in by the writer: a
   * flush waits for those that arrived before it, which may still be looking up their content ids.
   */
  private readonly placing = new Map<string, Set<Promise<void>>>();

  constructor(private readonly deps: StoreCommitBatchDeps) {}

  async execute(batch: ObjectCommitBatch, data: Uint8Array, delivery: BatchDelivery): Promise<BatchOutcome> {
    let placed!: () => void;
    const placement = new Promise<void>((resolve) => (placed = resolve));
    const placing = this.placing.get(batch.tenantId) ?? new Set<Promise<void>>();
    // A flush of this batch waits for the batches before it and for this one to be placed.
    const flushAfter = [...placing, placement];
    placing.add(placement);
    this.placing.set(batch.tenantId, placing);
    let outcomes: ItemOutcome[];
    try {
      outcomes = await this.store(batch, data, placed, flushAfter);
    } finally {
      placed();
      placing.delete(placement);
      if (placing.size === 0 && this.placing.get(batch.tenantId) === placing) this.placing.delete(batch.tenantId);
    }
    const stored: StoredRecord[] = [];
    const rejected: SightingResult[] = [];
    let deduplicated = 0;
    batch.items.forEach((item, index) => {
      const outcome = outcomes[index] as ItemOutcome;
      if ('rejected' in outcome) {
        this.deps.metrics.itemRejected(outcome.rejected.code);
        rejected.push({ ...sightingOf(item), outcome: 'rejected', stage: 'storage', reason: outcome.rejected.message });
        return;
      }
      if (outcome.stored.objectStored === 'deduplicated') deduplicated++;
      stored.push({
        tenantId: batch.tenantId,
        jobId: batch.jobId,
        objectId: outcome.stored.objectId,
        objectStored: outcome.stored.objectStored,
        record: item.record,
      });
    });
    // Ids from the stream sequence: a redelivered batch publishes under the same ids, and the streams
    // keep each once.
    if (stored.length > 0) {
      await this.deps.sink.records(
        { tenantId: batch.tenantId, jobId: batch.jobId, records: stored },
        `records-${delivery.sequence}`,
      );
    }
    if (rejected.length > 0) {
      this.deps.logger.error(
        {
          tenantId: batch.tenantId,
          jobId: batch.jobId,
          batchId: batch.batchId,
          rejected: rejected.length,
          first: rejected[0],
        },
        'commit items refused for good',
      );
      await this.deps.sink.rejections(
        { tenantId: batch.tenantId, jobId: batch.jobId, results: rejected },
        `rejected-${delivery.sequence}`,
      );
    }
    await this.dropChunks(batch);
    return { stored: stored.length, deduplicated, rejected: rejected.length };
  }

  private async store(
    batch: ObjectCommitBatch,
    data: Uint8Array,
    placed: () => void,
    flushAfter: ReadonlyArray<Promise<void>>,
  ): Promise<ItemOutcome[]> {
    const { tenantId } = batch;
    const layout = await this.deps.layouts.layoutOf(tenantId);
    if (!layout) {
      const rejection = new CommitRejection('tenant-unknown', `tenant ${tenantId} does not exist; nothing is stored`);
      return batch.items.map(() => ({ rejected: rejection }));
    }
    const contentIds = [...new Set(batch.items.map((item) => item.contentId))];
    const existing = await this.deps.repository.findIdsByContentIds(tenantId, contentIds);
    const outcomes = new Array<ItemOutcome | undefined>(batch.items.length);
    const toStore: Array<{ index: number; member: MemberToStore }> = [];
    for (const [index, item] of batch.items.entries()) {
      const objectId = existing.get(item.contentId);
      if (objectId) {
        this.deps.metrics.objectDeduplicated();
        outcomes[index] = { stored: { objectId, objectStored: 'deduplicated' } };
        continue;
      }
      try {
        toStore.push({
          index,
          member: await sealedObjectOf(tenantId, item, data, this.deps.chunks, this.deps.holdUpToBytes),
        });
      } catch (error) {
        if (!(error instanceof CommitRejection)) throw error;
        outcomes[index] = { rejected: error };
      }
    }
    const writer = this.deps.writers[layout];
    const writing = writer.store(
      tenantId,
      toStore.map((entry) => entry.member),
      { onPlaced: placed },
    );
    // The connector has read everything: once this batch and those before it are in, the tenant's
    // open pack goes rather than waiting to fill.
    if (batch.flush) void Promise.all(flushAfter).then(() => writer.flush(tenantId));
    const written = await writing;
    const failure = written.find((result): result is Error => result instanceof Error);
    if (failure) throw failure;
    toStore.forEach(({ index }, position) => {
      outcomes[index] = { stored: written[position] as StoredMember };
    });
    return outcomes.map((outcome) => outcome as ItemOutcome);
  }

  /**
   * The chunked objects are durable now, or refused: their chunks are no longer needed. Failing to
   * drop them must not hold the records back: the chunk stream drops them by age anyway.
   */
  private async dropChunks(batch: ObjectCommitBatch): Promise<void> {
    for (const item of batch.items) {
      if (item.sealed.kind !== 'chunks') continue;
      try {
        await this.deps.chunks.purge(batch.tenantId, item.sealed.uploadId);
      } catch (error) {
        this.deps.logger.warn(
          { tenantId: batch.tenantId, uploadId: item.sealed.uploadId, error: (error as Error).message },
          'could not drop the chunks of a stored upload; they expire with the chunk stream',
        );
      }
    }
  }
}

/** The CommitOutcomeSink over a JetStream publisher of the platform's channels. */
export function jetStreamOutcomeSink(
  publisher: Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>,
): CommitOutcomeSink {
  return {
    records: async (batch, msgId) => {
      await publisher.publish('records', subjects.records(batch.tenantId), batch, { msgId });
    },
    rejections: async (batch, msgId) => {
      await publisher.publish('indexed', subjects.indexed(batch.tenantId), batch, { msgId });
    },
  };
}
