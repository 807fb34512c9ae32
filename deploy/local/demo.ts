// `npm run demo`: the whole platform on this machine. Starts the infrastructure, applies the
// migrations, starts every service as its own process, seeds a demo mailbox from the shared test
// corpus, backs it up through a plan and prints what was stored, then searches the backup, deletes a
// few messages, restores them and exports the folder to mbox. Ctrl-C (or --once) stops it all.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  PLATFORM_SERVICES,
  PlatformRunner,
  cephObjectStore,
  cephRunning,
  corpusMessages,
  fetchFolder,
  freePort,
  mintAccessToken,
  provisionConnector,
  readInfrastructure,
  required,
  seedFolder,
  startInfrastructure,
} from '@mlr/testing';
import { demoSearchAndRestore } from './demo-restore.js';
import { DEFAULT_LOCAL_DIR, migrate, recordedSettings } from './infra.js';
import { StopRequested, StopSignal } from './stop-signal.js';

const TENANT = 'demo';
const CONNECTOR = 'demo-imap';
const DEMO_FOLDER = 'Demo';

async function printStored(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const folders = await client.query<{ mailbox: string; folder: string; records: string }>(
      `SELECT mailbox, folder, count(*) AS records FROM index_records WHERE tenant_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [TENANT],
    );
    const objects = await client.query<{ objects: string; plain: string; sealed: string }>(
      `SELECT count(*) AS objects, coalesce(sum(plain_size), 0) AS plain, coalesce(sum(sealed_size), 0) AS sealed
         FROM stored_objects WHERE tenant_id = $1`,
      [TENANT],
    );
    const samples = await client.query<{
      submission_date: Date | null;
      sender: string | null;
      subject: string | null;
      attachments: number;
    }>(
      `SELECT submission_date, sender, subject, cardinality(attachment_names) AS attachments
         FROM index_records WHERE tenant_id = $1 ORDER BY submission_date DESC NULLS LAST LIMIT 8`,
      [TENANT],
    );
    console.log('\nindex records per folder:');
    for (const row of folders.rows) console.log(`  ${row.mailbox}/${row.folder}: ${row.records}`);
    const totals = objects.rows[0];
    if (totals) {
      console.log(
        `objects in S3: ${totals.objects} (${(Number(totals.plain) / 1e6).toFixed(1)} MB of mail, ` +
          `${(Number(totals.sealed) / 1e6).toFixed(1)} MB compressed and encrypted)`,
      );
    }
    console.log('latest messages in the index:');
    for (const row of samples.rows) {
      const date = row.submission_date ? row.submission_date.toISOString().slice(0, 10) : '(no date) ';
      console.log(
        `  ${date}  ${(row.sender ?? '-').padEnd(32).slice(0, 32)}  ${(row.subject ?? '(no subject)').slice(0, 60)}${row.attachments ? `  [${row.attachments} attachment(s)]` : ''}`,
      );
    }
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: DEFAULT_LOCAL_DIR },
      once: { type: 'boolean', default: false },
      'keep-infra': { type: 'boolean', default: false },
    },
  });
  const dir = values.dir ?? DEFAULT_LOCAL_DIR;
  const cephDir = join(dir, 'ceph');
  if (existsSync(join(dir, 'postgres')) && cephObjectStore(cephDir) !== 'bluestore' && !(await cephRunning(cephDir))) {
    // The local S3 keeps objects in memory only (Ceph memstore): once it has stopped, the index of
    // an earlier run points at objects that are gone. Start the demo from a clean state instead.
    console.log(
      `the local S3 of ${dir} has stopped since the last run and lost its objects: starting from a clean state`,
    );
    const recorded = readInfrastructure(dir);
    if (recorded) await (await startInfrastructure(recordedSettings(recorded))).stop();
    rmSync(dir, { recursive: true, force: true });
  }
  // From here on Ctrl-C (or SIGTERM) stops what has been started instead of orphaning it: a signal
  // during start-up ends it after the current step.
  const stop = new StopSignal();
  const stopping = stop.wait();
  void stopping.then((signal) => console.log(`\n${signal} received: stopping ...`));
  console.log(`starting PostgreSQL, NATS, Ceph S3 and Dovecot (state in ${dir}) ...`);
  const { infra, stop: stopInfra } = await startInfrastructure({ dir });
  if (infra.postgres) migrate(infra.postgres);
  const platform = new PlatformRunner(infra, join(dir, 'logs'));
  const shutdown = async () => {
    console.log('stopping services ...');
    await platform.stop();
    if (!values['keep-infra']) {
      console.log('stopping infrastructure ...');
      await stopInfra();
    }
  };

  try {
    stop.throwIfReceived();
    // Backend services first: the gateway is healthy only when they answer.
    await platform.startPlatform();
    stop.throwIfReceived();
    for (const service of PLATFORM_SERVICES) {
      console.log(`  ${service.padEnd(10)} healthy   http://127.0.0.1:${platform.app(service).port}/health`);
    }

    const imap = required(infra, 'imap');
    if ((await fetchFolder(imap, 'alice', DEMO_FOLDER).catch(() => new Map())).size === 0) {
      const corpus = corpusMessages().slice(0, 60);
      await seedFolder(
        imap,
        'alice',
        DEMO_FOLDER,
        corpus.map((m, i) => ({ bytes: m.bytes, flags: i % 4 === 0 ? ['\\Seen'] : [] })),
      );
      console.log(`seeded ${corpus.length} messages from the shared corpus into alice/${DEMO_FOLDER}`);
    }
    const healthPort = await freePort();
    const connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir: join(dir, 'demo-connector'),
      mailboxes: ['alice'],
      healthPort,
    });
    await platform.startConnector(connector.configFile, healthPort);
    stop.throwIfReceived();
    console.log(`  connector  healthy   http://127.0.0.1:${healthPort}/health  (tenant ${TENANT}, mailbox alice)`);

    const plans = await platform.http<
      Array<{ id: string; name: string }> | { plans: Array<{ id: string; name: string }> }
    >('GET', `/v1/tenants/${TENANT}/plans`);
    const existing = (Array.isArray(plans.body) ? plans.body : plans.body.plans).find((p) => p.name === 'demo: alice');
    const planId =
      existing?.id ??
      (await platform.createPlan(TENANT, {
        name: 'demo: alice',
        connectorId: CONNECTOR,
        mailboxes: { kind: 'list', mailboxes: ['alice'] },
      }));
    console.log(`\nrunning backup plan ${planId} ...`);
    const started = Date.now();
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `job ${job.id}: ${job.state} in ${seconds.toFixed(1)} s — ${job.counters.seen} messages looked at, ` +
        `${job.counters.new} new objects, ${job.counters.deduplicated} already stored, ` +
        `${(job.counters.bytes / 1e6).toFixed(1)} MB, ${job.counters.failed} failed`,
    );
    for (const error of job.errors ?? []) console.log(`  ${error.scope} ${error.target}: ${error.message}`);
    await printStored(required(infra, 'postgres').databaseUrl);
    await demoSearchAndRestore(platform, imap, {
      tenantId: TENANT,
      mailbox: 'alice',
      folder: DEMO_FOLDER,
      exportDir: join(connector.stateDir, 'exports'),
    });
    stop.throwIfReceived();
  } catch (error) {
    await shutdown();
    if (error instanceof StopRequested) return;
    throw error;
  }

  console.log('\nMLR is running:');
  console.log(`  gateway      http://127.0.0.1:${platform.app('gateway').port}/v1/tenants/${TENANT}/plans`);
  console.log(`  PostgreSQL   ${infra.postgres?.databaseUrl}`);
  console.log(`  NATS         ${infra.nats?.url} (monitoring http://127.0.0.1:${infra.nats?.monitorPort})`);
  console.log(`  S3 (Ceph)    ${infra.s3?.endpoint} bucket ${infra.s3?.bucket}`);
  console.log(
    `  IMAP         ${infra.imap?.host}:${infra.imap?.port} users ${infra.imap?.users.map((u) => u.name).join(', ')}`,
  );
  console.log(`  logs         ${join(dir, 'logs')}`);
  // Tokens of the local development issuer (the gateway trusts its public key), valid for a day.
  const tokenFor = (claims: Parameters<PlatformRunner['token']>[0]) =>
    mintAccessToken(infra.tokens, claims, { ttlSeconds: 86_400 });
  const gatewayUrl = `http://127.0.0.1:${platform.app('gateway').port}`;
  console.log('\naccess tokens for the API (24 h; `npm run token` makes more):');
  console.log(`  operator      ${await tokenFor({ sub: 'operator@demo', role: 'operator' })}`);
  console.log(`  tenant admin  ${await tokenFor({ sub: 'admin@demo', role: 'tenant_admin', tenant: TENANT })}`);
  console.log(
    `  user alice    ${await tokenFor({ sub: 'alice', role: 'user', tenant: TENANT, mailboxes: ['alice'] })}`,
  );
  console.log(`  e.g. curl -H "Authorization: Bearer <tenant admin token>" ${gatewayUrl}/v1/tenants/${TENANT}/plans`);
  if (!values.once) {
    console.log('\nPress Ctrl-C to stop.');
    await stopping;
  }
  await shutdown();
  stop.dispose();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
