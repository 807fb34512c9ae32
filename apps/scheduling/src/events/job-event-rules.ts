import {
  isFinishedJobState,
  type FolderCheckpoint,
  type JobCounters,
  type JobEvent,
  type JobState,
} from '@mlr/contracts';

function rank(state: JobState): number {
  if (state === 'queued') return 0;
  if (state === 'running') return 1;
  return 2;
}

export function isTerminal(state: JobState): boolean {
  return isFinishedJobState(state);
}

/** What the scheduler knows about a job's progress. */
export interface JobProgress {
  state: JobState;
  counters: JobCounters;
  lastEventSequence: number | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/**
 * The job's progress after `event`, or null when the event is not newer than the last one applied
 * (a redelivery or a straggler): events carry totals, so the newest one alone tells the truth.
 * A job never moves back (running → queued, finished → running), whatever the connector says.
 */
export function progressAfter(job: JobProgress, event: JobEvent): JobProgress | null {
  if (job.lastEventSequence !== null && event.sequence <= job.lastEventSequence) return null;
  const at = new Date(event.at);
  const state = rank(event.state) >= rank(job.state) ? event.state : job.state;
  return {
    state,
    counters: event.counters,
    lastEventSequence: event.sequence,
    startedAt: job.startedAt ?? (rank(state) >= 1 ? at : null),
    finishedAt: isTerminal(state) ? (job.finishedAt ?? at) : null,
  };
}

/** A stored checkpoint (uidValidity, lastUid and highestModSeq as exact integers). */
export interface StoredCheckpoint {
  uidValidity: bigint;
  lastUid: bigint;
  highestModSeq: bigint | null;
}

export type CheckpointDecision =
  | { action: 'keep' }
  | { action: 'write'; value: StoredCheckpoint; reason: 'new' | 'advanced' | 'uid-validity-changed' };

function maxOrNull(a: bigint | null, b: bigint | null): bigint | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

/**
 * Checkpoints only move forward: within one UIDVALIDITY the highest lastUid and highestModSeq win.
 * A different UIDVALIDITY voids the old UIDs and replaces the checkpoint, but only when it comes from
 * the newest event of its job (`fromNewestEvent`): a straggler must not undo a reset.
 */
export function mergeCheckpoint(
  stored: StoredCheckpoint | null,
  incoming: FolderCheckpoint,
  fromNewestEvent: boolean,
): CheckpointDecision {
  const value: StoredCheckpoint = {
    uidValidity: BigInt(incoming.uidValidity),
    lastUid: BigInt(incoming.lastUid),
    highestModSeq: incoming.highestModSeq === null ? null : BigInt(incoming.highestModSeq),
  };
  if (!stored) return { action: 'write', value, reason: 'new' };
  if (stored.uidValidity !== value.uidValidity) {
    return fromNewestEvent ? { action: 'write', value, reason: 'uid-validity-changed' } : { action: 'keep' };
  }
  const merged: StoredCheckpoint = {
    uidValidity: stored.uidValidity,
    lastUid: value.lastUid > stored.lastUid ? value.lastUid : stored.lastUid,
    highestModSeq: maxOrNull(stored.highestModSeq, value.highestModSeq),
  };
  if (merged.lastUid === stored.lastUid && merged.highestModSeq === stored.highestModSeq) return { action: 'keep' };
  return { action: 'write', value: merged, reason: 'advanced' };
}
