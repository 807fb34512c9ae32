import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { referenceCallSchemas, serviceSubject } from '@mlr/contracts';
import { PRISMA, type PrismaClient } from '@mlr/db';
import { parseRetentionRequest, RetentionExceptionFilter } from '../retention/retention.exception.js';

/**
 * `mlr.svc.indexing.references.pending`: which of the given tenants have reference changes storage
 * has not applied yet (their counts are not final): storage's collector removes nothing of them.
 */
@Controller()
@UseFilters(RetentionExceptionFilter)
export class ReferencesController {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  @MessagePattern(serviceSubject('indexing', 'references.pending'))
  async pending(@Payload() data: unknown): Promise<{ tenants: string[] }> {
    const request = parseRetentionRequest(
      'references.pending request',
      referenceCallSchemas['references.pending'].request,
      data,
    );
    const rows = await this.prisma.$queryRaw<Array<{ tenant_id: string }>>`
      SELECT t.tenant_id FROM unnest(${request.tenantIds}::text[]) AS t(tenant_id)
      WHERE EXISTS (SELECT 1 FROM reference_changes c WHERE c.tenant_id = t.tenant_id)
      ORDER BY 1`;
    return { tenants: rows.map((row) => row.tenant_id) };
  }
}
