import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { z } from 'zod';
import type { ServiceErrorReply } from '@mlr/contracts';

export enum SearchErrorCode {
  /** The request does not match its contract (unknown field, reversed range, malformed address...). */
  INVALID_QUERY = 'INVALID_QUERY',
  /** The cursor is not one this service handed out for the same search. */
  INVALID_CURSOR = 'INVALID_CURSOR',
}

/** A search the indexing service refuses; `field` names the request field at fault. */
export class SearchException extends Error {
  override readonly name = 'SearchException';

  constructor(
    readonly code: SearchErrorCode,
    message: string,
    readonly field?: string,
    readonly problems?: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
  }

  static fromZod(what: string, error: z.ZodError): SearchException {
    const problems = error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    const text = problems.map((p) => `${p.path || '(request)'}: ${p.message}`).join('; ');
    return new SearchException(
      SearchErrorCode.INVALID_QUERY,
      `invalid ${what}: ${text}`,
      problems[0]?.path || undefined,
      problems,
    );
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled search error code ${String(value)}`);
}

/** The one place where search error codes become the service error replies the gateway understands. */
export function toServiceErrorReply(error: SearchException): ServiceErrorReply {
  const reply = (code: ServiceErrorReply['code']): ServiceErrorReply => ({
    code,
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
    ...(error.problems ? { problems: [...error.problems] } : {}),
  });
  switch (error.code) {
    case SearchErrorCode.INVALID_QUERY:
    case SearchErrorCode.INVALID_CURSOR:
      return reply('invalid_request');
    default:
      return assertUnreachable(error.code);
  }
}

/** Sends a SearchException back to the caller as its structured error reply. */
@Catch(SearchException)
export class SearchExceptionFilter implements RpcExceptionFilter<SearchException> {
  catch(exception: SearchException): Observable<never> {
    return throwError(() => toServiceErrorReply(exception));
  }
}

/** Validates a request against its schema; a bad one becomes INVALID_QUERY naming every bad field. */
export function parseRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  const result = schema.safeParse(data);
  if (!result.success) throw SearchException.fromZod(what, result.error);
  return result.data;
}
