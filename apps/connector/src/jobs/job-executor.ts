import {
  connectorJobsConsumer,
  tenantCallSubjects,
  type JobCommand,
  type JobCounters,
  type JobEventState,
  type TenantMlrStatus,
} from '@mlr/contracts';
import {
  BackupRunner,
  RestoreRunner,
  SessionBudget,
  TargetLocks,
  type MailSource,
  type MailTarget,
  type RestoreCommand,
} from '@mlr/connector-core';
import type { TenantKeys } from '@mlr/crypto';
import {
  CONNECTOR_JOB_WORKING_INTERVAL_MS,
  CONNECTOR_JOBS_IN_HAND,
  Limiter,
  PLATFORM_STREAMS,
  Publisher,
  platformValidator,
  runConsumer,
  tenantCallClient,
  type ConsumerRunner,
  type MessagingConnection,
} from '@mlr/messaging';
import type { Logger } from '@mlr/telemetry';
import { JobReporter, type ProgressListener } from '../backup/job-reporter.js';
import { CommitBatcher, type PlatformPublisher } from '../backup/commit-batcher.js';
import { restoreExportDir, type ConnectorConfig } from '../config/connector-config.js';
import { BatchingObjectSource, ObjectFetcher } from '../restore/object-fetcher.js';
import { TenantCallRestoreItemSource } from '../restore/restore-item-source.js';
import { connectorMailSource, connectorMailTarget } from '../sources/connector-sources.js';
import { DEFAULT_TRUST_MS, FolderListings } from '../sources/imap/imap-mailbox-writer.js';

/** The source and target a connector reads from and restores into, when not those of its configuration. */
export interface ConnectorAdapters {
  source?: MailSource;
  target?: MailTarget;
}

export interface JobResult {
  state: JobEventState;
  counters: JobCounters;
  errors: number;
}

/**
 * Word to scheduling at least this often while a job runs, progress or not: it marks a running job
 * stalled after five minutes without progress, saying whether its connector was heard of meanwhile.
 */
export const JOB_KEEP_ALIVE_MS = 60_000;

/**
 * Runs jobs for this connector, from the platform's job queue or from the command line. Jobs of
 * the queue run in two lanes: backups one at a time, restores (`restore.jobsAtOnce`) beside them, so
 * that a restore asked for during a days-long first backup starts at once.
 */
export class JobExecutor {
  private readonly publisher: PlatformPublisher;
  private readonly uploader: CommitBatcher;
  private runner?: ConsumerRunner;
  /** Jobs this connector runs now, by job id (a redelivery of one joins its run). */
  private readonly inProgress = new Map<string, Promise<void>>();
  private readonly lanes: Record<JobCommand['kind'], Limiter>;
  /** Every restore of this connector checks and writes a target message under these (no two copies). */
  private readonly targetLocks = new TargetLocks();
  private readonly sessionBudget: SessionBudget;
  /**
   * Where restores write, shared by every restore job: its duplicate check's folder listings record
   * every job's own APPENDs, so they may be trusted for a moment (DEFAULT_TRUST_MS).
   */
  private readonly target: MailTarget;
  private readonly source: MailSource;
  private readonly stopping = new AbortController();

  /**
   * `adapters`: where items are read from and restored into; by default the configuration's sources
   * (`connectorMailSource`, `connectorMailTarget`). A program that embeds the connector with sources
   * of its own passes them here.
   */
  constructor(
    private readonly config: ConnectorConfig,
    private readonly messaging: MessagingConnection,
    private readonly keys: TenantKeys,
    private readonly logger: Logger,
    adapters: ConnectorAdapters = {},
  ) {
    this.publisher = new Publisher(messaging, { validator: platformValidator, logger: messaging.logger });
    this.uploader = new CommitBatcher(messaging, config.tenantId, {
      ackTimeoutMs: config.backup.ackTimeoutSeconds * 1000,
    });
    this.uploader.start();
    this.lanes = { backup: new Limiter(1), restore: new Limiter(config.restore.jobsAtOnce) };
    this.sessionBudget = new SessionBudget(config.restore.sessionsPerMailbox);
    this.target =
      adapters.target ?? connectorMailTarget(config, keys, { listings: new FolderListings(DEFAULT_TRUST_MS) });
    this.source = adapters.source ?? connectorMailSource(config);
  }

  private reporterFor(job: JobCommand, onProgress?: ProgressListener): JobReporter {
    return new JobReporter(
      this.publisher,
      { tenantId: job.tenantId, jobId: job.jobId, connectorId: this.config.connectorId, kind: job.kind },
      { ...(onProgress ? { onProgress } : {}) },
    );
  }

  /** Whether this tenant's jobs may run now (licensing's `tenant.status`, a tenant call). */
  async tenantStatus(): Promise<TenantMlrStatus> {
    const reply = await tenantCallClient(this.messaging).request(
      'tenant.status',
      tenantCallSubjects['tenant.status'](this.config.tenantId),
      { tenantId: this.config.tenantId },
    );
    if (!reply.ok) {
      throw new Error(`cannot ask whether MLR is enabled for tenant ${this.config.tenantId}: ${reply.error.message}`);
    }
    this.uploader.setUploadQuota(reply.value.uploadQuotaBytes);
    return reply.value;
  }

  /**
   * A queued job was allowed when scheduling created it, but MLR may have been disabled (or the
   * licence may have lapsed) while it waited: asked again before any mail is read. Why it may not
   * run, or null. When licensing cannot be asked the job runs, as scheduling allowed it (logged).
   */
  private async refusal(job: JobCommand): Promise<string | null> {
    let status: TenantMlrStatus;
    try {
      status = await this.tenantStatus();
    } catch (error) {
      this.logger.warn(
        { event: 'job-mlr-check-failed', jobId: job.jobId, error: (error as Error).message },
        'cannot ask licensing whether the job may run; running it as scheduling allowed it',
      );
      return null;
    }
    if (!status.allowed || (job.kind === 'backup' && !status.backupAllowed)) return status.message;
    return null;
  }

  /** A job from the platform's queue: checked against the tenant's MLR status first. */
  async executeQueued(job: JobCommand): Promise<JobResult> {
    const refusal = await this.refusal(job);
    if (refusal === null) return this.execute(job);
    const reporter = this.reporterFor(job);
    reporter.error({ scope: 'job', target: job.jobId, message: `refused before any mail was read: ${refusal}` });
    await reporter.flush('failed');
    this.logger.warn({ event: 'job-refused', jobId: job.jobId, kind: job.kind, reason: refusal }, 'job refused');
    return { state: 'failed', counters: reporter.counters, errors: reporter.errors };
  }

  async execute(job: JobCommand, onProgress?: ProgressListener): Promise<JobResult> {
    const reporter = this.reporterFor(job, onProgress);
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
    const stopKeepAlive = reporter.keepAlive(JOB_KEEP_ALIVE_MS);
    try {
      if (job.kind === 'restore') return await this.restore(job, reporter, log);
      log.info({ event: 'job-started' }, 'backup started');
      const runner = new BackupRunner(this.source, this.keys, this.uploader, reporter, log, {
        concurrency: this.config.backup.concurrency,
        maxInFlightBytes: this.config.backup.maxInFlightMiB * 1024 * 1024,
        publicFolders: this.config.backup.publicFolders,
      });
      const state = await runner.run(job);
      log.info(
        { event: 'job-finished', state, counters: reporter.counters, errors: reporter.errors },
        'backup finished',
      );
      return { state, counters: reporter.counters, errors: reporter.errors };
    } finally {
      stopKeepAlive();
    }
  }

  /** Recreates the job's messages in their target mailboxes, or writes them into an export file. */
  private async restore(job: RestoreCommand, reporter: JobReporter, log: Logger): Promise<JobResult> {
    log.info({ event: 'job-started', target: job.target.kind, items: job.itemCount }, 'restore started');
    const runner = new RestoreRunner({
      target: this.target,
      keys: this.keys,
      items: new TenantCallRestoreItemSource(this.messaging, job.tenantId, job.jobId),
      objects: new BatchingObjectSource(ObjectFetcher.forConnection(this.messaging, job.tenantId)),
      exportDir: restoreExportDir(this.config),
      reporter,
      logger: log,
      concurrency: this.config.restore.concurrency,
      locks: this.targetLocks,
      sessionBudget: this.sessionBudget,
    });
    let state: JobEventState;
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

  /**
   * Takes jobs from `mlr.<tenant>.jobs.<connector>`: holds up to CONNECTOR_JOBS_IN_HAND of them and
   * runs each when its lane has room (a held job's message is kept alive with working() meanwhile,
   * and acked when the job has finished).
   */
  startJobIntake(): void {
    this.runner = runConsumer({
      connection: this.messaging,
      kind: 'jobs',
      validator: platformValidator,
      stream: PLATFORM_STREAMS.jobs.name,
      consumer: connectorJobsConsumer(this.config.tenantId, this.config.connectorId),
      concurrency: CONNECTOR_JOBS_IN_HAND,
      workingIntervalMs: CONNECTOR_JOB_WORKING_INTERVAL_MS,
      logger: this.messaging.logger,
      handler: async (delivery) => {
        const job = delivery.payload;
        // The server hands a job out again when it missed the connector's word for a while (a cut
        // link): the run in progress here goes on, and this delivery is answered when it ends.
        const running = this.inProgress.get(job.jobId);
        if (running) {
          this.logger.warn(
            { event: 'job-redelivered-while-running', jobId: job.jobId, kind: job.kind },
            'the platform handed out a job this connector is running: the run in progress goes on',
          );
          await running;
          return;
        }
        const run = this.inLane(job, () => this.executeQueued(job));
        this.inProgress.set(job.jobId, run);
        try {
          await run;
        } finally {
          this.inProgress.delete(job.jobId);
        }
      },
    });
  }

  /**
   * Runs `work` once the job's lane has room. When the connector stops first, the job has not
   * started: it throws, and the message goes back to the platform for the next start.
   */
  private async inLane(job: JobCommand, work: () => Promise<unknown>): Promise<void> {
    const lane = this.lanes[job.kind];
    const signal = this.stopping.signal;
    if (lane.inFlight >= lane.limit) {
      this.logger.info({ event: 'job-waiting', jobId: job.jobId, kind: job.kind }, `${job.kind} waits for its turn`);
    }
    let abandoned = false;
    const turn = lane.acquire().then(() => {
      if (abandoned) lane.release();
    });
    await new Promise<void>((resolve, reject) => {
      const onStop = () => {
        abandoned = true;
        reject(new Error(`connector stopping: job ${job.jobId} was not started and goes back to the queue`));
      };
      if (signal.aborted) return onStop();
      signal.addEventListener('abort', onStop, { once: true });
      void turn.then(() => {
        signal.removeEventListener('abort', onStop);
        resolve();
      });
    });
    try {
      await work();
    } finally {
      lane.release();
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.runner?.stop();
    await this.uploader.stop();
  }
}
