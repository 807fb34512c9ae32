import { Controller, Get, Inject, Param, Query, UseFilters } from '@nestjs/common';
import { z } from 'zod';
import { auditListQuerySchema, tenantIdSchema, type AuditList } from '@mlr/contracts';
import { Roles } from '../auth/auth.decorators.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });
const tenantQuery = auditListQuerySchema.omit({ tenantId: true });

/**
 * The audit trail, newest first, a page at a time (`cursor` = the previous page's `nextCursor`),
 * filtered by `action` (or a dotted prefix such as `plan`), `outcome`, `actor`, `since` and `until`.
 * Operators read every event (`tenantId` narrows to one tenant); tenant admins read their tenant's.
 */
@Controller('v1')
@UseFilters(ServiceErrorFilter)
export class AuditController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Get('audit')
  @Roles('operator')
  all(@Query() query: unknown): Promise<AuditList> {
    return this.services.call('licensing', 'audit.list', parseHttp('query', auditListQuerySchema, query));
  }

  @Get('tenants/:tenantId/audit')
  @Roles('operator', 'tenant_admin')
  ofTenant(@Param() params: unknown, @Query() query: unknown): Promise<AuditList> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    return this.services.call('licensing', 'audit.list', { ...parseHttp('query', tenantQuery, query), tenantId });
  }
}
