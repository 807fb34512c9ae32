import {
  isFinishedJobState,
  type FolderCheckpoint,
  type SourceCursor,
  type JobCounters,
  type JobEvent,
  type JobState,
} from '@mlr/contracts';

function rank(state: JobState): number {
  if (state === 'queued') return 0;
  if (state === 'running' || state === 'stalled') return 1;
  return 2;
}

const sameCounters = (a: JobCounters, b: JobCounters) =>
  (Object.keys(a) as Array<keyof JobCounters>).every((key) => a[key] === b[key]);

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
  /** Whether `counters` moved (or the job started or finished) with the event applied last. */
  progressed?: boolean;
}

/**
 * The job's progress after `event`, or null when the event is not newer than the last one applied
 * (a redelivery or a straggler): events carry totals, so the newest one alone tells the truth.
 * A job never moves back (running → queued, finished → running), whatever the connector says; a
 * stalled one is running again once its counters move.
 */
export function progressAfter(job: JobProgress, event: JobEvent): JobProgress | null {
  if (job.lastEventSequence !== null && event.sequence <= job.lastEventSequence) return null;
  const at = new Date(event.at);
  const moved = !sameCounters(job.counters, event.counters);
  let state: JobState = rank(event.state) >= rank(job.state) ? event.state : job.state;
  // A stalled job is running again only once it makes progress: a heartbeat without it leaves it
  // stalled (else the stall watch and the heartbeats would flip it back and forth).
  if (job.state === 'stalled' && state === 'running' && !moved) state = 'stalled';
  return {
    state,
    counters: event.counters,
    lastEventSequence: event.sequence,
    startedAt: job.startedAt ?? (rank(state) >= 1 ? at : null),
    finishedAt: isTerminal(state) ? (job.finishedAt ?? at) : null,
    progressed: moved || state !== job.state,
  };
}

/**
 * When the job started, as far as `event` tells — also a straggler's, which `progressAfter` ignores:
 * an older event of a running job that arrives after a newer one (JetStream does not keep the order
 * across the consumer's concurrent deliveries) still says the job was running at its time. The
 * earliest such time wins, so the recorded start does not depend on the order events arrive in.
 * Null when the event changes nothing.
 */
export function earlierStart(job: Pick<JobProgress, 'startedAt'>, event: JobEvent): Date | null {
  if (rank(event.state) < 1) return null;
  const at = new Date(event.at);
  return job.startedAt !== null && at < job.startedAt ? at : null;
}

/** A stored cursor: `position` and `changes` as exact integers (bigint columns). */
export interface StoredCursor {
  source: string;
  version: number;
  epoch: string;
  position: bigint;
  changes: bigint | null;
  state: string | null;
}

export type CheckpointDecision =
  { action: 'keep' } | { action: 'write'; value: StoredCursor; reason: 'new' | 'advanced' | 'epoch-changed' };

function maxOrNull(a: bigint | null, b: bigint | null): bigint | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

/** The cursor columns of a `folder_checkpoints` row, as raw queries return them. */
export interface CursorRow {
  source: string;
  cursor_version: number;
  epoch: string;
  position: bigint;
  changes: bigint | null;
  state: string | null;
}

/** The stored cursor of a `folder_checkpoints` row. */
export function cursorOfRow(row: CursorRow): StoredCursor {
  return {
    source: row.source,
    version: row.cursor_version,
    epoch: row.epoch,
    position: row.position,
    changes: row.changes,
    state: row.state,
  };
}

/** The stored form of a reported cursor. */
export function storedCursor(cursor: SourceCursor): StoredCursor {
  return {
    source: cursor.source,
    version: cursor.version,
    epoch: cursor.epoch,
    position: BigInt(cursor.position),
    changes: cursor.changes === null ? null : BigInt(cursor.changes),
    state: cursor.state,
  };
}

/** The reported form of a stored cursor (what the next job command carries). */
export function reportedCursor(stored: StoredCursor): SourceCursor {
  return {
    source: stored.source,
    version: stored.version,
    epoch: stored.epoch,
    position: stored.position.toString(),
    changes: stored.changes === null ? null : stored.changes.toString(),
    state: stored.state,
  };
}

/**
 * Cursors only move forward, whatever their source (scheduling never reads what they mean): within
 * one epoch of one source and cursor version, the highest position and the highest change counter
 * win, and the source's opaque state goes with the reading that moved the cursor. Another epoch (a
 * new UIDVALIDITY), source or version voids the old positions and replaces the cursor, but only when
 * it comes from the newest event of its job (`fromNewestEvent`): a straggler must not undo a reset.
 */
export function mergeCheckpoint(
  stored: StoredCursor | null,
  incoming: FolderCheckpoint,
  fromNewestEvent: boolean,
): CheckpointDecision {
  const value = storedCursor(incoming.cursor);
  if (!stored) return { action: 'write', value, reason: 'new' };
  if (stored.source !== value.source || stored.version !== value.version || stored.epoch !== value.epoch) {
    return fromNewestEvent ? { action: 'write', value, reason: 'epoch-changed' } : { action: 'keep' };
  }
  const position = value.position > stored.position ? value.position : stored.position;
  const changes = maxOrNull(stored.changes, value.changes);
  if (position === stored.position && changes === stored.changes) return { action: 'keep' };
  const moved = value.position > stored.position || (value.changes ?? -1n) > (stored.changes ?? -1n);
  const merged: StoredCursor = { ...stored, position, changes, state: moved ? value.state : stored.state };
  return { action: 'write', value: merged, reason: 'advanced' };
}

const minutesSince = (then: Date, now: Date) => Math.max(1, Math.round((now.getTime() - then.getTime()) / 60_000));

/**
 * Why a running job is stalled: its connector has not been heard of about it for `stallAfterMs`
 * (stopped, or cut off from the platform), or it has but its counters have not moved (waiting for
 * the platform or the mail server).
 */
export function stallReason(
  job: { connectorId: string; progressAt: Date | null; startedAt: Date | null; lastEventAt: Date | null },
  now: Date,
  stallAfterMs: number,
): string {
  const heard = job.lastEventAt ?? job.startedAt;
  const progress = job.progressAt ?? job.startedAt ?? now;
  if (heard === null || now.getTime() - heard.getTime() >= stallAfterMs) {
    const since = heard ?? progress;
    return (
      `no word from connector ${job.connectorId} since ${since.toISOString()} (${minutesSince(since, now)} min): ` +
      'it may be stopped, or cut off from the platform'
    );
  }
  return (
    `connector ${job.connectorId} is at it but has made no progress since ${progress.toISOString()} ` +
    `(${minutesSince(progress, now)} min): it may be waiting for the platform (storage, indexing) or for the mail server`
  );
}
