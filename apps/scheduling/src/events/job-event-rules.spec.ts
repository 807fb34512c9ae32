import { describe, expect, it } from 'vitest';
import type { FolderCheckpoint, JobCounters, JobEvent } from '@mlr/contracts';
import { earlierStart, mergeCheckpoint, progressAfter, stallReason, type JobProgress } from './job-event-rules.js';

const zero: JobCounters = { seen: 0, new: 0, deduplicated: 0, bytes: 0, failed: 0, restored: 0, skipped: 0 };
const queued: JobProgress = {
  state: 'queued',
  counters: zero,
  lastEventSequence: null,
  startedAt: null,
  finishedAt: null,
};

function event(
  sequence: number,
  state: JobEvent['state'],
  seen: number,
  at = `2026-01-10T12:00:${String(sequence).padStart(2, '0')}Z`,
): JobEvent {
  return {
    tenantId: 't1',
    jobId: 'j1',
    connectorId: 'c1',
    kind: 'backup',
    sequence,
    at,
    state,
    counters: { ...zero, seen, new: seen },
    checkpoints: [],
    items: [],
    errors: [],
  };
}

/** Applies events in the given order, as the consumer would (a straggler can only move the start back). */
function applyAll(events: JobEvent[]): JobProgress {
  return events.reduce((job, e) => {
    const progress = progressAfter(job, e);
    if (progress) return progress;
    const startedAt = earlierStart(job, e);
    return startedAt ? { ...job, startedAt } : job;
  }, queued);
}

describe('job progress from events', () => {
  it('goes queued → running → succeeded with totals and timestamps', () => {
    const job = applyAll([event(1, 'running', 0), event(2, 'running', 5), event(3, 'succeeded', 9)]);
    expect(job.state).toBe('succeeded');
    expect(job.counters.seen).toBe(9);
    expect(job.startedAt?.toISOString()).toBe('2026-01-10T12:00:01.000Z');
    expect(job.finishedAt?.toISOString()).toBe('2026-01-10T12:00:03.000Z');
    expect(job.lastEventSequence).toBe(3);
  });

  it('ignores a repeated event', () => {
    const once = progressAfter(queued, event(1, 'running', 3))!;
    expect(progressAfter(once, event(1, 'running', 3))).toBeNull();
  });

  it('ends in the same place whatever order the events arrive in', () => {
    const inOrder = applyAll([event(1, 'running', 1), event(2, 'running', 4), event(3, 'partially_failed', 7)]);
    const shuffled = applyAll([event(3, 'partially_failed', 7), event(1, 'running', 1), event(2, 'running', 4)]);
    expect(shuffled.state).toBe('partially_failed');
    expect(shuffled.counters).toEqual(inOrder.counters);
    expect(shuffled.lastEventSequence).toBe(3);
    // The start is the earliest event's, whichever arrived first; the end the finishing event's.
    expect(shuffled.startedAt).toEqual(inOrder.startedAt);
    expect(shuffled.startedAt?.toISOString()).toBe('2026-01-10T12:00:01.000Z');
    expect(shuffled.finishedAt).toEqual(inOrder.finishedAt);
    // A queued straggler says nothing about the start.
    expect(earlierStart(shuffled, event(0, 'queued', 0))).toBeNull();
  });

  it('a finished job that first hears of itself at the end gets both timestamps', () => {
    const job = applyAll([event(7, 'failed', 2)]);
    expect(job.startedAt?.toISOString()).toBe(job.finishedAt?.toISOString());
  });

  it('never moves a job back', () => {
    const finished = applyAll([event(1, 'running', 1), event(2, 'succeeded', 2)]);
    const after = progressAfter(finished, event(3, 'running', 2))!;
    expect(after.state).toBe('succeeded');
    const running = applyAll([event(1, 'running', 1)]);
    expect(progressAfter(running, event(2, 'queued', 1))!.state).toBe('running');
  });

  it('says whether an event made progress: counters moved, or the state changed', () => {
    const running = progressAfter(queued, event(1, 'running', 0))!;
    expect(running.progressed).toBe(true);
    expect(progressAfter(running, event(2, 'running', 0))!.progressed).toBe(false);
    expect(progressAfter(running, event(2, 'running', 3))!.progressed).toBe(true);
    expect(progressAfter(running, event(2, 'succeeded', 0))!.progressed).toBe(true);
  });

  it('keeps a stalled job stalled on word without progress, and running again once it moves', () => {
    const stalled: JobProgress = { ...applyAll([event(1, 'running', 4)]), state: 'stalled' };
    const heartbeat = progressAfter(stalled, event(2, 'running', 4))!;
    expect(heartbeat.state).toBe('stalled');
    expect(heartbeat.progressed).toBe(false);
    const moved = progressAfter(heartbeat, event(3, 'running', 5))!;
    expect(moved.state).toBe('running');
    expect(moved.progressed).toBe(true);
    expect(progressAfter(stalled, event(2, 'partially_failed', 4))!.state).toBe('partially_failed');
  });
});

describe('stall reasons', () => {
  const now = new Date('2026-01-10T12:30:00Z');
  const base = { connectorId: 'c1', startedAt: new Date('2026-01-10T12:00:00Z') };

  it('says the connector has gone silent when it was not heard of for the whole wait', () => {
    const reason = stallReason(
      { ...base, progressAt: new Date('2026-01-10T12:20:00Z'), lastEventAt: new Date('2026-01-10T12:21:00Z') },
      now,
      5 * 60_000,
    );
    expect(reason).toBe(
      'no word from connector c1 since 2026-01-10T12:21:00.000Z (9 min): it may be stopped, or cut off from the platform',
    );
  });

  it('says the connector is at it without progress when it was heard of meanwhile', () => {
    const reason = stallReason(
      { ...base, progressAt: new Date('2026-01-10T12:20:00Z'), lastEventAt: new Date('2026-01-10T12:29:30Z') },
      now,
      5 * 60_000,
    );
    expect(reason).toBe(
      'connector c1 is at it but has made no progress since 2026-01-10T12:20:00.000Z (10 min): it may be waiting ' +
        'for the platform (storage, indexing) or for the mail server',
    );
  });

  it('measures from the start of a job that never reported', () => {
    expect(stallReason({ ...base, progressAt: null, lastEventAt: null }, now, 5 * 60_000)).toContain(
      'no word from connector c1 since 2026-01-10T12:00:00.000Z (30 min)',
    );
  });
});

describe('checkpoint merge', () => {
  const incoming = (
    epoch: string,
    position: number,
    changes: string | null = null,
    more: { source?: string; version?: number; state?: string | null } = {},
  ): FolderCheckpoint => ({
    mailbox: 'alice',
    folder: 'INBOX',
    cursor: {
      source: more.source ?? 'imap',
      version: more.version ?? 1,
      epoch,
      position: String(position),
      changes,
      state: more.state ?? null,
    },
  });
  const cursor = (epoch: string, position: bigint, changes: bigint | null, state: string | null = null) => ({
    source: 'imap',
    version: 1,
    epoch,
    position,
    changes,
    state,
  });
  const stored = cursor('100', 50n, 900n);

  it('stores the first checkpoint of a folder', () => {
    expect(mergeCheckpoint(null, incoming('100', 10), false)).toEqual({
      action: 'write',
      reason: 'new',
      value: cursor('100', 10n, null),
    });
  });

  it('moves forward within one epoch', () => {
    expect(mergeCheckpoint(stored, incoming('100', 60, '950'), true)).toEqual({
      action: 'write',
      reason: 'advanced',
      value: cursor('100', 60n, 950n),
    });
  });

  it('never moves the position or the change counter back', () => {
    expect(mergeCheckpoint(stored, incoming('100', 40, '800'), true)).toEqual({ action: 'keep' });
    expect(mergeCheckpoint(stored, incoming('100', 40, '1000'), true)).toEqual({
      action: 'write',
      reason: 'advanced',
      value: cursor('100', 50n, 1000n),
    });
  });

  it("keeps the source's state of the reading that moved the cursor", () => {
    const withState = cursor('100', 50n, 900n, 'delta-1');
    expect(mergeCheckpoint(withState, incoming('100', 60, null, { state: 'delta-2' }), true)).toEqual({
      action: 'write',
      reason: 'advanced',
      value: cursor('100', 60n, 900n, 'delta-2'),
    });
    expect(mergeCheckpoint(withState, incoming('100', 40, null, { state: 'delta-0' }), true)).toEqual({
      action: 'keep',
    });
  });

  it('replaces the cursor when the epoch, source or version changed, unless the event is a straggler', () => {
    expect(mergeCheckpoint(stored, incoming('101', 3), true)).toEqual({
      action: 'write',
      reason: 'epoch-changed',
      value: cursor('101', 3n, null),
    });
    expect(mergeCheckpoint(stored, incoming('101', 3), false)).toEqual({ action: 'keep' });
    expect(mergeCheckpoint(stored, incoming('100', 3, null, { version: 2 }), true)).toMatchObject({
      action: 'write',
      reason: 'epoch-changed',
    });
    expect(mergeCheckpoint(stored, incoming('100', 3, null, { source: 'graph' }), false)).toEqual({ action: 'keep' });
  });
});
