import { setTimeout as sleep } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import {
  parseContract,
  restoreTargetSchema,
  type JobCommand,
  type JobCounters,
  type JobDetail,
  type RestoreTarget,
} from '@mlr/contracts';
import type { GatewayClient } from './gateway-client.js';
import { criteriaFromFlags, type SearchFlags } from './search-command.js';

/**
 * Reads `--target`: `original` (default), `folder:<folder>`, `mailbox:<address>[:<folder>]`,
 * `mbox:<file name>`, `eml-zip:<file name>` or `items-zip:<file name>` (written into the connector's
 * export directory).
 */
export function parseTarget(value: string | undefined): RestoreTarget {
  const text = value ?? 'original';
  const colon = text.indexOf(':');
  const kind = colon === -1 ? text : text.slice(0, colon);
  const rest = colon === -1 ? '' : text.slice(colon + 1);
  let target: unknown;
  switch (kind) {
    case 'original':
      target = { kind: 'original' };
      break;
    case 'folder':
      target = { kind: 'folder', folder: rest };
      break;
    case 'mailbox': {
      const split = rest.indexOf(':');
      target =
        split === -1
          ? { kind: 'mailbox', mailbox: rest }
          : { kind: 'mailbox', mailbox: rest.slice(0, split), folder: rest.slice(split + 1) };
      break;
    }
    case 'mbox':
    case 'eml-zip':
    case 'items-zip':
      target = { kind: 'export', format: kind, fileName: rest };
      break;
    default:
      throw new Error(
        `--target "${text}" is not one of original, folder:<folder>, mailbox:<address>[:<folder>], mbox:<file>, eml-zip:<file>, items-zip:<file>`,
      );
  }
  return parseContract('--target', restoreTargetSchema, target);
}

export interface RestoreCliOptions {
  tenantId: string;
  connectorId: string;
  recordIds: string[];
  flags: SearchFlags;
  target?: string;
  duplicate: boolean;
  json: boolean;
  /** Stop waiting after this long (the job goes on); default 24 h. */
  waitSeconds?: number;
  /**
   * Run the job here instead of on the connector's agent: the fallback when the service account has
   * no "Receive As". The job is created with `runBy: 'caller'` (never queued for the agent) and
   * this function runs it with the mailbox owner's own credentials, which stay on this machine.
   */
  runHere?: (
    command: Extract<JobCommand, { kind: 'restore' }>,
    onProgress: (counters: JobCounters) => void,
  ) => Promise<void>;
}

interface ItemPage {
  items: Array<{
    seq: number;
    recordId: string;
    mailbox: string;
    folder: string;
    subject: string | null;
    itemType: string;
    reason: string | null;
  }>;
  nextAfter: number | null;
}

function describe(item: ItemPage['items'][number]) {
  return {
    seq: item.seq,
    recordId: item.recordId,
    message: `${item.mailbox}/${item.folder}: ${item.subject ?? '(no subject)'}`,
    ...(item.itemType !== 'mail' ? { itemType: item.itemType } : {}),
    reason: item.reason,
  };
}

const FINISHED = new Set(['succeeded', 'partially_failed', 'failed', 'cancelled']);

/**
 * `connector restore`: starts a restore (or export) job of the selected records through the gateway,
 * follows it with a progress bar, and prints a summary with every failed item and its reason.
 */
export async function runRestoreCommand(gateway: GatewayClient, options: RestoreCliOptions): Promise<number> {
  const target = parseTarget(options.target);
  const criteria = criteriaFromFlags(options.flags);
  const hasCriteria = Object.keys(criteria).length > 0;
  if (options.recordIds.length > 0 && hasCriteria) {
    throw new Error('give either --record ids or search options, not both');
  }
  if (options.recordIds.length === 0 && !hasCriteria) {
    throw new Error(
      'say what to restore: --record <id> (repeatable) or search options such as --mailbox and --from-date',
    );
  }
  const started = Date.now();
  const accepted = await gateway.post<{ jobId: string; itemCount: number; kind: string; requestedAt: string }>(
    `/v1/tenants/${options.tenantId}/restores`,
    {
      connectorId: options.connectorId,
      ...(options.recordIds.length > 0 ? { recordIds: options.recordIds } : { query: criteria }),
      target,
      duplicate: options.duplicate,
      runBy: options.runHere ? 'caller' : 'connector',
    },
  );
  const bar =
    process.stderr.isTTY && !options.json
      ? new SingleBar({
          format: ' {bar} {value}/{total} | {restored} restored, {skipped} skipped, {failed} failed',
          barCompleteChar: '#',
          barIncompleteChar: '-',
          stream: process.stderr,
        })
      : undefined;
  bar?.start(accepted.itemCount, 0, { restored: 0, skipped: 0, failed: 0 });
  if (!bar && !options.json)
    process.stderr.write(`${accepted.kind} job ${accepted.jobId}: ${accepted.itemCount} messages\n`);
  if (options.runHere) {
    await options.runHere(
      {
        kind: 'restore',
        jobId: accepted.jobId,
        tenantId: options.tenantId,
        connectorId: options.connectorId,
        requestedAt: accepted.requestedAt,
        requestedBy: 'connector-cli',
        itemCount: accepted.itemCount,
        target,
        duplicate: options.duplicate,
      },
      ({ restored, skipped, failed }) => bar?.update(restored + skipped + failed, { restored, skipped, failed }),
    );
  }
  const deadline = started + (options.waitSeconds ?? 86_400) * 1000;
  let job: JobDetail;
  let lastLine = 0;
  for (;;) {
    job = await gateway.get<JobDetail>(`/v1/tenants/${options.tenantId}/jobs/${accepted.jobId}?errorLimit=20`);
    const { restored, skipped, failed } = job.counters;
    bar?.update(restored + skipped + failed, { restored, skipped, failed });
    if (!bar && !options.json && Date.now() - lastLine > 5_000) {
      lastLine = Date.now();
      process.stderr.write(`${job.state}: ${restored} restored, ${skipped} skipped, ${failed} failed\n`);
    }
    if (FINISHED.has(job.state) || Date.now() > deadline) break;
    await sleep(500);
  }
  bar?.stop();
  // Items that failed, and items the target refused (counted as failed: a contact for an IMAP folder).
  const failedItems: ItemPage['items'] = [];
  const refusedItems: ItemPage['items'] = [];
  for (const [outcome, list] of [
    ['failed', failedItems],
    ['refused', refusedItems],
  ] as const) {
    let after = -1;
    for (;;) {
      const page = await gateway.get<ItemPage>(
        `/v1/tenants/${options.tenantId}/jobs/${accepted.jobId}/items?outcome=${outcome}&after=${after}&limit=1000`,
      );
      list.push(...page.items);
      if (page.nextAfter === null) break;
      after = page.nextAfter;
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const summary = {
    jobId: accepted.jobId,
    kind: accepted.kind,
    state: job.state,
    items: accepted.itemCount,
    counters: job.counters,
    error: job.error,
    failed: failedItems.map(describe),
    refused: refusedItems.map(describe),
    seconds,
    finished: FINISHED.has(job.state),
  };
  process.stdout.write(`${JSON.stringify(summary, null, options.json ? 0 : 2)}\n`);
  if (!FINISHED.has(job.state)) return 4;
  return job.state === 'succeeded' ? 0 : job.state === 'partially_failed' ? 3 : 1;
}
