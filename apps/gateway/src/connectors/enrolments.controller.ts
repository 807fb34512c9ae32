import { Body, Controller, HttpCode, Inject, Post, Res, UseFilters } from '@nestjs/common';
import type { Response } from 'express';
import { enrolmentRequestSchema, type Enrolment } from '@mlr/contracts';
import { Public } from '../auth/auth.decorators.js';
import { ServiceErrorFilter } from '../http/service-error.filter.js';
import { parseHttp } from '../http/validation.js';
import { ServiceClient } from '../services/service-client.js';

/**
 * `connector enroll` exchanges its single-use token and its own NATS public key for its NATS user
 * JWT. Public: the token is the credential (an expired, used or unknown one is refused with 403).
 */
@Controller('v1/enrolments')
@Public()
@UseFilters(ServiceErrorFilter)
export class EnrolmentsController {
  constructor(@Inject(ServiceClient) private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(201)
  async enroll(@Body() body: unknown, @Res({ passthrough: true }) response: Response): Promise<Enrolment> {
    const request = parseHttp('body', enrolmentRequestSchema, body);
    const enrolment = await this.services.call('licensing', 'connectors.enroll', request, 10_000);
    response.setHeader('Cache-Control', 'no-store');
    return enrolment;
  }
}
