import { connectorJobsConsumer, type JobCommand, type JobCounters, type JobState } from '@mlr/contracts';
import type { TenantKeys } from '@mlr/crypto';
import {
  PLATFORM_STREAMS,
  Publisher,
  platformValidator,
  runConsumer,
  type ConsumerRunner,
  type MessagingConnection,
} from '@mlr/messaging';
import type { Logger } from '@mlr/telemetry';
import { BackupRunner } from '../backup/backup-runner.js';
import { JobReporter, type ProgressListener } from '../backup/job-reporter.js';
import { MessageUploader, type PlatformPublisher } from '../backup/message-uploader.js';
import { restoreExportDir, type ConnectorConfig } from '../config/connector-config.js';
import { ObjectFetcher } from '../restore/object-fetcher.js';
import { TenantCallRestoreItemSource } from '../restore/restore-item-source.js';
import { RestoreRunner, type RestoreCommand } from '../restore/restore-runner.js';

export interface JobResult {
  state: JobState;
  counters: JobCounters;
  errors: number;
}

/** Runs jobs for this connector, from the platform's job queue or from the command line. */
export class JobExecutor {
  private readonly publisher: PlatformPublisher;
  private readonly uploader: MessageUploader;
  private runner?: ConsumerRunner;

  constructor(
    private readonly config: ConnectorConfig,
    private readonly messaging: MessagingConnection,
    private readonly keys: TenantKeys,
    private readonly logger: Logger,
  ) {
    this.publisher = new Publisher(messaging, { validator: platformValidator, logger: messaging.logger });
    this.uploader = new MessageUploader(messaging, config.tenantId, keys, {
      ackTimeoutMs: config.backup.ackTimeoutSeconds * 1000,
    });
    this.uploader.start();
  }

  async execute(job: JobCommand, onProgress?: ProgressListener): Promise<JobResult> {
    const reporter = new JobReporter(
      this.publisher,
      { tenantId: job.tenantId, jobId: job.jobId, connectorId: this.config.connectorId, kind: job.kind },
      { ...(onProgress ? { onProgress } : {}) },
    );
    const log = this.logger.child({ jobId: job.jobId, kind: job.kind });
    if (job.tenantId !== this.config.tenantId || job.connectorId !== this.config.connectorId) {
      reporter.error({
        scope: 'job',
        target: job.jobId,
        message: `job is for ${job.tenantId}/${job.connectorId}, not this connector`,
      });
      await reporter.flush('failed');
      return { state: 'failed', counters: reporter.counters, errors: reporter.errors };
    }
    if (job.kind === 'restore') return this.restore(job, reporter, log);
    log.info({ event: 'job-started' }, 'backup started');
    const runner = new BackupRunner(this.config.source, this.keys, this.uploader, reporter, log, {
      concurrency: this.config.backup.concurrency,
      publicFolders: this.config.backup.publicFolders,
    });
    const state = await runner.run(job);
    log.info({ event: 'job-finished', state, counters: reporter.counters, errors: reporter.errors }, 'backup finished');
    return { state, counters: reporter.counters, errors: reporter.errors };
  }

  /** Recreates the job's messages in their target mailboxes, or writes them into an export file. */
  private async restore(job: RestoreCommand, reporter: JobReporter, log: Logger): Promise<JobResult> {
    log.info({ event: 'job-started', target: job.target.kind, items: job.itemCount }, 'restore started');
    const runner = new RestoreRunner({
      source: this.config.source,
      keys: this.keys,
      items: new TenantCallRestoreItemSource(this.messaging, job.tenantId, job.jobId),
      objects: ObjectFetcher.forConnection(this.messaging, job.tenantId),
      exportDir: restoreExportDir(this.config),
      reporter,
      logger: log,
      concurrency: this.config.restore.concurrency,
    });
    let state: JobState;
    try {
      state = await runner.run(job);
    } catch (error) {
      // Only a failure outside any item gets here (e.g. events cannot be published): say so, once.
      log.error({ event: 'job-failed', error: (error as Error).message }, 'restore stopped');
      reporter.error({ scope: 'job', target: job.jobId, message: `restore stopped: ${(error as Error).message}` });
      state = 'failed';
      await reporter.flush(state).catch(() => undefined);
    }
    log.info(
      { event: 'job-finished', state, counters: reporter.counters, errors: reporter.errors },
      'restore finished',
    );
    return { state, counters: reporter.counters, errors: reporter.errors };
  }

  /** Takes jobs from `mlr.<tenant>.jobs.<connector>` one at a time; acks each when it has finished. */
  startJobIntake(): void {
    this.runner = runConsumer({
      connection: this.messaging,
      kind: 'jobs',
      validator: platformValidator,
      stream: PLATFORM_STREAMS.jobs.name,
      consumer: connectorJobsConsumer(this.config.tenantId, this.config.connectorId),
      concurrency: 1,
      workingIntervalMs: 30_000,
      logger: this.messaging.logger,
      handler: async (delivery) => {
        await this.execute(delivery.payload);
      },
    });
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
    await this.uploader.stop();
  }
}
