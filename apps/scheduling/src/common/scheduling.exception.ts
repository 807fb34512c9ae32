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

export enum SchedulingErrorCode {
  INVALID_REQUEST = 'INVALID_REQUEST',
  INVALID_SCHEDULE = 'INVALID_SCHEDULE',
  CONNECTOR_NOT_FOUND = 'CONNECTOR_NOT_FOUND',
  PLAN_NOT_FOUND = 'PLAN_NOT_FOUND',
  PLAN_NAME_TAKEN = 'PLAN_NAME_TAKEN',
  PLAN_DISABLED = 'PLAN_DISABLED',
  JOB_NOT_FOUND = 'JOB_NOT_FOUND',
  /** Licensing does not allow jobs of the tenant (MLR not enabled, licence expired or without MLR). */
  MLR_NOT_ALLOWED = 'MLR_NOT_ALLOWED',
  /** The plan's connector was revoked: it takes no jobs. */
  CONNECTOR_REVOKED = 'CONNECTOR_REVOKED',
}

/** What callers are told for each scheduling code. */
const REPLY_CODES: ReplyCodes<SchedulingErrorCode> = {
  [SchedulingErrorCode.INVALID_REQUEST]: 'invalid_request',
  [SchedulingErrorCode.INVALID_SCHEDULE]: 'invalid_request',
  [SchedulingErrorCode.CONNECTOR_NOT_FOUND]: 'invalid_request',
  [SchedulingErrorCode.PLAN_NOT_FOUND]: 'not_found',
  [SchedulingErrorCode.JOB_NOT_FOUND]: 'not_found',
  [SchedulingErrorCode.PLAN_NAME_TAKEN]: 'conflict',
  [SchedulingErrorCode.PLAN_DISABLED]: 'conflict',
  [SchedulingErrorCode.MLR_NOT_ALLOWED]: 'conflict',
  [SchedulingErrorCode.CONNECTOR_REVOKED]: 'conflict',
};

/** A request the scheduling service refuses; `field` names the request field at fault. */
export class SchedulingException extends DomainException<SchedulingErrorCode> {
  override readonly name = 'SchedulingException';

  static fromZod(what: string, error: z.ZodError): SchedulingException {
    const { message, field, problems } = describeInvalidRequest(what, error, '(body)');
    return new SchedulingException(SchedulingErrorCode.INVALID_REQUEST, message, field, problems);
  }
}

/** The one place where scheduling codes become the service error replies callers understand. */
export function toServiceErrorReply(error: SchedulingException): ServiceErrorReply {
  return domainErrorReply(error, REPLY_CODES);
}

/** Sends a SchedulingException back to the caller as its structured error reply. */
export const SchedulingExceptionFilter = domainExceptionFilter([SchedulingException], toServiceErrorReply);

/** Validates a request against its schema; a bad one becomes INVALID_REQUEST naming every bad field. */
export function parseRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  return parseOrRefuse(schema, data, (error) => SchedulingException.fromZod(what, error));
}
