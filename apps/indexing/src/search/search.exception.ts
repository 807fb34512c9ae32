import { defineDomainErrors } from '@mlr/runtime';

/** Searches the indexing service refuses; `field` names the request field at fault. */
export const {
  codes: SearchErrorCode,
  Exception: SearchException,
  toReply: toServiceErrorReply,
  Filter: SearchExceptionFilter,
  parse: parseRequest,
} = defineDomainErrors({
  name: 'SearchException',
  replyCodes: {
    /** The request does not match its contract (unknown field, reversed range, malformed address...). */
    INVALID_QUERY: 'invalid_request',
    /** The cursor is not one this service handed out for the same search. */
    INVALID_CURSOR: 'invalid_request',
  },
  invalidRequest: { code: 'INVALID_QUERY' },
});
export type SearchErrorCode = keyof typeof SearchErrorCode;
export type SearchException = InstanceType<typeof SearchException>;
