import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectorNatsCreds, natsUserCreds, required } from '@mlr/testing';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { CONNECTOR_MAX_PAYLOAD_BYTES, CONNECTOR_MAX_SUBSCRIPTIONS, connectorUserClaims } from './connector-user.js';

/**
 * The limits in a connector's user JWT bite on the real server (operator mode, as in production):
 * whoever holds a connector's credentials cannot open subscriptions without end, nor publish larger
 * messages than a connector ever sends.
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
