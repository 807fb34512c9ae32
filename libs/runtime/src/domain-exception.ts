import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { z } from 'zod';
import { SERVICE_ERROR_CODES, type ServiceErrorCode, type ServiceErrorReply } from '@mlr/contracts';

/*
 * How a service refuses a request for a reason of its domain. Each domain of a service declares its
 * codes once, each with the service error code callers are told (and the gateway turns into an HTTP
 * status), with `defineDomainErrors`; the exception, the reply, the Nest filter and request
 * validation it returns are the same everywhere, here.
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

/**
 * A domain's codes, each with the service error code callers are told: one table that declares the
 * codes, so that no code can be without its reply.
 */
export type ReplyCodes<Code extends string> = Readonly<Record<Code, ServiceErrorCode>>;

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

/** The codes of a domain's reply code table. */
type CodeOf<Table> = Extract<keyof Table, string>;

/** A domain's exception: its codes, and its name (`SearchException`) in logs and stacks. */
export type NamedDomainException<Code extends string, Name extends string> = DomainException<Code> & {
  readonly name: Name;
};

/** The exception class of a domain: `new`, `instanceof` and a type, like a class declared by hand. */
export interface DomainExceptionClass<Code extends string, Name extends string> {
  new (
    code: Code,
    message: string,
    field?: string,
    problems?: ReadonlyArray<RequestProblem>,
  ): NamedDomainException<Code, Name>;
  readonly prototype: NamedDomainException<Code, Name>;
}

/** The exception class of a domain that validates requests. */
export interface RequestExceptionClass<Code extends string, Name extends string> extends DomainExceptionClass<
  Code,
  Name
> {
  /** The refusal of a request that does not match its schema: the invalid-request code, naming every bad field. */
  fromZod(what: string, error: z.ZodError): NamedDomainException<Code, Name>;
}

/** What `domainErrorsFilter` needs of a domain: its exception class and its replies. */
export interface ReplyingDomain {
  readonly Exception: abstract new (...args: never) => Error;
  /** The service error reply of `error` if it is an exception of this domain, else undefined. */
  readonly replyFor: (error: unknown) => ServiceErrorReply | undefined;
}

/** A domain's errors, as `defineDomainErrors` returns them. */
export interface DomainErrors<Table extends ReplyCodes<string>, Name extends string> extends ReplyingDomain {
  /** The codes, as an enum would have them: `codes.PLAN_NOT_FOUND === 'PLAN_NOT_FOUND'`. */
  readonly codes: { readonly [Code in keyof Table]: Code };
  readonly Exception: DomainExceptionClass<CodeOf<Table>, Name>;
  /** The one place where the domain's codes become the service error replies callers understand. */
  readonly toReply: (error: NamedDomainException<CodeOf<Table>, Name>) => ServiceErrorReply;
  /** Sends the domain's exceptions back to the caller as their service error replies (`@UseFilters`). */
  readonly Filter: new () => RpcExceptionFilter<Error>;
}

/** The errors of a domain that validates requests: with `parse`, and `Exception.fromZod`. */
export interface RequestDomainErrors<Table extends ReplyCodes<string>, Name extends string> extends DomainErrors<
  Table,
  Name
> {
  readonly Exception: RequestExceptionClass<CodeOf<Table>, Name>;
  /** Validates a request against its schema; a bad one is refused with the invalid-request code, naming every bad field. */
  readonly parse: <T extends z.ZodType>(what: string, schema: T, data: unknown) => z.output<T>;
}

/** How a domain refuses requests that do not match their schema. */
export interface InvalidRequestRefusal<Code extends string> {
  /** The domain code of such a refusal. */
  code: Code;
  /** How its message names the request itself when the whole request is at fault; `(request)` unless told. */
  wholeRequest?: string;
}

/** What a domain's errors are made of. */
export interface DomainErrorsDefinition<Table extends ReplyCodes<string>, Name extends string> {
  /** The name of the exception and its class, e.g. `SearchException`. */
  name: Name;
  /** Every code of the domain, with the service error code callers are told for it. */
  replyCodes: Table;
  /** How requests that do not match their schema are refused; without it there is no `parse` nor `fromZod`. */
  invalidRequest?: InvalidRequestRefusal<NoInfer<CodeOf<Table>>>;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Every mistake of a definition: a domain is defined when its module loads, so these stop the start. */
function definitionProblems(definition: DomainErrorsDefinition<ReplyCodes<string>, string>): string[] {
  const problems: string[] = [];
  const { name, replyCodes, invalidRequest } = definition;
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    problems.push(`name must be a class name such as SearchException, got ${JSON.stringify(name)}`);
  }
  if (typeof replyCodes !== 'object' || replyCodes === null || Array.isArray(replyCodes)) {
    problems.push('replyCodes must be an object from domain codes to service error codes');
    return problems;
  }
  const codes = Object.keys(replyCodes);
  if (codes.length === 0) problems.push('replyCodes declares no code');
  for (const code of codes) {
    const replyCode: unknown = replyCodes[code];
    if (!(SERVICE_ERROR_CODES as readonly unknown[]).includes(replyCode)) {
      problems.push(
        `replyCodes.${code} must be one of ${SERVICE_ERROR_CODES.join(', ')}, got ${JSON.stringify(replyCode)}`,
      );
    }
  }
  if (invalidRequest !== undefined) {
    if (!Object.hasOwn(replyCodes, invalidRequest.code)) {
      problems.push(`invalidRequest.code ${JSON.stringify(invalidRequest.code)} is not one of the codes of replyCodes`);
    }
    const { wholeRequest } = invalidRequest;
    if (wholeRequest !== undefined && (typeof wholeRequest !== 'string' || wholeRequest === '')) {
      problems.push(`invalidRequest.wholeRequest must be a non-empty string, got ${JSON.stringify(wholeRequest)}`);
    }
  }
  return problems;
}

/**
 * Defines the errors of one domain of a service from its codes, each with what callers are told:
 * the exception class, its codes (as an enum would have them), the reply function, the Nest filter
 * and, given `invalidRequest`, request validation. Throws, naming every mistake, on a bad definition.
 */
export function defineDomainErrors<const Table extends ReplyCodes<string>, const Name extends string>(
  definition: DomainErrorsDefinition<Table, Name> & { invalidRequest: InvalidRequestRefusal<NoInfer<CodeOf<Table>>> },
): RequestDomainErrors<Table, Name>;
export function defineDomainErrors<const Table extends ReplyCodes<string>, const Name extends string>(
  definition: DomainErrorsDefinition<Table, Name>,
): DomainErrors<Table, Name>;
export function defineDomainErrors(
  definition: DomainErrorsDefinition<ReplyCodes<string>, string>,
): RequestDomainErrors<ReplyCodes<string>, string> | DomainErrors<ReplyCodes<string>, string> {
  const problems = definitionProblems(definition);
  if (problems.length > 0) {
    throw new Error(`defineDomainErrors(${String(definition.name)}): ${problems.join('; ')}`);
  }
  const { name, replyCodes, invalidRequest } = definition;

  const declared = Object.keys(replyCodes);
  class Exception extends DomainException<string> {
    override readonly name = name;

    constructor(code: string, message: string, field?: string, problems?: ReadonlyArray<RequestProblem>) {
      // Types keep codes right; this catches the rest before a reply goes out without a code.
      if (!Object.hasOwn(replyCodes, code)) {
        throw new TypeError(`${name}: unknown code ${JSON.stringify(code)}; its codes are ${declared.join(', ')}`);
      }
      super(code, message, field, problems);
    }
  }
  Object.defineProperty(Exception, 'name', { value: name });

  const toReply = (error: DomainException<string>): ServiceErrorReply => ({
    code: replyCodes[error.code] as ServiceErrorCode,
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
    ...(error.problems ? { problems: [...error.problems] } : {}),
  });
  const domain = {
    codes: Object.freeze(Object.fromEntries(declared.map((code) => [code, code]))),
    Exception,
    toReply,
    replyFor: (error: unknown) => (error instanceof Exception ? toReply(error) : undefined),
  };
  const errors = { ...domain, Filter: domainErrorsFilter(domain) };
  if (invalidRequest === undefined) return errors;

  const fromZod = (what: string, error: z.ZodError): Exception => {
    const { message, field, problems } = describeInvalidRequest(what, error, invalidRequest.wholeRequest);
    return new Exception(invalidRequest.code, message, field, problems);
  };
  Object.defineProperty(Exception, 'fromZod', { value: fromZod });
  return {
    ...errors,
    Exception: Exception as typeof Exception & { fromZod: typeof fromZod },
    parse: <T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> => {
      const result = schema.safeParse(data);
      if (!result.success) throw fromZod(what, result.error);
      return result.data;
    },
  };
}

/**
 * A Nest RPC exception filter that sends the exceptions of the given domains back to the caller as
 * their service error replies, for `@UseFilters` or `useGlobalFilters` (a controller that refuses
 * with the exceptions of more than one domain).
 */
export function domainErrorsFilter(
  ...domains: [ReplyingDomain, ...ReplyingDomain[]]
): new () => RpcExceptionFilter<Error> {
  @Catch(...domains.map((domain) => domain.Exception))
  class DomainExceptionFilter implements RpcExceptionFilter<Error> {
    catch(exception: Error): Observable<never> {
      for (const domain of domains) {
        const reply = domain.replyFor(exception);
        if (reply) return throwError(() => reply);
      }
      // Only the domains' exceptions are caught, so this is not reached; were it, the caller still hears of it.
      return throwError(() => exception);
    }
  }
  return DomainExceptionFilter;
}
