import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { licensingCallSchemas, serviceSubject, type TenantMlrStatus, type TenantView } from '@mlr/contracts';
import { LicensingExceptionFilter, parseRequest } from '../common/licensing.exception.js';
import { TenantsService } from './tenants.service.js';

const schemas = licensingCallSchemas;

/** `mlr.svc.licensing.tenants.*`: every request is validated here before anything else sees it. */
@Controller()
@UseFilters(LicensingExceptionFilter)
export class TenantsController {
  constructor(@Inject(TenantsService) private readonly tenants: TenantsService) {}

  @MessagePattern(serviceSubject('licensing', 'tenants.create'))
  create(@Payload() data: unknown): Promise<TenantView> {
    const { name, slug, objectLayout, actor } = parseRequest(
      'tenants.create request',
      schemas['tenants.create'].request,
      data,
    );
    return this.tenants.create({ name, slug, objectLayout }, actor);
  }

  @MessagePattern(serviceSubject('licensing', 'tenants.list'))
  list(@Payload() data: unknown): Promise<{ tenants: TenantView[]; next: string | null }> {
    const request = parseRequest('tenants.list request', schemas['tenants.list'].request, data ?? {});
    return this.tenants.list(request.limit, request.after);
  }

  @MessagePattern(serviceSubject('licensing', 'tenants.get'))
  get(@Payload() data: unknown): Promise<TenantView> {
    return this.tenants.get(parseRequest('tenants.get request', schemas['tenants.get'].request, data).tenantId);
  }

  @MessagePattern(serviceSubject('licensing', 'tenants.enableMlr'))
  enableMlr(@Payload() data: unknown): Promise<TenantView> {
    const request = parseRequest('tenants.enableMlr request', schemas['tenants.enableMlr'].request, data);
    return this.tenants.enableMlr(request.tenantId, request.actor);
  }

  @MessagePattern(serviceSubject('licensing', 'tenants.disableMlr'))
  disableMlr(@Payload() data: unknown): Promise<TenantView> {
    const request = parseRequest('tenants.disableMlr request', schemas['tenants.disableMlr'].request, data);
    return this.tenants.disableMlr(request.tenantId, request.actor);
  }

  @MessagePattern(serviceSubject('licensing', 'tenants.setObjectRetention'))
  setObjectRetention(@Payload() data: unknown): Promise<TenantView> {
    const request = parseRequest(
      'tenants.setObjectRetention request',
      schemas['tenants.setObjectRetention'].request,
      data,
    );
    return this.tenants.setObjectRetention(request.tenantId, request.days, request.actor);
  }

  @MessagePattern(serviceSubject('licensing', 'tenants.setUploadQuota'))
  setUploadQuota(@Payload() data: unknown): Promise<TenantView> {
    const request = parseRequest('tenants.setUploadQuota request', schemas['tenants.setUploadQuota'].request, data);
    return this.tenants.setUploadQuota(request.tenantId, request.bytes, request.actor);
  }

  /** For the other services: may jobs of this tenant run, and if not, why not. */
  @MessagePattern(serviceSubject('licensing', 'tenants.status'))
  status(@Payload() data: unknown): Promise<TenantMlrStatus> {
    return this.tenants.status(
      parseRequest('tenants.status request', schemas['tenants.status'].request, data).tenantId,
    );
  }
}
