import type { JobEventState, RestoreItem, RestoreItemResult, RestoreTarget } from '@mlr/contracts';

/** Where one item goes: a folder of a mailbox, or the job's export file. */
export type Destination = { kind: 'imap'; mailbox: string; folder: string } | { kind: 'export'; fileName: string };

/** The destination of `item` under `target` (pure: the job's target decides, the item fills in). */
export function destinationOf(target: RestoreTarget, item: RestoreItem): Destination {
  switch (target.kind) {
    case 'original':
      return { kind: 'imap', mailbox: item.mailbox, folder: item.folder };
    case 'folder':
      return { kind: 'imap', mailbox: item.mailbox, folder: target.folder };
    case 'mailbox':
      return { kind: 'imap', mailbox: target.mailbox, folder: target.folder ?? item.folder };
    case 'export':
      return { kind: 'export', fileName: target.fileName };
    default:
      return assertUnreachable(target);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unknown restore target ${JSON.stringify(value)}`);
}

/**
 * A keyword IMAP can carry: an atom without the characters RFC 9051 reserves (`(){ %*"\]`, controls)
 * and not starting with a backslash (those are system flags). Outlook categories may hold spaces;
 * such a keyword cannot be set over IMAP.
 */
export function isImapKeyword(keyword: string): boolean {
  // eslint-disable-next-line no-control-regex
  return keyword.length > 0 && !keyword.startsWith('\\') && !/[\u0000-\u0020(){%*"\\\]\u007f-\uffff]/.test(keyword);
}

/**
 * The flags an APPEND sets for `item`: the system flags it had, and its keywords.
 *
 * \Deleted is never set, even when the message had it: a restore brings a message back, and a
 * message appended with \Deleted disappears at the next EXPUNGE (any client's, or the server's own
 * on CLOSE), so it would be "restored" only to vanish again. Keywords IMAP cannot carry are listed
 * in `dropped`, so the result can say so.
 */
export function appendFlags(item: Pick<RestoreItem, 'flags' | 'keywords'>): { flags: string[]; dropped: string[] } {
  const flags: string[] = [];
  if (item.flags.seen) flags.push('\\Seen');
  if (item.flags.answered) flags.push('\\Answered');
  if (item.flags.flagged) flags.push('\\Flagged');
  if (item.flags.draft) flags.push('\\Draft');
  const dropped: string[] = [];
  const seen = new Set<string>();
  for (const keyword of item.keywords) {
    if (!isImapKeyword(keyword)) {
      dropped.push(keyword);
      continue;
    }
    const key = keyword.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    flags.push(keyword);
  }
  return { flags, dropped };
}

export interface OutcomeCounts {
  restored: number;
  skipped: number;
  failed: number;
}

/**
 * The final state of a restore job: succeeded when nothing failed, partially_failed when some items
 * failed (or a job-level problem left the rest undone), failed when every item failed or the job
 * could not run at all.
 */
export function restoreJobState(counts: OutcomeCounts, options: { jobFailed?: boolean } = {}): JobEventState {
  const done = counts.restored + counts.skipped;
  if (options.jobFailed) return done > 0 ? 'partially_failed' : 'failed';
  if (counts.failed === 0) return 'succeeded';
  return done === 0 ? 'failed' : 'partially_failed';
}

/** Counts results by outcome. */
export function countOutcomes(results: readonly Pick<RestoreItemResult, 'outcome'>[]): OutcomeCounts {
  const counts: OutcomeCounts = { restored: 0, skipped: 0, failed: 0 };
  for (const result of results) counts[result.outcome]++;
  return counts;
}

/** Reasons are bounded by the contract (2048 characters). */
export function boundedReason(reason: string): string {
  return reason.length <= 2048 ? reason : `${reason.slice(0, 2045)}...`;
}
