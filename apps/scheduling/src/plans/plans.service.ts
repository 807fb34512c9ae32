import { Inject, Injectable } from '@nestjs/common';
import type { Plan, PlanSchedule, schedulingCallSchemas } from '@mlr/contracts';
import type { z } from 'zod';
import { CONNECTOR_DIRECTORY, type ConnectorDirectory } from '../licensing/connector-directory.js';
import { CLOCK, type Clock } from '../common/clock.js';
import { SchedulingErrorCode, SchedulingException } from '../common/scheduling.exception.js';
import { planView, type PlanRecord } from './plan.js';
import { PLAN_REPOSITORY, type PlanChanges, type PlanRepository } from './plans.repository.js';
import { validateSchedule } from './schedule.js';

type Request<V extends keyof typeof schedulingCallSchemas> = z.output<(typeof schedulingCallSchemas)[V]['request']>;

export function planNotFound(tenantId: string, planId: string): SchedulingException {
  return new SchedulingException(
    SchedulingErrorCode.PLAN_NOT_FOUND,
    `planId: tenant ${tenantId} has no backup plan ${planId}`,
    'planId',
  );
}

@Injectable()
export class PlansService {
  constructor(
    @Inject(PLAN_REPOSITORY) private readonly plans: PlanRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONNECTOR_DIRECTORY) private readonly connectors: ConnectorDirectory,
  ) {}

  async create(request: Request<'plans.create'>): Promise<Plan> {
    await this.requireConnector(request.tenantId, request.connectorId);
    const nextRunAt = this.firstRun(request.schedule, request.enabled);
    const plan = await this.plans.create(request.tenantId, {
      connectorId: request.connectorId,
      name: request.name,
      mailboxes: request.mailboxes,
      filter: request.filter,
      schedule: request.schedule,
      retentionDays: request.retentionDays,
      enabled: request.enabled,
      nextRunAt,
      createdBy: request.actor,
    });
    return planView(plan);
  }

  async list(request: Request<'plans.list'>): Promise<{ plans: Plan[] }> {
    const plans = await this.plans.list(request.tenantId, request.connectorId);
    return { plans: plans.map(planView) };
  }

  async get(request: Request<'plans.get'>): Promise<Plan> {
    return planView(await this.require(request.tenantId, request.planId));
  }

  async update(request: Request<'plans.update'>): Promise<Plan> {
    const current = await this.require(request.tenantId, request.planId);
    const changes: PlanChanges = { ...request.changes };
    if (changes.connectorId !== undefined && changes.connectorId !== current.connectorId) {
      await this.requireConnector(request.tenantId, changes.connectorId);
    }
    if (changes.schedule !== undefined || changes.enabled !== undefined) {
      const schedule = changes.schedule !== undefined ? changes.schedule : current.schedule;
      changes.nextRunAt = this.firstRun(schedule, changes.enabled ?? current.enabled);
    }
    const updated = await this.plans.update(request.tenantId, request.planId, changes);
    if (!updated) throw planNotFound(request.tenantId, request.planId);
    return planView(updated);
  }

  async delete(request: Request<'plans.delete'>): Promise<{ id: string; deletedAt: string }> {
    const deletedAt = await this.plans.delete(request.tenantId, request.planId, this.clock.now());
    if (!deletedAt) throw planNotFound(request.tenantId, request.planId);
    return { id: request.planId, deletedAt: deletedAt.toISOString() };
  }

  async require(tenantId: string, planId: string): Promise<PlanRecord> {
    const plan = await this.plans.get(tenantId, planId);
    if (!plan) throw planNotFound(tenantId, planId);
    return plan;
  }

  /** A schedule is checked even on a disabled plan, so that enabling it later cannot fail. */
  private firstRun(schedule: PlanSchedule | null, enabled: boolean): Date | null {
    if (!schedule) return null;
    const next = validateSchedule(schedule, this.clock.now());
    return enabled ? next : null;
  }

  /** The connector must be the tenant's and not revoked, as licensing (which keeps connectors) says. */
  private async requireConnector(tenantId: string, connectorId: string): Promise<void> {
    let connectors;
    try {
      connectors = await this.connectors.list(tenantId);
    } catch (error) {
      throw new SchedulingException(
        SchedulingErrorCode.LICENSING_UNAVAILABLE,
        `connectorId: ${(error as Error).message}; try again when it is back`,
        'connectorId',
      );
    }
    if (!connectors.some((connector) => connector.id === connectorId && connector.revokedAt === null)) {
      throw new SchedulingException(
        SchedulingErrorCode.CONNECTOR_NOT_FOUND,
        `connectorId: tenant ${tenantId} has no enrolled connector ${connectorId}`,
        'connectorId',
      );
    }
  }
}
