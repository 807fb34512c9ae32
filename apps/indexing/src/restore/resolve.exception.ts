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

export enum ResolveErrorCode {
  /** The request does not match its contract. */
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** The cursor is not one this service handed out for the same selection. */
  INVALID_CURSOR = 'INVALID_CURSOR',
  /** The selection has more records than the caller allows. */
  TOO_MANY_RECORDS = 'TOO_MANY_RECORDS',
  /** Some of the given record ids are not records of the tenant. */
  RECORDS_NOT_FOUND = 'RECORDS_NOT_FOUND',
  /** Some of the given records are in mailboxes the requester may not see. */
  RECORDS_NOT_VISIBLE = 'RECORDS_NOT_VISIBLE',
}

/** What callers are told for each resolve code. */
const REPLY_CODES: ReplyCodes<ResolveErrorCode> = {
  [ResolveErrorCode.INVALID_REQUEST]: 'invalid_request',
  [ResolveErrorCode.INVALID_CURSOR]: 'invalid_request',
  [ResolveErrorCode.TOO_MANY_RECORDS]: 'invalid_request',
  [ResolveErrorCode.RECORDS_NOT_FOUND]: 'not_found',
  [ResolveErrorCode.RECORDS_NOT_VISIBLE]: 'forbidden',
};

/** A `records.resolve` request the indexing service refuses; `field` names the request field at fault. */
export class ResolveException extends DomainException<ResolveErrorCode> {
  override readonly name = 'ResolveException';

  static fromZod(what: string, error: z.ZodError): ResolveException {
    const { message, field, problems } = describeInvalidRequest(what, error, '(request)');
    return new ResolveException(ResolveErrorCode.INVALID_REQUEST, message, field, problems);
  }
}

/** The one place where resolve codes become the service error replies callers understand. */
export function toServiceErrorReply(error: ResolveException): ServiceErrorReply {
  return domainErrorReply(error, REPLY_CODES);
}

/** Sends a ResolveException back to the caller as its structured error reply. */
export const ResolveExceptionFilter = domainExceptionFilter([ResolveException], toServiceErrorReply);

/** Validates a request against its schema; a bad one becomes INVALID_REQUEST naming every bad field. */
export function parseResolveRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  return parseOrRefuse(schema, data, (error) => ResolveException.fromZod(what, error));
}
