import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { ChannelPayloads } from '@mlr/contracts';
import {
  PermanentFailure,
  PLATFORM_CONSUMERS,
  platformValidator,
  runConsumer,
  type ConsumerRunner,
  type Delivery,
  type MessagingConnection,
} from '@mlr/messaging';
import type { Logger } from '@mlr/telemetry';
import { BackupError, isPermanent } from './backup.exception.js';
import type { StorageMetrics } from './storage-metrics.js';
import type { StoreObjectCommit } from './store-object-commit.use-case.js';

export interface ObjectCommitConsumerOptions {
  concurrency: number;
}

/**
 * Takes object commits from the shared `storage-objects` durable consumer (every replica pulls from
 * it) and stores them. Starts once every module is initialised (the bucket is ensured by then) and
 * stops, letting commits in flight finish, before the connections close.
 */
export class ObjectCommitConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private runner: ConsumerRunner | undefined;

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly storeCommit: StoreObjectCommit,
    private readonly metrics: StorageMetrics,
    private readonly logger: Logger,
    private readonly options: ObjectCommitConsumerOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.runner = runConsumer<ChannelPayloads, 'objects'>({
      connection: this.messaging,
      kind: 'objects',
      validator: platformValidator,
      stream: PLATFORM_CONSUMERS.storageObjects.stream,
      consumer: PLATFORM_CONSUMERS.storageObjects.consumer,
      concurrency: this.options.concurrency,
      // Large objects can take longer than the consumer's ack wait to copy.
      workingIntervalMs: 15_000,
      // Missing chunks usually arrive within seconds; retry soon, then settle at half a minute.
      failureDelay: { baseMs: 1_000, maxMs: 30_000 },
      logger: this.messaging.logger,
      handler: (delivery) => this.handle(delivery),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.runner?.stop();
  }

  private async handle(delivery: Delivery<ChannelPayloads['objects']>): Promise<void> {
    const commit = delivery.payload;
    try {
      await this.storeCommit.execute(commit, { sequence: delivery.streamSequence, publishedAt: delivery.publishedAt });
    } catch (error) {
      if (!(error instanceof BackupError)) {
        this.metrics.commitFailed('unexpected', false);
        throw error;
      }
      const permanent = isPermanent(error.code);
      this.metrics.commitFailed(error.code, permanent);
      if (!permanent) throw error;
      this.logger.error(
        {
          event: 'commit-rejected',
          code: error.code,
          reason: error.message,
          tenantId: commit.tenantId,
          jobId: commit.jobId,
          contentId: commit.contentId,
          mailbox: commit.record.mailbox,
          folder: commit.record.folder,
          uid: commit.record.sourceKey.uid,
          streamSequence: delivery.streamSequence,
          msgId: delivery.msgId,
        },
        'object commit rejected for good',
      );
      throw new PermanentFailure(error.message);
    }
  }
}
