import { Controller, ForbiddenException, Get, Inject, Param, Query, Req, UseFilters } from '@nestjs/common';
import { z } from 'zod';
import { jobIdSchema, planIdSchema, tenantIdSchema, type JobDetail, type JobSummary } from '@mlr/contracts';
import { Roles } from '../auth/auth.decorators.js';
import { principalOf, type AuthenticatedRequest } from '../auth/principal.js';
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

/**
 * Jobs of one tenant (tenant first in the path, checked by the guard against the token). Operators
 * and tenant admins read every job of the tenant; a user reads only the jobs they asked for (their
 * restores and exports).
 */
@Controller('v1/tenants/:tenantId/jobs')
@Roles('operator', 'tenant_admin', 'user')
@UseFilters(ServiceErrorFilter)
export class JobsController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  /** The newest jobs; for a user, those among them that they asked for. */
  @Get()
  async list(
    @Param() params: unknown,
    @Query() query: unknown,
    @Req() request: AuthenticatedRequest,
  ): Promise<{ jobs: JobSummary[] }> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const { planId, limit } = parseHttp('query', listQuery, query);
    const principal = principalOf(request);
    // A user sees only the jobs they asked for: filtered by scheduling, so a page is a full page.
    return this.services.call('scheduling', 'jobs.list', {
      tenantId,
      limit,
      ...(planId ? { planId } : {}),
      ...(principal.role === 'user' ? { requestedBy: principal.sub } : {}),
    });
  }

  @Get(':jobId')
  async get(
    @Param() params: unknown,
    @Query() query: unknown,
    @Req() request: AuthenticatedRequest,
  ): Promise<JobDetail> {
    const path = parseHttp('path', jobPath, params);
    const { errorLimit } = parseHttp('query', getQuery, query);
    const job = await this.services.call('scheduling', 'jobs.get', { ...path, errorLimit });
    const principal = principalOf(request);
    if (principal.role === 'user' && job.requestedBy !== principal.sub) {
      throw new ForbiddenException(
        `a user may read only the jobs they asked for; job ${path.jobId} is not one of them`,
      );
    }
    return job;
  }
}
