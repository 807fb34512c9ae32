import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { isFinishedJobState } from '@mlr/contracts';
import {
  PlatformRunner,
  REPO_ROOT,
  cephReportedObjectStore,
  freePort,
  imapSessionAs,
  postgresDurability,
  provisionConnector,
  required,
  startInfrastructure,
  type ImapInfo,
  type JobView,
  type LocalInfrastructure,
  type SeedMessage,
} from '@mlr/testing';
import { migrate } from '../../deploy/local/infra.js';
import { benchMessage } from './bench-mail.js';
import type { BenchResult } from './bench-result.js';
import { MeasuredWindow } from './measured-window.js';

/** How often the jobs table is read while waiting: the timed window ends at most this late. */
const JOB_POLL_MS = 50;
const JOB_TIMEOUT_MS = 3_600_000;

/** What a backup or restore benchmark backs up: `tenants` tenants, each with one mailbox. */
export interface Workload {
  tenants: number;
  messagesPerTenant: number;
  /** Target size of each message in bytes. */
  messageBytes: number;
}

/** `1x2000x50KiB`: tenants × messages per tenant × message size; names the result file. */
export function scenarioId(workload: Workload): string {
  return `${workload.tenants}x${workload.messagesPerTenant}x${Math.round(workload.messageBytes / 1024)}KiB`;
}

export function describeWorkload(workload: Workload): string {
  const messages = `${workload.messagesPerTenant.toLocaleString('en')} messages of ~${Math.round(workload.messageBytes / 1024)} KiB`;
  return workload.tenants === 1
    ? `1 tenant, ${messages}`
    : `${workload.tenants} tenants at once, each ${messages} (${(workload.tenants * workload.messagesPerTenant).toLocaleString('en')} in all)`;
}

/** The IMAP user of the big mailbox (`bigMailbox`). */
const BIG_MAILBOX = 'benchbig';

export interface BenchTenant {
  tenantId: string;
  /** The IMAP user whose INBOX is backed up (also the mailbox name in the index). */
  mailbox: string;
  connectorId: string;
  planId: string;
  messages: SeedMessage[];
  /** The tenant's second, larger mailbox and its own plan, when the benchmark asked for one. */
  big?: { mailbox: string; planId: string; messages: number };
}

export interface BenchPlatform {
  dir: string;
  infra: LocalInfrastructure;
  platform: PlatformRunner;
  tenants: BenchTenant[];
  totalMessages: number;
  totalBytes: number;
  /** As the servers report them, not as asked. */
  settings: BenchResult['settings'];
  /** Opens a timed window (CPU tree, machine CPU, S3 requests at RGW). */
  openWindow(): Promise<MeasuredWindow>;
  /** Runs `sql` with `params` on the platform's database; returns the first column of the first row. */
  queryNumber(sql: string, params: unknown[]): Promise<number>;
  /**
   * Waits until every job has finished; returns each one's seconds since `since` (hrtime) when it
   * was seen finished. Watches the jobs table every 50 ms rather than the API, so that waiting does
   * not load the gateway and scheduling being measured.
   */
  waitForJobs(jobIds: readonly string[], since: bigint): Promise<Map<string, number>>;
  /** The jobs as the gateway shows them (state, counters, errors). */
  jobViews(jobs: ReadonlyArray<{ tenantId: string; jobId: string }>): Promise<JobView[]>;
  /** Stops the platform and the infrastructure; removes the state unless --keep. */
  stop(): Promise<void>;
}

/** Names of this process and of the platform's processes in the CPU table; daemons go by their command. */
export function processNamer(platform: PlatformRunner): (pid: number) => string | undefined {
  return (pid) => {
    if (pid === process.pid) return 'bench (this process)';
    // By the runner's key: several connectors are all apps named 'connector'.
    for (const [name, app] of platform.apps) if (app.pid === pid) return name;
    return undefined;
  };
}

/** Prints the settings the run uses, and says so loudly when they are not durable. */
export function printSettings(settings: BenchResult['settings']): void {
  if (!settings.durable) {
    console.log(
      '\n' +
        '!!! --fast: NOT DURABLE. PostgreSQL without fsync and Ceph on memstore: these figures are not\n' +
        '!!! comparable with durable ones, and are never written to bench/results.\n',
    );
  }
  const pgSettings = Object.entries(settings.postgres)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  console.log(`settings: PostgreSQL ${pgSettings}`);
  if (settings.s3) {
    console.log(
      `          Ceph OSD objectstore=${settings.s3.objectStore} (reported by the OSD); S3 requests counted by ${settings.s3.requestCounting}`,
    );
  }
  console.log(`          NATS ${settings.nats}`);
}

/** The settings of a running infrastructure, read from the servers themselves. */
export async function readSettings(infra: LocalInfrastructure): Promise<BenchResult['settings']> {
  const natsVersion = execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  return {
    durable: infra.durable,
    postgres: await postgresDurability(required(infra, 'postgres')),
    s3: infra.s3
      ? {
          objectStore: await cephReportedObjectStore(join(infra.dir, 'ceph')),
          requestCounting: infra.s3.opsLog
            ? "RGW's ops log (cross-checked with RGW's request counter)"
            : 'nothing (no ops log)',
        }
      : null,
    nats: `JetStream file store, ${natsVersion} defaults (not changed by --fast)`,
  };
}

/**
 * APPENDs `messages` to the INBOX of `user` over `sessions` sessions at once (the benchmark's
 * preparation, not measured). Fails if the server refuses one.
 */
async function seedInbox(imap: ImapInfo, user: string, messages: SeedMessage[], sessions: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(sessions, messages.length) }, async () => {
      const client = await imapSessionAs(imap, user);
      try {
        for (let i = next++; i < messages.length; i = next++) {
          const message = messages[i] as SeedMessage;
          const appended = await client.append('INBOX', message.bytes, message.flags ?? [], message.internalDate);
          if (!appended || !appended.uid) throw new Error(`seeding ${user}: no UID for message ${i}`);
        }
      } finally {
        await client.logout().catch(() => undefined);
      }
    }),
  );
}

/**
 * The common part of the end-to-end benchmarks: starts its own infrastructure (durable unless
 * `fast`, RGW's ops log on), every service, and per tenant an IMAP mailbox seeded with the
 * workload's messages (with `seed` flags and dates), a connector and a backup plan of that mailbox.
 */
export async function startBenchPlatform(options: {
  name: string;
  tenantPrefix: string;
  workload: Workload;
  fast: boolean;
  keep: boolean;
  seed?: (index: number) => Omit<SeedMessage, 'bytes'>;
  /** A second mailbox of the (single) tenant, of the same connector, with a plan of its own. */
  bigMailbox?: { messages: number; messageBytes: number };
}): Promise<BenchPlatform> {
  const { workload } = options;
  mkdirSync(join(REPO_ROOT, 'tmp'), { recursive: true });
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', `${options.name}-`));
  console.log(`\n${options.name} ${scenarioId(workload)} — ${describeWorkload(workload)}; state in ${dir}`);
  const single = workload.tenants === 1;
  const names = Array.from({ length: workload.tenants }, (_, i) => ({
    tenantId: single ? options.tenantPrefix : `${options.tenantPrefix}-${i + 1}`,
    mailbox: single ? 'bench' : `bench${i + 1}`,
    connectorId: single ? 'bench-imap' : `bench-imap-${i + 1}`,
  }));
  const started = Date.now();
  const { infra, stop: stopInfra } = await startInfrastructure({
    dir: join(dir, 'infra'),
    durable: !options.fast,
    s3OpsLog: true,
    // Users at start: adding them later waits a wall-clock second each.
    imapUsers: [
      ...names.map((n) => ({ name: n.mailbox, password: `${n.mailbox}-password` })),
      ...(options.bigMailbox ? [{ name: BIG_MAILBOX, password: `${BIG_MAILBOX}-password` }] : []),
    ],
  });
  const platform = new PlatformRunner(infra, join(dir, 'logs'));
  const databaseUrl = required(infra, 'postgres').databaseUrl;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  pool.on('error', (error) => console.error(`database connection: ${error.message}`));
  const stop = async () => {
    await pool.end().catch(() => undefined);
    await platform.stop();
    await stopInfra();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    migrate(required(infra, 'postgres'));
    const settings = await readSettings(infra);
    console.log(`infrastructure up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    printSettings(settings);

    const imap = required(infra, 'imap');
    const seeding = Date.now();
    const tenants: Array<Omit<BenchTenant, 'planId'>> = names.map((n, t) => ({
      ...n,
      messages: Array.from({ length: workload.messagesPerTenant }, (_, i) => ({
        bytes: benchMessage(t * workload.messagesPerTenant + i, workload.messageBytes),
        ...options.seed?.(i),
      })),
    }));
    // Several sessions per mailbox: APPEND waits on Dovecot's fsync, one session at a time is slow.
    await Promise.all(
      tenants.map((t) => seedInbox(imap, t.mailbox, t.messages, Math.max(1, Math.floor(4 / tenants.length)))),
    );
    const big = options.bigMailbox;
    if (big) {
      if (!single) throw new Error('a big mailbox is for a single tenant only');
      const bigSeeding = Date.now();
      const messages = Array.from({ length: big.messages }, (_, i) => ({
        bytes: benchMessage(1_000_000 + i, big.messageBytes),
      }));
      await seedInbox(imap, BIG_MAILBOX, messages, 4);
      console.log(
        `seeded ${big.messages.toLocaleString('en')} messages into ${BIG_MAILBOX} in ${((Date.now() - bigSeeding) / 1000).toFixed(1)} s`,
      );
    }
    const totalMessages = workload.tenants * workload.messagesPerTenant;
    const totalBytes = tenants.reduce((n, t) => n + t.messages.reduce((m, message) => m + message.bytes.length, 0), 0);
    console.log(
      `seeded ${totalMessages.toLocaleString('en')} messages (${(totalBytes / 1e6).toFixed(1)} MB) by IMAP APPEND in ${((Date.now() - seeding) / 1000).toFixed(1)} s`,
    );

    await platform.startPlatform();
    const withPlans: BenchTenant[] = await Promise.all(
      tenants.map(async (tenant) => {
        const healthPort = await freePort();
        const connector = await provisionConnector(infra, {
          tenantId: tenant.tenantId,
          connectorId: tenant.connectorId,
          dir: join(dir, 'connectors', tenant.tenantId),
          mailboxes: big ? [tenant.mailbox, BIG_MAILBOX] : [tenant.mailbox],
          healthPort,
          backup: { publicFolders: false },
        });
        await platform.startConnector(
          connector.configFile,
          healthPort,
          single ? 'connector' : `connector ${tenant.tenantId}`,
        );
        const planId = await platform.createPlan(tenant.tenantId, {
          name: 'bench',
          connectorId: tenant.connectorId,
          mailboxes: { kind: 'list', mailboxes: [tenant.mailbox] },
        });
        if (!big) return { ...tenant, planId };
        const bigPlanId = await platform.createPlan(tenant.tenantId, {
          name: 'bench big',
          connectorId: tenant.connectorId,
          mailboxes: { kind: 'list', mailboxes: [BIG_MAILBOX] },
        });
        return { ...tenant, planId, big: { mailbox: BIG_MAILBOX, planId: bigPlanId, messages: big.messages } };
      }),
    );
    const nameOf = processNamer(platform);
    const s3 = required(infra, 's3');
    return {
      dir,
      infra,
      platform,
      tenants: withPlans,
      totalMessages,
      totalBytes,
      settings,
      openWindow: () => MeasuredWindow.open({ s3: { info: s3, bucket: s3.bucket }, nameOf }),
      queryNumber: async (sql, params) => {
        const { rows } = await pool.query<Record<string, unknown>>(sql, params);
        return Number(Object.values(rows[0] ?? {})[0]);
      },
      waitForJobs: async (jobIds, since) => {
        const finishedAt = new Map<string, number>();
        const deadline = Date.now() + JOB_TIMEOUT_MS;
        for (;;) {
          const { rows } = await pool.query<{ id: string; state: string }>(
            'SELECT id, state FROM jobs WHERE id = ANY($1::text[])',
            [[...jobIds]],
          );
          const seconds = Number(process.hrtime.bigint() - since) / 1e9;
          for (const row of rows)
            if (isFinishedJobState(row.state) && !finishedAt.has(row.id)) finishedAt.set(row.id, seconds);
          if (finishedAt.size === jobIds.length) return finishedAt;
          if (Date.now() > deadline) {
            throw new Error(`jobs not finished after ${JOB_TIMEOUT_MS / 1000} s: ${JSON.stringify(rows)}`);
          }
          await sleep(JOB_POLL_MS);
        }
      },
      jobViews: (jobs) =>
        Promise.all(
          jobs.map(async ({ tenantId, jobId }) => {
            const { status, body } = await platform.http<JobView>('GET', `/v1/tenants/${tenantId}/jobs/${jobId}`);
            if (status !== 200) throw new Error(`job ${jobId}: HTTP ${status} ${JSON.stringify(body)}`);
            return body;
          }),
        ),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs a benchmark's main, printing a failure plainly; exit code 1 when it did not achieve everything. */
export function runBench(main: () => Promise<boolean>): void {
  main().then(
    (ok) => {
      if (!ok) process.exitCode = 1;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
