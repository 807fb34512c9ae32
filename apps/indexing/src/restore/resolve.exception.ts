import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { z } from 'zod';
import type { ServiceErrorReply } from '@mlr/contracts';

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

/** A `records.resolve` request the indexing service refuses; `field` names the request field at fault. */
export class ResolveException extends Error {
  override readonly name = 'ResolveException';

  constructor(
    readonly code: ResolveErrorCode,
    message: string,
    readonly field?: string,
    readonly problems?: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
  }

  static fromZod(what: string, error: z.ZodError): ResolveException {
    const problems = error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    const text = problems.map((p) => `${p.path || '(request)'}: ${p.message}`).join('; ');
    return new ResolveException(
      ResolveErrorCode.INVALID_REQUEST,
      `invalid ${what}: ${text}`,
      problems[0]?.path || undefined,
      problems,
    );
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled resolve error code ${String(value)}`);
}

/** The one place where resolve error codes become the service error replies callers understand. */
export function toServiceErrorReply(error: ResolveException): ServiceErrorReply {
  const reply = (code: ServiceErrorReply['code']): ServiceErrorReply => ({
    code,
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
    ...(error.problems ? { problems: [...error.problems] } : {}),
  });
  switch (error.code) {
    case ResolveErrorCode.INVALID_REQUEST:
    case ResolveErrorCode.INVALID_CURSOR:
    case ResolveErrorCode.TOO_MANY_RECORDS:
      return reply('invalid_request');
    case ResolveErrorCode.RECORDS_NOT_FOUND:
      return reply('not_found');
    case ResolveErrorCode.RECORDS_NOT_VISIBLE:
      return reply('forbidden');
    default:
      return assertUnreachable(error.code);
  }
}

/** Sends a ResolveException back to the caller as its structured error reply. */
@Catch(ResolveException)
export class ResolveExceptionFilter implements RpcExceptionFilter<ResolveException> {
  catch(exception: ResolveException): Observable<never> {
    return throwError(() => toServiceErrorReply(exception));
  }
}

/** Validates a request against its schema; a bad one becomes INVALID_REQUEST naming every bad field. */
export function parseResolveRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  const result = schema.safeParse(data);
  if (!result.success) throw ResolveException.fromZod(what, result.error);
  return result.data;
}
