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
  type LocalInfrastructure,
  type SeedMessage,
} from '@mlr/testing';
import { migrate } from '../../deploy/local/infra.js';
import { benchMessage } from './bench-mail.js';
import { printProcessReport, processStats, processesMentioning, type ProcessStats } from './process-stats.js';

/** The mailbox every end-to-end benchmark fills and backs up. */
export const BENCH_MAILBOX = 'bench';

export interface BenchPlatform {
  infra: LocalInfrastructure;
  platform: PlatformRunner;
  tenantId: string;
  /** The backup plan of the bench mailbox. */
  planId: string;
  count: number;
  /** Bytes of all seeded messages. */
  totalBytes: number;
  /** Stops the platform and the infrastructure; removes the state unless --keep. */
  stop(): Promise<void>;
}

/**
 * The common part of the end-to-end benchmarks: reads `--messages`, `--size`, `--keep`, starts
 * its own infrastructure and every service, seeds `count` ~`size`-byte messages into the bench
 * mailbox (with `seed` flags and dates), and provisions a connector with a plan for that mailbox.
 */
export async function startBenchPlatform(options: {
  name: string;
  tenantId: string;
  seed?: (index: number) => Omit<SeedMessage, 'bytes'>;
}): Promise<BenchPlatform> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '2000' },
      size: { type: 'string', default: '51200' },
      keep: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.messages);
  const size = Number(values.size);
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', `${options.name}-`));
  console.log(`${options.name} — ${count} messages of ~${Math.round(size / 1024)} KiB, state in ${dir}`);
  const { infra, stop: stopInfra } = await startInfrastructure({ dir: join(dir, 'infra') });
  const platform = new PlatformRunner(infra, join(dir, 'logs'));
  const stop = async () => {
    await platform.stop();
    await stopInfra();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    migrate(required(infra, 'postgres').databaseUrl);
    await addDovecotUser(join(infra.dir, 'dovecot'), { name: BENCH_MAILBOX, password: 'bench-password' });
    const messages = Array.from({ length: count }, (_, i) => ({ bytes: benchMessage(i, size), ...options.seed?.(i) }));
    const totalBytes = messages.reduce((n, m) => n + m.bytes.length, 0);
    const seeding = Date.now();
    await seedFolder(required(infra, 'imap'), BENCH_MAILBOX, 'INBOX', messages);
    console.log(
      `seeded ${count} messages (${(totalBytes / 1e6).toFixed(1)} MB) by IMAP APPEND in ${((Date.now() - seeding) / 1000).toFixed(1)} s`,
    );

    await platform.startPlatform();
    const healthPort = await freePort();
    const connectorId = 'bench-imap';
    const connector = await provisionConnector(infra, {
      tenantId: options.tenantId,
      connectorId,
      dir: join(dir, 'connector'),
      mailboxes: [BENCH_MAILBOX],
      healthPort,
      backup: { publicFolders: false },
    });
    await platform.startConnector(connector.configFile, healthPort);
    const planId = await platform.createPlan(options.tenantId, {
      name: 'bench',
      connectorId,
      mailboxes: { kind: 'list', mailboxes: [BENCH_MAILBOX] },
    });
    return { infra, platform, tenantId: options.tenantId, planId, count, totalBytes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Measures what happens between now and `finish`: wall time, and CPU and peak RSS of the platform's
 * processes and of the infrastructure's daemons; `report` prints the per-process table.
 */
export function measure(bench: BenchPlatform): { finish(): { seconds: number; report(): void } } {
  const tracked = [
    ...[...bench.platform.apps.values()].map((app) => ({ pid: app.pid, name: app.name })),
    ...processesMentioning(bench.infra.dir).map((p) => ({ pid: p.pid, name: p.name })),
  ];
  const before = new Map(tracked.map((p) => [p.pid, processStats(p.pid, p.name)]));
  const started = process.hrtime.bigint();
  return {
    finish() {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const after = tracked.map((p) => processStats(p.pid, p.name)).filter((s): s is ProcessStats => s !== undefined);
      return { seconds, report: () => printProcessReport(before, after, seconds) };
    },
  };
}

/** Runs a benchmark's main, printing a failure plainly. */
export function runBench(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
