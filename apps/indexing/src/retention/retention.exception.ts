import { defineDomainErrors } from '@mlr/runtime';

/** Legal hold and expiry requests the indexing service refuses. */
export const {
  codes: RetentionErrorCode,
  Exception: RetentionException,
  Filter: RetentionExceptionFilter,
  parse: parseRetentionRequest,
} = defineDomainErrors({
  name: 'RetentionException',
  replyCodes: {
    /** The request does not match its contract. */
    INVALID_REQUEST: 'invalid_request',
  },
  invalidRequest: { code: 'INVALID_REQUEST' },
});
