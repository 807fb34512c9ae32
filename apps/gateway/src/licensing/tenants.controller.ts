import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put, Query, Req, Res, UseFilters } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  tenantIdSchema,
  tenantInputSchema,
  tenantListQuerySchema,
  objectRetentionInputSchema,
  uploadQuotaInputSchema,
  type TenantView,
} from '@mlr/contracts';
import { Audited } from '../audit/audit.decorators.js';
import { Roles } from '../auth/auth.decorators.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';
import { operatorActor } from './operator.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });
const tenantTarget = (result: unknown) =>
  result && typeof result === 'object' && 'id' in result ? `tenant:${String(result.id)}` : null;

/** Tenants of the MSP and their MLR enablement (operators only). */
@Controller('v1/tenants')
@Roles('operator')
@UseFilters(ServiceErrorFilter)
export class TenantsController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  /** Creates a tenant (MLR disabled); refused beyond the licence's tenant limit. */
  @Post()
  @HttpCode(201)
  @Audited('tenant.create', { target: (_params, result) => tenantTarget(result) })
  async create(
    @Body() body: unknown,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TenantView> {
    const input = parseHttp('body', tenantInputSchema, body);
    const tenant = await this.services.call('licensing', 'tenants.create', { ...input, actor: operatorActor(request) });
    response.location(`/v1/tenants/${tenant.id}`);
    return tenant;
  }

  /** Tenants by slug, a page at a time (`next` is the `after` of the next page). */
  @Get()
  list(@Query() query: unknown): Promise<{ tenants: TenantView[]; next: string | null }> {
    const { limit, after } = parseHttp('query', tenantListQuerySchema, query);
    return this.services.call('licensing', 'tenants.list', { limit, ...(after ? { after } : {}) });
  }

  @Get(':tenantId')
  get(@Param() params: unknown): Promise<TenantView> {
    return this.services.call('licensing', 'tenants.get', parseHttp('path', tenantPath, params));
  }

  /** Enables MLR; refused (409) without a licence in force that has the `mlr` feature and room. */
  @Post(':tenantId/mlr/enable')
  @HttpCode(200)
  @Audited('tenant.mlr.enable')
  enableMlr(@Param() params: unknown, @Req() request: Request): Promise<TenantView> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    return this.services.call('licensing', 'tenants.enableMlr', { tenantId, actor: operatorActor(request) });
  }

  /**
   * Sets the tenant's upload quota: the bytes of large messages its connectors may have waiting for
   * storage at once (`{ "bytes": n }`, or `{ "bytes": null }` for the platform default). At the quota
   * its connectors wait; a message larger than it is refused naming it. Refused (409) when NATS
   * cannot reserve that much beside the other tenants' quotas.
   */
  @Put(':tenantId/upload-quota')
  @Audited('tenant.quota.set')
  setUploadQuota(@Param() params: unknown, @Body() body: unknown, @Req() request: Request): Promise<TenantView> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const { bytes } = parseHttp('body', uploadQuotaInputSchema, body);
    return this.services.call('licensing', 'tenants.setUploadQuota', {
      tenantId,
      bytes,
      actor: operatorActor(request),
    });
  }

  /**
   * Sets the tenant's default Object Lock retention: every object and pack of the tenant written from
   * now on stays locked at least that many days (`{ "days": n }`, or `{ "days": null }` for the
   * platform's default). It never shortens the platform's retention, nor what is written already.
   */
  @Put(':tenantId/object-retention')
  @Audited('tenant.retention.set')
  setObjectRetention(@Param() params: unknown, @Body() body: unknown, @Req() request: Request): Promise<TenantView> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const { days } = parseHttp('body', objectRetentionInputSchema, body);
    return this.services.call('licensing', 'tenants.setObjectRetention', {
      tenantId,
      days,
      actor: operatorActor(request),
    });
  }

  /** Disables MLR: from now on the tenant's backup and restore jobs are refused. */
  @Post(':tenantId/mlr/disable')
  @HttpCode(200)
  @Audited('tenant.mlr.disable')
  disableMlr(@Param() params: unknown, @Req() request: Request): Promise<TenantView> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    return this.services.call('licensing', 'tenants.disableMlr', { tenantId, actor: operatorActor(request) });
  }
}
