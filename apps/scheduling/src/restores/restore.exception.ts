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

export enum RestoreErrorCode {
  /** The request does not match its contract, or cannot be done as asked (e.g. nothing to restore). */
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** The named connector is not an enrolled, unrevoked connector of the tenant; or none was named and the tenant has not exactly one. */
  CONNECTOR_NOT_FOUND = 'CONNECTOR_NOT_FOUND',
  /** The selection has more records than one restore may have. */
  TOO_MANY_ITEMS = 'TOO_MANY_ITEMS',
  /** Some of the given record ids are not records of the tenant. */
  RECORDS_NOT_FOUND = 'RECORDS_NOT_FOUND',
  /** The requester's role may not do this restore (operators never; users not into other mailboxes). */
  FORBIDDEN = 'FORBIDDEN',
  /** The job does not exist for the tenant, or is no restore or export. */
  JOB_NOT_FOUND = 'JOB_NOT_FOUND',
  /** Licensing does not allow jobs of the tenant. */
  MLR_NOT_ALLOWED = 'MLR_NOT_ALLOWED',
}

/** What callers are told for each restore code. */
const REPLY_CODES: ReplyCodes<RestoreErrorCode> = {
  [RestoreErrorCode.INVALID_REQUEST]: 'invalid_request',
  [RestoreErrorCode.CONNECTOR_NOT_FOUND]: 'invalid_request',
  [RestoreErrorCode.TOO_MANY_ITEMS]: 'invalid_request',
  [RestoreErrorCode.RECORDS_NOT_FOUND]: 'not_found',
  [RestoreErrorCode.JOB_NOT_FOUND]: 'not_found',
  [RestoreErrorCode.FORBIDDEN]: 'forbidden',
  [RestoreErrorCode.MLR_NOT_ALLOWED]: 'conflict',
};

/** A restore request the scheduling service refuses; `field` names the request field at fault. */
export class RestoreException extends DomainException<RestoreErrorCode> {
  override readonly name = 'RestoreException';

  static fromZod(what: string, error: z.ZodError): RestoreException {
    const { message, field, problems } = describeInvalidRequest(what, error, '(request)');
    return new RestoreException(RestoreErrorCode.INVALID_REQUEST, message, field, problems);
  }
}

/** The one place where restore codes become the service error replies callers understand. */
export function toServiceErrorReply(error: RestoreException): ServiceErrorReply {
  return domainErrorReply(error, REPLY_CODES);
}

/** Sends a RestoreException back to the caller as its structured error reply. */
export const RestoreExceptionFilter = domainExceptionFilter([RestoreException], toServiceErrorReply);

/** Validates a request against its schema; a bad one becomes INVALID_REQUEST naming every bad field. */
export function parseRestoreRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  return parseOrRefuse(schema, data, (error) => RestoreException.fromZod(what, error));
}
