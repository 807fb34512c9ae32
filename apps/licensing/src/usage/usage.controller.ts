import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { licensingCallSchemas, serviceSubject, type UsageReport } from '@mlr/contracts';
import { LicensingExceptionFilter, parseRequest } from '../common/licensing.exception.js';
import { UsageService } from './usage.service.js';

/** `mlr.svc.licensing.usage.report`. */
@Controller()
@UseFilters(LicensingExceptionFilter)
export class UsageController {
  constructor(@Inject(UsageService) private readonly usage: UsageService) {}

  @MessagePattern(serviceSubject('licensing', 'usage.report'))
  report(@Payload() data: unknown): Promise<UsageReport> {
    const request = parseRequest('usage.report request', licensingCallSchemas['usage.report'].request, data ?? {});
    return this.usage.report(request.tenantId);
  }
}
