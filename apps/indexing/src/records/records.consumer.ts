import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { subjects, type ChannelPayloads, type IndexedBatch } from '@mlr/contracts';
import {
  PLATFORM_CONSUMERS,
  PLATFORM_STREAMS,
  platformValidator,
  Publisher,
  runConsumer,
  type ConsumerRunner,
  type MessagingConnection,
} from '@mlr/messaging';
import { MESSAGING } from '@mlr/runtime';
import type { IndexedEventSink, RecordIngest } from './record-ingest.js';

export const RECORD_INGEST = Symbol('RECORD_INGEST');
export const RECORDS_CONSUMER_OPTIONS = Symbol('RECORDS_CONSUMER_OPTIONS');

export interface RecordsConsumerOptions {
  /** Record batches held at once (their records being collected, written and acknowledged). */
  maxInFlight: number;
}

/** Publishes acknowledgements on the tenant's `indexed` subject, into the MLR_INDEXED stream. */
export class JetStreamIndexedEventSink implements IndexedEventSink {
  private readonly publisher: Publisher<ChannelPayloads>;

  constructor(messaging: MessagingConnection) {
    this.publisher = new Publisher<ChannelPayloads>(messaging, {
      validator: platformValidator,
      logger: messaging.logger,
    });
  }

  async publish(batch: IndexedBatch, msgId: string): Promise<void> {
    await this.publisher.publish('indexed', subjects.indexed(batch.tenantId), batch, {
      msgId,
      expectStream: PLATFORM_STREAMS.indexed.name,
    });
  }
}

/**
 * Runs the `indexing-records` durable consumer (shared by every replica) for the life of the app.
 * Shutdown stops pulling first, then lets the collected batches finish, so that every delivery held
 * is either acknowledged or handed back before the NATS and database connections close.
 */
@Injectable()
export class RecordsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private runner: ConsumerRunner | undefined;

  constructor(
    @Inject(MESSAGING) private readonly messaging: MessagingConnection,
    @Inject(RECORD_INGEST) private readonly ingest: RecordIngest,
    @Inject(RECORDS_CONSUMER_OPTIONS) private readonly options: RecordsConsumerOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.runner = runConsumer({
      connection: this.messaging,
      kind: 'records',
      validator: platformValidator,
      stream: PLATFORM_CONSUMERS.indexingRecords.stream,
      consumer: PLATFORM_CONSUMERS.indexingRecords.consumer,
      concurrency: this.options.maxInFlight,
      // A record waits for its batch-mates and then for a database that may be backed up; tell the
      // server it is still being worked on rather than let the ack wait run out and redeliver it.
      workingIntervalMs: PLATFORM_CONSUMERS.indexingRecords.consumer.ackWaitMs / 2,
      handler: async (delivery) => {
        await this.ingest.ingest(delivery.payload);
      },
      logger: this.messaging.logger,
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.runner?.stop(), this.ingest.drain()]);
  }
}
