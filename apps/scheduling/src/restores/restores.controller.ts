import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { restoreCallSchemas, serviceSubject, type JobItemList, type RestoreAccepted } from '@mlr/contracts';
import { parseRestoreRequest, RestoreExceptionFilter } from './restore.exception.js';
import { RestoresService } from './restores.service.js';

/** `mlr.svc.scheduling.restores.create` and `jobs.items`: every request is validated here first. */
@Controller()
@UseFilters(RestoreExceptionFilter)
export class RestoresController {
  constructor(@Inject(RestoresService) private readonly restores: RestoresService) {}

  @MessagePattern(serviceSubject('scheduling', 'restores.create'))
  create(@Payload() data: unknown): Promise<RestoreAccepted> {
    return this.restores.create(
      parseRestoreRequest('restores.create request', restoreCallSchemas['restores.create'].request, data),
    );
  }

  @MessagePattern(serviceSubject('scheduling', 'jobs.items'))
  items(@Payload() data: unknown): Promise<JobItemList> {
    return this.restores.list(
      parseRestoreRequest('jobs.items request', restoreCallSchemas['jobs.items'].request, data),
    );
  }
}
