import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  EXPIRE_MAX_RECORDS,
  retentionCallSchemas,
  serviceSubject,
  type ExpireRecordsResponse,
  type LegalHold,
} from '@mlr/contracts';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { parseRetentionRequest, RetentionExceptionFilter } from './retention.exception.js';
import { RetentionRepository } from './retention.repository.js';

/**
 * `mlr.svc.indexing.holds.*` and `records.expire`: legal holds (set and released by people through
 * the gateway, which audits them) and the expiry of index records (asked by scheduling, which knows
 * the plans' retention and audits what went).
 */
@Controller()
@UseFilters(RetentionExceptionFilter)
export class RetentionController {
  constructor(
    @Inject(RetentionRepository) private readonly retention: RetentionRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(serviceSubject('indexing', 'holds.set'))
  async setHold(@Payload() data: unknown): Promise<LegalHold> {
    const request = parseRetentionRequest('holds.set request', retentionCallSchemas['holds.set'].request, data);
    const hold = await this.retention.setHold(request.tenantId, request.mailbox, request.reason, request.actor);
    this.logger.info({ event: 'hold.set', tenantId: request.tenantId, mailbox: request.mailbox }, 'legal hold set');
    return hold;
  }

  @MessagePattern(serviceSubject('indexing', 'holds.release'))
  async releaseHold(@Payload() data: unknown): Promise<{ released: boolean }> {
    const request = parseRetentionRequest('holds.release request', retentionCallSchemas['holds.release'].request, data);
    const released = await this.retention.releaseHold(request.tenantId, request.mailbox);
    this.logger.info(
      { event: 'hold.release', tenantId: request.tenantId, mailbox: request.mailbox, released },
      released ? 'legal hold released' : 'no such legal hold to release',
    );
    return { released };
  }

  @MessagePattern(serviceSubject('indexing', 'holds.list'))
  async listHolds(@Payload() data: unknown): Promise<{ holds: LegalHold[] }> {
    const request = parseRetentionRequest('holds.list request', retentionCallSchemas['holds.list'].request, data);
    return { holds: await this.retention.listHolds(request.tenantId) };
  }

  @MessagePattern(serviceSubject('indexing', 'records.expire'))
  async expire(@Payload() data: unknown): Promise<ExpireRecordsResponse> {
    const request = parseRetentionRequest(
      'records.expire request',
      retentionCallSchemas['records.expire'].request,
      data,
    );
    const mailboxes = [];
    for (const { mailbox, before } of request.mailboxes) {
      mailboxes.push(await this.retention.expire(request.tenantId, mailbox, new Date(before), EXPIRE_MAX_RECORDS));
    }
    const expired = mailboxes.reduce((sum, mailbox) => sum + mailbox.expired, 0);
    if (expired > 0) {
      this.logger.info({ event: 'records.expired', tenantId: request.tenantId, expired }, 'index records expired');
    }
    return { mailboxes };
  }
}
