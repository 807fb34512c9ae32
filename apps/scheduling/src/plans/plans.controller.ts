import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { schedulingCallSchemas, serviceSubject, type Plan } from '@mlr/contracts';
import { parseRequest, SchedulingExceptionFilter } from '../common/scheduling.exception.js';
import { JobDispatcher } from '../dispatch/job-dispatcher.js';
import { PlansService } from './plans.service.js';

const schemas = schedulingCallSchemas;

/** `mlr.svc.scheduling.plans.*`: every request is validated here before anything else sees it. */
@Controller()
@UseFilters(SchedulingExceptionFilter)
export class PlansController {
  constructor(
    @Inject(PlansService) private readonly plans: PlansService,
    @Inject(JobDispatcher) private readonly dispatcher: JobDispatcher,
  ) {}

  @MessagePattern(serviceSubject('scheduling', 'plans.create'))
  create(@Payload() data: unknown): Promise<Plan> {
    return this.plans.create(parseRequest('plans.create request', schemas['plans.create'].request, data));
  }

  @MessagePattern(serviceSubject('scheduling', 'plans.list'))
  list(@Payload() data: unknown): Promise<{ plans: Plan[] }> {
    return this.plans.list(parseRequest('plans.list request', schemas['plans.list'].request, data));
  }

  @MessagePattern(serviceSubject('scheduling', 'plans.get'))
  get(@Payload() data: unknown): Promise<Plan> {
    return this.plans.get(parseRequest('plans.get request', schemas['plans.get'].request, data));
  }

  @MessagePattern(serviceSubject('scheduling', 'plans.update'))
  update(@Payload() data: unknown): Promise<Plan> {
    return this.plans.update(parseRequest('plans.update request', schemas['plans.update'].request, data));
  }

  @MessagePattern(serviceSubject('scheduling', 'plans.delete'))
  delete(@Payload() data: unknown): Promise<{ id: string; deletedAt: string }> {
    return this.plans.delete(parseRequest('plans.delete request', schemas['plans.delete'].request, data));
  }

  @MessagePattern(serviceSubject('scheduling', 'plans.run'))
  async run(@Payload() data: unknown): Promise<{ jobId: string; state: 'queued' }> {
    const request = parseRequest('plans.run request', schemas['plans.run'].request, data);
    const jobId = await this.dispatcher.runNow(request.tenantId, request.planId, request.actor, request.full);
    return { jobId, state: 'queued' };
  }
}
