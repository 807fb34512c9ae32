import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { fmtCreds } from '@nats-io/jwt';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjects, tenantCallSubjects, tenantInboxPrefix, type JobCommand } from '@mlr/contracts';
import {
  connectMessaging,
  ensureConnectorJobsConsumer,
  ensurePlatformStreams,
  type MessagingConnection,
} from '@mlr/messaging';
import {
  createNatsOperator,
  natsUserCreds,
  REPO_ROOT,
  startNats,
  type NatsInfo,
  type NatsOperator,
  type ServiceHandle,
} from '@mlr/testing';
import { ConnectorJwtIssuer } from '../connector-jwt.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/**
 * A real nats-server in operator (JWT) mode. The connectors' credentials are exactly what enrolment
 * produces: a user JWT minted by the licensing service's issuer for the connector's own public key,
 * used with the seed that never left the connector. Tenant A's connector can do its work on its own
 * subjects and nothing on tenant B's or the services' subjects.
 */
describe('connector credentials from enrolment, on a real NATS server in operator mode', () => {
  let dir: string;
  let nats: ServiceHandle<NatsInfo>;
  let operator: NatsOperator;
  let issuer: ConnectorJwtIssuer;
  let services: MessagingConnection;
  const connections: MessagingConnection[] = [];

  /** What `connector enroll` does: its own key pair, the JWT from licensing, the creds file text. */
  async function enrolledConnector(tenantId: string, connectorId: string): Promise<MessagingConnection> {
    const key = createUser();
    const userJwt = await issuer.mint({ tenantId, connectorId, userPublicKey: key.getPublicKey() });
    const connection = await connectMessaging({
      servers: nats.info.url,
      name: `connector-${tenantId}-${connectorId}`,
      credentials: { kind: 'creds', creds: fmtCreds(userJwt, key) },
      inboxPrefix: tenantInboxPrefix(tenantId),
    });
    connections.push(connection);
    return connection;
  }

  /** The server's permission violation for `action` as "<operation> <subject>", or null when none came. */
  async function permissionErrorFor(nc: NatsConnection, action: () => void): Promise<string | null> {
    const violations: string[] = [];
    const statuses = nc.status();
    void (async () => {
      for await (const status of statuses) {
        const error = (status as { error?: { name?: string; operation?: string; subject?: string } }).error;
        if (error?.name === 'PermissionViolationError') violations.push(`${error.operation} ${error.subject}`);
      }
    })();
    action();
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    return violations[0] ?? null;
  }

  /**
   * A request the server must refuse: the connector gets no answer and the server reports the
   * permission violation. The subject has a responder on the services' connection (JetStream's own
   * API subjects are answered by the server), so a missing permission would show as an answer.
   */
  async function refusedRequest(nc: NatsConnection, subject: string, body = '{}'): Promise<string | null> {
    const responder = subject.startsWith('$JS.')
      ? undefined
      : services.nc.subscribe(subject, { callback: (_error, message) => void message.respond('answered') });
    await services.nc.flush();
    let answered = false;
    try {
      return await permissionErrorFor(nc, () => {
        nc.request(subject, body, { timeout: 1_000 }).then(
          () => (answered = true),
          () => undefined,
        );
      });
    } finally {
      responder?.unsubscribe();
      expect(answered, `${subject} was answered`).toBe(false);
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'nats-operator-'));
    operator = await createNatsOperator(['MLR']);
    const account = operator.accounts['MLR']!;
    nats = await startNats({ dir: join(dir, 'nats'), operator });
    issuer = new ConnectorJwtIssuer({ accountPublicKey: account.publicKey, signingSeed: account.signingSeed });
    const servicesUser = await natsUserCreds(account, 'mlr-services');
    services = await connectMessaging({
      servers: nats.info.url,
      name: 'services',
      credentials: { kind: 'creds', creds: servicesUser.creds },
    });
    await ensurePlatformStreams(services);
    await ensureConnectorJobsConsumer(services, 'acme', 'imap-1');
    await ensureConnectorJobsConsumer(services, 'globex', 'imap-1');
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(connections.map((c) => c.close()));
    await services?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lets the connector publish on its tenant, take its jobs (JetStream) and call its tenant calls', async () => {
    const a = await enrolledConnector('acme', 'imap-1');

    const objects = services.nc.subscribe(subjects.objects('acme'), { max: 1 });
    await services.nc.flush();
    expect(await permissionErrorFor(a.nc, () => a.nc.publish(subjects.objects('acme'), 'sealed'))).toBeNull();
    for await (const message of objects) {
      expect(message.string()).toBe('sealed');
      break;
    }

    // A job reaches the connector through its durable consumer and is acknowledged.
    const job = { kind: 'test', tenantId: 'acme' } as unknown as JobCommand;
    await services.js.publish(subjects.jobs('acme', 'imap-1'), JSON.stringify(job));
    const consumer = await a.js.consumers.get('MLR_JOBS', 'jobs-acme-imap-1');
    const delivered = await consumer.next({ expires: 5_000 });
    expect(delivered?.json()).toEqual(job);
    await delivered?.ackAck();

    // Request/reply on its tenant's fetch subject; the reply comes back under its tenant inbox.
    const server = services.nc.subscribe(tenantCallSubjects['objects.fetch']('acme'), {
      callback: (_error, message) => {
        message.respond('bytes');
      },
    });
    await services.nc.flush();
    const reply = await a.nc.request(tenantCallSubjects['objects.fetch']('acme'), '{}', { timeout: 2_000 });
    expect(reply.string()).toBe('bytes');
    server.unsubscribe();
  });

  it("refuses tenant A publishing, subscribing or requesting on tenant B's subjects", async () => {
    const a = await enrolledConnector('acme', 'imap-1');
    const received: string[] = [];
    const spy = services.nc.subscribe('mlr.globex.>', {
      callback: (_error, message) => {
        received.push(message.subject);
      },
    });
    await services.nc.flush();

    expect(await permissionErrorFor(a.nc, () => a.nc.publish(subjects.objects('globex'), 'x'))).toBe(
      'publish mlr.globex.objects',
    );
    expect(await permissionErrorFor(a.nc, () => a.nc.publish('mlr.globex.chunks.u1', 'x'))).toBe(
      'publish mlr.globex.chunks.u1',
    );
    expect(await permissionErrorFor(a.nc, () => a.nc.subscribe(subjects.indexed('globex')))).toBe(
      'subscription mlr.globex.indexed',
    );
    expect(await permissionErrorFor(a.nc, () => a.nc.subscribe(subjects.jobs('globex', 'imap-1')))).toBe(
      'subscription mlr.globex.jobs.imap-1',
    );
    expect(await permissionErrorFor(a.nc, () => a.nc.subscribe('_INBOX_globex.>'))).toBe(
      'subscription _INBOX_globex.>',
    );
    expect(await permissionErrorFor(a.nc, () => a.nc.subscribe('mlr.>'))).toBe('subscription mlr.>');
    expect(await refusedRequest(a.nc, tenantCallSubjects['objects.fetch']('globex'))).toBe(
      `publish ${tenantCallSubjects['objects.fetch']('globex')}`,
    );
    // Tenant B's jobs consumer through the JetStream API.
    expect(
      await permissionErrorFor(a.nc, () =>
        a.nc.publish('$JS.API.CONSUMER.MSG.NEXT.MLR_JOBS.jobs-globex-imap-1', '{"batch":1}'),
      ),
    ).toBe('publish $JS.API.CONSUMER.MSG.NEXT.MLR_JOBS.jobs-globex-imap-1');

    await services.nc.flush();
    expect(received).toEqual([]);
    spy.unsubscribe();
  });

  it("refuses tenant A on the services' subjects and on stream management", async () => {
    const a = await enrolledConnector('acme', 'imap-1');
    expect(await permissionErrorFor(a.nc, () => a.nc.publish('mlr.svc.licensing.connectors.enroll', '{}'))).toBe(
      'publish mlr.svc.licensing.connectors.enroll',
    );
    expect(await permissionErrorFor(a.nc, () => a.nc.subscribe('mlr.svc.>'))).toBe('subscription mlr.svc.>');
    expect(await refusedRequest(a.nc, 'mlr.svc.storage.health')).toBe('publish mlr.svc.storage.health');
    // No JetStream account or stream information either: a stream's subjects name every tenant's
    // connectors and their pending jobs.
    expect(await refusedRequest(a.nc, '$JS.API.INFO')).toBe('publish $JS.API.INFO');
    expect(await refusedRequest(a.nc, '$JS.API.STREAM.INFO.MLR_JOBS', '{"subjects_filter":">"}')).toBe(
      'publish $JS.API.STREAM.INFO.MLR_JOBS',
    );
    expect(await refusedRequest(a.nc, '$JS.API.STREAM.NAMES')).toBe('publish $JS.API.STREAM.NAMES');
    expect(await permissionErrorFor(a.nc, () => a.nc.publish('$JS.API.STREAM.DELETE.MLR_JOBS', ''))).toBe(
      'publish $JS.API.STREAM.DELETE.MLR_JOBS',
    );
    expect(await permissionErrorFor(a.nc, () => a.nc.publish(subjects.records('acme'), '{}'))).toBe(
      'publish mlr.acme.records',
    );
  });

  it("keeps tenant B's connector out of tenant A in the same way", async () => {
    const b = await enrolledConnector('globex', 'imap-1');
    expect(await permissionErrorFor(b.nc, () => b.nc.subscribe(subjects.jobs('acme', 'imap-1')))).toBe(
      'subscription mlr.acme.jobs.imap-1',
    );
    expect(await permissionErrorFor(b.nc, () => b.nc.publish(subjects.objects('acme'), 'x'))).toBe(
      'publish mlr.acme.objects',
    );
    expect(await permissionErrorFor(b.nc, () => b.nc.publish(subjects.objects('globex'), 'x'))).toBeNull();
  });

  it('refuses the JWT without its seed, and a JWT signed by a key the account does not list', async () => {
    const key = createUser();
    const userJwt = await issuer.mint({ tenantId: 'acme', connectorId: 'imap-1', userPublicKey: key.getPublicKey() });
    // Someone who saw the JWT (it travelled) but holds another seed.
    await expect(
      connectMessaging({
        servers: nats.info.url,
        name: 'thief',
        credentials: { kind: 'creds', creds: fmtCreds(userJwt, createUser()) },
      }),
    ).rejects.toThrow(/authorization|authentication/i);

    const foreign = await createNatsOperator(['MLR']);
    const rogue = new ConnectorJwtIssuer({
      accountPublicKey: operator.accounts['MLR']!.publicKey,
      signingSeed: foreign.accounts['MLR']!.signingSeed,
    });
    const other = createUser();
    const rogueJwt = await rogue.mint({ tenantId: 'acme', connectorId: 'imap-1', userPublicKey: other.getPublicKey() });
    await expect(
      connectMessaging({
        servers: nats.info.url,
        name: 'rogue',
        credentials: { kind: 'creds', creds: text(fmtCreds(rogueJwt, other)) },
      }),
    ).rejects.toThrow(/authorization|authentication/i);
  });
});
