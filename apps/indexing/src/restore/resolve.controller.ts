import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { serviceSubject, type ResolveRecordsResponse } from '@mlr/contracts';
import { SearchTimeout } from '../search/repositories/search.repository.js';
import { RecordResolve } from './record-resolve.js';
import { ResolveExceptionFilter } from './resolve.exception.js';

/** `mlr.svc.indexing.records.resolve`: the items of a restore, asked by scheduling when it creates the job. */
@Controller()
@UseFilters(ResolveExceptionFilter)
export class ResolveController {
  constructor(@Inject(RecordResolve) private readonly records: RecordResolve) {}

  @MessagePattern(serviceSubject('indexing', 'records.resolve'))
  async resolve(@Payload() data: unknown): Promise<ResolveRecordsResponse> {
    try {
      return await this.records.resolve(data);
    } catch (error) {
      // Not the request's fault, so no invalid_request: the caller reports it as the service failing.
      if (error instanceof SearchTimeout) throw new RpcException(error.message);
      throw error;
    }
  }
}
