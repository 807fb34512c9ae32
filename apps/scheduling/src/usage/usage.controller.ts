import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { PROTECTED_WINDOW_DAYS, serviceSubject, usageCallSchemas, type ProtectedMailboxes } from '@mlr/contracts';
import { PRISMA, type PrismaClient } from '@mlr/db';
import { parseRequest, SchedulingExceptionFilter } from '../common/scheduling.exception.js';
import { listProtectedMailboxes, protectedMailboxesByTenant } from './protected-mailboxes.js';

/**
 * `mlr.svc.scheduling.mailboxes.protected`: which mailboxes were backed up in the metering window,
 * per tenant — asked by licensing for its usage report and its licence's protected-mailbox limit
 * (the jobs, their errors and the checkpoints it is counted from are scheduling's).
 */
@Controller()
@UseFilters(SchedulingExceptionFilter)
export class UsageController {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  @MessagePattern(serviceSubject('scheduling', 'mailboxes.protected'))
  async protectedMailboxes(@Payload() data: unknown): Promise<ProtectedMailboxes> {
    const request = parseRequest('mailboxes.protected request', usageCallSchemas['mailboxes.protected'].request, data);
    const at = new Date(request.at);
    const perTenant = await protectedMailboxesByTenant(
      this.prisma,
      at,
      request.tenantId === undefined ? {} : { tenantId: request.tenantId },
    );
    const names =
      request.names && request.tenantId !== undefined
        ? await listProtectedMailboxes(this.prisma, at, request.tenantId)
        : undefined;
    return {
      windowDays: PROTECTED_WINDOW_DAYS,
      tenants: [...perTenant].map(([tenantId, mailboxes]) => ({
        tenantId,
        mailboxes,
        ...(names === undefined ? {} : { names }),
      })),
    };
  }
}
