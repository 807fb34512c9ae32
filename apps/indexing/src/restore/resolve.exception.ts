import { defineDomainErrors } from '@mlr/runtime';

/** `records.resolve` requests the indexing service refuses; `field` names the request field at fault. */
export const {
  codes: ResolveErrorCode,
  Exception: ResolveException,
  toReply: toServiceErrorReply,
  Filter: ResolveExceptionFilter,
  parse: parseResolveRequest,
} = defineDomainErrors({
  name: 'ResolveException',
  replyCodes: {
    /** The request does not match its contract. */
    INVALID_REQUEST: 'invalid_request',
    /** The cursor is not one this service handed out for the same selection. */
    INVALID_CURSOR: 'invalid_request',
    /** The selection has more records than the caller allows. */
    TOO_MANY_RECORDS: 'invalid_request',
    /** Some of the given record ids are not records of the tenant. */
    RECORDS_NOT_FOUND: 'not_found',
    /** Some of the given records are in mailboxes the requester may not see. */
    RECORDS_NOT_VISIBLE: 'forbidden',
  },
  invalidRequest: { code: 'INVALID_REQUEST' },
});
export type ResolveErrorCode = keyof typeof ResolveErrorCode;
export type ResolveException = InstanceType<typeof ResolveException>;
