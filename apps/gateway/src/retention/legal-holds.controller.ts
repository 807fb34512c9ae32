import { Body, Controller, Delete, Get, Inject, Param, Put, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import { z } from 'zod';
import { heldMailboxSchema, legalHoldInputSchema, tenantIdSchema, type LegalHold } from '@mlr/contracts';
import { Audited, noteAudit } from '../audit/audit.decorators.js';
import { Roles } from '../auth/auth.decorators.js';
import { actorOf } from '../http/actor.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });
const mailboxPath = z.strictObject({ tenantId: tenantIdSchema, mailbox: heldMailboxSchema });
const mailboxTarget = (params: Record<string, string>) =>
  params['mailbox'] ? `mailbox:${params['mailbox'].toLowerCase()}` : null;

/**
 * Legal holds: while one is set on a tenant or on one of its mailboxes, none of the index records it
 * covers expires, whatever the plans' retention says (and so no object they reference is released).
 * Set and released by operators and the tenant's admins, every change audited with its reason.
 */
@Controller('v1/tenants/:tenantId')
@Roles('operator', 'tenant_admin')
@UseFilters(ServiceErrorFilter)
export class LegalHoldsController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Get('legal-holds')
  list(@Param() params: unknown): Promise<{ holds: LegalHold[] }> {
    return this.services.call('indexing', 'holds.list', parseHttp('path', tenantPath, params));
  }

  /** A hold on the whole tenant: `{ "reason": "..." }`. Setting it again changes the reason. */
  @Put('legal-hold')
  @Audited('legal_hold.set')
  setOnTenant(@Param() params: unknown, @Body() body: unknown, @Req() request: Request): Promise<LegalHold> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    const { reason } = parseHttp('body', legalHoldInputSchema, body);
    noteAudit(request, { scope: 'tenant', reason });
    return this.services.call('indexing', 'holds.set', { tenantId, mailbox: null, reason, actor: actorOf(request) });
  }

  @Delete('legal-hold')
  @Audited('legal_hold.release')
  async releaseOnTenant(@Param() params: unknown, @Req() request: Request): Promise<{ released: boolean }> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    noteAudit(request, { scope: 'tenant' });
    return this.services.call('indexing', 'holds.release', { tenantId, mailbox: null, actor: actorOf(request) });
  }

  /** A hold on one mailbox (its address, as the index names it). */
  @Put('mailboxes/:mailbox/legal-hold')
  @Audited('legal_hold.set', { target: mailboxTarget })
  setOnMailbox(@Param() params: unknown, @Body() body: unknown, @Req() request: Request): Promise<LegalHold> {
    const { tenantId, mailbox } = parseHttp('path', mailboxPath, params);
    const { reason } = parseHttp('body', legalHoldInputSchema, body);
    noteAudit(request, { scope: 'mailbox', reason });
    return this.services.call('indexing', 'holds.set', { tenantId, mailbox, reason, actor: actorOf(request) });
  }

  @Delete('mailboxes/:mailbox/legal-hold')
  @Audited('legal_hold.release', { target: mailboxTarget })
  releaseOnMailbox(@Param() params: unknown, @Req() request: Request): Promise<{ released: boolean }> {
    const { tenantId, mailbox } = parseHttp('path', mailboxPath, params);
    noteAudit(request, { scope: 'mailbox' });
    return this.services.call('indexing', 'holds.release', { tenantId, mailbox, actor: actorOf(request) });
  }
}
