import type { z } from 'zod';
import type { ServiceErrorReply } from '@mlr/contracts';
import {
  DomainException,
  type ReplyCodes,
  describeInvalidRequest,
  domainErrorReply,
  domainExceptionFilter,
  parseOrRefuse,
} from '@mlr/runtime';

export enum SearchErrorCode {
  /** The request does not match its contract (unknown field, reversed range, malformed address...). */
  INVALID_QUERY = 'INVALID_QUERY',
  /** The cursor is not one this service handed out for the same search. */
  INVALID_CURSOR = 'INVALID_CURSOR',
}

/** What callers are told for each search code. */
const REPLY_CODES: ReplyCodes<SearchErrorCode> = {
  [SearchErrorCode.INVALID_QUERY]: 'invalid_request',
  [SearchErrorCode.INVALID_CURSOR]: 'invalid_request',
};

/** A search the indexing service refuses; `field` names the request field at fault. */
export class SearchException extends DomainException<SearchErrorCode> {
  override readonly name = 'SearchException';

  static fromZod(what: string, error: z.ZodError): SearchException {
    const { message, field, problems } = describeInvalidRequest(what, error, '(request)');
    return new SearchException(SearchErrorCode.INVALID_QUERY, message, field, problems);
  }
}

/** The one place where search codes become the service error replies callers understand. */
export function toServiceErrorReply(error: SearchException): ServiceErrorReply {
  return domainErrorReply(error, REPLY_CODES);
}

/** Sends a SearchException back to the caller as its structured error reply. */
export const SearchExceptionFilter = domainExceptionFilter([SearchException], toServiceErrorReply);

/** Validates a request against its schema; a bad one becomes INVALID_QUERY naming every bad field. */
export function parseRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  return parseOrRefuse(schema, data, (error) => SearchException.fromZod(what, error));
}
