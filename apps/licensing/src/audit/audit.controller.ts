import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { auditCallSchemas, serviceSubject, type AuditList } from '@mlr/contracts';
import { LicensingExceptionFilter, parseRequest } from '../common/licensing.exception.js';
import { AUDIT_REPOSITORY, type AuditRepository } from './audit.repository.js';

/**
 * `mlr.svc.licensing.audit.*`: the audit trail of searches, restores, exports, plan, licence, tenant
 * and connector changes. The gateway records them and decides who may read which tenant's events.
 */
@Controller()
@UseFilters(LicensingExceptionFilter)
export class AuditController {
  constructor(@Inject(AUDIT_REPOSITORY) private readonly audit: AuditRepository) {}

  @MessagePattern(serviceSubject('licensing', 'audit.record'))
  async record(@Payload() data: unknown): Promise<{ id: string; at: string }> {
    const event = parseRequest('audit.record request', auditCallSchemas['audit.record'].request, data);
    const recorded = await this.audit.record(event);
    return { id: recorded.id, at: recorded.at.toISOString() };
  }

  @MessagePattern(serviceSubject('licensing', 'audit.list'))
  async list(@Payload() data: unknown): Promise<AuditList> {
    const request = parseRequest('audit.list request', auditCallSchemas['audit.list'].request, data ?? {});
    const events = await this.audit.list({
      tenantId: request.tenantId,
      action: request.action,
      outcome: request.outcome,
      actor: request.actor,
      since: request.since === undefined ? undefined : new Date(request.since),
      until: request.until === undefined ? undefined : new Date(request.until),
      before: request.cursor === undefined ? undefined : BigInt(request.cursor),
      // One more than asked tells whether another page follows.
      limit: request.limit + 1,
    });
    const page = events.slice(0, request.limit);
    const last = page.at(-1);
    return { events: page, nextCursor: events.length > request.limit && last ? last.id : null };
  }
}
