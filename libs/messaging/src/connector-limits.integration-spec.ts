import { afterAll, describe, expect, inject, it } from 'vitest';
import { STREAMS, subjects, tenantChunksStream, UPLOAD_QUOTA_MIN_BYTES } from '@mlr/contracts';
import { connectorNatsCreds, natsUserCreds, required, servicesNatsCredentials } from '@mlr/testing';
import { jetstream } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { connectMessaging } from './connection.js';
import { CONNECTOR_MAX_PAYLOAD_BYTES, CONNECTOR_MAX_SUBSCRIPTIONS, connectorUserClaims } from './connector-user.js';
import { COMMITS_QUEUED_PER_TENANT, ensurePlatformStreams, ensureTenantChunksStream } from './platform-topology.js';
import { isRetriablePublishError, isStreamFullError } from './publisher.js';

/**
 * The limits in a connector's user JWT bite on the real server (operator mode, as in production):
 * whoever holds a connector's credentials cannot open subscriptions without end, nor publish larger
 * messages than a connector ever sends, nor store more in NATS than its tenant's upload quota.
 */
describe('connector JWT limits on nats-server', () => {
  const infra = inject('infra');
  const connections: NatsConnection[] = [];

  afterAll(async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
  });

  async function connectAsConnector(tenantId: string): Promise<NatsConnection> {
    const { creds } = await connectorNatsCreds(infra, tenantId, 'imap-limits');
    const nc = await connect({
      servers: infra.nats!.url,
      authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
      inboxPrefix: `_INBOX_${tenantId}`,
    });
    connections.push(nc);
    return nc;
  }

  /** The first asynchronous error the server reports on `nc` within a few seconds, or null. */
  async function serverError(nc: NatsConnection, action: () => void): Promise<string | null> {
    const errors = (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'error') return String(status.error);
      }
      return null;
    })();
    action();
    await nc.flush().catch(() => undefined);
    return Promise.race([errors, new Promise<null>((resolve) => setTimeout(() => resolve(null), 3_000))]);
  }

  it("stores no more of a tenant's chunks than its upload quota, and other tenants keep their room", async () => {
    const services = await connectMessaging({
      servers: required(infra, 'nats').url,
      name: 'limits-quota',
      credentials: servicesNatsCredentials(infra),
    });
    try {
      for (const tenant of ['limits-quota', 'limits-quota-other']) {
        await ensureTenantChunksStream(services, tenant, UPLOAD_QUOTA_MIN_BYTES);
      }
      // Junk chunks with a connector's credentials, as fast as they go.
      const js = jetstream(await connectAsConnector('limits-quota'));
      const junk = new Uint8Array(512 * 1024);
      let accepted = 0;
      let refusal: unknown;
      for (let i = 0; i < 64 && refusal === undefined; i++) {
        await js.publish(subjects.chunks('limits-quota', `${i}`.padStart(32, 'a')), junk).then(
          () => (accepted += junk.length),
          (error: unknown) => (refusal = error),
        );
      }
      expect(isStreamFullError(refusal)).toBe(true);
      expect(isRetriablePublishError(refusal)).toBe(false); // the caller waits for room, not the publisher
      expect(String(refusal)).toMatch(/maximum bytes exceeded/);
      expect(accepted).toBeLessThanOrEqual(UPLOAD_QUOTA_MIN_BYTES);
      const jsm = await services.manager();
      expect((await jsm.streams.info(tenantChunksStream('limits-quota').name)).state.bytes).toBeLessThanOrEqual(
        UPLOAD_QUOTA_MIN_BYTES,
      );
      // Another tenant's connector still has all of its quota.
      const other = jetstream(await connectAsConnector('limits-quota-other'));
      await expect(other.publish(subjects.chunks('limits-quota-other', 'b'.repeat(32)), junk)).resolves.toMatchObject({
        stream: tenantChunksStream('limits-quota-other').name,
      });
    } finally {
      await services.close();
    }
  });

  it(`queues at most ${COMMITS_QUEUED_PER_TENANT} commit batches of a tenant for storage, and other tenants keep theirs`, async () => {
    const services = await connectMessaging({
      servers: required(infra, 'nats').url,
      name: 'limits-commits',
      credentials: servicesNatsCredentials(infra),
    });
    const jsm = await services.manager();
    try {
      await ensurePlatformStreams(services);
      // Nobody stores them here, as while storage is down: junk batches with a connector's credentials.
      const js = jetstream(await connectAsConnector('limits-commits'));
      const junk = new Uint8Array(64);
      let accepted = 0;
      let refusal: unknown;
      while (refusal === undefined && accepted <= COMMITS_QUEUED_PER_TENANT) {
        const sends = Array.from({ length: 64 }, () => js.publish(subjects.objects('limits-commits'), junk));
        for (const outcome of await Promise.allSettled(sends)) {
          if (outcome.status === 'fulfilled') accepted++;
          else refusal ??= outcome.reason;
        }
      }
      expect(accepted).toBe(COMMITS_QUEUED_PER_TENANT);
      expect(isStreamFullError(refusal)).toBe(true);
      expect(String(refusal)).toMatch(/maximum messages per subject exceeded/);
      const other = jetstream(await connectAsConnector('limits-commits-other'));
      await expect(other.publish(subjects.objects('limits-commits-other'), junk)).resolves.toMatchObject({
        stream: STREAMS.objects.name,
      });
    } finally {
      for (const tenant of ['limits-commits', 'limits-commits-other']) {
        await jsm.streams.purge(STREAMS.objects.name, { filter: subjects.objects(tenant) });
      }
      await services.close();
    }
  });

  it(`refuses a subscription beyond ${CONNECTOR_MAX_SUBSCRIPTIONS}`, async () => {
    const nc = await connectAsConnector('limits-subs');
    for (let i = 0; i < CONNECTOR_MAX_SUBSCRIPTIONS - 1; i++) nc.subscribe(`_INBOX_limits-subs.${i}`);
    await nc.flush();
    expect(nc.isClosed()).toBe(false);
    const error = await serverError(nc, () => {
      nc.subscribe('_INBOX_limits-subs.one-too-many');
      nc.subscribe('_INBOX_limits-subs.two-too-many');
    });
    expect(error ?? (nc.isClosed() ? 'closed' : 'accepted')).toMatch(/maximum subscriptions exceeded/i);
  });

  it('refuses a message larger than the payload limit of the JWT, whatever the server allows', async () => {
    // The connectors' limit equals the server's default max_payload; a smaller one in the same
    // claims shows that the server enforces the JWT's, not only its own.
    expect(CONNECTOR_MAX_PAYLOAD_BYTES).toBe(1024 * 1024);
    const nats = required(infra, 'nats');
    const { creds } = await natsUserCreds(
      { publicKey: nats.accountPublicKey, signingSeed: nats.accountSigningSeed },
      'connector-limits-payload-imap-limits',
      { claims: { ...connectorUserClaims('limits-payload', 'imap-limits'), payload: 64 * 1024 } },
    );
    const nc = await connect({
      servers: nats.url,
      authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
      inboxPrefix: '_INBOX_limits-payload',
    });
    connections.push(nc);
    nc.publish('mlr.limits-payload.objects', new Uint8Array(32 * 1024)); // within the limit
    await nc.flush();
    // The server announces the JWT's limit to the client once it has authenticated it, and the
    // client then refuses a larger message before sending it.
    expect(nc.info?.max_payload).toBe(64 * 1024);
    expect(() => nc.publish('mlr.limits-payload.objects', new Uint8Array(100 * 1024))).toThrow(/max_payload/);
  });
});
