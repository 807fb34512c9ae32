import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { serviceSubject, usageCallSchemas, type ObjectsUsage } from '@mlr/contracts';
import { PRISMA, Prisma, type PrismaClient } from '@mlr/db';
import { defineDomainErrors } from '@mlr/runtime';

const { Filter: StorageRequestFilter, parse: parseStorageRequest } = defineDomainErrors({
  name: 'StorageRequestException',
  replyCodes: { INVALID_REQUEST: 'invalid_request' },
  invalidRequest: { code: 'INVALID_REQUEST' },
});

/** Counts and byte totals fit a JavaScript number by many orders of magnitude (2^53 bytes = 8 PiB). */
function count(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${value} exceeds the safe integer range`);
  return Number(value);
}

/**
 * `mlr.svc.storage.objects.usage`: what storage holds per tenant, for licensing's usage report (the
 * objects and packs are storage's). Stored objects are the sealed messages (one per tenant and
 * content id); stored bytes are what S3 holds for the tenant: its packs whole (footers, and members
 * another replica's copy won, included) and its objects of their own.
 */
@Controller()
@UseFilters(StorageRequestFilter)
export class ObjectsUsageController {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  @MessagePattern(serviceSubject('storage', 'objects.usage'))
  async usage(@Payload() data: unknown): Promise<ObjectsUsage> {
    const request = parseStorageRequest('objects.usage request', usageCallSchemas['objects.usage'].request, data);
    const onlyObjects =
      request.tenantId === undefined ? Prisma.empty : Prisma.sql`WHERE s.tenant_id = ${request.tenantId}`;
    const onlyPacks =
      request.tenantId === undefined ? Prisma.empty : Prisma.sql`WHERE k.tenant_id = ${request.tenantId}`;
    const rows = await this.prisma.$queryRaw<
      Array<{ tenant_id: string; stored_objects: bigint; stored_bytes: bigint }>
    >`
      SELECT coalesce(o.tenant_id, p.tenant_id) AS tenant_id,
        coalesce(o.stored_objects, 0)::bigint AS stored_objects,
        (coalesce(o.individual_bytes, 0) + coalesce(p.pack_bytes, 0))::bigint AS stored_bytes
      FROM (
        SELECT s.tenant_id, count(*) AS stored_objects,
          coalesce(sum(s.sealed_size) FILTER (WHERE s.pack_id IS NULL), 0) AS individual_bytes
        FROM stored_objects s ${onlyObjects}
        GROUP BY s.tenant_id
      ) o
      FULL JOIN (
        SELECT k.tenant_id, sum(k.size) AS pack_bytes FROM packs k ${onlyPacks} GROUP BY k.tenant_id
      ) p ON p.tenant_id = o.tenant_id
      ORDER BY 1`;
    return {
      tenants: rows.map((row) => ({
        tenantId: row.tenant_id,
        storedObjects: count(row.stored_objects, 'stored objects'),
        storedBytes: count(row.stored_bytes, 'stored bytes'),
      })),
    };
  }
}
