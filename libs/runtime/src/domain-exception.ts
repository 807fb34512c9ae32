import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { z } from 'zod';
import type { ServiceErrorCode, ServiceErrorReply } from '@mlr/contracts';

/*
 * How a service refuses a request for a reason of its domain. Each service keeps its own codes (an
 * enum that says precisely what went wrong, for its logs and tests) and one exhaustive table from its
 * codes to the few service error codes callers understand (and the gateway turns into HTTP statuses);
 * the exception, the reply, the Nest filter and request validation are the same everywhere, here.
 */

/** One bad field of a request: its dotted path and what is wrong with it. */
export interface RequestProblem {
  path: string;
  message: string;
}

/** A request a service refuses; `field` names the (first) request field at fault. */
export class DomainException<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly field?: string,
    readonly problems?: ReadonlyArray<RequestProblem>,
  ) {
    super(message);
  }
}

/** The reply codes of a service's domain codes: a table, so that a new code cannot be forgotten. */
export type ReplyCodes<Code extends string> = Readonly<Record<Code, ServiceErrorCode>>;

/** The service error reply of a refusal, its code taken from the service's table. */
export function domainErrorReply<Code extends string>(
  error: DomainException<Code>,
  replyCodes: ReplyCodes<Code>,
): ServiceErrorReply {
  return {
    code: replyCodes[error.code],
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
    ...(error.problems ? { problems: [...error.problems] } : {}),
  };
}

/**
 * What a zod error says about a request: every bad field, and one sentence naming them
 * (`invalid <what>: <path>: <message>; ...`); `whole` stands for the path of the request itself.
 */
export function describeInvalidRequest(
  what: string,
  error: z.ZodError,
  whole = '(request)',
): { message: string; field: string | undefined; problems: RequestProblem[] } {
  const problems = error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
  const text = problems.map((problem) => `${problem.path || whole}: ${problem.message}`).join('; ');
  return { message: `invalid ${what}: ${text}`, field: problems[0]?.path || undefined, problems };
}

/** Validates `data` against `schema`; a bad request is thrown as `refuse(error)` naming every bad field. */
export function parseOrRefuse<T extends z.ZodType>(
  schema: T,
  data: unknown,
  refuse: (error: z.ZodError) => Error,
): z.output<T> {
  const result = schema.safeParse(data);
  if (!result.success) throw refuse(result.error);
  return result.data;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- exception classes take any constructor arguments
type ExceptionType<E> = abstract new (...args: any[]) => E;

/**
 * A Nest RPC exception filter that sends the given exceptions back to the caller as their service
 * error replies (`toReply`), for `@UseFilters` or `useGlobalFilters`.
 */
export function domainExceptionFilter<E extends Error>(
  types: ReadonlyArray<ExceptionType<E>>,
  toReply: (exception: E) => ServiceErrorReply,
): new () => RpcExceptionFilter<E> {
  @Catch(...types)
  class DomainExceptionFilter implements RpcExceptionFilter<E> {
    catch(exception: E): Observable<never> {
      return throwError(() => toReply(exception));
    }
  }
  return DomainExceptionFilter;
}
