import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { auditCallSchemas, serviceSubject, type TenantAccess } from '@mlr/contracts';
import { LicensingExceptionFilter, parseRequest } from '../common/licensing.exception.js';
import { ACCESS_REPOSITORY, type AccessRepository } from './access.repository.js';
import { tenantAccess } from './tenant-access.js';

/**
 * `mlr.svc.licensing.tenants.access`: may a tenant admin see every mailbox of the tenant (or, given
 * `connectorId`, of that connector), and may the service account act for them?
 */
@Controller()
@UseFilters(LicensingExceptionFilter)
export class AccessController {
  constructor(@Inject(ACCESS_REPOSITORY) private readonly access: AccessRepository) {}

  @MessagePattern(serviceSubject('licensing', 'tenants.access'))
  async tenantAccess(@Payload() data: unknown): Promise<TenantAccess> {
    const { tenantId, connectorId } = parseRequest(
      'tenants.access request',
      auditCallSchemas['tenants.access'].request,
      data,
    );
    return tenantAccess(tenantId, await this.access.connectorsInService(tenantId), connectorId);
  }
}
