import { defineDomainErrors } from '@mlr/runtime';

/** Requests storage's verbs refuse: only malformed ones (the request does not match its contract). */
export const { Filter: StorageRequestFilter, parse: parseStorageRequest } = defineDomainErrors({
  name: 'StorageRequestException',
  replyCodes: { INVALID_REQUEST: 'invalid_request' },
  invalidRequest: { code: 'INVALID_REQUEST' },
});
