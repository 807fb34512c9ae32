import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { connectorPermissions } from '@mlr/contracts';
import { addNatsUsers, type LocalInfrastructure } from './infra/local-infrastructure.js';

export interface ProvisionedConnector {
  tenantId: string;
  connectorId: string;
  configFile: string;
  keyFile: string;
  /** The tenant root key, hex (tests use it to open sealed objects; in production it never leaves the customer). */
  rootKeyHex: string;
  stateDir: string;
}

/**
 * What enrolment will do (a later issue), done directly for tests, the demo and benchmarks: the
 * tenant (MLR enabled) and connector rows, a NATS user with the connector's tenant-scoped
 * permissions, the tenant key file and the connector's configuration file.
 */
export async function provisionConnector(
  infra: LocalInfrastructure,
  options: {
    tenantId: string;
    connectorId: string;
    dir: string;
    mailboxes: string[];
    healthPort?: number;
    backup?: { concurrency?: number; publicFolders?: boolean; ackTimeoutSeconds?: number };
  },
): Promise<ProvisionedConnector> {
  if (!infra.postgres || !infra.nats || !infra.imap)
    throw new Error('provisionConnector needs PostgreSQL, NATS and IMAP');
  const client = new pg.Client({ connectionString: infra.postgres.databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO tenants (id, name, slug, mlr_enabled, enabled_at, enabled_by, updated_at)
       VALUES ($1, $1, $1, true, now(), 'test-fixture', now()) ON CONFLICT (id) DO NOTHING`,
      [options.tenantId],
    );
    // The connector reads mail as the IMAP master user: its service account has "Receive As".
    await client.query(
      `INSERT INTO connectors (id, tenant_id, name, kind, receive_as, capability_checked_at, updated_at)
       VALUES ($1, $2, $1, 'imap', 'yes', now(), now()) ON CONFLICT (id) DO NOTHING`,
      [options.connectorId, options.tenantId],
    );
  } finally {
    await client.end();
  }
  const natsUser = `${options.tenantId}-${options.connectorId}`;
  const configFile = join(options.dir, 'connector.json');
  // Provisioning again in the same directory keeps the key (objects sealed with it stay readable).
  const previous = existsSync(configFile)
    ? (JSON.parse(readFileSync(configFile, 'utf8')) as { nats: { password: string }; keyFile: string })
    : undefined;
  const natsPassword = previous?.nats.password ?? randomBytes(12).toString('hex');
  await addNatsUsers(infra, [
    {
      user: natsUser,
      password: natsPassword,
      permissions: connectorPermissions(options.tenantId, options.connectorId),
    },
  ]);
  const stateDir = join(options.dir, 'connector-state');
  mkdirSync(stateDir, { recursive: true });
  const keyFile = join(stateDir, 'tenant.key');
  const rootKeyHex = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : randomBytes(32).toString('hex');
  writeFileSync(keyFile, `${rootKeyHex}\n`, { mode: 0o600 });
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        tenantId: options.tenantId,
        connectorId: options.connectorId,
        nats: { url: infra.nats.url, user: natsUser, password: natsPassword },
        source: {
          kind: 'imap',
          host: infra.imap.host,
          port: infra.imap.port,
          serviceAccount: { user: infra.imap.masterUser.name, password: infra.imap.masterUser.password },
          mailboxes: options.mailboxes.map((address) => ({ address })),
        },
        stateDir,
        keyFile,
        ...(options.healthPort !== undefined ? { health: { port: options.healthPort } } : {}),
        ...(options.backup ? { backup: options.backup } : {}),
        logLevel: 'info',
      },
      null,
      2,
    ),
  );
  return { tenantId: options.tenantId, connectorId: options.connectorId, configFile, keyFile, rootKeyHex, stateDir };
}
