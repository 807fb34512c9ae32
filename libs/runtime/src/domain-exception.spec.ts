import type { ArgumentsHost, RpcExceptionFilter } from '@nestjs/common';
import { FILTER_CATCH_EXCEPTIONS } from '@nestjs/common/constants.js';
import { firstValueFrom } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { ServiceErrorReply } from '@mlr/contracts';
import { DomainException, defineDomainErrors, domainErrorsFilter } from './domain-exception.js';

const plans = defineDomainErrors({
  name: 'PlanException',
  replyCodes: {
    INVALID_REQUEST: 'invalid_request',
    PLAN_NOT_FOUND: 'not_found',
    PLAN_NAME_TAKEN: 'conflict',
  },
  invalidRequest: { code: 'INVALID_REQUEST', wholeRequest: '(body)' },
});

const tokens = defineDomainErrors({
  name: 'TokenException',
  replyCodes: { TOKEN_USED: 'forbidden', TOKEN_UNKNOWN: 'forbidden' },
});

const planRequest = z.strictObject({
  name: z.string().min(1),
  schedule: z.strictObject({ every: z.number().int().positive() }),
  enabled: z.boolean().default(true),
});

/** The error `run` throws. */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** What a filter sends back to the caller for `exception`. */
async function replyOf(Filter: new () => RpcExceptionFilter<Error>, exception: Error): Promise<unknown> {
  const replies = new Filter().catch(exception, {} as ArgumentsHost);
  return firstValueFrom(replies).then(
    () => Promise.reject(new Error('the filter replied with a success')),
    (reply: unknown) => reply,
  );
}

describe('defineDomainErrors', () => {
  it('declares each code once, as an enum would have it', () => {
    expect(plans.codes).toEqual({
      INVALID_REQUEST: 'INVALID_REQUEST',
      PLAN_NOT_FOUND: 'PLAN_NOT_FOUND',
      PLAN_NAME_TAKEN: 'PLAN_NAME_TAKEN',
    });
    expect(Object.isFrozen(plans.codes)).toBe(true);
    expectTypeOf(plans.codes.PLAN_NOT_FOUND).toEqualTypeOf<'PLAN_NOT_FOUND'>();
    type PlanCode = keyof typeof plans.codes;
    expectTypeOf<PlanCode>().toEqualTypeOf<'INVALID_REQUEST' | 'PLAN_NOT_FOUND' | 'PLAN_NAME_TAKEN'>();
  });

  it('makes an exception class of its own, named after the domain', () => {
    const error = new plans.Exception(plans.codes.PLAN_NAME_TAKEN, 'a plan named "nightly" exists', 'name');
    expect(error).toBeInstanceOf(plans.Exception);
    expect(error).toBeInstanceOf(DomainException);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(tokens.Exception);
    expect(error).toMatchObject({ name: 'PlanException', code: 'PLAN_NAME_TAKEN', field: 'name' });
    expect(error.message).toBe('a plan named "nightly" exists');
    expect(plans.Exception.name).toBe('PlanException');
    expect(String(error)).toBe('PlanException: a plan named "nightly" exists');
    expectTypeOf(error.name).toEqualTypeOf<'PlanException'>();
    expectTypeOf(error.code).toEqualTypeOf<'INVALID_REQUEST' | 'PLAN_NOT_FOUND' | 'PLAN_NAME_TAKEN'>();
  });

  it('refuses to make an exception with a code the domain does not have', () => {
    // @ts-expect-error -- not a code of the domain
    const make = () => new plans.Exception('TOKEN_USED', 'x');
    expect(make).toThrow(
      new TypeError(
        'PlanException: unknown code "TOKEN_USED"; its codes are INVALID_REQUEST, PLAN_NOT_FOUND, PLAN_NAME_TAKEN',
      ),
    );
  });

  it('replies with the service error code of each code, and the message, field and problems', () => {
    const codeOf = (code: keyof typeof plans.codes) => plans.toReply(new plans.Exception(code, 'x')).code;
    expect(codeOf('INVALID_REQUEST')).toBe('invalid_request');
    expect(codeOf('PLAN_NOT_FOUND')).toBe('not_found');
    expect(codeOf('PLAN_NAME_TAKEN')).toBe('conflict');

    expect(plans.toReply(new plans.Exception('PLAN_NOT_FOUND', 'no plan p1'))).toStrictEqual({
      code: 'not_found',
      message: 'no plan p1',
    });
    const problems = [{ path: 'name', message: 'too short' }];
    const reply = plans.toReply(new plans.Exception('INVALID_REQUEST', 'invalid plan', 'name', problems));
    expect(reply).toStrictEqual({ code: 'invalid_request', message: 'invalid plan', field: 'name', problems });
    expect(reply.problems).not.toBe(problems);
    expectTypeOf(plans.toReply).returns.toEqualTypeOf<ServiceErrorReply>();
    // @ts-expect-error -- another domain's exception has codes this table does not know
    plans.toReply(new tokens.Exception('TOKEN_USED', 'used'));
  });

  it('parses a request, refusing a bad one with the invalid-request code naming every bad field', () => {
    expect(plans.parse('plan', planRequest, { name: 'nightly', schedule: { every: 3 } })).toEqual({
      name: 'nightly',
      schedule: { every: 3 },
      enabled: true,
    });
    const error = thrownBy(() => plans.parse('plan', planRequest, { name: '', schedule: { every: -1 }, x: 1 }));
    expect(error).toBeInstanceOf(plans.Exception);
    expect(error).toMatchObject({
      name: 'PlanException',
      code: 'INVALID_REQUEST',
      field: 'name',
      problems: [
        { path: 'name', message: expect.any(String) },
        { path: 'schedule.every', message: expect.any(String) },
        { path: '', message: expect.stringContaining('"x"') },
      ],
    });
    expect((error as Error).message).toMatch(/^invalid plan: name: .+; schedule\.every: .+; \(body\): .+"x"/);
  });

  it('names the whole request "(request)" unless told otherwise', () => {
    const search = defineDomainErrors({
      name: 'SearchException',
      replyCodes: { INVALID_QUERY: 'invalid_request' },
      invalidRequest: { code: 'INVALID_QUERY' },
    });
    const error = thrownBy(() => search.parse('search', planRequest, 'nightly'));
    expect(error).toMatchObject({ code: 'INVALID_QUERY', field: undefined });
    expect((error as Error).message).toMatch(/^invalid search: \(request\): /);
    expect(search.toReply(error as InstanceType<typeof search.Exception>)).toMatchObject({
      code: 'invalid_request',
      problems: [{ path: '' }],
    });
  });

  it('makes the refusal of a zod error with Exception.fromZod', () => {
    const result = planRequest.safeParse({ name: 'n', schedule: {} });
    if (result.success) throw new Error('expected a bad request');
    const error = plans.Exception.fromZod('plan', result.error);
    expect(error).toBeInstanceOf(plans.Exception);
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'schedule.every' });
    expect(error.message).toMatch(/^invalid plan: schedule\.every: /);
  });

  it('has no request validation without an invalid-request code', () => {
    expect(tokens).not.toHaveProperty('parse');
    expect(tokens.Exception).not.toHaveProperty('fromZod');
    // @ts-expect-error -- no parse without invalidRequest
    expect(tokens.parse).toBeUndefined();
  });

  it('sends its exceptions back to the caller as their replies, through its filter', async () => {
    expect(Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, plans.Filter)).toEqual([plans.Exception]);
    const exception = new plans.Exception('PLAN_NOT_FOUND', 'no plan p1', 'planId');
    await expect(replyOf(plans.Filter, exception)).resolves.toStrictEqual({
      code: 'not_found',
      message: 'no plan p1',
      field: 'planId',
    });
  });

  it('says every mistake of a definition at once', () => {
    // As it might come from untyped code: the types refuse all of it.
    const definition: unknown = {
      name: 'Plan Exception',
      replyCodes: { PLAN_NOT_FOUND: 'missing', PLAN_GONE: 'not_found' },
      invalidRequest: { code: 'INVALID_REQUEST', wholeRequest: '' },
    };
    const define = () => defineDomainErrors(definition as Parameters<typeof defineDomainErrors>[0]);
    expect(define).toThrow(
      new Error(
        'defineDomainErrors(Plan Exception): name must be a class name such as SearchException, got "Plan Exception"; ' +
          'replyCodes.PLAN_NOT_FOUND must be one of invalid_request, not_found, conflict, forbidden, unavailable, got "missing"; ' +
          'invalidRequest.code "INVALID_REQUEST" is not one of the codes of replyCodes; ' +
          'invalidRequest.wholeRequest must be a non-empty string, got ""',
      ),
    );
  });

  it('does not compile a reply code callers would not understand, nor an invalid-request code not declared', () => {
    expect(() =>
      defineDomainErrors({
        name: 'PlanException',
        // @ts-expect-error -- not a service error code
        replyCodes: { PLAN_NOT_FOUND: 'missing' },
      }),
    ).toThrow('replyCodes.PLAN_NOT_FOUND must be one of');
    expect(() =>
      defineDomainErrors({
        name: 'PlanException',
        replyCodes: { PLAN_NOT_FOUND: 'not_found' },
        // @ts-expect-error -- not a code of the table
        invalidRequest: { code: 'INVALID_REQUEST' },
      }),
    ).toThrow('invalidRequest.code "INVALID_REQUEST" is not one of the codes of replyCodes');
  });

  it('refuses a definition without codes', () => {
    expect(() => defineDomainErrors({ name: 'EmptyException', replyCodes: {} })).toThrow(
      'defineDomainErrors(EmptyException): replyCodes declares no code',
    );
    expect(() =>
      // @ts-expect-error -- replyCodes must be a table
      defineDomainErrors({ name: 'ListException', replyCodes: ['not_found'] }),
    ).toThrow(
      'defineDomainErrors(ListException): replyCodes must be an object from domain codes to service error codes',
    );
  });
});

describe('domainErrorsFilter', () => {
  const Filter = domainErrorsFilter(tokens, plans);

  it('catches the exceptions of every given domain', () => {
    expect(Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, Filter)).toEqual([tokens.Exception, plans.Exception]);
  });

  it("replies to each exception with its own domain's table", async () => {
    await expect(replyOf(Filter, new tokens.Exception('TOKEN_USED', 'the token was used'))).resolves.toStrictEqual({
      code: 'forbidden',
      message: 'the token was used',
    });
    await expect(replyOf(Filter, new plans.Exception('PLAN_NAME_TAKEN', 'taken', 'name'))).resolves.toStrictEqual({
      code: 'conflict',
      message: 'taken',
      field: 'name',
    });
  });

  it('passes on an exception of no given domain as it is', async () => {
    const stranger = new Error('not ours');
    await expect(replyOf(Filter, stranger)).resolves.toBe(stranger);
  });
});
