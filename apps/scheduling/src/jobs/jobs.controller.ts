import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { schedulingCallSchemas, serviceSubject, type JobDetail, type JobSummary } from '@mlr/contracts';
import {
  parseRequest,
  SchedulingErrorCode,
  SchedulingException,
  SchedulingExceptionFilter,
} from '../common/scheduling.exception.js';
import { JOB_REPOSITORY, type JobRepository } from './jobs.repository.js';

@Controller()
@UseFilters(SchedulingExceptionFilter)
export class JobsController {
  constructor(@Inject(JOB_REPOSITORY) private readonly jobs: JobRepository) {}

  @MessagePattern(serviceSubject('scheduling', 'jobs.get'))
  async get(@Payload() data: unknown): Promise<JobDetail> {
    const request = parseRequest('jobs.get request', schedulingCallSchemas['jobs.get'].request, data);
    const job = await this.jobs.get(request.tenantId, request.jobId, request.errorLimit);
    if (!job) {
      throw new SchedulingException(
        SchedulingErrorCode.JOB_NOT_FOUND,
        `jobId: tenant ${request.tenantId} has no job ${request.jobId}`,
        'jobId',
      );
    }
    return job;
  }

  @MessagePattern(serviceSubject('scheduling', 'jobs.list'))
  async list(@Payload() data: unknown): Promise<{ jobs: JobSummary[] }> {
    const request = parseRequest('jobs.list request', schedulingCallSchemas['jobs.list'].request, data);
    return {
      jobs: await this.jobs.list(request.tenantId, {
        planId: request.planId,
        requestedBy: request.requestedBy,
        limit: request.limit,
      }),
    };
  }
}
