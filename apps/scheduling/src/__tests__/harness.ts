import { randomBytes } from 'node:crypto';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import {
  connectorJobsConsumer,
  jobCommandSchema,
  serviceSubject,
  STREAMS,
  subjects,
  type Channel,
  type ChannelPayloads,
  type JobCommand,
  type JobEvent,
  type ServiceCalls,
  type ServiceVerb,
  type Subject,
} from '@mlr/contracts';
import { createPrismaClient, isEnrolledConnector, type PrismaClient } from '@mlr/db';
import {
  connectMessaging,
  ensureConnectorJobsConsumer,
  PLATFORM_CONSUMERS,
  platformValidator,
  Publisher,
  type MessagingConnection,
} from '@mlr/messaging';
import { servicesNatsClientOptions, servicesNatsCredentials, type LocalInfrastructure } from '@mlr/testing';
import type { Subscription } from '@nats-io/nats-core';

/** A tenant id no other test file uses. */
export const uniqueTenant = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/**
 * A tenant with MLR enabled and its connectors, as licensing keeps them. No licensing service runs in
 * scheduling's tests: scheduling decides from licensing's last answer, which is recorded here as if
 * licensing had given it (`mlrEnabled`), before the outage these tests run in.
 */
export async function createTenant(
  prisma: PrismaClient,
  tenantId: string,
  connectorIds: string[],
  mlrEnabled = true,
): Promise<void> {
  await prisma.tenant.create({ data: { id: tenantId, name: tenantId, slug: tenantId, mlrEnabled } });
  await prisma.tenantMlrVerdict.create({ data: { tenantId, mlrEnabled, heardAt: new Date() } });
  for (const id of connectorIds) {
    await prisma.connector.create({ data: { id, tenantId, name: id, kind: 'imap' } });
  }
}

/**
 * Licensing's `connectors.list`, answered from the connectors table as licensing would (scheduling
 * asks it which connectors a tenant has). No licensing service runs in scheduling's tests: it would
 * answer `tenants.status` from whatever licence another test file left in force. The e2e tests run
 * the real one.
 */
function serveConnectorsList(messaging: MessagingConnection, prisma: PrismaClient): Subscription {
  return messaging.nc.subscribe(serviceSubject('licensing', 'connectors.list'), {
    callback: (error, message) => {
      if (error) return;
      void (async () => {
        const packet = message.json<{ id: string; data: { tenantId: string } }>();
        const rows = await prisma.connector.findMany({
          where: { tenantId: packet.data.tenantId },
          orderBy: { id: 'asc' },
        });
        const iso = (date: Date | null) => date?.toISOString() ?? null;
        const connectors = rows.map((row) => ({
          id: row.id,
          tenantId: row.tenantId,
          name: row.name,
          kind: row.kind,
          state: row.revokedAt
            ? 'revoked'
            : isEnrolledConnector(row)
              ? 'enrolled'
              : row.enrolmentTokenExpiresAt && row.enrolmentTokenExpiresAt > new Date()
                ? 'awaiting_enrolment'
                : 'enrolment_expired',
          enrolmentExpiresAt: row.enrolmentTokenUsedAt ? null : iso(row.enrolmentTokenExpiresAt),
          enrolledAt: iso(row.enrolmentTokenUsedAt),
          natsUserPublicKey: row.natsUserPublicKey,
          receiveAs: row.receiveAs,
          capabilityWarnings: row.capabilityWarnings,
          capabilityCheckedAt: iso(row.capabilityCheckedAt),
          agentVersion: row.agentVersion,
          revokedAt: iso(row.revokedAt),
          natsRevokedAt: iso(row.natsRevokedAt),
          createdAt: row.createdAt.toISOString(),
          updatedAt: row.updatedAt.toISOString(),
        }));
        message.respond(JSON.stringify({ id: packet.id, response: { connectors }, isDisposed: true }));
      })();
    },
  });
}

/** Everything a scheduling test talks to, as the services user. */
export interface Harness {
  prisma: PrismaClient;
  messaging: MessagingConnection;
  client: ClientProxy;
  call<V extends ServiceVerb>(verb: V, request: ServiceCalls[V]['request']): Promise<ServiceCalls[V]['response']>;
  /** The error reply of a refused call. */
  refusal(verb: ServiceVerb, request: unknown): Promise<{ code: string; message: string; field?: string }>;
  publishEvent(event: JobEvent, msgId?: string): Promise<number>;
  /** Takes the next job command from the connector's queue (acked), or null when none comes in time. */
  nextJob(tenantId: string, connectorId: string, waitMs?: number): Promise<JobCommand | null>;
  /** Resolves once the scheduling services have settled every event up to stream sequence `seq`. */
  eventsSettled(seq: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function openHarness(infra: LocalInfrastructure): Promise<Harness> {
  const nats = infra.nats!;
  const prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 4 });
  const messaging = await connectMessaging({
    servers: nats.url,
    name: 'scheduling-test',
    credentials: servicesNatsCredentials(infra),
  });
  const client = ClientProxyFactory.create({
    transport: Transport.NATS,
    options: servicesNatsClientOptions(infra),
  });
  await client.connect();
  const publisher = new Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>(messaging, {
    validator: platformValidator,
  });
  const send = (verb: ServiceVerb, request: unknown) =>
    firstValueFrom(client.send<unknown>(serviceSubject('scheduling', verb), request).pipe(timeout(10_000)));
  const licensingStandIn = serveConnectorsList(messaging, prisma);

  return {
    prisma,
    messaging,
    client,
    call: async (verb, request) => (await send(verb, request)) as never,
    refusal: async (verb, request) => {
      try {
        await send(verb, request);
      } catch (error) {
        return error as { code: string; message: string; field?: string };
      }
      throw new Error(`${verb} was expected to be refused`);
    },
    publishEvent: async (event, msgId) => {
      const ack = await publisher.publish('events', subjects.events(event.tenantId, event.jobId), event, {
        msgId: msgId ?? `${event.jobId}:${event.sequence}`,
      });
      return ack.seq;
    },
    nextJob: async (tenantId, connectorId, waitMs = 20_000) => {
      // Scheduling declares the connector's consumer when it first publishes, just after committing
      // the job; the test may ask before that. The same idempotent declaration here removes the race
      // (the stream keeps what was published before, and the consumer delivers it all).
      await ensureConnectorJobsConsumer(messaging, tenantId, connectorId);
      const consumer = await messaging.js.consumers.get(
        STREAMS.jobs.name,
        connectorJobsConsumer(tenantId, connectorId),
      );
      const message = await consumer.next({ expires: waitMs });
      if (!message) return null;
      message.ack();
      return jobCommandSchema.parse(message.json());
    },
    eventsSettled: async (seq) => {
      const jsm = await messaging.manager();
      const info = await jsm.consumers.info(STREAMS.events.name, PLATFORM_CONSUMERS.schedulingEvents.consumer.durable);
      return info.ack_floor.stream_seq >= seq;
    },
    close: async () => {
      licensingStandIn.unsubscribe();
      await client.close();
      await messaging.close();
      await prisma.$disconnect();
    },
  };
}

export function schedulingEnv(infra: LocalInfrastructure, extra: Record<string, string> = {}): Record<string, string> {
  return { ...infra.serviceEnv, SCHEDULING_TICK_MS: '200', SCHEDULING_REPUBLISH_AFTER_MS: '5000', ...extra };
}
