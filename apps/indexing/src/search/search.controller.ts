import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { serviceSubject, type SearchResult } from '@mlr/contracts';
import { RecordSearch } from './record-search.js';
import { SearchTimeout } from './repositories/search.repository.js';
import { SearchExceptionFilter } from './search.exception.js';

@Controller()
@UseFilters(SearchExceptionFilter)
export class SearchController {
  constructor(@Inject(RecordSearch) private readonly records: RecordSearch) {}

  @MessagePattern(serviceSubject('indexing', 'records.search'))
  async search(@Payload() data: unknown): Promise<SearchResult> {
    try {
      return await this.records.search(data);
    } catch (error) {
      // Not the request's fault, so no invalid_request: the caller reports it as the service failing.
      if (error instanceof SearchTimeout) throw new RpcException(error.message);
      throw error;
    }
  }
}
