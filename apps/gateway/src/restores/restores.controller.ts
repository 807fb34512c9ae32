import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import type { Response } from 'express';
import { z } from 'zod';
import {
  jobIdSchema,
  RESTORE_OUTCOMES,
  restoreInputSchema,
  tenantIdSchema,
  type JobItemList,
  type RestoreAccepted,
} from '@mlr/contracts';
import { Audited, noteAudit } from '../audit/audit.decorators.js';
import { Roles } from '../auth/auth.decorators.js';
import type { AuthenticatedRequest } from '../auth/principal.js';
import { requesterOf } from '../http/requester.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });
const jobPath = z.strictObject({ tenantId: tenantIdSchema, jobId: jobIdSchema });
const itemsQuery = z.strictObject({
  outcome: z.enum(['pending', ...RESTORE_OUTCOMES]).optional(),
  /** `nextAfter` of the previous page. */
  after: z.coerce.number().int().min(-1).default(-1),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});

/** Audit target of a restore request: the job it created, else the tenant it was asked for. */
function restoreTarget(params: Record<string, string>, result: unknown): string | null {
  const jobId = (result as { jobId?: unknown } | undefined)?.jobId;
  if (typeof jobId === 'string') return `job:${jobId}`;
  return params['tenantId'] ? `tenant:${params['tenantId']}` : null;
}

/**
 * Resolving up to 10,000 records in pages and writing them with the job takes longer than the
 * default 5 s of a service call.
 */
const CREATE_TIMEOUT_MS = 60_000;

/**
 * Restores and exports of one tenant, and the items of their jobs with what became of each. Mail
 * content is involved, so operators may not call these (the services refuse them too). Every restore
 * request is audited (`restore.create`, target `job:<id>`).
 */
@Controller('v1/tenants/:tenantId')
@UseFilters(ServiceErrorFilter)
@Roles('tenant_admin', 'user')
export class RestoresController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  /** Queues a restore or export: 202 with the job to follow at `Location`. */
  @Post('restores')
  @HttpCode(202)
  @Audited('restore.create', { target: restoreTarget })
  async create(
    @Param() params: unknown,
    @Body() body: unknown,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<RestoreAccepted> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const input = parseHttp('body', restoreInputSchema, body);
    // The connector the restore names decides whether its service account may act for the requester.
    const requester = await requesterOf(request, this.services, { connectorId: input.connectorId });
    // What was asked, never mail content: the kind of target and selection, whose mailboxes, and who
    // would act (the agent with the service account, or the caller with the owner's own credentials).
    noteAudit(request, {
      target: input.target.kind,
      ...(input.target.kind === 'mailbox' ? { targetMailbox: input.target.mailbox } : {}),
      ...(input.recordIds ? { recordIds: input.recordIds.length } : {}),
      ...(input.query ? { criteria: Object.keys(input.query) } : {}),
      ...(input.connectorId ? { connectorId: input.connectorId } : {}),
      runBy: input.runBy,
      scope: requester.visibleMailboxes,
      serviceAccount: requester.serviceAccount,
    });
    const accepted = await this.services.call(
      'scheduling',
      'restores.create',
      { ...input, tenantId, requester },
      CREATE_TIMEOUT_MS,
    );
    response.location(`/v1/tenants/${tenantId}/jobs/${accepted.jobId}`);
    return accepted;
  }

  /** Items of a restore or export job by `seq`; `after` = the previous page's `nextAfter`. */
  @Get('jobs/:jobId/items')
  async items(
    @Param() params: unknown,
    @Query() query: unknown,
    @Req() request: AuthenticatedRequest,
  ): Promise<JobItemList> {
    const path = parseHttp('path', jobPath, params);
    const { outcome, after, limit } = parseHttp('query', itemsQuery, query);
    const requester = await requesterOf(request, this.services);
    return this.services.call('scheduling', 'jobs.items', {
      ...path,
      after,
      limit,
      requester,
      ...(outcome ? { outcome } : {}),
    });
  }
}
