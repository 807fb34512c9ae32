import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  UseFilters,
} from '@nestjs/common';
import { z } from 'zod';
import { searchQuerySchema, tenantIdSchema, type SearchQuery, type SearchResult } from '@mlr/contracts';
import { Audited, noteAudit } from '../audit/audit.decorators.js';
import { Roles } from '../auth/auth.decorators.js';
import type { AuthenticatedRequest } from '../auth/principal.js';
import { requesterOf } from '../http/requester.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';
import { searchQueryFromQueryString } from './search-query-string.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });

/**
 * Searches the index records of one tenant: `GET` with the criteria in the query string (lists as
 * repeated parameters), or `POST` with the same criteria as a JSON body. Pages continue with
 * `cursor` = the previous page's `nextCursor`. Tenant admins and users only (operators see no mail
 * content); what they see is decided by `requesterOf`, and every search is audited.
 */
@Controller('v1/tenants/:tenantId/search')
@Roles('tenant_admin', 'user')
@UseFilters(ServiceErrorFilter)
export class SearchController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Get()
  @Audited('search')
  byQueryString(
    @Param() params: unknown,
    @Query() query: unknown,
    @Req() request: AuthenticatedRequest,
  ): Promise<SearchResult> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    return this.search(request, tenantId, parseHttp('query', searchQuerySchema, searchQueryFromQueryString(query)));
  }

  @Post()
  @HttpCode(200)
  @Audited('search')
  byBody(@Param() params: unknown, @Body() body: unknown, @Req() request: AuthenticatedRequest): Promise<SearchResult> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    return this.search(request, tenantId, parseHttp('body', searchQuerySchema, body));
  }

  private async search(request: AuthenticatedRequest, tenantId: string, query: SearchQuery): Promise<SearchResult> {
    const { visibleMailboxes } = await requesterOf(request, this.services);
    const criteria = Object.keys(query).filter((key) => key !== 'limit' && key !== 'cursor');
    noteAudit(request, {
      criteria,
      ...(query.mailboxes ? { mailboxes: query.mailboxes } : {}),
      scope: visibleMailboxes === 'all' ? 'all' : visibleMailboxes,
    });
    if (visibleMailboxes !== 'all' && query.mailboxes) {
      const visible = new Set(visibleMailboxes);
      const outside = query.mailboxes.filter((mailbox) => !visible.has(mailbox.toLowerCase()));
      if (outside.length > 0) {
        throw new ForbiddenException(
          `you may search only your own and delegated mailboxes (${visibleMailboxes.join(', ') || 'none'}); not yours: ${outside.join(', ')}`,
        );
      }
    }
    return this.services.call('indexing', 'records.search', { tenantId, visibleMailboxes, ...query });
  }
}
