import type { Prisma } from '@mlr/db';
import type { RestoreItemResult } from '@mlr/contracts';

/**
 * The results of an event, one per item: when an event names an item twice, the later result is the
 * connector's last word on it.
 */
export function lastResultPerItem(results: readonly RestoreItemResult[]): RestoreItemResult[] {
  const bySeq = new Map<number, RestoreItemResult>();
  for (const result of results) bySeq.set(result.seq, result);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * Records the item results of one job event (inside the event's transaction). An item keeps the
 * result of the newest event that reported it: a redelivered event (same sequence) or a straggler
 * (older sequence) changes nothing, so results are applied exactly once whatever the delivery order.
 * Results naming items the job does not have are ignored. Returns how many items changed.
 */
export async function applyRestoreResults(
  tx: Prisma.TransactionClient,
  event: { jobId: string; sequence: number; at: string; items: readonly RestoreItemResult[] },
): Promise<number> {
  const results = lastResultPerItem(event.items);
  if (results.length === 0) return 0;
  const column = <T>(pick: (result: RestoreItemResult) => T) => results.map(pick);
  return tx.$executeRaw`
    UPDATE restore_items AS i
    SET outcome = v.outcome::restore_outcome,
        reason = v.reason,
        target_mailbox = v.target_mailbox,
        target_folder = v.target_folder,
        finished_at = ${new Date(event.at)},
        result_sequence = ${BigInt(event.sequence)}
    FROM unnest(
      ${column((r) => r.seq)}::int[],
      ${column((r) => r.outcome)}::text[],
      ${column((r) => r.reason ?? null)}::text[],
      ${column((r) => r.targetMailbox ?? null)}::text[],
      ${column((r) => r.targetFolder ?? null)}::text[]
    ) AS v(seq, outcome, reason, target_mailbox, target_folder)
    WHERE i.job_id = ${event.jobId}
      AND i.seq = v.seq
      AND (i.result_sequence IS NULL OR i.result_sequence < ${BigInt(event.sequence)})`;
}
