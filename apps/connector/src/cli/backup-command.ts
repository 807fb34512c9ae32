import { randomBytes } from 'node:crypto';
import { SingleBar } from 'cli-progress';
import { backupFilterSchema, parseContract, type JobCommand } from '@mlr/contracts';
import type { ConnectorAgent } from '../agent.js';
import type { ConnectorConfig } from '../config/connector-config.js';

export interface BackupCliOptions {
  mailboxes: string[];
  filterJson?: string;
  full: boolean;
  json: boolean;
}

/** A one-off backup from the command line, with a progress bar (stderr) and a summary (stdout). */
export async function runBackupCommand(
  agent: ConnectorAgent,
  config: ConnectorConfig,
  options: BackupCliOptions,
): Promise<number> {
  let filterInput: unknown = {};
  if (options.filterJson) {
    try {
      filterInput = JSON.parse(options.filterJson);
    } catch (error) {
      throw new Error(`--filter is not valid JSON: ${(error as Error).message}`);
    }
  }
  const filter = parseContract('--filter', backupFilterSchema, filterInput);
  const status = await agent.mlrStatus();
  if (!status.allowed || !status.backupAllowed) {
    process.stderr.write(`backup refused before any mail was read: ${status.message}\n`);
    return 1;
  }
  const job: JobCommand = {
    kind: 'backup',
    jobId: `cli-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
    tenantId: config.tenantId,
    connectorId: config.connectorId,
    requestedAt: new Date().toISOString(),
    requestedBy: 'connector-cli',
    mailboxes: options.mailboxes.length > 0 ? { kind: 'list', mailboxes: options.mailboxes } : { kind: 'all' },
    filter,
    full: true,
    checkpoints: [],
  };
  const bar =
    process.stderr.isTTY && !options.json
      ? new SingleBar({
          format:
            ' {bar} {seen} messages | {stored} stored ({fresh} new, {dedup} deduplicated) | {mb} MB | {failed} failed',
          barCompleteChar: '#',
          barIncompleteChar: '-',
          stream: process.stderr,
        })
      : undefined;
  bar?.start(1, 0, { seen: 0, stored: 0, fresh: 0, dedup: 0, mb: '0.0', failed: 0 });
  let lastLine = 0;
  const started = Date.now();
  const result = await agent.jobs.execute(job, (current, counters) => {
    const values = {
      seen: counters.seen,
      stored: counters.new + counters.deduplicated,
      fresh: counters.new,
      dedup: counters.deduplicated,
      mb: (counters.bytes / 1e6).toFixed(1),
      failed: counters.failed,
    };
    if (bar) {
      bar.setTotal(Math.max(1, counters.seen));
      bar.update(counters.new + counters.deduplicated + counters.failed + counters.skipped, values);
    } else if (!options.json && Date.now() - lastLine > 2_000) {
      lastLine = Date.now();
      process.stderr.write(
        `${current}: ${values.seen} seen, ${values.stored} stored, ${values.mb} MB, ${values.failed} failed\n`,
      );
    }
  });
  bar?.stop();
  const seconds = (Date.now() - started) / 1000;
  const summary = {
    jobId: job.jobId,
    ...result,
    seconds,
    messagesPerSecond: Math.round(result.counters.seen / Math.max(seconds, 0.001)),
  };
  process.stdout.write(`${JSON.stringify(summary, null, options.json ? 0 : 2)}\n`);
  return result.state === 'succeeded' ? 0 : result.state === 'partially_failed' ? 3 : 1;
}
