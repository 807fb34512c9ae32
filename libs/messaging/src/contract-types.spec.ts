import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { PayloadValidationError, schemaServiceValidator, schemaValidator, type Validator } from './contract-types.js';
import type { Publisher } from './publisher.js';
import type { ServiceClient } from './service.js';

// A miniature contracts package, shaped like libs/contracts: a payload map that is an interface,
// branded subjects made only by builder functions, and a (kind, subject, data) parser.
const jobSchema = z.strictObject({ tenantId: z.string(), jobId: z.string() });
const chunkSchema = z.strictObject({ tenantId: z.string(), chunkIndex: z.number().int().nonnegative() });
interface Payloads {
  jobs: z.infer<typeof jobSchema>;
  objects: z.infer<typeof chunkSchema>;
}
declare const brand: unique symbol;
type Subject<C extends keyof Payloads> = string & { readonly [brand]: C };
const subjects = {
  jobs: (tenant: string, connector: string) => `mlr.${tenant}.jobs.${connector}` as Subject<'jobs'>,
  objects: (tenant: string) => `mlr.${tenant}.objects` as Subject<'objects'>,
};
type Subjects = { [C in keyof Payloads]: Subject<C> };

interface Calls {
  health: { request: { verbose: boolean }; response: { status: 'ok' | 'down' } };
}

describe('schemaValidator', () => {
  const validator = schemaValidator<Payloads>({ jobs: jobSchema, objects: chunkSchema });

  it('returns the typed payload', () => {
    const job = validator.parse('jobs', 'mlr.acme.jobs.c1', { tenantId: 'acme', jobId: 'j1' });
    expectTypeOf(job).toEqualTypeOf<Payloads['jobs']>();
    expect(job).toEqual({ tenantId: 'acme', jobId: 'j1' });
  });

  it('names the subject and every bad field', () => {
    let caught: unknown;
    try {
      validator.parse('objects', 'mlr.acme.objects', { tenantId: 7, chunkIndex: -1 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PayloadValidationError);
    expect((caught as Error).message).toMatch(
      /^invalid objects message on mlr\.acme\.objects: tenantId: .+; chunkIndex: /,
    );
    expect((caught as PayloadValidationError).problems.map((p) => p.path)).toEqual(['tenantId', 'chunkIndex']);
  });

  it('validates both ends of service calls', () => {
    const calls = schemaServiceValidator<Calls>({
      health: {
        request: z.strictObject({ verbose: z.boolean() }),
        response: z.strictObject({ status: z.enum(['ok', 'down']) }),
      },
    });
    expect(calls.parseRequest('health', 'mlr.svc.x.health', { verbose: true })).toEqual({ verbose: true });
    expect(() => calls.parseResponse('health', 'mlr.svc.x.health', { status: 'maybe' })).toThrow(
      /invalid health response/,
    );
  });

  it('accepts a contracts-style parse function as a Validator', () => {
    const parseChannelPayload = <C extends keyof Payloads>(channel: C, _subject: string, data: unknown): Payloads[C] =>
      ({ jobs: jobSchema, objects: chunkSchema })[channel].parse(data) as Payloads[C];
    const fromContracts: Validator<Payloads> = { parse: parseChannelPayload };
    expect(fromContracts.parse('jobs', 'mlr.a.jobs.c', { tenantId: 'a', jobId: 'j' }).jobId).toBe('j');
  });
});

describe('compile-time checks', () => {
  it('ties kind, branded subject and payload together', () => {
    // Type-level only: this function is never called.
    const typed = (publisher: Publisher<Payloads, Subjects>, client: ServiceClient<Calls>) => {
      void publisher.publish('jobs', subjects.jobs('acme', 'c1'), { tenantId: 'acme', jobId: 'j1' }, { msgId: 'j1' });
      void publisher.publishBinary(
        'objects',
        subjects.objects('acme'),
        { tenantId: 'acme', chunkIndex: 0 },
        new Uint8Array(),
        { msgId: 'x:0' },
      );
      // @ts-expect-error the payload of another kind
      void publisher.publish('jobs', subjects.jobs('acme', 'c1'), { tenantId: 'acme', chunkIndex: 0 }, { msgId: 'j1' });
      // @ts-expect-error a subject of another kind
      void publisher.publish('jobs', subjects.objects('acme'), { tenantId: 'acme', jobId: 'j1' }, { msgId: 'j1' });
      // @ts-expect-error a bare string is not a jobs subject
      void publisher.publish('jobs', 'mlr.acme.jobs.c1', { tenantId: 'acme', jobId: 'j1' }, { msgId: 'j1' });
      // @ts-expect-error an unknown kind
      void publisher.publish('nope', subjects.jobs('acme', 'c1'), {}, { msgId: 'j1' });
      void client.request('health', 'mlr.svc.storage.health', { verbose: true }).then((reply) => {
        if (reply.ok) expectTypeOf(reply.value).toEqualTypeOf<{ status: 'ok' | 'down' }>();
        else expectTypeOf(reply.error.code).toBeString();
      });
      // @ts-expect-error wrong request type
      void client.request('health', 'mlr.svc.storage.health', { verbose: 'yes' });
    };
    expect(typeof typed).toBe('function');
  });
});
