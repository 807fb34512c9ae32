import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { silentLogger, type MessagingLogger } from './logger.js';

/** What a stream must look like; durations in milliseconds. Unset limits mean "unlimited". */
export interface StreamSpec {
  name: string;
  subjects: string[];
  retention: 'workqueue' | 'limits' | 'interest';
  /** Default `file`. Cannot change once created. */
  storage?: 'file' | 'memory';
  /** Window in which a repeated `Nats-Msg-Id` is dropped. Server default: 2 minutes. */
  duplicateWindowMs?: number;
  maxAgeMs?: number;
  maxBytes?: number;
  maxMsgs?: number;
  maxMsgSize?: number;
  maxMsgsPerSubject?: number;
  /** What to do when a limit is hit. Default `old` (drop oldest); `new` refuses new messages. */
  discard?: 'old' | 'new';
  /**
   * With `discard: new` and `maxMsgsPerSubject`: refuse a message for a subject that is at its limit
   * (the others still take messages), instead of only when the whole stream is full.
   */
  discardNewPerSubject?: boolean;
  replicas?: number;
  description?: string;
}

/** A durable pull consumer with explicit acks; durations in milliseconds. */
export interface ConsumerSpec {
  durable: string;
  filterSubject?: string;
  /** Time the server waits for an ack before redelivering. Default 30 s. Ignored when `backoffMs` is set. */
  ackWaitMs?: number;
  /** Deliveries before the server gives up on a message. Default -1 (never gives up). */
  maxDeliver?: number;
  /** Redelivery delays after ack timeouts (the server's `backoff`); the runner reuses them for naks. */
  backoffMs?: number[];
  /** Unacked messages the server hands out at once. Server default 1000. */
  maxAckPending?: number;
  /** Default `all`. Cannot change once created. */
  deliverPolicy?: 'all' | 'new' | 'last';
  description?: string;
}

export type DeclareAction = 'created' | 'updated' | 'unchanged';

/** The stream or consumer exists with a setting that cannot be changed in place. */
export class DeclarationConflictError extends Error {
  override readonly name = 'DeclarationConflictError';
}

const DEFAULT_ACK_WAIT_MS = 30_000;

const retentionOf = {
  workqueue: RetentionPolicy.Workqueue,
  limits: RetentionPolicy.Limits,
  interest: RetentionPolicy.Interest,
} as const;
const storageOf = { file: StorageType.File, memory: StorageType.Memory } as const;
const discardOf = { old: DiscardPolicy.Old, new: DiscardPolicy.New } as const;
const deliverOf = { all: DeliverPolicy.All, new: DeliverPolicy.New, last: DeliverPolicy.Last } as const;

const ms = (value: number | undefined): number => nanos(value ?? 0);

/** The full stream configuration a spec stands for (also used to compare with the server's). */
export function streamConfigOf(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  if (spec.subjects.length === 0) throw new RangeError(`stream ${spec.name} needs at least one subject`);
  if (spec.duplicateWindowMs !== undefined && spec.maxAgeMs && spec.duplicateWindowMs > spec.maxAgeMs) {
    throw new RangeError(`stream ${spec.name}: duplicateWindowMs may not exceed maxAgeMs`);
  }
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: retentionOf[spec.retention],
    storage: storageOf[spec.storage ?? 'file'],
    max_age: ms(spec.maxAgeMs),
    max_bytes: spec.maxBytes ?? -1,
    max_msgs: spec.maxMsgs ?? -1,
    max_msg_size: spec.maxMsgSize ?? -1,
    max_msgs_per_subject: spec.maxMsgsPerSubject ?? -1,
    discard: discardOf[spec.discard ?? 'old'],
    discard_new_per_subject: spec.discardNewPerSubject ?? false,
    num_replicas: spec.replicas ?? 1,
    ...(spec.duplicateWindowMs !== undefined ? { duplicate_window: ms(spec.duplicateWindowMs) } : {}),
    ...(spec.description !== undefined ? { description: spec.description } : {}),
  };
}

/** Whether two lists hold the same strings, in any order. */
export function sameSet(a: readonly string[] = [], b: readonly string[] = []): boolean {
  const sortedB = [...b].sort();
  return a.length === b.length && [...a].sort().every((value, i) => value === sortedB[i]);
}

/**
 * Differences between the wanted and the existing stream configuration, as
 * `{ mutable: field names, immutable: messages }`. Only fields the spec manages are compared.
 */
export function diffStreamConfig(
  wanted: Partial<StreamConfig> & { name: string },
  existing: StreamConfig,
): { mutable: string[]; immutable: string[] } {
  const mutable: string[] = [];
  const immutable: string[] = [];
  if (wanted.storage !== undefined && wanted.storage !== existing.storage) {
    immutable.push(`storage is ${existing.storage}, wanted ${wanted.storage}`);
  }
  if (wanted.retention !== undefined && wanted.retention !== existing.retention) {
    immutable.push(`retention is ${existing.retention}, wanted ${wanted.retention}`);
  }
  if (!sameSet(wanted.subjects, existing.subjects)) mutable.push('subjects');
  const scalar = [
    'max_age',
    'max_bytes',
    'max_msgs',
    'max_msg_size',
    'max_msgs_per_subject',
    'discard',
    'discard_new_per_subject',
    'num_replicas',
    'duplicate_window',
    'description',
  ] as const;
  for (const field of scalar) {
    const value = wanted[field];
    const defaults: Partial<Record<(typeof scalar)[number], unknown>> = {
      description: '',
      discard_new_per_subject: false,
    };
    if (value !== undefined && value !== (existing[field] ?? defaults[field])) mutable.push(field);
  }
  return { mutable, immutable };
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** The JetStream API refused because the stream named does not exist. */
export const isStreamNotFound = (error: unknown): boolean => isApiError(error, JetStreamApiCodes.StreamNotFound);

export interface DeclareResult<TInfo> {
  action: DeclareAction;
  info: TInfo;
}

/**
 * Creates the stream, or updates it to match the spec; safe to call at every start-up and from
 * several instances at once. Throws DeclarationConflictError when an unchangeable setting differs.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  spec: StreamSpec,
  logger: MessagingLogger = silentLogger,
): Promise<DeclareResult<StreamInfo>> {
  const wanted = streamConfigOf(spec);
  for (let attempt = 1; ; attempt++) {
    let existing: StreamInfo | undefined;
    try {
      existing = await jsm.streams.info(spec.name);
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
    }
    if (!existing) {
      try {
        const info = await jsm.streams.add(wanted);
        logger.info({ stream: spec.name, subjects: spec.subjects, retention: spec.retention }, 'stream created');
        return { action: 'created', info };
      } catch (error) {
        // Another instance created it in between: compare with what is there now.
        if (attempt < 3 && error instanceof JetStreamApiError) continue;
        throw error;
      }
    }
    const diff = diffStreamConfig(wanted, existing.config);
    if (diff.immutable.length > 0) {
      throw new DeclarationConflictError(
        `stream ${spec.name} cannot be updated in place: ${diff.immutable.join('; ')}`,
      );
    }
    if (diff.mutable.length === 0) return { action: 'unchanged', info: existing };
    const { name: _name, retention: _retention, storage: _storage, ...update } = wanted;
    const info = await jsm.streams.update(spec.name, update);
    logger.info({ stream: spec.name, changed: diff.mutable }, 'stream updated');
    return { action: 'updated', info };
  }
}

/** The consumer configuration a spec stands for. */
export function consumerConfigOf(spec: ConsumerSpec): Partial<ConsumerConfig> & { durable_name: string } {
  const backoff = spec.backoffMs ?? [];
  const maxDeliver = spec.maxDeliver ?? -1;
  if (backoff.some((value) => !(value > 0)))
    throw new RangeError(`consumer ${spec.durable}: backoffMs values must be positive`);
  if (backoff.length > 0 && maxDeliver > 0 && maxDeliver <= backoff.length) {
    throw new RangeError(
      `consumer ${spec.durable}: maxDeliver (${maxDeliver}) must exceed the number of backoffMs values (${backoff.length})`,
    );
  }
  if (spec.ackWaitMs !== undefined && !(spec.ackWaitMs > 0))
    throw new RangeError(`consumer ${spec.durable}: ackWaitMs must be positive`);
  // With a back-off list the server uses its first value as the ack wait.
  const ackWaitMs = backoff.length > 0 ? (backoff[0] as number) : (spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS);
  return {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: deliverOf[spec.deliverPolicy ?? 'all'],
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(ackWaitMs),
    max_deliver: maxDeliver,
    ...(backoff.length > 0 ? { backoff: backoff.map((value) => nanos(value)) } : {}),
    ...(spec.filterSubject !== undefined ? { filter_subject: spec.filterSubject } : {}),
    ...(spec.maxAckPending !== undefined ? { max_ack_pending: spec.maxAckPending } : {}),
    ...(spec.description !== undefined ? { description: spec.description } : {}),
  };
}

/** Like diffStreamConfig, for consumers. */
export function diffConsumerConfig(
  wanted: Partial<ConsumerConfig>,
  existing: ConsumerConfig,
): { mutable: string[]; immutable: string[] } {
  const mutable: string[] = [];
  const immutable: string[] = [];
  if (existing.ack_policy !== AckPolicy.Explicit)
    immutable.push(`ack_policy is ${existing.ack_policy}, wanted explicit`);
  if (wanted.deliver_policy !== undefined && wanted.deliver_policy !== existing.deliver_policy) {
    immutable.push(`deliver_policy is ${existing.deliver_policy}, wanted ${wanted.deliver_policy}`);
  }
  if (existing.deliver_subject) immutable.push('it is a push consumer, wanted a pull consumer');
  if ((wanted.filter_subject ?? '') !== (existing.filter_subject ?? '')) mutable.push('filter_subject');
  const wantedBackoff = wanted.backoff ?? [];
  const existingBackoff = existing.backoff ?? [];
  if (
    wantedBackoff.length !== existingBackoff.length ||
    wantedBackoff.some((value, i) => value !== existingBackoff[i])
  ) {
    mutable.push('backoff');
  }
  for (const field of ['ack_wait', 'max_deliver', 'max_ack_pending', 'description'] as const) {
    const value = wanted[field];
    if (value !== undefined && value !== (existing[field] ?? (field === 'description' ? '' : undefined)))
      mutable.push(field);
  }
  return { mutable, immutable };
}

/**
 * Creates the durable pull consumer, or updates it to match the spec. Idempotent; throws
 * DeclarationConflictError when an unchangeable setting (deliver policy, push vs pull) differs.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  spec: ConsumerSpec,
  logger: MessagingLogger = silentLogger,
): Promise<DeclareResult<ConsumerInfo>> {
  const wanted = consumerConfigOf(spec);
  for (let attempt = 1; ; attempt++) {
    let existing: ConsumerInfo | undefined;
    try {
      existing = await jsm.consumers.info(stream, spec.durable);
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    }
    if (!existing) {
      try {
        const info = await jsm.consumers.add(stream, wanted);
        logger.info({ stream, consumer: spec.durable, filterSubject: spec.filterSubject }, 'consumer created');
        return { action: 'created', info };
      } catch (error) {
        if (attempt < 3 && error instanceof JetStreamApiError && !isStreamNotFound(error)) continue;
        throw error;
      }
    }
    const diff = diffConsumerConfig(wanted, existing.config);
    if (diff.immutable.length > 0) {
      throw new DeclarationConflictError(
        `consumer ${stream}/${spec.durable} cannot be updated in place: ${diff.immutable.join('; ')}`,
      );
    }
    if (diff.mutable.length === 0) return { action: 'unchanged', info: existing };
    const info = await jsm.consumers.update(stream, spec.durable, {
      ack_wait: wanted.ack_wait,
      max_deliver: wanted.max_deliver,
      backoff: wanted.backoff ?? [],
      filter_subject: wanted.filter_subject ?? '',
      ...(wanted.max_ack_pending !== undefined ? { max_ack_pending: wanted.max_ack_pending } : {}),
      ...(wanted.description !== undefined ? { description: wanted.description } : {}),
    });
    logger.info({ stream, consumer: spec.durable, changed: diff.mutable }, 'consumer updated');
    return { action: 'updated', info };
  }
}
