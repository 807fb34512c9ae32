import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { localTokenIssuer, tokenVerificationEnv, type LocalTokenIssuer } from '../access-tokens.js';
import { startCeph } from './ceph.js';
import { startDovecot, type ImapInfo } from './dovecot.js';
import { reloadNatsAccounts, startNats, type NatsUser } from './nats.js';
import { createDatabase, startPostgres } from './postgres.js';
import { readJson, writeJson } from './process.js';
import type { ServiceHandle } from './types.js';

export type InfraService = 'postgres' | 'nats' | 's3' | 'imap';
export const ALL_SERVICES: readonly InfraService[] = ['postgres', 'nats', 's3', 'imap'];

/** Everything a test, the demo or a service needs to reach the local infrastructure (plain JSON). */
export interface LocalInfrastructure {
  dir: string;
  postgres?: { host: string; port: number; adminUrl: string; databaseUrl: string; database: string };
  nats?: {
    url: string;
    monitorPort: number;
    /** The services account; tenant connector users are added to it with scoped permissions. */
    account: string;
    servicesUser: { user: string; password: string };
  };
  s3?: { endpoint: string; region: string; accessKey: string; secretKey: string; bucket: string };
  imap?: ImapInfo;
  /** The development issuer of the gateway's access tokens (`mintAccessToken(infra.tokens, ...)`). */
  tokens: LocalTokenIssuer;
  /** Environment variables for the platform's services, derived from the above. */
  serviceEnv: Record<string, string>;
}

export interface StartedInfrastructure {
  infra: LocalInfrastructure;
  stop(): Promise<void>;
}

interface Secrets {
  natsServicesPassword: string;
  s3AccessKey: string;
  s3SecretKey: string;
  imapMasterPassword: string;
}

export const SERVICES_ACCOUNT = 'MLR';
export const DEMO_IMAP_USERS = [
  { name: 'alice', password: 'alice-password' },
  { name: 'bob', password: 'bob-password' },
];

function secretsFor(dir: string): Secrets {
  const file = join(dir, 'secrets.json');
  const existing = readJson<Secrets>(file);
  if (existing) return existing;
  const token = (bytes: number) => randomBytes(bytes).toString('hex');
  const secrets: Secrets = {
    natsServicesPassword: token(16),
    s3AccessKey: `MLR${token(8).toUpperCase()}`,
    s3SecretKey: token(20),
    imapMasterPassword: token(12),
  };
  writeJson(file, secrets);
  return secrets;
}

/**
 * Starts (or reuses, when already running from the same `dir`) PostgreSQL, NATS with JetStream and
 * accounts, Ceph RGW (S3) and Dovecot (IMAP), in parallel. Safe to call twice.
 */
export async function startInfrastructure(options: {
  dir: string;
  services?: readonly InfraService[];
  imapUsers?: Array<{ name: string; password: string }>;
}): Promise<StartedInfrastructure> {
  const wanted = new Set(options.services ?? ALL_SERVICES);
  const secrets = secretsFor(options.dir);
  const handles: Array<ServiceHandle<unknown>> = [];
  const infra: LocalInfrastructure = { dir: options.dir, tokens: localTokenIssuer(options.dir), serviceEnv: {} };
  const servicesUser = { user: 'mlr-services', password: secrets.natsServicesPassword };

  const starts: Array<Promise<void>> = [];
  if (wanted.has('postgres')) {
    starts.push(
      startPostgres({ dir: join(options.dir, 'postgres') }).then(async (handle) => {
        handles.push(handle);
        const database = 'mlr';
        await createDatabase(handle.info, database);
        infra.postgres = {
          host: handle.info.host,
          port: handle.info.port,
          adminUrl: handle.info.adminUrl,
          database,
          databaseUrl: handle.info.url(database),
        };
      }),
    );
  }
  if (wanted.has('nats')) {
    starts.push(
      startNats({
        dir: join(options.dir, 'nats'),
        // Users added later (connectors) are kept when a running server is reused or restarted.
        accounts: {
          [SERVICES_ACCOUNT]: { jetstream: true, users: [servicesUser, ...registeredNatsUsers(options.dir)] },
        },
      }).then((handle) => {
        handles.push(handle);
        infra.nats = {
          url: handle.info.url,
          monitorPort: handle.info.monitorPort,
          account: SERVICES_ACCOUNT,
          servicesUser,
        };
      }),
    );
  }
  if (wanted.has('s3')) {
    starts.push(
      startCeph({
        dir: join(options.dir, 'ceph'),
        accessKey: secrets.s3AccessKey,
        secretKey: secrets.s3SecretKey,
      }).then((handle) => {
        handles.push(handle);
        infra.s3 = { ...handle.info, bucket: 'mlr-objects' };
      }),
    );
  }
  if (wanted.has('imap')) {
    starts.push(
      startDovecot({
        dir: join(options.dir, 'dovecot'),
        users: options.imapUsers ?? DEMO_IMAP_USERS,
        masterUser: { name: 'mlr-backup', password: secrets.imapMasterPassword },
      }).then((handle) => {
        handles.push(handle);
        infra.imap = handle.info;
      }),
    );
  }

  const stop = async () => {
    await Promise.allSettled(handles.map((handle) => handle.stop()));
  };
  const results = await Promise.allSettled(starts);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    await stop();
    throw new Error(
      `local infrastructure failed to start:\n${failures.map((f) => String(f.reason?.message ?? f.reason)).join('\n')}`,
    );
  }

  infra.serviceEnv = {
    // The gateway verifies access tokens of the local development issuer.
    ...tokenVerificationEnv(infra.tokens),
    ...(infra.postgres ? { DATABASE_URL: infra.postgres.databaseUrl } : {}),
    ...(infra.nats
      ? { NATS_URL: infra.nats.url, NATS_USER: servicesUser.user, NATS_PASSWORD: servicesUser.password }
      : {}),
    ...(infra.s3
      ? {
          S3_ENDPOINT: infra.s3.endpoint,
          S3_REGION: infra.s3.region,
          S3_ACCESS_KEY: infra.s3.accessKey,
          S3_SECRET_KEY: infra.s3.secretKey,
          S3_BUCKET: infra.s3.bucket,
        }
      : {}),
  };
  writeJson(join(options.dir, 'infra.json'), infra);
  return { infra, stop };
}

/** Reads what `startInfrastructure` wrote for a running local infrastructure. */
export function readInfrastructure(dir: string): LocalInfrastructure | undefined {
  return readJson<LocalInfrastructure>(join(dir, 'infra.json'));
}

function registeredNatsUsers(dir: string): NatsUser[] {
  return readJson<NatsUser[]>(join(dir, 'nats-users.json')) ?? [];
}

/**
 * Adds NATS users (e.g. connectors with tenant-scoped permissions) to the services account of a
 * running local infrastructure. Users added earlier are kept: the account is rewritten with all of
 * them and the server reloads its configuration.
 */
export async function addNatsUsers(infra: LocalInfrastructure, users: NatsUser[]): Promise<void> {
  if (!infra.nats) throw new Error('the local infrastructure runs no NATS server');
  const registryFile = join(infra.dir, 'nats-users.json');
  const registered = new Map(registeredNatsUsers(infra.dir).map((user) => [user.user, user]));
  for (const user of users) registered.set(user.user, user);
  writeJson(registryFile, [...registered.values()]);
  await reloadNatsAccounts(join(infra.dir, 'nats'), {
    [infra.nats.account]: { jetstream: true, users: [infra.nats.servicesUser, ...registered.values()] },
  });
}

/** The part of the infrastructure a caller needs, or a clear error when it was not started. */
export function required<K extends 'postgres' | 'nats' | 's3' | 'imap'>(
  infra: LocalInfrastructure,
  service: K,
): NonNullable<LocalInfrastructure[K]> {
  const value = infra[service];
  if (!value) throw new Error(`the local infrastructure in ${infra.dir} runs no ${service}`);
  return value as NonNullable<LocalInfrastructure[K]>;
}
