import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, UseFilters } from '@nestjs/common';
import { z } from 'zod';
import { searchQuerySchema, tenantIdSchema, type SearchQuery, type SearchResult } from '@mlr/contracts';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';
import { searchQueryFromQueryString } from './search-query-string.js';

const tenantPath = z.strictObject({ tenantId: tenantIdSchema });

/**
 * Searches the index records of one tenant: `GET` with the criteria in the query string (lists as
 * repeated parameters), or `POST` with the same criteria as a JSON body. Pages continue with
 * `cursor` = the previous page's `nextCursor`.
 */
@Controller('v1/tenants/:tenantId/search')
@UseFilters(ServiceErrorFilter)
export class SearchController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Get()
  byQueryString(@Param() params: unknown, @Query() query: unknown): Promise<SearchResult> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    return this.search(tenantId, parseHttp('query', searchQuerySchema, searchQueryFromQueryString(query)));
  }

  @Post()
  @HttpCode(200)
  byBody(@Param() params: unknown, @Body() body: unknown): Promise<SearchResult> {
    const { tenantId } = parseHttp('path', tenantPath, params);
    return this.search(tenantId, parseHttp('body', searchQuerySchema, body));
  }

  private search(tenantId: string, query: SearchQuery): Promise<SearchResult> {
    // Authorisation comes with authentication (a later issue): until then every caller may see every
    // mailbox of the tenant. This is the one place that decides it; the guard's principal will
    // narrow it to the caller's own and delegated mailboxes unless the caller is a tenant admin.
    const visibleMailboxes = 'all' as const;
    return this.services.call('indexing', 'records.search', { tenantId, visibleMailboxes, ...query });
  }
}
