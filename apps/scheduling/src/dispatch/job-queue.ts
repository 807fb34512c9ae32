import { Inject, Injectable } from '@nestjs/common';
import { subjects, type Channel, type ChannelPayloads, type JobCommand, type Subject } from '@mlr/contracts';
import {
  ensureConnectorJobsConsumer,
  PLATFORM_STREAMS,
  platformValidator,
  Publisher,
  type MessagingConnection,
} from '@mlr/messaging';
import { MESSAGING } from '@mlr/runtime';

/** Where job commands go: the connector's job queue. */
export interface JobQueue {
  /** Resolves once the queue holds the command; sending the same job again stores nothing new. */
  publish(command: JobCommand): Promise<void>;
}

export const JOB_QUEUE = Symbol('JOB_QUEUE');

/** The connector's JetStream work queue (`mlr.<tenant>.jobs.<connector>`), de-duplicated by job id. */
@Injectable()
export class NatsJobQueue implements JobQueue {
  private readonly publisher: Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>;
  /** Connectors whose durable jobs consumer this process has declared. */
  private readonly declared = new Set<string>();

  constructor(@Inject(MESSAGING) private readonly messaging: MessagingConnection) {
    this.publisher = new Publisher(messaging, { validator: platformValidator, logger: messaging.logger });
  }

  async publish(command: JobCommand): Promise<void> {
    const key = `${command.tenantId}/${command.connectorId}`;
    if (!this.declared.has(key)) {
      // The consumer exists before its first job, so the connector finds its queue even when it
      // enrols after the job was queued.
      await ensureConnectorJobsConsumer(this.messaging, command.tenantId, command.connectorId);
      this.declared.add(key);
    }
    await this.publisher.publish('jobs', subjects.jobs(command.tenantId, command.connectorId), command, {
      msgId: command.jobId,
      expectStream: PLATFORM_STREAMS.jobs.name,
    });
  }
}
