import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmtCreds } from '@nats-io/jwt';
import { createUser } from '@nats-io/nkeys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantInboxPrefix } from '@mlr/contracts';
import { connectMessaging, silentLogger, type MessagingConnection } from '@mlr/messaging';
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
import { NatsAccountRevoker } from '../nats-revocations.js';

/**
 * Revoking a connector on a real nats-server in operator mode with the `full` account resolver: the
 * revoker re-signs the platform account's JWT with the connector's key revoked and pushes it through
 * the system account. The connector's live connection is closed, it cannot connect again (also after
 * a server restart), and every other connector and the services keep working.
 */
describe('revoking connector credentials on the NATS server', () => {
  let dir: string;
  let natsDir: string;
  let nats: ServiceHandle<NatsInfo>;
  let operator: NatsOperator;
  let issuer: ConnectorJwtIssuer;
  let revoker: NatsAccountRevoker;
  let systemCredsFile: string;
  const connections: MessagingConnection[] = [];

  async function connectorCreds(tenantId: string, connectorId: string) {
    const key = createUser();
    const userJwt = await issuer.mint({ tenantId, connectorId, userPublicKey: key.getPublicKey() });
    return { publicKey: key.getPublicKey(), creds: fmtCreds(userJwt, key), tenantId };
  }

  async function connect(connector: { creds: Uint8Array; tenantId: string }, name: string) {
    const connection = await connectMessaging({
      servers: nats.info.url,
      name,
      credentials: { kind: 'creds', creds: connector.creds },
      inboxPrefix: tenantInboxPrefix(connector.tenantId),
      reconnectWaitMs: 100,
    });
    connections.push(connection);
    return connection;
  }

  async function refusal(connector: { creds: Uint8Array; tenantId: string }): Promise<string> {
    return connect(connector, 'retry').then(
      () => 'connected',
      (error: Error) => error.message,
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'nats-revocation-'));
    natsDir = join(dir, 'nats');
    operator = await createNatsOperator(['MLR']);
    const account = operator.accounts['MLR']!;
    nats = await startNats({ dir: natsDir, operator });
    issuer = new ConnectorJwtIssuer({ accountPublicKey: account.publicKey, signingSeed: account.signingSeed });
    systemCredsFile = join(dir, 'system.creds');
    writeFileSync(systemCredsFile, (await natsUserCreds(operator.system, 'mlr-licensing-system')).creds, {
      mode: 0o600,
    });
    revoker = new NatsAccountRevoker(
      {
        servers: nats.info.url,
        accountPublicKey: account.publicKey,
        operatorSigningSeed: operator.operatorSigningSeed,
        systemCredsFile,
      },
      silentLogger,
    );
  }, 60_000);

  afterAll(async () => {
    await revoker?.close();
    await Promise.allSettled(connections.map((c) => c.close()));
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('closes the revoked connector, refuses it from then on, and leaves the others working', async () => {
    const revoked = await connectorCreds('acme', 'imap-1');
    const sibling = await connectorCreds('acme', 'imap-2');
    const services = await connect(
      {
        creds: new TextEncoder().encode((await natsUserCreds(operator.accounts['MLR']!, 'services')).creds),
        tenantId: 'x',
      },
      'services',
    );
    const live = await connect(revoked, 'acme-imap-1');
    const other = await connect(sibling, 'acme-imap-2');

    expect(await revoker.revoke([revoked.publicKey])).toEqual({ added: [revoked.publicKey] });

    // The server drops the live connection; the client gives up once its credentials are refused.
    const closedWith = await Promise.race([
      live.closed,
      new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), 15_000)),
    ]);
    expect(closedWith).toBeInstanceOf(Error);
    expect(String((closedWith as Error).message)).toMatch(/revoked|authorization violation/i);
    expect(await refusal(revoked)).toMatch(/authorization violation/i);

    await expect(other.nc.flush()).resolves.toBeUndefined();
    await expect(services.nc.flush()).resolves.toBeUndefined();
    expect((await revoker.accountClaims()).nats.revocations).toHaveProperty(revoked.publicKey);
  }, 60_000);

  it('adds nothing when asked again, and keeps what the account had (limits, signing keys)', async () => {
    const before = await revoker.accountClaims();
    const key = Object.keys(before.nats.revocations ?? {})[0]!;
    expect(await revoker.revoke([key])).toEqual({ added: [] });
    const after = await revoker.accountClaims();
    expect(after.iat).toBe(before.iat);
    expect(after.nats.signing_keys).toEqual([operator.accounts['MLR']!.signingPublicKey]);
    expect(after.nats.limits).toEqual(before.nats.limits);
  });

  it('still refuses the revoked connector after the server restarts with its preloaded account JWTs', async () => {
    const revokedKey = Object.keys((await revoker.accountClaims()).nats.revocations ?? {})[0]!;
    const sibling = await connectorCreds('acme', 'imap-3');
    const another = await connectorCreds('acme', 'imap-4');
    await revoker.revoke([another.publicKey]);
    await revoker.close();

    await nats.stop();
    nats = await startNats({ dir: natsDir, operator });

    expect(await refusal(another)).toMatch(/authorization violation/i);
    expect(await refusal(sibling)).toBe('connected');
    expect((await revoker.accountClaims()).nats.revocations).toHaveProperty(revokedKey);
  }, 60_000);

  it('says what is wrong when the creds are not of a system account user', async () => {
    const notSystem = join(dir, 'not-system.creds');
    writeFileSync(notSystem, (await natsUserCreds(operator.accounts['MLR']!, 'plain-user')).creds);
    const wrong = new NatsAccountRevoker(
      {
        servers: nats.info.url,
        accountPublicKey: operator.accounts['MLR']!.publicKey,
        operatorSigningSeed: operator.operatorSigningSeed,
        systemCredsFile: notSystem,
      },
      silentLogger,
    );
    try {
      await expect(wrong.revoke([createUser().getPublicKey()])).rejects.toThrow(
        /did not answer the account lookup.*full` account resolver and a system account user/,
      );
    } finally {
      await wrong.close();
    }
  }, 30_000);
});
