import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { localTokenIssuer, tokenVerificationEnv, type LocalTokenIssuer } from '../access-tokens.js';
import { ensureBuilt, SETUP_BUCKET_COMMAND } from '../compiled.js';
import { localLicenceVendor, type LocalLicenceVendor } from '../licence-vendor.js';
import { REPO_ROOT } from '../paths.js';
import { ensureCephUser, restartRadosgw, startCeph, type CephInfo } from './ceph.js';
import { startDovecot, type ImapInfo } from './dovecot.js';
import {
  createNatsOperator,
  natsUserCreds,
  startNats,
  stopNats,
  type NatsOperator,
  type NatsOperatorAccount,
} from './nats.js';
import { createDatabase, startPostgres, stopPostgres } from './postgres.js';
import { readJson, writeJson } from './process.js';
import type { ServiceHandle } from './types.js';

export type InfraService = 'postgres' | 'nats' | 's3' | 'imap';
export const ALL_SERVICES: readonly InfraService[] = ['postgres', 'nats', 's3', 'imap'];

/** Everything a test, the demo or a service needs to reach the local infrastructure (plain JSON). */
export interface LocalInfrastructure {
  dir: string;
  /**
   * PostgreSQL with fsync, synchronous commit and full-page writes, and Ceph on BlueStore (objects
   * survive a restart). False: both trade crash safety for speed (tests, the demo).
   */
  durable: boolean;
  postgres?: {
    host: string;
    port: number;
    adminUrl: string;
    /** The owner role's URL (the cluster's superuser here): migrations, test fixtures. Never a service's. */
    databaseUrl: string;
    database: string;
    /**
     * Each service's own URL (role `mlr_<service>`, trust authentication): the migrations command
     * creates the roles and grants each its own tables; each service receives its URL as DATABASE_URL.
     */
    serviceUrls: Record<DatabaseServiceName, string>;
  };
  /** NATS in operator (JWT) mode: every user is a JWT signed by an account key, plus its own seed. */
  nats?: {
    url: string;
    monitorPort: number;
    /** The platform account's name; services and connectors (tenant-scoped JWTs) are its users. */
    account: string;
    /** The platform account (`A…`) and the seed of its signing key (`SA…`): connector JWTs are signed with it. */
    accountPublicKey: string;
    accountSigningSeed: string;
    /** Seed of the operator's signing key (`SO…`): re-signs the account JWT (user revocations). */
    operatorSigningSeed: string;
    /** `.creds` file (0600) of the services' user: the whole platform account, no limits. */
    servicesCredsFile: string;
    /** `.creds` file (0600) of a user of the system account (`$SYS.REQ.CLAIMS.UPDATE`). */
    systemCredsFile: string;
  };
  s3?: {
    endpoint: string;
    region: string;
    /** The bucket owner's key: it set the bucket up and may change it; never given to a service. */
    accessKey: string;
    secretKey: string;
    /**
     * The services' own S3 user (storage's `S3_ACCESS_KEY`): under the bucket's policy it may write,
     * read and list, never delete or change the bucket (`setUpBackupBucket`).
     */
    service: { user: string; accessKey: string; secretKey: string };
    /** The collector's own S3 user (`npm run storage:collect`): it may remove unlocked versions, nothing else. */
    collector: { user: string; accessKey: string; secretKey: string };
    /** Every new object version is kept this long (the bucket's Object Lock default rule). */
    defaultRetention: { mode: 'COMPLIANCE'; days: number };
    bucket: string;
    objectStore: CephInfo['objectStore'];
    /** RGW's ops log and admin socket, when started with `s3OpsLog` (RgwRequestCounter). */
    opsLog?: CephInfo['opsLog'];
  };
  imap?: ImapInfo;
  /** The development issuer of the gateway's access tokens (`mintAccessToken(infra.tokens, ...)`). */
  tokens: LocalTokenIssuer;
  /** The licence vendor licensing trusts here (`LICENSING_VENDOR_PUBLIC_KEY`); sign with its key dir. */
  licenceVendor: LocalLicenceVendor;
  /** Environment variables for the platform's services, derived from the above. */
  serviceEnv: Record<string, string>;
}

export interface StartedInfrastructure {
  infra: LocalInfrastructure;
  stop(): Promise<void>;
}

/** NATS keys and credentials, created once per infrastructure directory. */
interface NatsSecrets {
  operator: NatsOperator;
  servicesCreds: string;
  systemCreds: string;
}

interface Secrets {
  /** The bucket owner's key. */
  s3AccessKey: string;
  s3SecretKey: string;
  /** The services' key; absent in secrets files written before the services had a user of their own. */
  s3ServiceAccessKey?: string;
  s3ServiceSecretKey?: string;
  /** The collector's key; absent in secrets files written before it had one. */
  s3CollectorAccessKey?: string;
  s3CollectorSecretKey?: string;
  imapMasterPassword: string;
  /** Absent in secrets files written before NATS ran in operator mode: created then. */
  nats?: NatsSecrets;
}

const execFileAsync = promisify(execFile);

export const SERVICES_ACCOUNT = 'MLR';
/** The platform's default (`npm run storage:setup-bucket`): every object version kept 30 days at least. */
const LOCAL_DEFAULT_RETENTION = { mode: 'COMPLIANCE', days: 30 } as const;
export const DEMO_IMAP_USERS = [
  { name: 'alice', password: 'alice-password' },
  { name: 'bob', password: 'bob-password' },
];

function platformAccount(operator: NatsOperator): NatsOperatorAccount {
  const account = operator.accounts[SERVICES_ACCOUNT];
  if (!account) throw new Error(`the NATS operator set-up has no ${SERVICES_ACCOUNT} account`);
  return account;
}

async function createNatsSecrets(): Promise<NatsSecrets> {
  const operator = await createNatsOperator([SERVICES_ACCOUNT]);
  const services = await natsUserCreds(platformAccount(operator), 'mlr-services');
  const system = await natsUserCreds(operator.system, 'mlr-system');
  return { operator, servicesCreds: services.creds, systemCreds: system.creds };
}

/** Sets the bucket up with its owner's key through storage's compiled command, as the chart's Job does. */
async function setUpBucket(owner: CephInfo, bucket: string, serviceUser: string, collectorUser: string): Promise<void> {
  ensureBuilt();
  const [, ...args] = SETUP_BUCKET_COMMAND;
  try {
    await execFileAsync(process.execPath, args, {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        S3_ENDPOINT: owner.endpoint,
        S3_REGION: owner.region,
        S3_BUCKET: bucket,
        S3_OWNER_ACCESS_KEY: owner.accessKey,
        S3_OWNER_SECRET_KEY: owner.secretKey,
        S3_SERVICE_USER: serviceUser,
        S3_COLLECTOR_USER: collectorUser,
        STORAGE_DEFAULT_RETENTION_DAYS: String(LOCAL_DEFAULT_RETENTION.days),
        STORAGE_DEFAULT_RETENTION_MODE: LOCAL_DEFAULT_RETENTION.mode,
      },
    });
  } catch (error) {
    const failed = error as { stderr?: string; message: string };
    throw new Error(`setting up bucket '${bucket}' failed: ${failed.stderr?.trim() || failed.message}`, {
      cause: error,
    });
  }
}

/**
 * The directory's secrets, created on first use and kept (the same keys across restarts and reuse,
 * so JetStream data and minted credentials stay valid). The file holds seeds: owner-only.
 */
async function secretsFor(dir: string): Promise<Required<Secrets>> {
  const file = join(dir, 'secrets.json');
  const existing = readJson<Secrets>(file);
  const token = (bytes: number) => randomBytes(bytes).toString('hex');
  const secrets = {
    s3AccessKey: existing?.s3AccessKey ?? `MLR${token(8).toUpperCase()}`,
    s3SecretKey: existing?.s3SecretKey ?? token(20),
    s3ServiceAccessKey: existing?.s3ServiceAccessKey ?? `MLRSVC${token(8).toUpperCase()}`,
    s3ServiceSecretKey: existing?.s3ServiceSecretKey ?? token(20),
    s3CollectorAccessKey: existing?.s3CollectorAccessKey ?? `MLRGC${token(8).toUpperCase()}`,
    s3CollectorSecretKey: existing?.s3CollectorSecretKey ?? token(20),
    imapMasterPassword: existing?.imapMasterPassword ?? token(12),
    nats: existing?.nats ?? (await createNatsSecrets()),
  };
  if (JSON.stringify(existing) !== JSON.stringify(secrets)) writeJson(file, secrets);
  chmodSync(file, 0o600);
  return secrets;
}

/** Writes `content` to `file` (owner-only) unless it already holds exactly that. */
function writeSecretFile(file: string, content: string): void {
  if (!existsSync(file) || readFileSync(file, 'utf8') !== content) writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/**
 * Starts (or reuses, when already running from the same `dir`) PostgreSQL, NATS with JetStream in
 * operator mode (a system account `SYS` and the platform account `MLR`), Ceph RGW (S3) and Dovecot
 * (IMAP), in parallel. Safe to call twice; a running PostgreSQL or Ceph of other durability (or
 * ops log setting) than asked is refused.
 */
export async function startInfrastructure(options: {
  dir: string;
  services?: readonly InfraService[];
  imapUsers?: Array<{ name: string; password: string }>;
  /** Crash-safe PostgreSQL and BlueStore Ceph (benchmarks). Default false: fast, for tests and the demo. */
  durable?: boolean;
  /** RGW writes its ops log, so that S3 requests can be counted at the S3 side (benchmarks). */
  s3OpsLog?: boolean;
}): Promise<StartedInfrastructure> {
  const durable = options.durable ?? false;
  const wanted = new Set(options.services ?? ALL_SERVICES);
  mkdirSync(options.dir, { recursive: true });
  const secrets = await secretsFor(options.dir);
  const handles: Array<ServiceHandle<unknown>> = [];
  const infra: LocalInfrastructure = {
    dir: options.dir,
    durable,
    tokens: localTokenIssuer(options.dir),
    licenceVendor: localLicenceVendor(options.dir),
    serviceEnv: {},
  };

  const starts: Array<Promise<void>> = [];
  if (wanted.has('postgres')) {
    starts.push(
      startPostgres({ dir: join(options.dir, 'postgres'), durable }).then(async (handle) => {
        handles.push(handle);
        const database = 'mlr';
        await createDatabase(handle.info, database);
        infra.postgres = {
          host: handle.info.host,
          port: handle.info.port,
          adminUrl: handle.info.adminUrl,
          database,
          databaseUrl: handle.info.url(database),
          serviceUrls: serviceDatabaseUrls(handle.info.url(database)),
        };
      }),
    );
  }
  if (wanted.has('nats')) {
    const natsDir = join(options.dir, 'nats');
    const { operator } = secrets.nats;
    const account = platformAccount(operator);
    starts.push(
      startNats({ dir: natsDir, operator }).then((handle) => {
        handles.push(handle);
        const servicesCredsFile = join(natsDir, 'services.creds');
        const systemCredsFile = join(natsDir, 'system.creds');
        writeSecretFile(servicesCredsFile, secrets.nats.servicesCreds);
        writeSecretFile(systemCredsFile, secrets.nats.systemCreds);
        infra.nats = {
          url: handle.info.url,
          monitorPort: handle.info.monitorPort,
          account: SERVICES_ACCOUNT,
          accountPublicKey: account.publicKey,
          accountSigningSeed: account.signingSeed,
          operatorSigningSeed: operator.operatorSigningSeed,
          servicesCredsFile,
          systemCredsFile,
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
        durable,
        opsLog: options.s3OpsLog ?? false,
      }).then(async (handle) => {
        handles.push(handle);
        const bucket = 'mlr-objects';
        // The services get a user of their own; the owner's key sets the bucket up, as in production.
        const service = await ensureCephUser(
          join(options.dir, 'ceph'),
          secrets.s3ServiceAccessKey,
          secrets.s3ServiceSecretKey,
        );
        const collector = await ensureCephUser(
          join(options.dir, 'ceph'),
          secrets.s3CollectorAccessKey,
          secrets.s3CollectorSecretKey,
        );
        await setUpBucket(handle.info, bucket, service.uid, collector.uid);
        infra.s3 = {
          ...handle.info,
          service: { user: service.uid, accessKey: secrets.s3ServiceAccessKey, secretKey: secrets.s3ServiceSecretKey },
          collector: {
            user: collector.uid,
            accessKey: secrets.s3CollectorAccessKey,
            secretKey: secrets.s3CollectorSecretKey,
          },
          defaultRetention: LOCAL_DEFAULT_RETENTION,
          bucket,
        };
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
    // Only what this call started: a server that was running already (e.g. a refused durability
    // mismatch next to it) stays up for whoever started it.
    await Promise.allSettled(handles.filter((handle) => !handle.reused).map((handle) => handle.stop()));
    throw new Error(
      `local infrastructure failed to start:\n${failures.map((f) => String(f.reason?.message ?? f.reason)).join('\n')}`,
    );
  }

  infra.serviceEnv = {
    // The gateway verifies access tokens of the local development issuer.
    ...tokenVerificationEnv(infra.tokens),
    // Licensing verifies licences signed with the local vendor key (one licence in force for all).
    LICENSING_VENDOR_PUBLIC_KEY: infra.licenceVendor.publicKeyEnv,
    // `<SERVICE>_DATABASE_URL`: each service's own; `envFor` hands it over as DATABASE_URL.
    ...(infra.postgres ? serviceDatabaseEnv(infra.postgres.serviceUrls) : {}),
    ...(infra.nats
      ? {
          NATS_URL: infra.nats.url,
          NATS_CREDS: infra.nats.servicesCredsFile,
          // Licensing mints connector JWTs at enrolment and revokes them through the system account.
          LICENSING_NATS_ACCOUNT_PUBLIC_KEY: infra.nats.accountPublicKey,
          LICENSING_NATS_ACCOUNT_SIGNING_SEED: infra.nats.accountSigningSeed,
          LICENSING_NATS_OPERATOR_SIGNING_SEED: infra.nats.operatorSigningSeed,
          LICENSING_NATS_SYSTEM_CREDS: infra.nats.systemCredsFile,
        }
      : {}),
    ...(infra.s3
      ? {
          S3_ENDPOINT: infra.s3.endpoint,
          S3_REGION: infra.s3.region,
          S3_ACCESS_KEY: infra.s3.service.accessKey,
          S3_SECRET_KEY: infra.s3.service.secretKey,
          S3_BUCKET: infra.s3.bucket,
        }
      : {}),
  };
  writeJson(join(options.dir, 'infra.json'), infra);
  return { infra, stop };
}

/** The services that connect to PostgreSQL, each as a role of its own (libs/db table-owners.ts). */
export const DATABASE_SERVICE_NAMES = ['licensing', 'scheduling', 'indexing', 'storage'] as const;
export type DatabaseServiceName = (typeof DATABASE_SERVICE_NAMES)[number];

/** `ownerUrl` with each service's role (`mlr_<service>`) as its user. */
export function serviceDatabaseUrls(ownerUrl: string): Record<DatabaseServiceName, string> {
  const urls = DATABASE_SERVICE_NAMES.map((service) => {
    const url = new URL(ownerUrl);
    url.username = `mlr_${service}`;
    url.password = '';
    return [service, url.toString()] as const;
  });
  return Object.fromEntries(urls) as Record<DatabaseServiceName, string>;
}

/** The services' URLs as the migrations command and `envFor` read them (`LICENSING_DATABASE_URL`, …). */
export function serviceDatabaseEnv(urls: Record<DatabaseServiceName, string>): Record<string, string> {
  return Object.fromEntries(
    DATABASE_SERVICE_NAMES.map((service) => [`${service.toUpperCase()}_DATABASE_URL`, urls[service]]),
  );
}

/** What the migrations command needs: the owner's URL and every service's (to create and grant their roles). */
export function migrationEnv(postgres: NonNullable<LocalInfrastructure['postgres']>): Record<string, string> {
  return { DATABASE_URL: postgres.databaseUrl, ...serviceDatabaseEnv(postgres.serviceUrls) };
}

/**
 * What a NATS restart does to the platform: stops the NATS server of `infra`, keeps it down for
 * `downMs` and starts it again on the same ports with the same JetStream data and accounts, so that
 * clients can reconnect by themselves. Resolves once it answers again.
 */
export async function restartNats(infra: LocalInfrastructure, downMs: number): Promise<void> {
  const dir = join(infra.dir, 'nats');
  await stopNats(dir);
  await sleep(downMs);
  const { operator } = (await secretsFor(infra.dir)).nats;
  await startNats({ dir, operator });
}

/**
 * What a database outage does to the platform: stops the PostgreSQL of `infra` ("fast" shutdown:
 * open sessions are rolled back), keeps it down for `downMs` and starts it again on the same port
 * with its data. Resolves once it answers again.
 */
export async function restartPostgres(infra: LocalInfrastructure, downMs: number): Promise<void> {
  const dir = join(infra.dir, 'postgres');
  await stopPostgres(dir);
  await sleep(downMs);
  await startPostgres({ dir, durable: infra.durable });
}

/** What an S3 outage does to the platform: the S3 gateway of `infra` down for `downMs`, then back. */
export async function restartS3Gateway(infra: LocalInfrastructure, downMs: number): Promise<void> {
  await restartRadosgw(join(infra.dir, 'ceph'), downMs);
}

/**
 * How to reach S3 as the services do (their own key): what storage writes belongs to the services'
 * user, and RGW lets no other user read it, not even the bucket owner. For tests that read objects.
 */
export function servicesS3(infra: LocalInfrastructure): {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
} {
  const s3 = required(infra, 's3');
  return { endpoint: s3.endpoint, region: s3.region, accessKey: s3.service.accessKey, secretKey: s3.service.secretKey };
}

/** Reads what `startInfrastructure` wrote for a running local infrastructure. */
export function readInfrastructure(dir: string): LocalInfrastructure | undefined {
  return readJson<LocalInfrastructure>(join(dir, 'infra.json'));
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
