import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { ChannelPayloads } from '@mlr/contracts';
import {
  PLATFORM_CONSUMERS,
  platformValidator,
  runConsumer,
  type ConsumerRunner,
  type Delivery,
  type MessagingConnection,
} from '@mlr/messaging';
import type { Logger } from '@mlr/telemetry';
import type { StorageMetrics } from './storage-metrics.js';
import type { StoreCommitBatch } from './store-commit-batch.use-case.js';

export interface CommitBatchConsumerOptions {
  /** Commit batches held at once by one replica (each up to ~1 MiB; most wait for their pack). */
  concurrency: number;
  /** Writes what the writers hold without waiting for their timers (called at shutdown). */
  drain?: () => Promise<void>;
}

/**
 * Takes commit batches from the shared `storage-objects` durable consumer (every replica pulls from
 * it) and stores them; a batch is acknowledged only once all its items are durable and recorded (or
 * answered as refused). Starts once every module is initialised (the bucket is ensured by then) and
 * stops, letting batches in flight finish, before the connections close.
 */
export class CommitBatchConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private runner: ConsumerRunner | undefined;

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly storeBatch: StoreCommitBatch,
    private readonly metrics: StorageMetrics,
    private readonly logger: Logger,
    private readonly options: CommitBatchConsumerOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.runner = runConsumer<ChannelPayloads, 'objects'>({
      connection: this.messaging,
      kind: 'objects',
      validator: platformValidator,
      stream: PLATFORM_CONSUMERS.storageObjects.stream,
      consumer: PLATFORM_CONSUMERS.storageObjects.consumer,
      concurrency: this.options.concurrency,
      // A batch is up to ~1 MiB and its read buffer up to twice that: few wait for a free handler.
      prefetch: Math.min(8, this.options.concurrency),
      // A batch waits for its pack to fill and be written, longer than the ack wait when S3 is slow.
      workingIntervalMs: 15_000,
      failureDelay: { baseMs: 1_000, maxMs: 30_000 },
      logger: this.messaging.logger,
      handler: (delivery) => this.handle(delivery),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Batches in flight wait for their packs: write those now rather than when their timers run out.
    await Promise.all([this.runner?.stop(), this.options.drain?.()]);
  }

  private async handle(delivery: Delivery<ChannelPayloads['objects']>): Promise<void> {
    const batch = delivery.payload;
    try {
      const outcome = await this.storeBatch.execute(batch, delivery.data ?? new Uint8Array(), {
        sequence: delivery.streamSequence,
      });
      this.logger.debug(
        { tenantId: batch.tenantId, jobId: batch.jobId, batchId: batch.batchId, items: batch.items.length, ...outcome },
        'commit batch stored',
      );
    } catch (error) {
      this.metrics.batchFailed();
      throw error;
    }
  }
}
