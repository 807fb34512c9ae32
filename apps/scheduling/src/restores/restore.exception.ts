import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { z } from 'zod';
import type { ServiceErrorReply } from '@mlr/contracts';

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

/** A restore request the scheduling service refuses; `field` names the request field at fault. */
export class RestoreException extends Error {
  override readonly name = 'RestoreException';

  constructor(
    readonly code: RestoreErrorCode,
    message: string,
    readonly field?: string,
    readonly problems?: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled restore error code ${String(value)}`);
}

/** The one place where restore error codes become service error replies (and so HTTP statuses). */
export function toServiceErrorReply(error: RestoreException): ServiceErrorReply {
  const reply = (code: ServiceErrorReply['code']): ServiceErrorReply => ({
    code,
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
    ...(error.problems ? { problems: [...error.problems] } : {}),
  });
  switch (error.code) {
    case RestoreErrorCode.INVALID_REQUEST:
    case RestoreErrorCode.CONNECTOR_NOT_FOUND:
    case RestoreErrorCode.TOO_MANY_ITEMS:
      return reply('invalid_request');
    case RestoreErrorCode.RECORDS_NOT_FOUND:
    case RestoreErrorCode.JOB_NOT_FOUND:
      return reply('not_found');
    case RestoreErrorCode.FORBIDDEN:
      return reply('forbidden');
    case RestoreErrorCode.MLR_NOT_ALLOWED:
      return reply('conflict');
    default:
      return assertUnreachable(error.code);
  }
}

/** Sends a RestoreException back to the caller as its structured error reply. */
@Catch(RestoreException)
export class RestoreExceptionFilter implements RpcExceptionFilter<RestoreException> {
  catch(exception: RestoreException): Observable<never> {
    return throwError(() => toServiceErrorReply(exception));
  }
}

/** Validates a request against its schema; a bad one becomes INVALID_REQUEST naming every bad field. */
export function parseRestoreRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const text = problems.map((p) => `${p.path || '(request)'}: ${p.message}`).join('; ');
  throw new RestoreException(
    RestoreErrorCode.INVALID_REQUEST,
    `invalid ${what}: ${text}`,
    problems[0]?.path || undefined,
    problems,
  );
}
