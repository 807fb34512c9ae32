import { JetStreamApiError, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { errors, headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { encodeBinary, encodeFramed, encodeJson, type EncodedMessage } from './codec.js';
import type { AnySubjects, KindOf, SubjectTypes, Validator } from './contract-types.js';
import { describeError, silentLogger, type MessagingLogger } from './logger.js';
import { exponentialDelay, sleep } from './timing.js';

export interface PublishOptions {
  /**
   * Deduplication id (`Nats-Msg-Id`): the stream stores a message with the same id only once within
   * its duplicate window, so a retry after a lost PubAck is harmless. Derive it from the content
   * (e.g. `<contentId>:<chunkIndex>`), never from a random value made per attempt.
   */
  msgId: string;
  /** Extra headers (ASCII names; values without CR/LF). */
  headers?: Record<string, string>;
  /** Refuse unless the subject is stored by this stream. */
  expectStream?: string;
  /** Per-attempt PubAck timeout; default from the publisher. */
  timeoutMs?: number;
}

export interface PublishResult {
  stream: string;
  seq: number;
  /** True when the stream already held this msgId (nothing new stored). */
  duplicate: boolean;
}

export interface PublisherOptions<TMap extends object> {
  logger?: MessagingLogger;
  /** Per-attempt PubAck timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** Attempts on time-outs and "no JetStream responder" (server restarting). Default 5. */
  maxAttempts?: number;
  /** Delay after the first failed attempt, doubling up to retryMaxDelayMs. Defaults 250 / 5000 ms. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** When given, outbound payloads are validated too (a bug shows up at the sender). */
  validator?: Validator<TMap>;
}

/** JetStream's error code for a message refused at its stream's byte limit (`discard: new`). */
const JETSTREAM_MAX_BYTES_EXCEEDED = 10077;

/**
 * The stream refused the message because it is at its byte limit (with `discard: new`): for a
 * tenant's chunk stream, the tenant's upload quota is full until storage takes what waits there.
 * Not retried by the publisher: its caller decides how long to wait for room.
 */
export function isStreamFullError(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JETSTREAM_MAX_BYTES_EXCEEDED || /maximum bytes exceeded/i.test(error.message))
  );
}

/** The publish attempt failed in a way a retry with the same msgId may fix. */
export function isRetriablePublishError(error: unknown): boolean {
  if (isStreamFullError(error)) return false;
  if (error instanceof errors.TimeoutError) return true;
  if (error instanceof errors.RequestError) return error.isNoResponders();
  if (error instanceof Error && error.name === 'JetStreamNotEnabled') return true; // no responder on the stream subject
  if (error instanceof JetStreamApiError) return error.status >= 500; // e.g. 503 JetStream temporarily unavailable
  return false;
}

/** The connection is closed or draining for good (not merely lost for a while): no retry can help. */
export function isConnectionClosedError(error: unknown): boolean {
  return error instanceof errors.ClosedConnectionError || error instanceof errors.DrainingConnectionError;
}

/**
 * Publishes typed payloads to JetStream and awaits the PubAck, retrying with the same msgId.
 * `TSubjects` ties each kind to its (branded) subject type, see contract-types.ts.
 */
export class Publisher<TMap extends object, TSubjects extends SubjectTypes<TMap> = AnySubjects<TMap>> {
  private readonly logger: MessagingLogger;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;

  constructor(
    private readonly connection: { nc: NatsConnection; js: JetStreamClient },
    private readonly options: PublisherOptions<TMap> = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 250;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 5_000;
  }

  /** Publishes `payload` as JSON. */
  publish<K extends KindOf<TMap>>(
    kind: K,
    subject: TSubjects[K],
    payload: TMap[K],
    options: PublishOptions,
  ): Promise<PublishResult> {
    this.validateOutbound(kind, subject, payload);
    return this.send(kind, subject, encodeJson(payload), options);
  }

  /** Publishes raw bytes with `header` (the kind's payload, JSON) in the `Mlr-Meta` header. */
  publishBinary<K extends KindOf<TMap>>(
    kind: K,
    subject: TSubjects[K],
    header: TMap[K],
    data: Uint8Array,
    options: PublishOptions,
  ): Promise<PublishResult> {
    this.validateOutbound(kind, subject, header);
    return this.send(kind, subject, encodeBinary(header, data), options);
  }

  /** Publishes `meta` (the kind's payload) and `data` together in one framed body. */
  publishFramed<K extends KindOf<TMap>>(
    kind: K,
    subject: TSubjects[K],
    meta: TMap[K],
    data: readonly Uint8Array[],
    options: PublishOptions,
  ): Promise<PublishResult> {
    this.validateOutbound(kind, subject, meta);
    return this.send(kind, subject, encodeFramed(meta, data), options);
  }

  private validateOutbound<K extends KindOf<TMap>>(kind: K, subject: string, payload: TMap[K]): void {
    // Validate what the receiver will see: the JSON round trip of the payload.
    this.options.validator?.parse(kind, subject, JSON.parse(JSON.stringify(payload)) as unknown);
  }

  private async send(
    kind: string,
    subject: string,
    message: EncodedMessage,
    options: PublishOptions,
  ): Promise<PublishResult> {
    if (options.msgId === '') throw new RangeError('msgId must not be empty');
    const hdrs = natsHeaders();
    for (const [name, value] of Object.entries({ ...options.headers, ...message.headers })) hdrs.set(name, value);
    const timeout = options.timeoutMs ?? this.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const ack: PubAck = await this.connection.js.publish(subject, message.body, {
          msgID: options.msgId,
          headers: hdrs,
          timeout,
          ...(options.expectStream ? { expect: { streamName: options.expectStream } } : {}),
        });
        if (ack.duplicate)
          this.logger.debug(
            { kind, subject, msgId: options.msgId, seq: ack.seq },
            'duplicate publish ignored by the stream',
          );
        return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
      } catch (error) {
        const retriable = isRetriablePublishError(error) && !this.connection.nc.isClosed();
        if (!retriable || attempt >= this.maxAttempts) {
          if (isStreamFullError(error)) throw error; // the caller waits for room; not an error of its own
          this.logger.error(
            { kind, subject, msgId: options.msgId, attempt, error: describeError(error) },
            'publish failed',
          );
          throw error;
        }
        const wait = exponentialDelay(attempt, { baseMs: this.retryBaseDelayMs, maxMs: this.retryMaxDelayMs });
        this.logger.warn(
          { kind, subject, msgId: options.msgId, attempt, retryInMs: wait, error: describeError(error) },
          'publish not acknowledged; retrying',
        );
        await sleep(wait);
      }
    }
  }
}
