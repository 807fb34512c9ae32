import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  connectorIdSchema,
  planIdSchema,
  planInputSchema,
  planPatchSchema,
  planRunInputSchema,
  tenantIdSchema,
  type Plan,
} from '@mlr/contracts';
import { Audited } from '../audit/audit.decorators.js';
import { Roles } from '../auth/auth.decorators.js';
import { actorOf } from '../http/actor.js';
import { checkBackupScope } from '../auth/backup-scope.js';
import { principalOf } from '../auth/principal.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });
const planPath = z.strictObject({ tenantId: tenantIdSchema, planId: planIdSchema });
const listQuery = z.strictObject({ connectorId: connectorIdSchema.optional() });
const planTarget = (result: unknown) =>
  result && typeof result === 'object' && 'id' in result ? `plan:${String(result.id)}` : null;

/**
 * Backup plans of one tenant. The tenant is the first path segment of every route, so that an
 * authorisation guard can decide on it before any handler runs.
 */
@Controller('v1/tenants/:tenantId/plans')
@Roles('operator', 'tenant_admin')
@UseFilters(ServiceErrorFilter)
export class PlansController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(201)
  @Audited('plan.create', { target: (_params, result) => planTarget(result) })
  async create(@Param() params: unknown, @Body() body: unknown, @Req() request: Request): Promise<Plan> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const plan = parseHttp('body', planInputSchema, body);
    await checkBackupScope(request, this.services, plan.mailboxes, plan.connectorId);
    return this.services.call('scheduling', 'plans.create', { ...plan, tenantId, actor: actorOf(request) });
  }

  @Get()
  list(@Param() params: unknown, @Query() query: unknown): Promise<{ plans: Plan[] }> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const { connectorId } = parseHttp('query', listQuery, query);
    return this.services.call('scheduling', 'plans.list', { tenantId, ...(connectorId ? { connectorId } : {}) });
  }

  @Get(':planId')
  get(@Param() params: unknown): Promise<Plan> {
    return this.services.call('scheduling', 'plans.get', parseHttp('path', planPath, params));
  }

  @Patch(':planId')
  @Audited('plan.update')
  async update(@Param() params: unknown, @Body() body: unknown, @Req() request: Request): Promise<Plan> {
    const path = parseHttp('path', planPath, params);
    const changes = parseHttp('body', planPatchSchema, body);
    // Another connector may have no "Receive As" for the same mailboxes: either change is checked.
    if (changes.mailboxes !== undefined || changes.connectorId !== undefined) {
      await this.checkPlanScope(request, path, changes);
    }
    return this.services.call('scheduling', 'plans.update', { ...path, actor: actorOf(request), changes });
  }

  @Delete(':planId')
  @Audited('plan.delete')
  delete(@Param() params: unknown, @Req() request: Request): Promise<{ id: string; deletedAt: string }> {
    const path = parseHttp('path', planPath, params);
    return this.services.call('scheduling', 'plans.delete', { ...path, actor: actorOf(request) });
  }

  /** Queues a backup of the plan now: 202 with the job to follow at `Location`. */
  @Post(':planId/run')
  @HttpCode(202)
  @Audited('plan.run')
  async run(
    @Param() params: unknown,
    @Body() body: unknown,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<{ jobId: string; state: 'queued' }> {
    const path = parseHttp('path', planPath, params);
    const { full } = parseHttp('body', planRunInputSchema, body);
    // The plan was within the scope of whoever set it; the one who runs it now must reach it too.
    await this.checkPlanScope(request, path, {});
    const accepted = await this.services.call('scheduling', 'plans.run', { ...path, actor: actorOf(request), full });
    response.location(`/v1/tenants/${path.tenantId}/jobs/${accepted.jobId}`);
    return accepted;
  }

  /**
   * `checkBackupScope` of a stored plan, with `changes` applied (what it will back up, through which
   * connector). Operators are exempt, so their requests do not read the plan first.
   */
  private async checkPlanScope(
    request: Request,
    path: z.infer<typeof planPath>,
    changes: { mailboxes?: Plan['mailboxes'] | undefined; connectorId?: string | undefined },
  ): Promise<void> {
    if (principalOf(request).role === 'operator') return;
    let { mailboxes, connectorId } = changes;
    if (mailboxes === undefined || connectorId === undefined) {
      const stored = await this.services.call('scheduling', 'plans.get', path);
      mailboxes ??= stored.mailboxes;
      connectorId ??= stored.connectorId;
    }
    await checkBackupScope(request, this.services, mailboxes, connectorId);
  }
}
