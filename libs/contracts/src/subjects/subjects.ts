import type { z } from 'zod';
import { ID_PATTERN } from '../common/ids.js';
import { ContractViolation, parseContract } from '../common/contract-violation.js';
import { jobCommandSchema, type JobCommand } from '../jobs/job-command.js';
import {
  indexedBatchSchema,
  objectChunkSchema,
  objectCommitBatchSchema,
  storedRecordBatchSchema,
  type IndexedBatch,
  type ObjectChunk,
  type ObjectCommitBatch,
  type StoredRecordBatch,
} from '../objects/object-chunk.js';
import { jobEventSchema, type JobEvent } from '../events/job-event.js';
import {
  healthReportSchema,
  healthRequestSchema,
  type HealthReport,
  type HealthRequest,
  type ServiceName,
} from '../services/health.js';
import { indexingCallSchemas, type IndexingCalls } from '../services/indexing.js';
import { schedulingCallSchemas, type SchedulingCalls } from '../services/scheduling.js';
import { licensingCallSchemas, type LicensingCalls } from '../services/licensing.js';
import { auditCallSchemas, type AuditCalls } from '../services/audit.js';
import { restoreCallSchemas, type RestoreCalls, type TenantVerb } from '../restore/restore.js';
import { connectorCallSchemas, type ConnectorCalls } from '../services/connectors.js';
import { retentionCallSchemas, type RetentionCalls } from '../services/retention.js';
import { usageCallSchemas, type UsageCalls } from '../services/usage.js';
import { referenceCallSchemas, type ReferenceCalls } from '../services/references.js';

/** Tenant channels: everything a tenant's connector may touch lives under `mlr.<tenant>.`. */
export interface ChannelPayloads {
  /** scheduling → connector */
  jobs: JobCommand;
  /** connector → storage: sealed object bytes (binary body) */
  chunks: ObjectChunk;
  /** connector → storage: sightings to store (sealed objects + index records), framed with the inline bytes */
  objects: ObjectCommitBatch;
  /** storage → indexing: records whose objects are durable (not reachable by connectors) */
  records: StoredRecordBatch;
  /** indexing (or storage, for a refusal) → connector: the end-to-end acknowledgements */
  indexed: IndexedBatch;
  /** connector → scheduling: job progress, results, checkpoints */
  events: JobEvent;
}
export type Channel = keyof ChannelPayloads;

declare const channelBrand: unique symbol;
/** A concrete subject of a channel. Only the builders below make one, so a subject knows its payload. */
export type Subject<C extends Channel> = string & { readonly [channelBrand]: C };

export const channelSchemas: { [C in Channel]: z.ZodType<ChannelPayloads[C]> } = {
  jobs: jobCommandSchema as unknown as z.ZodType<JobCommand>,
  chunks: objectChunkSchema,
  objects: objectCommitBatchSchema,
  records: storedRecordBatchSchema,
  indexed: indexedBatchSchema,
  events: jobEventSchema as unknown as z.ZodType<JobEvent>,
};

function token(what: string, value: string): string {
  if (!ID_PATTERN.test(value)) {
    throw new ContractViolation(`${what} subject token`, [
      { path: what, message: `"${value}" is not a valid id (lower-case letters, digits, dashes)` },
    ]);
  }
  return value;
}

export const subjects = {
  jobs: (tenantId: string, connectorId: string) =>
    `mlr.${token('tenantId', tenantId)}.jobs.${token('connectorId', connectorId)}` as Subject<'jobs'>,
  chunks: (tenantId: string, uploadId: string) =>
    `mlr.${token('tenantId', tenantId)}.chunks.${token('uploadId', uploadId)}` as Subject<'chunks'>,
  objects: (tenantId: string) => `mlr.${token('tenantId', tenantId)}.objects` as Subject<'objects'>,
  records: (tenantId: string) => `mlr.${token('tenantId', tenantId)}.records` as Subject<'records'>,
  indexed: (tenantId: string) => `mlr.${token('tenantId', tenantId)}.indexed` as Subject<'indexed'>,
  events: (tenantId: string, jobId: string) =>
    `mlr.${token('tenantId', tenantId)}.events.${token('jobId', jobId)}` as Subject<'events'>,
} as const;

/** Wildcards that cover one channel for every tenant (service-side consumers and streams). */
export const channelWildcards: { [C in Channel]: string } = {
  jobs: 'mlr.*.jobs.*',
  chunks: 'mlr.*.chunks.*',
  objects: 'mlr.*.objects',
  records: 'mlr.*.records',
  indexed: 'mlr.*.indexed',
  events: 'mlr.*.events.*',
};

export interface ParsedSubject {
  channel: Channel;
  tenantId: string;
  connectorId?: string;
  jobId?: string;
  uploadId?: string;
}

/** Reads a concrete tenant subject; null when it is not one of ours. */
export function parseSubject(subject: string): ParsedSubject | null {
  const parts = subject.split('.');
  if (parts[0] !== 'mlr' || parts.length < 3) return null;
  const [, tenantId, channel, last] = parts as [string, string, string, string | undefined];
  if (!ID_PATTERN.test(tenantId)) return null;
  if (channel === 'jobs' && parts.length === 4 && last && ID_PATTERN.test(last))
    return { channel, tenantId, connectorId: last };
  if (channel === 'events' && parts.length === 4 && last && ID_PATTERN.test(last))
    return { channel, tenantId, jobId: last };
  if (channel === 'chunks' && parts.length === 4 && last && ID_PATTERN.test(last))
    return { channel, tenantId, uploadId: last };
  if ((channel === 'objects' || channel === 'records' || channel === 'indexed') && parts.length === 3) {
    return { channel, tenantId };
  }
  return null;
}

/**
 * Validates an inbound payload for `subject`. Throws a ContractViolation that names the subject and
 * every bad field; also refuses a payload whose tenant is not the subject's tenant.
 */
export function parseChannelPayload<C extends Channel>(channel: C, subject: string, data: unknown): ChannelPayloads[C] {
  const parsed = parseSubject(subject);
  if (!parsed || parsed.channel !== channel) {
    throw new ContractViolation(`${channel} message`, [
      { path: '(subject)', message: `"${subject}" is not a ${channel} subject` },
    ]);
  }
  const payload = parseContract(`${channel} message on ${subject}`, channelSchemas[channel], data);
  const tenantId = (payload as { tenantId: string }).tenantId;
  if (tenantId !== parsed.tenantId) {
    throw new ContractViolation(`${channel} message on ${subject}`, [
      { path: 'tenantId', message: `"${tenantId}" does not match the subject's tenant "${parsed.tenantId}"` },
    ]);
  }
  return payload;
}

/** Request/reply calls between services, on `mlr.svc.<service>.<verb>` (never reachable by connectors). */
export interface ServiceCalls {
  health: { request: HealthRequest; response: HealthReport };
  'plans.create': SchedulingCalls['plans.create'];
  'plans.list': SchedulingCalls['plans.list'];
  'plans.get': SchedulingCalls['plans.get'];
  'plans.update': SchedulingCalls['plans.update'];
  'plans.delete': SchedulingCalls['plans.delete'];
  'plans.run': SchedulingCalls['plans.run'];
  'jobs.get': SchedulingCalls['jobs.get'];
  'jobs.list': SchedulingCalls['jobs.list'];
  'licence.import': LicensingCalls['licence.import'];
  'licence.get': LicensingCalls['licence.get'];
  'tenants.create': LicensingCalls['tenants.create'];
  'tenants.list': LicensingCalls['tenants.list'];
  'tenants.get': LicensingCalls['tenants.get'];
  'tenants.enableMlr': LicensingCalls['tenants.enableMlr'];
  'tenants.disableMlr': LicensingCalls['tenants.disableMlr'];
  'tenants.status': LicensingCalls['tenants.status'];
  'tenants.setUploadQuota': LicensingCalls['tenants.setUploadQuota'];
  'tenants.setObjectRetention': LicensingCalls['tenants.setObjectRetention'];
  'usage.report': LicensingCalls['usage.report'];
  'tenants.access': AuditCalls['tenants.access'];
  'audit.record': AuditCalls['audit.record'];
  'audit.list': AuditCalls['audit.list'];
  'records.search': IndexingCalls['records.search'];
  'records.resolve': RestoreCalls['records.resolve'];
  'restores.create': RestoreCalls['restores.create'];
  'jobs.items': RestoreCalls['jobs.items'];
  'connectors.create': ConnectorCalls['connectors.create'];
  'connectors.list': ConnectorCalls['connectors.list'];
  'connectors.get': ConnectorCalls['connectors.get'];
  'connectors.enroll': ConnectorCalls['connectors.enroll'];
  'connectors.revoke': ConnectorCalls['connectors.revoke'];
  'holds.set': RetentionCalls['holds.set'];
  'holds.release': RetentionCalls['holds.release'];
  'holds.list': RetentionCalls['holds.list'];
  'records.expire': RetentionCalls['records.expire'];
  'objects.usage': UsageCalls['objects.usage'];
  'mailboxes.protected': UsageCalls['mailboxes.protected'];
  'references.apply': ReferenceCalls['references.apply'];
  'references.pending': ReferenceCalls['references.pending'];
}
export type ServiceVerb = keyof ServiceCalls;

declare const verbBrand: unique symbol;
export type ServiceSubject<V extends ServiceVerb> = string & { readonly [verbBrand]: V };

export const serviceCallSchemas: {
  [V in ServiceVerb]: {
    request: z.ZodType<ServiceCalls[V]['request']>;
    response: z.ZodType<ServiceCalls[V]['response']>;
  };
} = {
  health: { request: healthRequestSchema, response: healthReportSchema },
  'plans.create': schedulingCallSchemas['plans.create'],
  'plans.list': schedulingCallSchemas['plans.list'],
  'plans.get': schedulingCallSchemas['plans.get'],
  'plans.update': schedulingCallSchemas['plans.update'],
  'plans.delete': schedulingCallSchemas['plans.delete'],
  'plans.run': schedulingCallSchemas['plans.run'],
  'jobs.get': schedulingCallSchemas['jobs.get'],
  'jobs.list': schedulingCallSchemas['jobs.list'],
  'licence.import': licensingCallSchemas['licence.import'],
  'licence.get': licensingCallSchemas['licence.get'],
  'tenants.create': licensingCallSchemas['tenants.create'],
  'tenants.list': licensingCallSchemas['tenants.list'],
  'tenants.get': licensingCallSchemas['tenants.get'],
  'tenants.enableMlr': licensingCallSchemas['tenants.enableMlr'],
  'tenants.disableMlr': licensingCallSchemas['tenants.disableMlr'],
  'tenants.status': licensingCallSchemas['tenants.status'],
  'tenants.setUploadQuota': licensingCallSchemas['tenants.setUploadQuota'],
  'tenants.setObjectRetention': licensingCallSchemas['tenants.setObjectRetention'],
  'usage.report': licensingCallSchemas['usage.report'],
  'tenants.access': auditCallSchemas['tenants.access'],
  'audit.record': auditCallSchemas['audit.record'],
  'audit.list': auditCallSchemas['audit.list'],
  'records.search': indexingCallSchemas['records.search'],
  'records.resolve': restoreCallSchemas['records.resolve'],
  'restores.create': restoreCallSchemas['restores.create'],
  'jobs.items': restoreCallSchemas['jobs.items'],
  'connectors.create': connectorCallSchemas['connectors.create'],
  'connectors.list': connectorCallSchemas['connectors.list'],
  'connectors.get': connectorCallSchemas['connectors.get'],
  'connectors.enroll': connectorCallSchemas['connectors.enroll'],
  'connectors.revoke': connectorCallSchemas['connectors.revoke'],
  'holds.set': retentionCallSchemas['holds.set'],
  'holds.release': retentionCallSchemas['holds.release'],
  'holds.list': retentionCallSchemas['holds.list'],
  'records.expire': retentionCallSchemas['records.expire'],
  'objects.usage': usageCallSchemas['objects.usage'],
  'mailboxes.protected': usageCallSchemas['mailboxes.protected'],
  'references.apply': referenceCallSchemas['references.apply'],
  'references.pending': referenceCallSchemas['references.pending'],
};

export const serviceSubject = <V extends ServiceVerb>(service: ServiceName, verb: V) =>
  `mlr.svc.${service}.${verb}` as ServiceSubject<V>;

/** The channels with one stream for every tenant; chunks have a stream per tenant (`tenantChunksStream`). */
export type SharedChannel = Exclude<Channel, 'chunks'>;

/**
 * JetStream streams of the platform shared by every tenant (owned by the services account). Work
 * queues are consumed once; indexed acks and events are kept a while.
 */
export const STREAMS = {
  jobs: { name: 'MLR_JOBS', subjects: [channelWildcards.jobs], retention: 'workqueue' },
  objects: { name: 'MLR_OBJECTS', subjects: [channelWildcards.objects], retention: 'workqueue' },
  records: { name: 'MLR_RECORDS', subjects: [channelWildcards.records], retention: 'workqueue' },
  indexed: { name: 'MLR_INDEXED', subjects: [channelWildcards.indexed], retention: 'limits' },
  events: { name: 'MLR_EVENTS', subjects: [channelWildcards.events], retention: 'limits' },
} as const satisfies Record<SharedChannel, { name: string; subjects: string[]; retention: 'workqueue' | 'limits' }>;

/** Names of the tenants' chunk streams start with this (`MLR_CHUNKS_<tenantId>`). */
export const TENANT_CHUNKS_STREAM_PREFIX = 'MLR_CHUNKS_';

/**
 * The one chunk stream of all tenants before upload quotas (it overlaps every tenant's stream, so
 * licensing removes it before it declares theirs).
 */
export const LEGACY_CHUNKS_STREAM = 'MLR_CHUNKS';

/**
 * The stream that holds one tenant's chunks until storage has stored their objects. Each tenant has
 * its own, whose byte limit is the tenant's upload quota: a tenant at its quota waits for storage
 * and never takes space from another (licensing declares it; docs/data-path.md says why not one
 * JetStream account per tenant).
 */
export const tenantChunksStream = (tenantId: string) => ({
  name: `${TENANT_CHUNKS_STREAM_PREFIX}${token('tenantId', tenantId)}`,
  subjects: [`mlr.${tenantId}.chunks.*`],
  retention: 'limits' as const,
});

/** The tenant of a chunk stream's name; null when the name is not one of a tenant's chunk stream. */
export function tenantOfChunksStream(name: string): string | null {
  if (!name.startsWith(TENANT_CHUNKS_STREAM_PREFIX)) return null;
  const tenantId = name.slice(TENANT_CHUNKS_STREAM_PREFIX.length);
  return ID_PATTERN.test(tenantId) ? tenantId : null;
}

/** Durable consumers of the services (one per service, shared by its replicas). */
export const SERVICE_CONSUMERS = {
  storageObjects: { stream: STREAMS.objects.name, durable: 'storage-objects' },
  indexingRecords: { stream: STREAMS.records.name, durable: 'indexing-records' },
  schedulingEvents: { stream: STREAMS.events.name, durable: 'scheduling-events' },
} as const;

/** Durable consumer through which one connector takes its jobs. */
declare const tenantCallBrand: unique symbol;
/** A concrete subject of a tenant call (request/reply a connector may make on its tenant's subjects). */
export type TenantCallSubject<V extends TenantVerb> = string & { readonly [tenantCallBrand]: V };

export const tenantCallSubjects = {
  'restore.items': (tenantId: string, jobId: string) =>
    `mlr.${token('tenantId', tenantId)}.restore.${token('jobId', jobId)}` as TenantCallSubject<'restore.items'>,
  'objects.fetch': (tenantId: string) =>
    `mlr.${token('tenantId', tenantId)}.fetch` as TenantCallSubject<'objects.fetch'>,
  'tenant.status': (tenantId: string) =>
    `mlr.${token('tenantId', tenantId)}.status` as TenantCallSubject<'tenant.status'>,
  'sightings.status': (tenantId: string) =>
    `mlr.${token('tenantId', tenantId)}.sightings` as TenantCallSubject<'sightings.status'>,
} as const;

export const connectorJobsConsumer = (tenantId: string, connectorId: string) =>
  `jobs-${token('tenantId', tenantId)}-${token('connectorId', connectorId)}`;

/** Reply subjects of a tenant's connectors start with this prefix, so replies stay within the tenant. */
export const tenantInboxPrefix = (tenantId: string) => `_INBOX_${token('tenantId', tenantId)}`;

/**
 * NATS permissions of one connector: its tenant's subjects (including the restore tenant calls:
 * `mlr.<t>.restore.<job>`, `mlr.<t>.fetch` and `mlr.<t>.status`; the backup's `mlr.<t>.sightings`), the JetStream API calls on its own jobs
 * consumer, acks of its own deliveries and replies under its tenant's inbox. Nothing else: no other
 * tenant's subjects, no `mlr.svc.>`, no stream management.
 */
export function connectorPermissions(
  tenantId: string,
  connectorId: string,
): { publish: string[]; subscribe: string[] } {
  const consumer = connectorJobsConsumer(tenantId, connectorId);
  const inbox = tenantInboxPrefix(tenantId);
  return {
    publish: [
      `mlr.${tenantId}.chunks.*`,
      subjects.objects(tenantId),
      `mlr.${tenantId}.events.*`,
      `mlr.${tenantId}.restore.*`,
      tenantCallSubjects['objects.fetch'](tenantId),
      tenantCallSubjects['tenant.status'](tenantId),
      tenantCallSubjects['sightings.status'](tenantId),
      // Its own consumer only: no `$JS.API.INFO` or stream info, whose answers (e.g. a stream's
      // subjects with `subjects_filter`) would name other tenants, their connectors and job counts.
      `$JS.API.CONSUMER.INFO.${STREAMS.jobs.name}.${consumer}`,
      `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.jobs.name}.${consumer}`,
      `$JS.ACK.${STREAMS.jobs.name}.${consumer}.>`,
    ],
    subscribe: [`${inbox}.>`, subjects.indexed(tenantId), `mlr.${tenantId}.events.*`],
  };
}
