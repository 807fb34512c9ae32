import { Body, Controller, Get, HttpCode, Inject, Param, Post, Req, Res, UseFilters } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  connectorIdSchema,
  connectorInputSchema,
  tenantIdSchema,
  type ConnectorView,
  type CreatedConnector,
} from '@mlr/contracts';
import { Audited } from '../audit/audit.decorators.js';
import { Roles } from '../auth/auth.decorators.js';
import { actorOf } from '../http/actor.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });
const connectorPath = z.strictObject({ tenantId: tenantIdSchema, connectorId: connectorIdSchema });
const createdTarget = (result: unknown) => {
  const id = (result as { connector?: { id?: unknown } } | null)?.connector?.id;
  return typeof id === 'string' ? `connector:${id}` : null;
};

/**
 * Connectors of one tenant (operators and the tenant's admins). Creating one issues its single-use
 * enrolment token, shown in this answer only.
 */
@Controller('v1/tenants/:tenantId/connectors')
@Roles('operator', 'tenant_admin')
@UseFilters(ServiceErrorFilter)
export class ConnectorsController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(201)
  @Audited('connector.create', { target: (_params, result) => createdTarget(result) })
  async create(
    @Param() params: unknown,
    @Body() body: unknown,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CreatedConnector> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const input = parseHttp('body', connectorInputSchema, body);
    const created = await this.services.call('licensing', 'connectors.create', {
      ...input,
      tenantId,
      actor: actorOf(request),
    });
    // The answer carries the enrolment token: no cache may keep it.
    response.setHeader('Cache-Control', 'no-store');
    response.location(`/v1/tenants/${tenantId}/connectors/${created.connector.id}`);
    return created;
  }

  @Get()
  list(@Param() params: unknown): Promise<{ connectors: ConnectorView[] }> {
    return this.services.call('licensing', 'connectors.list', parseHttp('path', tenantPath, params));
  }

  @Get(':connectorId')
  get(@Param() params: unknown): Promise<ConnectorView> {
    return this.services.call('licensing', 'connectors.get', parseHttp('path', connectorPath, params));
  }

  /**
   * Revokes the connector: its enrolment token can no longer be used, it gets no more jobs, and its
   * NATS credentials are revoked on the server (`natsRevokedAt` says when that took effect).
   */
  @Post(':connectorId/revoke')
  @HttpCode(200)
  @Audited('connector.revoke')
  revoke(@Param() params: unknown, @Req() request: Request): Promise<ConnectorView> {
    const path = parseHttp('path', connectorPath, params);
    return this.services.call('licensing', 'connectors.revoke', { ...path, actor: actorOf(request) });
  }
}
