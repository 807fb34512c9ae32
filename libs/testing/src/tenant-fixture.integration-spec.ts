import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decode, type User } from '@nats-io/jwt';
import { credsAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { fromSeed } from '@nats-io/nkeys';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectorPermissions, subjects, tenantInboxPrefix } from '@mlr/contracts';
import { REPO_ROOT } from './paths.js';
import { provisionConnector } from './tenant-fixture.js';

/** What `provisionConnector` sets up is what enrolment gives a connector, and it survives a re-run. */
describe('provisionConnector', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'provision-'));
  const tenantId = `prov-${randomBytes(3).toString('hex')}`;
  const connections: NatsConnection[] = [];
  const provision = () =>
    provisionConnector(infra, { tenantId, connectorId: 'imap-1', dir, mailboxes: ['alice'], healthPort: 0 });

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the connector its own NATS user with the claims enrolment gives, in a 0600 creds file', async () => {
    const connector = await provision();
    // The creds, the tenant key and the configuration (the IMAP service account's password) are the owner's alone.
    for (const file of [connector.credsFile, connector.keyFile, connector.configFile])
      expect({ file, mode: statSync(file).mode & 0o777 }).toEqual({ file, mode: 0o600 });
    const config = JSON.parse(readFileSync(connector.configFile, 'utf8')) as { nats: unknown };
    expect(config.nats).toEqual({ url: infra.nats!.url, credsFile: connector.credsFile });

    const creds = readFileSync(connector.credsFile, 'utf8');
    const jwt = /-----BEGIN NATS USER JWT-----\s*(\S+)/.exec(creds)![1]!;
    const claims = decode<User>(jwt);
    const permissions = connectorPermissions(tenantId, 'imap-1');
    expect(claims.sub).toBe(connector.natsUserPublicKey);
    expect(claims.nats.issuer_account).toBe(infra.nats!.accountPublicKey);
    expect(claims.iss).toBe(fromSeed(new TextEncoder().encode(infra.nats!.accountSigningSeed)).getPublicKey());
    expect(claims.nats.pub).toEqual({ allow: permissions.publish });
    expect(claims.nats.sub).toEqual({ allow: permissions.subscribe });
    expect(claims.nats.tags).toEqual([`tenant:${tenantId}`, 'connector:imap-1']);

    const client = new pg.Client({ connectionString: infra.postgres!.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ nats_user_public_key: string }>(
        'SELECT nats_user_public_key FROM connectors WHERE id = $1 AND tenant_id = $2',
        ['imap-1', tenantId],
      );
      expect(rows).toEqual([{ nats_user_public_key: connector.natsUserPublicKey }]);
    } finally {
      await client.end();
    }

    // The platform's NATS lets it in, for its own tenant only.
    const nc = await connect({
      servers: infra.nats!.url,
      authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
      inboxPrefix: tenantInboxPrefix(tenantId),
    });
    connections.push(nc);
    const violations: string[] = [];
    void (async () => {
      for await (const status of nc.status()) {
        const error = (status as { error?: { name?: string; subject?: string } }).error;
        if (error?.name === 'PermissionViolationError') violations.push(error.subject ?? '');
      }
    })();
    nc.publish(subjects.objects('someone-else'), 'x');
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(violations).toEqual(['mlr.someone-else.objects']);
  });

  it('keeps the NATS key and the tenant key when provisioned again in the same directory', async () => {
    const first = JSON.parse(JSON.stringify(await provision())) as Awaited<ReturnType<typeof provision>>;
    const again = await provision();
    expect(again.natsUserPublicKey).toBe(first.natsUserPublicKey);
    expect(again.rootKeyHex).toBe(first.rootKeyHex);
    expect(readFileSync(again.keyFile, 'utf8').trim()).toBe(first.rootKeyHex);
  });
});
