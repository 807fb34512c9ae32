import { Body, Controller, Get, HttpCode, Inject, Post, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import { signedLicenceSchema, type LicenceView } from '@mlr/contracts';
import { Audited } from '../audit/audit.decorators.js';
import { Roles } from '../auth/auth.decorators.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';
import { operatorActor } from './operator.js';

const licenceTarget = (result: unknown) =>
  result && typeof result === 'object' && 'serial' in result ? `licence:${String(result.serial)}` : null;

/** The vendor licence of the MSP (operators only). */
@Controller('v1/licence')
@Roles('operator')
@UseFilters(ServiceErrorFilter)
export class LicenceController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  /**
   * Imports a signed licence (the JSON the vendor's licence tool prints); it supersedes the licence
   * in force. Refusals say why: malformed, tampered, wrong vendor key, expired, older than the one in force.
   */
  @Post()
  @HttpCode(201)
  @Audited('licence.import', { target: (_params, result) => licenceTarget(result) })
  import(@Body() body: unknown, @Req() request: Request): Promise<LicenceView> {
    const licence = parseHttp('body', signedLicenceSchema, body);
    return this.services.call('licensing', 'licence.import', { licence, actor: operatorActor(request) });
  }

  /** The licence in force with its status (valid, in grace, expired) and the days left. */
  @Get()
  get(): Promise<LicenceView> {
    return this.services.call('licensing', 'licence.get', {});
  }
}
