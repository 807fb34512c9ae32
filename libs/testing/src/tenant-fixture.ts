import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCreds } from '@nats-io/jwt';
import pg from 'pg';
import type { LocalInfrastructure } from './infra/local-infrastructure.js';
import { UPLOAD_QUOTA_DEFAULT_BYTES } from '@mlr/contracts';
import { connectMessaging, ensureTenantChunksStream } from '@mlr/messaging';
import { connectorNatsCreds, servicesNatsCredentials } from './nats-credentials.js';

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
  /** Its key id, as recorded in the tenants row (what enrolment records). */
  tenantKeyId: string;
  stateDir: string;
}

/**
 * The key id of a tenant root key (hex), derived as the connector derives it: the first 8 bytes of
 * SHA-256("mlr/key-id/v1" ‖ K_root), in hex. It repeats libs/crypto `rootKeyId` because the shared
 * test harness may not import connector-side code; apps/connector/src/enrol/tenant-key.spec.ts
 * checks that the two agree.
 */
export function tenantKeyIdOf(rootKeyHex: string): string {
  return createHash('sha256')
    .update('mlr/key-id/v1')
    .update(Buffer.from(rootKeyHex, 'hex'))
    .digest()
    .subarray(0, 8)
    .toString('hex');
}

/**
 * What enrolment does, done directly for tests, the demo and benchmarks: the tenant (MLR enabled)
 * and connector rows, the tenant's chunk stream with its upload quota (as licensing declares it), the connector's own NATS user key and a user JWT with the claims enrolment
 * gives (signed by the platform account's signing key) in a creds file, the tenant key file (its key
 * id recorded as the tenant's, as the tenant's first enrolment records it) and the connector's
 * configuration file. Provisioning again in the same `dir` keeps the NATS key and the tenant key. A
 * tenant has one key: provisioning a tenant whose recorded key is not the one in `dir`, or a `dir`
 * that holds another tenant's key, fails saying so.
 */
export async function provisionConnector(
  infra: LocalInfrastructure,
  options: {
    tenantId: string;
    connectorId: string;
    dir: string;
    mailboxes: string[];
    healthPort?: number;
    /** The NATS URL the connector is given (default the infrastructure's): e.g. a proxy in front of it. */
    natsUrl?: string;
    backup?: { concurrency?: number; publicFolders?: boolean; ackTimeoutSeconds?: number };
    /** How storage lays out the tenant's messages in S3 (set when the tenant is created). */
    objectLayout?: 'packed' | 'individual';
    /** The tenant's upload quota (recorded, and the byte limit of its chunk stream); default the platform's. */
    uploadQuotaBytes?: number;
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
  const keyFile = join(stateDir, 'tenant.key');
  const keptKey = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined;
  if (keptKey !== undefined && previous?.tenantId !== undefined && previous.tenantId !== options.tenantId) {
    throw new Error(
      `${keyFile} holds the tenant key of tenant ${previous.tenantId}: provision tenant ${options.tenantId} in ` +
        'another directory (a tenant key belongs to one tenant)',
    );
  }
  const rootKeyHex = keptKey ?? randomBytes(32).toString('hex');
  const tenantKeyId = tenantKeyIdOf(rootKeyHex);
  const previousSeed =
    sameConnector && existsSync(credsFile) ? (await parseCreds(readFileSync(credsFile))).key : undefined;
  const user = await connectorNatsCreds(infra, options.tenantId, options.connectorId, {
    ...(previousSeed ? { seed: previousSeed } : {}),
  });
  writeFileSync(credsFile, user.creds, { mode: 0o600 });
  chmodSync(credsFile, 0o600);

  const client = new pg.Client({ connectionString: infra.postgres.databaseUrl });
  let quota = UPLOAD_QUOTA_DEFAULT_BYTES;
  await client.connect();
  try {
    // The tenant keeps the key it has; one without records this one, as its first enrolment would.
    let recorded: string | null;
    try {
      const { rows } = await client.query<{ tenant_key_id: string | null; upload_quota_bytes: string | null }>(
        `INSERT INTO tenants (id, name, slug, mlr_enabled, enabled_at, enabled_by, tenant_key_id, object_layout, upload_quota_bytes, updated_at)
         VALUES ($1, $1, $1, true, now(), 'test-fixture', $2, $3, $4, now())
         ON CONFLICT (id) DO UPDATE SET tenant_key_id = COALESCE(tenants.tenant_key_id, EXCLUDED.tenant_key_id),
           upload_quota_bytes = COALESCE(EXCLUDED.upload_quota_bytes, tenants.upload_quota_bytes)
         RETURNING tenant_key_id, upload_quota_bytes`,
        [options.tenantId, tenantKeyId, options.objectLayout ?? 'packed', options.uploadQuotaBytes ?? null],
      );
      recorded = rows[0]?.tenant_key_id ?? null;
      quota = rows[0]?.upload_quota_bytes === null ? UPLOAD_QUOTA_DEFAULT_BYTES : Number(rows[0]?.upload_quota_bytes);
    } catch (error) {
      if ((error as { constraint?: string }).constraint === 'tenants_tenant_key_id_key') {
        throw new Error(`the tenant key ${tenantKeyId} in ${keyFile} is recorded as another tenant's key`);
      }
      throw error;
    }
    if (recorded !== tenantKeyId) {
      throw new Error(
        `the backups of tenant ${options.tenantId} are sealed with tenant key ${recorded}, but ${keyFile} would hold ` +
          `key ${tenantKeyId}: provision the tenant's connectors in the directory that holds its key`,
      );
    }
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
  // The tenant's chunk stream, with its quota, as licensing declares it when MLR is enabled.
  const services = await connectMessaging({
    servers: infra.nats.url,
    name: 'provision-connector',
    credentials: servicesNatsCredentials(infra),
  });
  try {
    await ensureTenantChunksStream(services, options.tenantId, quota);
  } finally {
    await services.close();
  }
  writeFileSync(keyFile, `${rootKeyHex}\n`, { mode: 0o600 });
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        tenantId: options.tenantId,
        connectorId: options.connectorId,
        nats: { url: options.natsUrl ?? infra.nats.url, credsFile },
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
    // The IMAP service account's password is in it.
    { mode: 0o600 },
  );
  chmodSync(configFile, 0o600);
  return {
    tenantId: options.tenantId,
    connectorId: options.connectorId,
    configFile,
    credsFile,
    natsUserPublicKey: user.publicKey,
    keyFile,
    rootKeyHex,
    tenantKeyId,
    stateDir,
  };
}
