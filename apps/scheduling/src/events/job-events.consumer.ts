import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { ChannelPayloads, JobEvent } from '@mlr/contracts';
import {
  PermanentFailure,
  PLATFORM_CONSUMERS,
  platformValidator,
  runConsumer,
  type ConsumerRunner,
  type Delivery,
  type MessagingConnection,
} from '@mlr/messaging';
import { LOGGER, MESSAGING } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { JOB_EVENT_REPOSITORY, JobEventRefused, type JobEventRepository } from './job-events.repository.js';

export const EVENT_CONCURRENCY = Symbol('EVENT_CONCURRENCY');

const STOP_TIMEOUT_MS = 5_000;

/** Applies the connectors' job events (`mlr.<tenant>.events.<job>`), shared by all replicas. */
@Injectable()
export class JobEventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private runner: ConsumerRunner | undefined;
  private readonly logger: Logger;

  constructor(
    @Inject(MESSAGING) private readonly messaging: MessagingConnection,
    @Inject(JOB_EVENT_REPOSITORY) private readonly events: JobEventRepository,
    @Inject(EVENT_CONCURRENCY) private readonly concurrency: number,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ scope: 'job-events' });
  }

  onApplicationBootstrap(): void {
    this.runner = runConsumer<ChannelPayloads, 'events'>({
      connection: this.messaging,
      kind: 'events',
      validator: platformValidator,
      stream: PLATFORM_CONSUMERS.schedulingEvents.stream,
      consumer: PLATFORM_CONSUMERS.schedulingEvents.consumer,
      concurrency: this.concurrency,
      logger: this.messaging.logger,
      handler: (delivery) => this.handle(delivery),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.runner) return;
    // Unacknowledged events are redelivered to another replica, so shutdown need not wait forever.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.runner.stop().then(() => 'stopped' as const), gaveUp]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn(
        { timeoutMs: STOP_TIMEOUT_MS },
        'job events consumer did not stop in time; shutting down anyway',
      );
    }
  }

  private async handle(delivery: Delivery<JobEvent>): Promise<void> {
    const event = delivery.payload;
    try {
      const outcome = await this.events.apply(event);
      this.logger.debug(
        {
          event: 'job.event.applied',
          jobId: event.jobId,
          tenantId: event.tenantId,
          sequence: event.sequence,
          ...outcome,
        },
        outcome.progressed ? 'job event applied' : 'job event older than the last applied one',
      );
    } catch (error) {
      if (error instanceof JobEventRefused) throw new PermanentFailure(error.message);
      throw error;
    }
  }
}
