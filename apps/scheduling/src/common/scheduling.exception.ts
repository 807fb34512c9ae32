import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { z } from 'zod';
import type { ServiceErrorReply } from '@mlr/contracts';

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
}

/** A request the scheduling service refuses; `field` names the request field at fault. */
export class SchedulingException extends Error {
  override readonly name = 'SchedulingException';

  constructor(
    readonly code: SchedulingErrorCode,
    message: string,
    readonly field?: string,
    readonly problems?: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
  }

  static fromZod(what: string, error: z.ZodError): SchedulingException {
    const problems = error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    const text = problems.map((p) => `${p.path || '(body)'}: ${p.message}`).join('; ');
    return new SchedulingException(
      SchedulingErrorCode.INVALID_REQUEST,
      `invalid ${what}: ${text}`,
      problems[0]?.path || undefined,
      problems,
    );
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled scheduling error code ${String(value)}`);
}

/** The one place where domain codes become the service error replies the gateway understands. */
export function toServiceErrorReply(error: SchedulingException): ServiceErrorReply {
  const reply = (code: ServiceErrorReply['code']): ServiceErrorReply => ({
    code,
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
    ...(error.problems ? { problems: [...error.problems] } : {}),
  });
  switch (error.code) {
    case SchedulingErrorCode.INVALID_REQUEST:
    case SchedulingErrorCode.INVALID_SCHEDULE:
    case SchedulingErrorCode.CONNECTOR_NOT_FOUND:
      return reply('invalid_request');
    case SchedulingErrorCode.PLAN_NOT_FOUND:
    case SchedulingErrorCode.JOB_NOT_FOUND:
      return reply('not_found');
    case SchedulingErrorCode.PLAN_NAME_TAKEN:
    case SchedulingErrorCode.PLAN_DISABLED:
    case SchedulingErrorCode.MLR_NOT_ALLOWED:
      return reply('conflict');
    default:
      return assertUnreachable(error.code);
  }
}

/** Sends a SchedulingException back to the caller as its structured error reply. */
@Catch(SchedulingException)
export class SchedulingExceptionFilter implements RpcExceptionFilter<SchedulingException> {
  catch(exception: SchedulingException): Observable<never> {
    return throwError(() => toServiceErrorReply(exception));
  }
}

/** Validates a request against its schema; a bad one becomes INVALID_REQUEST naming every bad field. */
export function parseRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  const result = schema.safeParse(data);
  if (!result.success) throw SchedulingException.fromZod(what, result.error);
  return result.data;
}
