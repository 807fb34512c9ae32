import type { JobEventState, RestoreItem, RestoreItemResult, RestoreTarget } from '@mlr/contracts';

/** Where one item goes: a container of a mailbox, or the job's export file. */
export type Destination = { kind: 'mailbox'; mailbox: string; folder: string } | { kind: 'export'; fileName: string };

/** The destination of `item` under `target` (pure: the job's target decides, the item fills in). */
export function destinationOf(target: RestoreTarget, item: RestoreItem): Destination {
  switch (target.kind) {
    case 'original':
      return { kind: 'mailbox', mailbox: item.mailbox, folder: item.folder };
    case 'folder':
      return { kind: 'mailbox', mailbox: item.mailbox, folder: target.folder };
    case 'mailbox':
      return { kind: 'mailbox', mailbox: target.mailbox, folder: target.folder ?? item.folder };
    case 'export':
      return { kind: 'export', fileName: target.fileName };
    default:
      return assertUnreachable(target);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unknown restore target ${JSON.stringify(value)}`);
}

export interface OutcomeCounts {
  restored: number;
  skipped: number;
  failed: number;
  /** Items the target cannot hold: not restored, so they count against the job like failures. */
  refused: number;
}

/**
 * The final state of a restore job: succeeded when nothing failed or was refused, partially_failed when some items
 * failed or were refused (or a job-level problem left the rest undone), failed when every item failed or the job
 * could not run at all.
 */
export function restoreJobState(counts: OutcomeCounts, options: { jobFailed?: boolean } = {}): JobEventState {
  const done = counts.restored + counts.skipped;
  if (options.jobFailed) return done > 0 ? 'partially_failed' : 'failed';
  if (counts.failed === 0 && counts.refused === 0) return 'succeeded';
  return done === 0 ? 'failed' : 'partially_failed';
}

/** Counts results by outcome. */
export function countOutcomes(results: readonly Pick<RestoreItemResult, 'outcome'>[]): OutcomeCounts {
  const counts: OutcomeCounts = { restored: 0, skipped: 0, failed: 0, refused: 0 };
  for (const result of results) counts[result.outcome]++;
  return counts;
}

/** Reasons are bounded by the contract (2048 characters). */
export function boundedReason(reason: string): string {
  return reason.length <= 2048 ? reason : `${reason.slice(0, 2045)}...`;
}
