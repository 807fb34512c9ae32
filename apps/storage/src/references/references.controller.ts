import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { referenceCallSchemas, serviceSubject, type AppliedReferences } from '@mlr/contracts';
import { PRISMA, type PrismaClient } from '@mlr/db';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { parseStorageRequest, StorageRequestFilter } from '../common/storage-request.js';
import { applyReferenceChanges } from './reference-counts.js';

/** `mlr.svc.storage.references.apply`: the reference changes indexing relays (see reference-counts.ts). */
@Controller()
@UseFilters(StorageRequestFilter)
export class ReferencesController {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(serviceSubject('storage', 'references.apply'))
  async apply(@Payload() data: unknown): Promise<AppliedReferences> {
    const request = parseStorageRequest(
      'references.apply request',
      referenceCallSchemas['references.apply'].request,
      data,
    );
    const applied = await applyReferenceChanges(this.prisma, request);
    if (applied.repeated > 0 || applied.unknownObjects > 0) {
      this.logger.info({ event: 'references.applied', ...applied }, 'reference changes applied');
    }
    return applied;
  }
}
