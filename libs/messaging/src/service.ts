import { errors, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { DecodeError, decodeMessage, encodeJson } from './codec.js';
import type {
  AnySubjects,
  KindOf,
  RequestOf,
  ResponseOf,
  ServiceMap,
  ServiceValidator,
  SubjectTypes,
} from './contract-types.js';
import { describeError, silentLogger, type MessagingLogger } from './logger.js';
import { isConnectionClosedError } from './publisher.js';
import { Limiter } from './timing.js';

/** Codes the library itself produces; services add their own domain codes. */
export const ServiceErrorCode = {
  /** The request did not match its contract (server side). */
  InvalidRequest: 'invalid_request',
  /** The reply did not match its contract or envelope (client side). */
  InvalidResponse: 'invalid_response',
  /** No reply within the timeout. */
  Timeout: 'timeout',
  /** Nobody serves the subject, or the connection is closed. */
  Unavailable: 'unavailable',
  /** The handler failed unexpectedly (details are in the server's log, not on the wire). */
  Internal: 'internal',
} as const;
export type LibraryErrorCode = (typeof ServiceErrorCode)[keyof typeof ServiceErrorCode];

export interface ServiceErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export type ServiceReply<T> = { ok: true; value: T } | { ok: false; error: ServiceErrorBody };

/** Thrown by a handler to answer with a domain error (code + message) instead of a value. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';

  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

function isEnvelope(value: unknown): value is { ok: true; value: unknown } | { ok: false; error: ServiceErrorBody } {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (record['ok'] === true) return 'value' in record;
  if (record['ok'] !== false) return false;
  const error = record['error'] as Record<string, unknown> | undefined;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof error['code'] === 'string' &&
    typeof error['message'] === 'string'
  );
}

/** Field problems of a validation error (contracts' ContractViolation and ours carry `problems`). */
function problemsOf(error: unknown): unknown {
  const problems = (error as { problems?: unknown } | null)?.problems;
  return Array.isArray(problems) ? problems : undefined;
}

export interface ServiceClientOptions {
  logger?: MessagingLogger;
  /** Default 5000 ms. */
  timeoutMs?: number;
}

/** Typed request/reply client: never throws for remote or transport failures, it returns them. */
export class ServiceClient<TSvc extends ServiceMap<TSvc>, TSubjects extends SubjectTypes<TSvc> = AnySubjects<TSvc>> {
  private readonly logger: MessagingLogger;

  constructor(
    private readonly nc: NatsConnection,
    private readonly validator: ServiceValidator<TSvc>,
    private readonly options: ServiceClientOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  async request<V extends KindOf<TSvc>>(
    verb: V,
    subject: TSubjects[V],
    payload: RequestOf<TSvc, V>,
    options: { timeoutMs?: number } = {},
  ): Promise<ServiceReply<ResponseOf<TSvc, V>>> {
    const timeout = options.timeoutMs ?? this.options.timeoutMs ?? 5_000;
    let reply: Msg;
    try {
      reply = await this.nc.request(subject, encodeJson(payload).body, { timeout });
    } catch (error) {
      const failure = this.transportFailure(error, subject, timeout);
      this.logger.warn({ verb, subject, code: failure.code, error: describeError(error) }, 'service request failed');
      return { ok: false, error: failure };
    }
    let envelope: unknown;
    try {
      envelope = decodeMessage(reply.data, (name) =>
        reply.headers?.has(name) ? reply.headers.get(name) : undefined,
      ).payload;
    } catch (error) {
      return this.invalidResponse(verb, subject, (error as Error).message);
    }
    if (!isEnvelope(envelope)) return this.invalidResponse(verb, subject, 'reply is not a service reply envelope');
    if (!envelope.ok) return { ok: false, error: envelope.error };
    try {
      return { ok: true, value: this.validator.parseResponse(verb, subject, envelope.value) };
    } catch (error) {
      return this.invalidResponse(verb, subject, (error as Error).message, problemsOf(error));
    }
  }

  private invalidResponse(
    verb: string,
    subject: string,
    message: string,
    details?: unknown,
  ): { ok: false; error: ServiceErrorBody } {
    this.logger.error({ verb, subject, reason: message }, 'invalid service reply');
    return {
      ok: false,
      error: { code: ServiceErrorCode.InvalidResponse, message, ...(details !== undefined ? { details } : {}) },
    };
  }

  private transportFailure(error: unknown, subject: string, timeout: number): ServiceErrorBody {
    if (error instanceof errors.TimeoutError)
      return { code: ServiceErrorCode.Timeout, message: `no reply on ${subject} within ${timeout} ms` };
    if (error instanceof errors.RequestError && error.isNoResponders()) {
      return { code: ServiceErrorCode.Unavailable, message: `no service answers on ${subject}` };
    }
    if (isConnectionClosedError(error)) {
      return { code: ServiceErrorCode.Unavailable, message: `connection closed: ${(error as Error).message}` };
    }
    // Some other failure (e.g. permission violation): still an answer, not an exception.
    return { code: ServiceErrorCode.Unavailable, message: (error as Error).message ?? String(error) };
  }
}

export interface ServeOptions {
  /** Queue group: one of the service's instances answers each request. */
  queue?: string;
  /** Requests handled at once by this instance. Default 16. */
  concurrency?: number;
  logger?: MessagingLogger;
}

export interface Responder {
  readonly subject: string;
  /** Stops taking requests and waits for the ones in flight. */
  stop(): Promise<void>;
  readonly stopped: Promise<void>;
}

export type ServiceHandler<TSvc extends ServiceMap<TSvc>, V extends keyof TSvc> = (
  request: RequestOf<TSvc, V>,
  context: { subject: string },
) => Promise<ResponseOf<TSvc, V>>;

/**
 * Answers `verb` on `subject`: validates each request, calls the handler, and always replies with an
 * envelope — `{ ok: true, value }` or `{ ok: false, error: { code, message, details? } }`.
 */
export function serve<
  TSvc extends ServiceMap<TSvc>,
  V extends KindOf<TSvc>,
  TSubjects extends SubjectTypes<TSvc> = AnySubjects<TSvc>,
>(
  nc: NatsConnection,
  validator: ServiceValidator<TSvc>,
  verb: V,
  subject: TSubjects[V],
  handler: ServiceHandler<TSvc, V>,
  options: ServeOptions = {},
): Responder {
  const logger = options.logger ?? silentLogger;
  const limiter = new Limiter(options.concurrency ?? 16);
  const sub: Subscription = nc.subscribe(subject, options.queue ? { queue: options.queue } : {});
  const context = { verb, subject, queue: options.queue };

  const respond = (msg: Msg, reply: ServiceReply<unknown>): void => {
    if (!msg.reply) {
      logger.warn(context, 'service request without reply subject; dropped');
      return;
    }
    msg.respond(encodeJson(reply).body);
  };

  const handle = async (msg: Msg): Promise<void> => {
    let request: RequestOf<TSvc, V>;
    try {
      const decoded = decodeMessage(msg.data, (name) => (msg.headers?.has(name) ? msg.headers.get(name) : undefined));
      request = validator.parseRequest(verb, msg.subject, decoded.payload);
    } catch (error) {
      const message =
        error instanceof DecodeError
          ? `invalid ${verb} request on ${msg.subject}: ${error.message}`
          : (error as Error).message;
      logger.warn({ ...context, reason: message }, 'invalid service request refused');
      const details = problemsOf(error);
      respond(msg, {
        ok: false,
        error: { code: ServiceErrorCode.InvalidRequest, message, ...(details !== undefined ? { details } : {}) },
      });
      return;
    }
    try {
      const value = await handler(request, { subject: msg.subject });
      respond(msg, { ok: true, value });
    } catch (error) {
      if (error instanceof ServiceError) {
        logger.info({ ...context, code: error.code, reason: error.message }, 'service request answered with an error');
        respond(msg, {
          ok: false,
          error: {
            code: error.code,
            message: error.message,
            ...(error.details !== undefined ? { details: error.details } : {}),
          },
        });
        return;
      }
      logger.error({ ...context, error: describeError(error) }, 'service handler failed');
      respond(msg, { ok: false, error: { code: ServiceErrorCode.Internal, message: `${verb} failed on the server` } });
    }
  };

  const stopped = (async () => {
    for await (const msg of sub) {
      await limiter.acquire();
      void handle(msg)
        .catch((error: unknown) => logger.error({ ...context, error: describeError(error) }, 'service reply failed'))
        .finally(() => limiter.release());
    }
    await limiter.idle();
  })();
  logger.info(context, 'serving');

  return {
    subject,
    stopped,
    stop: async () => {
      if (!sub.isClosed()) await sub.drain().catch(() => undefined);
      await stopped;
    },
  };
}

/** `serve` with the validator, subject typing and logger bound once per service. */
export class ServiceServer<TSvc extends ServiceMap<TSvc>, TSubjects extends SubjectTypes<TSvc> = AnySubjects<TSvc>> {
  constructor(
    private readonly nc: NatsConnection,
    private readonly validator: ServiceValidator<TSvc>,
    private readonly defaults: ServeOptions = {},
  ) {}

  serve<V extends KindOf<TSvc>>(
    verb: V,
    subject: TSubjects[V],
    handler: ServiceHandler<TSvc, V>,
    options: ServeOptions = {},
  ): Responder {
    return serve<TSvc, V, TSubjects>(this.nc, this.validator, verb, subject, handler, { ...this.defaults, ...options });
  }
}
