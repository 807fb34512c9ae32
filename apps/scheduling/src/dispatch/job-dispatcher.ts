import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { JobCommand } from '@mlr/contracts';
import { describeError } from '@mlr/messaging';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { CLOCK, type Clock } from '../common/clock.js';
import { SchedulingErrorCode, SchedulingException } from '../common/scheduling.exception.js';
import { CONNECTOR_DIRECTORY, type ConnectorDirectory, type ConnectorRef } from '../licensing/connector-directory.js';
import { MLR_GATE, type MlrGate, type MlrVerdict } from '../licensing/mlr-gate.js';
import { planNotFound } from '../plans/plans.service.js';
import type { PlanRecord } from '../plans/plan.js';
import { nextRunAfter } from '../plans/schedule.js';
import { DISPATCH_REPOSITORY, type DispatchRepository } from './dispatch.repository.js';
import { JOB_QUEUE, type JobQueue } from './job-queue.js';

export interface DispatcherSettings {
  /** How often this replica looks for due plans and unpublished jobs. */
  tickMs: number;
  /** A queued job still unpublished this long after it was created is published again. */
  republishAfterMs: number;
  /** A running job without progress this long is marked stalled. */
  stallAfterMs: number;
  /** Plans claimed, jobs re-published and jobs marked stalled, per tick at most. */
  batchSize: number;
}

export const DISPATCHER_SETTINGS = Symbol('DISPATCHER_SETTINGS');

/**
 * Turns due plans and run-now requests into jobs and puts their commands on the connectors' queues.
 * A job is committed before its command is published; a command that could not be published (the
 * process died, NATS was away) is published again by a later tick of any replica, with the job id
 * as the de-duplication id.
 */
@Injectable()
export class JobDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly logger: Logger;

  constructor(
    @Inject(DISPATCH_REPOSITORY) private readonly repository: DispatchRepository,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DISPATCHER_SETTINGS) private readonly settings: DispatcherSettings,
    @Inject(LOGGER) logger: Logger,
    @Inject(MLR_GATE) private readonly mlrGate: MlrGate,
    @Inject(CONNECTOR_DIRECTORY) private readonly connectors: ConnectorDirectory,
  ) {
    this.logger = logger.child({ scope: 'dispatcher' });
  }

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  async runNow(tenantId: string, planId: string, requestedBy: string, full: boolean): Promise<string> {
    // Licensing first: a refused tenant gets no job at all, so nothing can ever read its mail.
    const verdict = await this.mlrGate.check(tenantId);
    if (!verdict.allowed) {
      throw new SchedulingException(
        SchedulingErrorCode.MLR_NOT_ALLOWED,
        `tenantId: backup refused, no job was created: ${verdict.message}`,
        'tenantId',
      );
    }
    let connectors: ConnectorRef[];
    try {
      connectors = await this.connectors.list(tenantId);
    } catch (error) {
      throw new SchedulingException(
        SchedulingErrorCode.LICENSING_UNAVAILABLE,
        `planId: backup not started, no job was created: ${(error as Error).message}; try again when it is back`,
        'planId',
      );
    }
    const outcome = await this.repository.queuePlanRun(
      tenantId,
      planId,
      requestedBy,
      full,
      this.clock.now(),
      connectors,
    );
    if ('refused' in outcome) {
      if (outcome.refused === 'not_found') throw planNotFound(tenantId, planId);
      if (outcome.refused === 'connector_revoked') {
        throw new SchedulingException(
          SchedulingErrorCode.CONNECTOR_REVOKED,
          `planId: backup refused, no job was created: ${outcome.reason}`,
          'planId',
        );
      }
      throw new SchedulingException(
        SchedulingErrorCode.PLAN_DISABLED,
        `planId: backup plan ${planId} is disabled; enable it before running it`,
        'planId',
      );
    }
    // The job is committed: a failure to publish now is repaired by the ticks, not by the caller.
    await this.publish(outcome.queued);
    return outcome.queued.jobId;
  }

  /**
   * One pass: queue jobs of due plans, publish what earlier passes could not, and mark running jobs
   * without progress stalled.
   */
  async tick(): Promise<void> {
    const now = this.clock.now();
    for (const job of await this.repository.markStalled(now, this.settings.stallAfterMs, this.settings.batchSize)) {
      this.logger.warn(
        { event: 'job.stalled', jobId: job.jobId, tenantId: job.tenantId, connectorId: job.connectorId },
        `job marked stalled: ${job.reason}`,
      );
    }
    const verdicts = await this.mlrVerdicts(await this.repository.tenantsWithDuePlans(now, this.settings.batchSize));
    const connectors = await this.connectorsOf([...verdicts.keys()]);
    const {
      queued: commands,
      refused,
      skipped,
    } = await this.repository.queueDuePlans(
      now,
      this.settings.batchSize,
      (plan) => this.nextRun(plan, now),
      verdicts,
      connectors,
    );
    for (const run of skipped) {
      this.logger.warn(
        { event: 'run.skipped', tenantId: run.tenantId, planId: run.planId, pendingJobId: run.pendingJobId },
        `scheduled backup skipped: the plan's job ${run.pendingJobId} has not finished (queued, running or stalled)`,
      );
    }
    for (const job of refused) {
      this.logger.warn(
        { event: 'job.refused', jobId: job.jobId, tenantId: job.tenantId, planId: job.planId, reason: job.reason },
        `scheduled backup refused and recorded as a failed job: ${job.reason}`,
      );
    }
    for (const command of commands) {
      this.logger.info(
        { event: 'job.queued', jobId: command.jobId, tenantId: command.tenantId, connectorId: command.connectorId },
        'scheduled backup queued',
      );
      await this.publish(command);
    }
    const stale = new Date(now.getTime() - this.settings.republishAfterMs);
    for (const jobId of await this.repository.unpublishedJobIds(stale, this.settings.batchSize)) {
      try {
        const done = await this.repository.republish(jobId, this.clock.now(), (command) => this.queue.publish(command));
        if (done) this.logger.warn({ event: 'job.republished', jobId }, 'job command published again');
      } catch (error) {
        this.logger.warn({ jobId, error: describeError(error) }, 'job command still not published; retrying later');
      }
    }
  }

  /** What licensing says about each tenant with due plans (one question per tenant and tick). */
  private async mlrVerdicts(tenantIds: string[]): Promise<Map<string, MlrVerdict>> {
    const verdicts = new Map<string, MlrVerdict>();
    for (const tenantId of tenantIds) verdicts.set(tenantId, await this.mlrGate.check(tenantId));
    return verdicts;
  }

  /**
   * Each tenant's connectors, as licensing says; while it cannot be asked, what it last said. A
   * tenant it never answered for is left out: its due plans wait for a later tick.
   */
  private async connectorsOf(tenantIds: string[]): Promise<Map<string, ConnectorRef[]>> {
    const connectors = new Map<string, ConnectorRef[]>();
    for (const tenantId of tenantIds) {
      try {
        connectors.set(tenantId, await this.connectors.list(tenantId));
      } catch (error) {
        const lastKnown = this.connectors.lastKnown(tenantId);
        this.logger.warn(
          {
            event: 'connectors.unavailable',
            tenantId,
            error: describeError(error),
            lastKnown: lastKnown !== undefined,
          },
          lastKnown
            ? "licensing did not say the tenant's connectors; its scheduled runs go on with what it said last"
            : "licensing did not say the tenant's connectors and never has since this replica started; its scheduled runs wait",
        );
        if (lastKnown) connectors.set(tenantId, lastKnown);
      }
    }
    return connectors;
  }

  private nextRun(plan: PlanRecord, now: Date): Date | null {
    if (!plan.schedule) return null;
    try {
      return nextRunAfter(plan.schedule, now);
    } catch (error) {
      // Validated when stored; only a changed time zone database gets here. Stop rather than loop.
      this.logger.error(
        { planId: plan.id, tenantId: plan.tenantId, error: describeError(error) },
        'plan schedule no longer valid; it will not run again until updated',
      );
      return null;
    }
  }

  /**
   * Puts a committed job's command on its connector's queue and records that it is there. A failure
   * is logged, not thrown: a later tick publishes the job again (also used for restore jobs).
   */
  async publish(command: JobCommand): Promise<void> {
    try {
      await this.queue.publish(command);
      await this.repository.markPublished(command.jobId, this.clock.now());
    } catch (error) {
      this.logger.warn(
        { jobId: command.jobId, error: describeError(error) },
        'job command not published yet; a later tick publishes it',
      );
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((error: unknown) => this.logger.error({ error: describeError(error) }, 'dispatch tick failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.settings.tickMs);
        });
    }, delayMs);
  }
}
