import type { JobView } from '@mlr/testing';
import type { BenchResult } from './bench-result.js';

/** What one tenant's backup job says, and what the database holds for it afterwards. */
export interface BackupOutcome {
  tenantId: string;
  mailbox: string;
  /** Messages seeded into the mailbox. */
  expected: number;
  job: JobView;
  /** Counted in PostgreSQL after the job, independently of its counters. */
  indexRecords: number;
  storedObjects: number;
  /** Pack members no stored object points at (garbage for the collector). */
  unreferencedMembers: number;
}

/**
 * Whether the backups achieved what was asked: every job `succeeded` with nothing failed and every
 * seeded message seen and stored, and the index and storage holding exactly that many. `achieved`
 * counts the messages the index holds (at most the seeded ones): what the rate may count.
 */
export function checkBackups(outcomes: readonly BackupOutcome[]): {
  failures: string[];
  verification: BenchResult['verification'];
  achieved: number;
} {
  const failures: string[] = [];
  const verification: BenchResult['verification'] = [];
  let achieved = 0;
  for (const { tenantId, mailbox, expected, job, indexRecords, storedObjects, unreferencedMembers } of outcomes) {
    const where = `tenant ${tenantId}, job ${job.id}`;
    if (job.state !== 'succeeded') failures.push(`${where} ended ${job.state}, not succeeded`);
    if (job.counters.failed !== 0) failures.push(`${where} failed ${job.counters.failed} messages`);
    if (job.counters.seen !== expected) failures.push(`${where} saw ${job.counters.seen} messages, not ${expected}`);
    if (job.counters.new !== expected)
      failures.push(`${where} stored ${job.counters.new} new objects, not ${expected}`);
    if (job.errorCount > 0) {
      failures.push(`${where} recorded ${job.errorCount} errors, first: ${JSON.stringify(job.errors?.[0] ?? null)}`);
    }
    verification.push(
      {
        check: `index records in PostgreSQL for ${tenantId}/${mailbox}`,
        expected,
        actual: indexRecords,
        ok: indexRecords === expected,
      },
      {
        check: `stored objects in PostgreSQL for ${tenantId}`,
        expected,
        actual: storedObjects,
        ok: storedObjects === expected,
      },
      // One storage process and no crash: nothing may be packed twice or left unrecorded.
      {
        check: `unreferenced pack members of ${tenantId}`,
        expected: 0,
        actual: unreferencedMembers,
        ok: unreferencedMembers === 0,
      },
    );
    if (unreferencedMembers !== 0)
      failures.push(`${unreferencedMembers} pack members of ${where} are referenced by no stored object`);
    if (indexRecords !== expected)
      failures.push(`the index holds ${indexRecords} records of ${where}, not ${expected}`);
    if (storedObjects !== expected)
      failures.push(`storage recorded ${storedObjects} objects of ${where}, not ${expected}`);
    achieved += Math.min(indexRecords, expected);
  }
  return { failures, verification, achieved };
}
