import { Controller, Get, Inject, Param, Query, UseFilters } from '@nestjs/common';
import { z } from 'zod';
import { jobIdSchema, planIdSchema, tenantIdSchema, type JobDetail, type JobSummary } from '@mlr/contracts';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });
const jobPath = z.strictObject({ tenantId: tenantIdSchema, jobId: jobIdSchema });
const listQuery = z.strictObject({
  planId: planIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const getQuery = z.strictObject({ errorLimit: z.coerce.number().int().min(0).max(1_000).default(100) });

/** Jobs of one tenant (tenant first in the path, for the authorisation guard to come). */
@Controller('v1/tenants/:tenantId/jobs')
@UseFilters(ServiceErrorFilter)
export class JobsController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Get()
  list(@Param() params: unknown, @Query() query: unknown): Promise<{ jobs: JobSummary[] }> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const { planId, limit } = parseHttp('query', listQuery, query);
    return this.services.call('scheduling', 'jobs.list', { tenantId, limit, ...(planId ? { planId } : {}) });
  }

  @Get(':jobId')
  get(@Param() params: unknown, @Query() query: unknown): Promise<JobDetail> {
    const path = parseHttp('path', jobPath, params);
    const { errorLimit } = parseHttp('query', getQuery, query);
    return this.services.call('scheduling', 'jobs.get', { ...path, errorLimit });
  }
}
