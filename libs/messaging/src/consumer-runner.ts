import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { decodeMessage } from './codec.js';
import type { KindOf, Validator } from './contract-types.js';
import { ensureConsumer, ensureStream, type ConsumerSpec, type StreamSpec } from './declare.js';
import { describeError, silentLogger, type MessagingLogger } from './logger.js';
import { exponentialDelay, Limiter, redeliveryDelay, sleep, type ExponentialDelayOptions } from './timing.js';

/** One validated inbound message. */
export interface Delivery<T> {
  readonly kind: string;
  /** The concrete subject it was published on (e.g. `mlr.acme.jobs.c1`). */
  readonly subject: string;
  readonly payload: T;
  /** Body bytes of a binary message (`publishBinary`); undefined for JSON messages. */
  readonly data: Uint8Array | undefined;
  /** The `Nats-Msg-Id` it was published with. */
  readonly msgId: string | undefined;
  readonly streamSequence: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly redelivered: boolean;
  readonly publishedAt: Date;
  header(name: string): string | undefined;
  /** Tells the server the handler is still working: resets the ack timer. */
  working(): void;
}

export type DeliveryHandler<T> = (delivery: Delivery<T>) => Promise<void>;

/**
 * Thrown by a handler for a message that can never succeed (e.g. refers to something that does not
 * exist): the message is terminated instead of redelivered.
 */
export class PermanentFailure extends Error {
  override readonly name = 'PermanentFailure';
}

export interface ConsumerRunnerOptions<TMap extends object, K extends KindOf<TMap>> {
  connection: { nc: NatsConnection; js: JetStreamClient; manager(): Promise<JetStreamManager> };
  /** The payload kind every message of this consumer must be (validated before the handler). */
  kind: K;
  validator: Validator<TMap>;
  handler: DeliveryHandler<TMap[K]>;
  /**
   * The stream: its name (must exist), or a spec to declare at start and after it disappears
   * (needs stream-management permission).
   */
  stream: string | StreamSpec;
  /**
   * The durable consumer: its name (bind only, e.g. a connector without management permission), or a
   * spec to declare at start and to re-create whenever it is deleted.
   */
  consumer: string | ConsumerSpec;
  /** Handlers in flight at most. Default 1. */
  concurrency?: number;
  /**
   * Messages pulled ahead of the handlers, waiting for one to be free. Default `concurrency`. Large
   * messages cost more than their size while they wait (the client's read buffer of each is up to
   * twice as large): a consumer of large messages pulls fewer ahead.
   */
  prefetch?: number;
  /** Calls `working()` this often while a handler runs (for handlers longer than the ack wait). */
  workingIntervalMs?: number;
  /** Redelivery delay after a handler failure, when the consumer has no back-off list. Default 1 s doubling to 60 s. */
  failureDelay?: ExponentialDelayOptions;
  /** Delay before re-establishing after an error, doubling up to 30 s. Default 500 ms. */
  restartDelayMs?: number;
  /** Pull request expiry (the client's heartbeat is half of it). Default 30000 ms, minimum 1000. */
  pullExpiresMs?: number;
  logger?: MessagingLogger;
}

export interface ConsumerRunner {
  /** Stops pulling, returns undelivered buffered messages (nak) and waits for handlers in flight. */
  stop(): Promise<void>;
  /** Resolves once the runner has stopped (after `stop()`, or when the connection closed). */
  readonly stopped: Promise<void>;
  readonly inFlight: number;
}

/**
 * Runs a consume loop over a durable pull consumer:
 * validate → handler → ack; invalid → term (logged, never redelivered); handler error → nak with
 * delay; PermanentFailure → term. Re-establishes itself after errors, consumer deletion and server
 * restarts, until `stop()`.
 */
export function runConsumer<TMap extends object, K extends KindOf<TMap>>(
  options: ConsumerRunnerOptions<TMap, K>,
): ConsumerRunner {
  return new Runner(options);
}

class Runner<TMap extends object, K extends KindOf<TMap>> implements ConsumerRunner {
  readonly stopped: Promise<void>;
  private stopping = false;
  private readonly abort = new AbortController();
  private current: ConsumerMessages | undefined;
  private readonly limiter: Limiter;
  private readonly logger: MessagingLogger;
  private readonly streamName: string;
  private readonly durable: string;
  private readonly context: Record<string, unknown>;

  constructor(private readonly options: ConsumerRunnerOptions<TMap, K>) {
    this.limiter = new Limiter(options.concurrency ?? 1);
    this.logger = options.logger ?? silentLogger;
    this.streamName = typeof options.stream === 'string' ? options.stream : options.stream.name;
    this.durable = typeof options.consumer === 'string' ? options.consumer : options.consumer.durable;
    this.context = { stream: this.streamName, consumer: this.durable, kind: options.kind };
    if (options.pullExpiresMs !== undefined && options.pullExpiresMs < 1_000)
      throw new RangeError('pullExpiresMs must be at least 1000');
    this.stopped = this.loop();
  }

  get inFlight(): number {
    return this.limiter.inFlight;
  }

  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.abort.abort();
      this.logger.info(this.context, 'consumer stopping');
      await this.current?.close().catch(() => undefined);
    }
    await this.stopped;
  }

  private async declare(): Promise<void> {
    const { stream, consumer } = this.options;
    if (typeof stream !== 'string' || typeof consumer !== 'string') {
      const jsm = await this.options.connection.manager();
      if (typeof stream !== 'string') await ensureStream(jsm, stream, this.logger);
      if (typeof consumer !== 'string') await ensureConsumer(jsm, this.streamName, consumer, this.logger);
    }
  }

  private async loop(): Promise<void> {
    const { nc, js } = this.options.connection;
    let failures = 0;
    while (!this.stopping) {
      if (nc.isClosed()) {
        this.logger.error(this.context, 'nats connection closed; consumer stops');
        break;
      }
      try {
        await this.declare();
        const consumer = await js.consumers.get(this.streamName, this.durable);
        const messages = await consumer.consume({
          max_messages: this.options.prefetch ?? this.limiter.limit,
          expires: this.options.pullExpiresMs ?? 30_000,
          // A deleted consumer or stream ends the iterator, so that this loop declares it again.
          abort_on_missing_resource: true,
        });
        this.current = messages;
        if (this.stopping) {
          await messages.close();
          break;
        }
        void this.watch(messages);
        this.logger.info(
          { ...this.context, concurrency: this.limiter.limit },
          failures > 0 ? 'consumer re-established' : 'consuming',
        );
        failures = 0;
        for await (const message of messages) {
          await this.limiter.acquire();
          if (this.stopping) {
            // Pulled but not started: hand it back at once rather than after the ack wait.
            this.limiter.release();
            message.nak();
            continue;
          }
          void this.dispatch(message).catch((error: unknown) =>
            // ack/nak/term throw only when the connection is closed; the server redelivers later.
            this.logger.warn({ ...this.context, error: describeError(error) }, 'could not settle message'),
          );
        }
        if (!this.stopping) {
          failures++;
          this.logger.warn(this.context, 'consume loop ended; re-establishing');
        }
      } catch (error) {
        if (this.stopping) break;
        failures++;
        this.logger.warn(
          { ...this.context, attempt: failures, error: describeError(error) },
          'consumer failed; re-establishing',
        );
      } finally {
        this.current = undefined;
      }
      if (this.stopping) break;
      await sleep(
        exponentialDelay(failures, { baseMs: this.options.restartDelayMs ?? 500, maxMs: 30_000 }),
        this.abort.signal,
      );
    }
    await this.limiter.idle();
    this.logger.info(this.context, 'consumer stopped');
  }

  private async watch(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const note of messages.status()) {
        switch (note.type) {
          case 'heartbeats_missed':
            this.logger.warn({ ...this.context, count: note.count }, 'consumer heartbeats missed');
            break;
          case 'consumer_not_found':
          case 'stream_not_found':
          case 'consumer_deleted':
            this.logger.warn({ ...this.context, notification: note }, `consumer notification: ${note.type}`);
            break;
          case 'exceeded_limits':
          case 'no_responders':
            this.logger.warn({ ...this.context, notification: note }, `consumer notification: ${note.type}`);
            break;
          case 'next':
          case 'heartbeat':
            break;
          default:
            this.logger.debug({ ...this.context, notification: note }, `consumer notification: ${note.type}`);
        }
      }
    } catch {
      // the status iterator ends with the messages iterator
    }
  }

  private async dispatch(message: JsMsg): Promise<void> {
    const facts = {
      ...this.context,
      subject: message.subject,
      streamSequence: message.seq,
      deliveryCount: message.info.deliveryCount,
      msgId: message.headers?.get('Nats-Msg-Id') || undefined,
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      let delivery: Delivery<TMap[K]>;
      try {
        const header = (name: string): string | undefined =>
          message.headers?.has(name) ? message.headers.get(name) : undefined;
        const decoded = decodeMessage(message.data, header);
        const payload = this.options.validator.parse(this.options.kind, message.subject, decoded.payload);
        delivery = {
          kind: this.options.kind,
          subject: message.subject,
          payload,
          data: decoded.data,
          msgId: facts.msgId,
          streamSequence: message.seq,
          deliveryCount: message.info.deliveryCount,
          redelivered: message.redelivered,
          publishedAt: message.time,
          header,
          working: () => message.working(),
        };
      } catch (error) {
        // Not redelivered: the same bytes would fail the same way forever. (No term reason: servers
        // before 2.10 ignore "+TERM <reason>" and would redeliver.)
        message.term();
        this.logger.error(
          { ...facts, reason: (error as Error).message, error: describeError(error) },
          'invalid message terminated',
        );
        return;
      }
      if (this.options.workingIntervalMs) timer = setInterval(() => message.working(), this.options.workingIntervalMs);
      try {
        await this.options.handler(delivery);
        message.ack();
      } catch (error) {
        if (error instanceof PermanentFailure) {
          message.term();
          this.logger.error({ ...facts, reason: error.message }, 'message failed permanently; terminated');
          return;
        }
        const spec = typeof this.options.consumer === 'string' ? undefined : this.options.consumer;
        const delayMs = redeliveryDelay(
          delivery.deliveryCount,
          spec?.backoffMs,
          this.options.failureDelay ?? { baseMs: 1_000, maxMs: 60_000 },
        );
        message.nak(delayMs);
        const maxDeliver = spec?.maxDeliver ?? -1;
        if (maxDeliver > 0 && delivery.deliveryCount >= maxDeliver) {
          this.logger.error(
            { ...facts, maxDeliver, error: describeError(error) },
            'handler failed on the last allowed delivery; the server will not redeliver',
          );
        } else {
          this.logger.warn(
            { ...facts, redeliverInMs: delayMs, error: describeError(error) },
            'handler failed; message will be redelivered',
          );
        }
      }
    } finally {
      clearInterval(timer);
      this.limiter.release();
    }
  }
}
