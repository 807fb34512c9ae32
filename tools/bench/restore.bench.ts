// `npm run bench:restore`: backs up 2,000 messages of ~50 KiB (not timed), deletes them from the
// mailbox, then restores all of them through the platform (gateway → scheduling → connector, which
// pages the items, fetches every sealed object from storage/Ceph, opens and verifies it, checks the
// target folder for duplicates and APPENDs it to Dovecot with its flags and INTERNALDATE), and prints
// restored messages/s, MB/s, and CPU time and peak RSS per process. No pass/fail: figures only.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  PlatformRunner,
  REPO_ROOT,
  addDovecotUser,
  fetchFolder,
  freePort,
  imapSessionAs,
  provisionConnector,
  required,
  seedFolder,
  startInfrastructure,
} from '@mlr/testing';
import { migrate } from '../../deploy/local/infra.js';
import { benchMessage } from './bench-mail.js';
import { printProcessReport, processStats, processesMentioning, type ProcessStats } from './process-stats.js';

const TENANT = 'bench-restore';
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
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'bench-restore-'));
  console.log(`bench:restore — ${count} messages of ~${Math.round(size / 1024)} KiB, state in ${dir}`);
  const { infra, stop: stopInfra } = await startInfrastructure({ dir: join(dir, 'infra') });
  migrate(required(infra, 'postgres').databaseUrl);
  const imap = required(infra, 'imap');
  const platform = new PlatformRunner(infra, join(dir, 'logs'));
  try {
    await addDovecotUser(join(infra.dir, 'dovecot'), { name: 'bench', password: 'bench-password' });
    const messages = Array.from({ length: count }, (_, i) => ({
      bytes: benchMessage(i, size),
      flags: i % 2 === 0 ? ['\\Seen'] : ['$Label1'],
      internalDate: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
    }));
    const totalBytes = messages.reduce((n, m) => n + m.bytes.length, 0);
    await seedFolder(imap, 'bench', 'INBOX', messages);

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
    const backup = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId), { timeoutMs: 1_800_000 });
    console.log(`backed up ${backup.counters.seen} messages (${backup.state}); deleting them from the mailbox`);
    const session = await imapSessionAs(imap, 'bench');
    await session.mailboxOpen('INBOX');
    await session.messageDelete('1:*');
    await session.logout();

    const tracked = [
      ...[...platform.apps.values()].map((app) => ({ pid: app.pid, name: app.name })),
      ...processesMentioning(infra.dir).map((p) => ({ pid: p.pid, name: p.name })),
    ];
    const before = new Map(tracked.map((p) => [p.pid, processStats(p.pid, p.name)]));
    const started = process.hrtime.bigint();
    const accepted = await platform.http<{ jobId: string; itemCount: number }>(
      'POST',
      `/v1/tenants/${TENANT}/restores`,
      { query: { mailboxes: ['bench'], folder: 'INBOX' }, target: { kind: 'original' } },
    );
    if (accepted.status !== 202)
      throw new Error(`restore refused: HTTP ${accepted.status} ${JSON.stringify(accepted.body)}`);
    const job = await platform.waitForJob(TENANT, accepted.body.jobId, { timeoutMs: 1_800_000 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const after = tracked.map((p) => processStats(p.pid, p.name)).filter((s): s is ProcessStats => s !== undefined);
    const inMailbox = (await fetchFolder(imap, 'bench', 'INBOX')).size;

    console.log(
      `\nrestore job ${job.state}: ${accepted.body.itemCount} items, ${job.counters.restored} restored, ` +
        `${job.counters.skipped} skipped, ${job.counters.failed} failed; ${inMailbox} messages in the mailbox now`,
    );
    console.log(
      `end to end: ${seconds.toFixed(1)} s = ${(job.counters.restored / seconds).toFixed(0)} messages/s, ` +
        `${(totalBytes / 1e6 / seconds).toFixed(1)} MB/s`,
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
