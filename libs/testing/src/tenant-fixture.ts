import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { LocalInfrastructure } from './infra/local-infrastructure.js';
import { connectorNatsCreds } from './nats-credentials.js';

export interface ProvisionedConnector {
  tenantId: string;
  connectorId: string;
  configFile: string;
  /** The connector's NATS `.creds` file (its user JWT and its own seed), 0600. */
  credsFile: string;
  /** The public key of its NATS user (`U…`), as recorded in its connectors row. */
  natsUserPublicKey: string;
  keyFile: string;
  /** The tenant root key, hex (tests use it to open sealed objects; in production it never leaves the customer). */
  rootKeyHex: string;
  stateDir: string;
}

/** The seed (`SU…`) of a `.creds` file's user, or undefined when the file holds none. */
function credsSeed(creds: string): string | undefined {
  return /-----BEGIN USER NKEY SEED-----\s*(SU[A-Z2-7]+)\s*-/.exec(creds)?.[1];
}

/**
 * What enrolment does, done directly for tests, the demo and benchmarks: the tenant (MLR enabled)
 * and connector rows, the connector's own NATS user key and a user JWT with the claims enrolment
 * gives (signed by the platform account's signing key) in a creds file, the tenant key file and
 * the connector's configuration file. Provisioning again in the same `dir` keeps the NATS key and
 * the tenant key.
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
  const stateDir = join(options.dir, 'connector-state');
  mkdirSync(stateDir, { recursive: true });
  const configFile = join(options.dir, 'connector.json');
  const credsFile = join(stateDir, 'nats.creds');
  // Provisioning the same connector again in the same directory keeps the keys (objects sealed with
  // the tenant key stay readable; the connectors row keeps its NATS user).
  const previous = existsSync(configFile)
    ? (JSON.parse(readFileSync(configFile, 'utf8')) as { tenantId?: string; connectorId?: string })
    : undefined;
  const sameConnector = previous?.tenantId === options.tenantId && previous.connectorId === options.connectorId;
  const previousSeed = sameConnector && existsSync(credsFile) ? credsSeed(readFileSync(credsFile, 'utf8')) : undefined;
  const user = await connectorNatsCreds(infra, options.tenantId, options.connectorId, {
    ...(previousSeed ? { seed: previousSeed } : {}),
  });
  writeFileSync(credsFile, user.creds, { mode: 0o600 });
  chmodSync(credsFile, 0o600);

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
      `INSERT INTO connectors (id, tenant_id, name, kind, receive_as, capability_checked_at, nats_user_public_key, updated_at)
       VALUES ($1, $2, $1, 'imap', 'yes', now(), $3, now())
       ON CONFLICT (id) DO UPDATE SET nats_user_public_key = EXCLUDED.nats_user_public_key, updated_at = now()`,
      [options.connectorId, options.tenantId, user.publicKey],
    );
  } finally {
    await client.end();
  }
  const keyFile = join(stateDir, 'tenant.key');
  const rootKeyHex = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : randomBytes(32).toString('hex');
  writeFileSync(keyFile, `${rootKeyHex}\n`, { mode: 0o600 });
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        tenantId: options.tenantId,
        connectorId: options.connectorId,
        nats: { url: infra.nats.url, credsFile },
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
  return {
    tenantId: options.tenantId,
    connectorId: options.connectorId,
    configFile,
    credsFile,
    natsUserPublicKey: user.publicKey,
    keyFile,
    rootKeyHex,
    stateDir,
  };
}
