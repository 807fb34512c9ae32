// `npm run bench:backup`: backs up 2,000 messages of ~50 KiB end to end on this machine (Dovecot →
// connector → NATS → storage → Ceph S3 / PostgreSQL → indexing) with its own infrastructure, and
// prints messages/s, MB/s, and CPU time and peak RSS per process. No pass/fail: figures only.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  PlatformRunner,
  REPO_ROOT,
  addDovecotUser,
  freePort,
  provisionConnector,
  required,
  seedFolder,
  startInfrastructure,
} from '@mlr/testing';
import { migrate } from '../../deploy/local/infra.js';
import { benchMessage } from './bench-mail.js';
import { printProcessReport, processStats, processesMentioning, type ProcessStats } from './process-stats.js';

const TENANT = 'bench';
const CONNECTOR = 'bench-imap';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '2000' },
      size: { type: 'string', default: '51200' },
      keep: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.messages);
  const size = Number(values.size);
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'bench-backup-'));
  console.log(`bench:backup — ${count} messages of ~${Math.round(size / 1024)} KiB, state in ${dir}`);
  const { infra, stop: stopInfra } = await startInfrastructure({ dir: join(dir, 'infra') });
  migrate(required(infra, 'postgres').databaseUrl);
  const platform = new PlatformRunner(infra, join(dir, 'logs'));
  try {
    await addDovecotUser(join(infra.dir, 'dovecot'), { name: 'bench', password: 'bench-password' });
    const messages = Array.from({ length: count }, (_, i) => ({ bytes: benchMessage(i, size) }));
    const totalBytes = messages.reduce((n, m) => n + m.bytes.length, 0);
    let seeded = Date.now();
    await seedFolder(required(infra, 'imap'), 'bench', 'INBOX', messages);
    seeded = Date.now() - seeded;
    console.log(
      `seeded ${count} messages (${(totalBytes / 1e6).toFixed(1)} MB) by IMAP APPEND in ${(seeded / 1000).toFixed(1)} s`,
    );

    await platform.startPlatform();
    const healthPort = await freePort();
    const connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir: join(dir, 'connector'),
      mailboxes: ['bench'],
      healthPort,
      backup: { publicFolders: false, concurrency: 64 },
    });
    await platform.startConnector(connector.configFile, healthPort);
    const planId = await platform.createPlan(TENANT, {
      name: 'bench',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: ['bench'] },
    });

    const tracked = [
      ...[...platform.apps.values()].map((app) => ({ pid: app.pid, name: app.name })),
      ...processesMentioning(infra.dir).map((p) => ({ pid: p.pid, name: p.name })),
    ];
    const before = new Map(tracked.map((p) => [p.pid, processStats(p.pid, p.name)]));
    const started = process.hrtime.bigint();
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId), { timeoutMs: 1_800_000 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const after = tracked.map((p) => processStats(p.pid, p.name)).filter((s): s is ProcessStats => s !== undefined);

    console.log(
      `\njob ${job.state}: ${job.counters.seen} messages, ${job.counters.new} new objects, ${job.counters.failed} failed`,
    );
    console.log(
      `end to end: ${seconds.toFixed(1)} s = ${(count / seconds).toFixed(0)} messages/s, ${(totalBytes / 1e6 / seconds).toFixed(1)} MB/s`,
    );
    printProcessReport(before, after, seconds);
  } finally {
    await platform.stop();
    await stopInfra();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
