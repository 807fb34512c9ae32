/**
 * How the library is typed against a contracts package without importing one.
 *
 * - `TMap` maps a *kind* (a channel such as `'jobs'`, or a service verb such as `'health'`) to its
 *   payload type. Interfaces are fine (no index signature needed).
 * - `TSubjects` maps the same kinds to the type of a concrete subject of that kind. Contracts that
 *   brand their subjects (`Subject<'jobs'>`, made only by `subjects.jobs(tenant, connector)`) plug
 *   them in here, and then `publish('jobs', subjects.objects(t), job)` does not compile. The default
 *   (`string` for every kind) checks the payload against the kind only.
 * - Every call names the kind explicitly (`publish('jobs', subject, payload)`): the kind selects the
 *   payload type at compile time and the schema at run time; no inference from string patterns.
 */

/** Kind → subject type. */
export type SubjectTypes<TMap extends object> = { readonly [K in keyof TMap]: string };

/** The default subject typing: any string. */
export type AnySubjects<TMap extends object> = { readonly [K in keyof TMap]: string };

/** Kinds of a map (its string keys). */
export type KindOf<TMap extends object> = keyof TMap & string;

/**
 * Validates an inbound payload of kind `kind` that arrived on the concrete `subject`.
 * Returns the typed payload or throws an Error whose message says what is wrong
 * (e.g. the contracts' `ContractViolation`). Anything thrown is treated as "invalid".
 */
export interface Validator<TMap extends object> {
  parse<K extends KindOf<TMap>>(kind: K, subject: string, data: unknown): TMap[K];
}

/** One request/reply call: its request and its response payloads. */
export interface CallShape {
  request: unknown;
  response: unknown;
}

/** Verb → call shape, e.g. `{ health: { request: HealthRequest; response: HealthReport } }`. */
export type ServiceMap<TSvc extends object> = { [V in keyof TSvc]: CallShape };

export type RequestOf<TSvc extends ServiceMap<TSvc>, V extends keyof TSvc> = TSvc[V]['request'];
export type ResponseOf<TSvc extends ServiceMap<TSvc>, V extends keyof TSvc> = TSvc[V]['response'];

/** Validates both ends of a call: the server parses requests, the client parses responses. */
export interface ServiceValidator<TSvc extends ServiceMap<TSvc>> {
  parseRequest<V extends KindOf<TSvc>>(verb: V, subject: string, data: unknown): RequestOf<TSvc, V>;
  parseResponse<V extends KindOf<TSvc>>(verb: V, subject: string, data: unknown): ResponseOf<TSvc, V>;
}

/** Problems found in a payload, one per bad field. */
export interface PayloadProblem {
  path: string;
  message: string;
}

/** Thrown by the schema-based validators of this library. */
export class PayloadValidationError extends Error {
  override readonly name = 'PayloadValidationError';

  constructor(
    readonly contract: string,
    readonly problems: ReadonlyArray<PayloadProblem>,
  ) {
    super(`invalid ${contract}: ${problems.map((p) => `${p.path || '(payload)'}: ${p.message}`).join('; ')}`);
  }
}

/**
 * The part of a schema object (a zod 4 schema fits) that validation needs.
 * Its output type is the payload type.
 */
export interface SchemaLike<T> {
  safeParse(
    data: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

function problemsOf(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): PayloadProblem[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

function parseWith<T>(schema: SchemaLike<T> | undefined, contract: string, data: unknown): T {
  if (!schema) throw new PayloadValidationError(contract, [{ path: '', message: 'no schema is registered for it' }]);
  const result = schema.safeParse(data);
  if (!result.success) throw new PayloadValidationError(contract, problemsOf(result.error.issues));
  return result.data;
}

/** A Validator from one schema per kind (checks the payload only, not the subject's tokens). */
export function schemaValidator<TMap extends object>(schemas: {
  readonly [K in keyof TMap]: SchemaLike<TMap[K]>;
}): Validator<TMap> {
  return {
    parse<K extends KindOf<TMap>>(kind: K, subject: string, data: unknown): TMap[K] {
      return parseWith(schemas[kind] as SchemaLike<TMap[K]> | undefined, `${kind} message on ${subject}`, data);
    },
  };
}

/** A ServiceValidator from a request and a response schema per verb. */
export function schemaServiceValidator<TSvc extends ServiceMap<TSvc>>(schemas: {
  readonly [V in keyof TSvc]: { request: SchemaLike<TSvc[V]['request']>; response: SchemaLike<TSvc[V]['response']> };
}): ServiceValidator<TSvc> {
  return {
    parseRequest<V extends KindOf<TSvc>>(verb: V, subject: string, data: unknown): RequestOf<TSvc, V> {
      return parseWith(schemas[verb]?.request, `${verb} request on ${subject}`, data);
    },
    parseResponse<V extends KindOf<TSvc>>(verb: V, subject: string, data: unknown): ResponseOf<TSvc, V> {
      return parseWith(schemas[verb]?.response, `${verb} response on ${subject}`, data);
    },
  };
}
