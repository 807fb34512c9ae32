import { Controller, Get, Header, Inject, Query, Res, UseFilters } from '@nestjs/common';
import type { Response } from 'express';
import { usageQuerySchema, type UsageReport } from '@mlr/contracts';
import { Roles } from '../auth/auth.decorators.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';
import { usageCsv } from './usage-csv.js';

/**
 * Metered usage per tenant, for billing (operators only). Each request measures afresh and is kept
 * as usage samples by the licensing service.
 */
@Controller('v1')
@Roles('operator')
@UseFilters(ServiceErrorFilter)
export class UsageController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Get('usage')
  report(@Query() query: unknown): Promise<UsageReport> {
    return this.measure(query);
  }

  @Get('usage.csv')
  @Header('content-type', 'text/csv; charset=utf-8')
  async csv(@Query() query: unknown, @Res({ passthrough: true }) response: Response): Promise<string> {
    const report = await this.measure(query);
    const stamp = report.generatedAt.replace(/[:.]/g, '-');
    response.setHeader('content-disposition', `attachment; filename="mlr-usage-${stamp}.csv"`);
    return usageCsv(report);
  }

  private measure(query: unknown): Promise<UsageReport> {
    const { tenantId } = parseHttp('query', usageQuerySchema, query);
    // Measuring walks every tenant's backup jobs, checkpoints and objects: give it longer than a lookup.
    return this.services.call('licensing', 'usage.report', tenantId ? { tenantId } : {}, 30_000);
  }
}
