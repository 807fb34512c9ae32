import {
  ContractViolation,
  STREAMS,
  SERVICE_CONSUMERS,
  parseChannelPayload,
  connectorJobsConsumer,
  subjects,
  tenantCallSchemas,
  tenantOfCallSubject,
  tenantChunksStream,
  tenantOfChunksStream,
  type Channel,
  type ChannelPayloads,
  type SharedChannel,
  type TenantCalls,
  type TenantCallSubject,
} from '@mlr/contracts';
import {
  PayloadValidationError,
  schemaServiceValidator,
  type ServiceValidator,
  type Validator,
} from './contract-types.js';
import { ServiceClient, ServiceServer, type ServeOptions, type ServiceClientOptions } from './service.js';
import type { MessagingConnection } from './connection.js';
import { JetStreamApiError } from '@nats-io/jetstream';
import { ensureConsumer, ensureStream, type ConsumerSpec, type DeclareAction, type StreamSpec } from './declare.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Commit batches of one tenant that may wait in MLR_OBJECTS for storage at once (each at most
 * 512 KiB from a connector, 1 MiB from anyone): beyond, a publish is refused and the connector
 * waits, as at a full upload quota.
 */
export const COMMITS_QUEUED_PER_TENANT = 1_024;
/** Bytes the job events of all tenants may take (30 days of them are kept). */
export const EVENTS_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * The JetStream topology of the platform, declared idempotently by every service at start-up
 * (the same specs everywhere, so no two services fight over a setting).
 */
export const PLATFORM_STREAMS: Record<SharedChannel, StreamSpec> = {
  jobs: { ...STREAMS.jobs, subjects: [...STREAMS.jobs.subjects], duplicateWindowMs: 10 * 60_000, maxAgeMs: 7 * DAY },
  // Commit batches carry small sealed objects inline; larger ones come as chunks. Each tenant has
  // one subject: at most COMMITS_QUEUED_PER_TENANT of its batches wait for storage, whoever publishes
  // them; beyond, its connectors wait (and no tenant fills the store for the others).
  objects: {
    ...STREAMS.objects,
    subjects: [...STREAMS.objects.subjects],
    duplicateWindowMs: 10 * 60_000,
    maxMsgSize: 1024 * 1024,
    maxMsgsPerSubject: COMMITS_QUEUED_PER_TENANT,
    discard: 'new',
    discardNewPerSubject: true,
  },
  records: { ...STREAMS.records, subjects: [...STREAMS.records.subjects], duplicateWindowMs: 10 * 60_000 },
  indexed: {
    ...STREAMS.indexed,
    subjects: [...STREAMS.indexed.subjects],
    duplicateWindowMs: 2 * 60_000,
    maxAgeMs: DAY,
  },
  // Connectors publish job events: bounded in bytes too, so that no flood of them fills the store
  // (the oldest, long consumed by scheduling, go first).
  events: {
    ...STREAMS.events,
    subjects: [...STREAMS.events.subjects],
    duplicateWindowMs: 10 * 60_000,
    maxAgeMs: 30 * DAY,
    maxBytes: EVENTS_MAX_BYTES,
  },
};

/** Durable consumers of the services; one each, shared by all replicas of the service. */
export const PLATFORM_CONSUMERS = {
  storageObjects: {
    stream: PLATFORM_STREAMS.objects,
    consumer: {
      durable: SERVICE_CONSUMERS.storageObjects.durable,
      ackWaitMs: 60_000,
      maxAckPending: 256,
    } satisfies ConsumerSpec,
  },
  indexingRecords: {
    stream: PLATFORM_STREAMS.records,
    consumer: {
      durable: SERVICE_CONSUMERS.indexingRecords.durable,
      ackWaitMs: 60_000,
      maxAckPending: 1024,
    } satisfies ConsumerSpec,
  },
  schedulingEvents: {
    stream: PLATFORM_STREAMS.events,
    consumer: {
      durable: SERVICE_CONSUMERS.schedulingEvents.durable,
      ackWaitMs: 30_000,
      maxAckPending: 1024,
    } satisfies ConsumerSpec,
  },
} as const;

/**
 * Jobs one connector may hold at once: running, or waiting in the connector for their kind's turn
 * (it runs one backup at a time and restores beside it). A job the connector does not hold waits on
 * the server behind those it holds, whatever its kind, so this is kept well above what runs at once.
 */
export const CONNECTOR_JOBS_IN_HAND = 64;

/**
 * How often a connector says it is still at a job it holds (`working()`), and how long the server
 * waits without that word before it hands the job out again: three missed words. A connector that
 * was killed gets its jobs back within that time once it is started again; one that is alive but
 * was cut off gets them redelivered while it still runs them, and joins the run in progress
 * (apps/connector/src/jobs/job-executor.ts).
 */
export const CONNECTOR_JOB_WORKING_INTERVAL_MS = 30_000;
export const CONNECTOR_JOB_ACK_WAIT_MS = 3 * CONNECTOR_JOB_WORKING_INTERVAL_MS;

/** The durable consumer through which one connector takes its jobs (declared by scheduling). */
export function connectorJobsConsumerSpec(tenantId: string, connectorId: string): ConsumerSpec {
  return {
    durable: connectorJobsConsumer(tenantId, connectorId),
    filterSubject: subjects.jobs(tenantId, connectorId),
    ackWaitMs: CONNECTOR_JOB_ACK_WAIT_MS,
    maxAckPending: CONNECTOR_JOBS_IN_HAND,
  };
}

/**
 * The chunk stream of one tenant: chunks wait there for their commit, and storage removes an upload's
 * chunks once its object is stored (an upload that never commits is removed after an hour without a
 * chunk, or expires after a day). Its byte limit is the tenant's upload quota, refused beyond
 * (`discard: new`): the connector then waits for storage, and no tenant takes another's room.
 */
export function tenantChunksStreamSpec(tenantId: string, quotaBytes: number): StreamSpec {
  const stream = tenantChunksStream(tenantId);
  return {
    ...stream,
    subjects: [...stream.subjects],
    duplicateWindowMs: 10 * 60_000,
    maxAgeMs: DAY,
    maxMsgSize: 1024 * 1024,
    maxBytes: quotaBytes,
    discard: 'new',
    description: `chunks of tenant ${tenantId} waiting for storage; max_bytes is its upload quota`,
  };
}

/** JetStream's error code for a stream limit the file store cannot reserve (`JSInsufficientResourcesErr`). */
const JETSTREAM_INSUFFICIENT_RESOURCES = 10047;

/**
 * JetStream refuses a quota its file store cannot reserve (the sum of the byte limits of all streams
 * must fit into `max_file_store`): thrown with what to do about it.
 */
export class UploadQuotaUnavailableError extends Error {
  override readonly name = 'UploadQuotaUnavailableError';
}

/**
 * Declares a tenant's chunk stream with its upload quota, or changes the quota of the one there.
 * Throws UploadQuotaUnavailableError when NATS cannot reserve that many bytes.
 */
export async function ensureTenantChunksStream(
  connection: MessagingConnection,
  tenantId: string,
  quotaBytes: number,
): Promise<DeclareAction> {
  const jsm = await connection.manager();
  try {
    return (await ensureStream(jsm, tenantChunksStreamSpec(tenantId, quotaBytes), connection.logger)).action;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JETSTREAM_INSUFFICIENT_RESOURCES) {
      throw new UploadQuotaUnavailableError(
        `NATS cannot reserve ${quotaBytes} bytes for the uploads of tenant ${tenantId}: the JetStream file store ` +
          `(max_file_store) has no room left for it beside the other tenants' quotas (${error.message})`,
      );
    }
    throw error;
  }
}

/** The tenants' chunk streams there are now, by name, with their tenant. */
export async function tenantChunksStreams(
  connection: MessagingConnection,
): Promise<Array<{ stream: string; tenantId: string }>> {
  const jsm = await connection.manager();
  const streams: Array<{ stream: string; tenantId: string }> = [];
  for await (const stream of jsm.streams.names()) {
    const tenantId = tenantOfChunksStream(stream);
    if (tenantId !== null) streams.push({ stream, tenantId });
  }
  return streams.sort((a, b) => a.stream.localeCompare(b.stream));
}

/** Declares every platform stream; safe to call from every service at every start. */
export async function ensurePlatformStreams(connection: MessagingConnection): Promise<void> {
  const jsm = await connection.manager();
  for (const spec of Object.values(PLATFORM_STREAMS)) await ensureStream(jsm, spec, connection.logger);
}

export async function ensureConnectorJobsConsumer(
  connection: MessagingConnection,
  tenantId: string,
  connectorId: string,
): Promise<void> {
  const jsm = await connection.manager();
  await ensureConsumer(
    jsm,
    PLATFORM_STREAMS.jobs.name,
    connectorJobsConsumerSpec(tenantId, connectorId),
    connection.logger,
  );
}

/**
 * Validates inbound payloads against the contracts (by channel), including that the payload's
 * tenant is the tenant of the subject it came on.
 */
export const platformValidator: Validator<ChannelPayloads> = {
  parse<K extends Channel>(kind: K, subject: string, data: unknown): ChannelPayloads[K] {
    try {
      return parseChannelPayload(kind, subject, data);
    } catch (error) {
      if (error instanceof ContractViolation) throw new PayloadValidationError(error.contract, error.problems);
      throw error;
    }
  },
};

const tenantCallSchemaValidator = schemaServiceValidator<TenantCalls>(tenantCallSchemas);

/**
 * Validates both ends of the tenant calls (`restore.items`, `objects.fetch`). A request must come on
 * a subject of its verb, and its `tenantId` (and `jobId`) must be those of the subject: the subject
 * is what NATS permissions restrict, so a connector cannot ask for another tenant's data by naming it.
 */
export const tenantCallValidator: ServiceValidator<TenantCalls> = {
  parseRequest(verb, subject, data) {
    const request = tenantCallSchemaValidator.parseRequest(verb, subject, data);
    const owner = tenantOfCallSubject(verb, subject);
    const claimed = request as { tenantId: string; jobId?: string };
    if (!owner) {
      throw new PayloadValidationError(`${verb} request`, [
        { path: '(subject)', message: `"${subject}" is not a ${verb} subject` },
      ]);
    }
    if (claimed.tenantId !== owner.tenantId) {
      throw new PayloadValidationError(`${verb} request on ${subject}`, [
        { path: 'tenantId', message: `"${claimed.tenantId}" does not match the subject's tenant "${owner.tenantId}"` },
      ]);
    }
    if (owner.jobId !== undefined && claimed.jobId !== owner.jobId) {
      throw new PayloadValidationError(`${verb} request on ${subject}`, [
        { path: 'jobId', message: `"${String(claimed.jobId)}" does not match the subject's job "${owner.jobId}"` },
      ]);
    }
    return request;
  },
  parseResponse: (verb, subject, data) => tenantCallSchemaValidator.parseResponse(verb, subject, data),
};

type TenantCallSubjects = { readonly [V in keyof TenantCalls]: TenantCallSubject<V> };

/** A client of the tenant calls (the connector): subjects from `tenantCallSubjects` of the contracts. */
export function tenantCallClient(
  connection: MessagingConnection,
  options: ServiceClientOptions = {},
): ServiceClient<TenantCalls, TenantCallSubjects> {
  return new ServiceClient<TenantCalls, TenantCallSubjects>(connection.nc, tenantCallValidator, {
    logger: connection.logger,
    ...options,
  });
}

/**
 * A server of tenant calls (scheduling, storage). It subscribes to the verb's wildcard
 * (`tenantCallWildcards`); handlers must check that the request's `tenantId` is the subject's
 * tenant (`tenantOfCallSubject`).
 */
export function tenantCallServer(
  connection: MessagingConnection,
  options: ServeOptions = {},
): ServiceServer<TenantCalls> {
  return new ServiceServer<TenantCalls>(connection.nc, tenantCallValidator, { logger: connection.logger, ...options });
}
