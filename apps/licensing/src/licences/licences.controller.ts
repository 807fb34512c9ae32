import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { licensingCallSchemas, serviceSubject, type LicenceView } from '@mlr/contracts';
import { LicensingExceptionFilter, parseRequest } from '../common/licensing.exception.js';
import { LicencesService } from './licences.service.js';

const schemas = licensingCallSchemas;

/** `mlr.svc.licensing.licence.*`: every request is validated here before anything else sees it. */
@Controller()
@UseFilters(LicensingExceptionFilter)
export class LicencesController {
  constructor(@Inject(LicencesService) private readonly licences: LicencesService) {}

  @MessagePattern(serviceSubject('licensing', 'licence.import'))
  import(@Payload() data: unknown): Promise<LicenceView> {
    // The envelope only: the licence itself is verified by the service, which names the reason.
    const request = parseRequest('licence.import request', schemas['licence.import'].request, data);
    return this.licences.import(request.licence, request.actor);
  }

  @MessagePattern(serviceSubject('licensing', 'licence.get'))
  get(@Payload() data: unknown): Promise<LicenceView> {
    parseRequest('licence.get request', schemas['licence.get'].request, data ?? {});
    return this.licences.get();
  }
}
