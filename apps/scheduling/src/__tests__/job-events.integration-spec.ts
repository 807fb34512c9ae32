import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FolderCheckpoint, JobCounters, JobEvent } from '@mlr/contracts';
import { REPO_ROOT, startApp, waitFor, type RunningApp } from '@mlr/testing';
import { createTenant, openHarness, schedulingEnv, uniqueTenant, type Harness } from './harness.js';

const zero: JobCounters = { seen: 0, new: 0, deduplicated: 0, bytes: 0, failed: 0, restored: 0, skipped: 0 };

/** Job events from a connector become job state, counters, item errors and folder checkpoints. */
describe('scheduling: job events', () => {
  const infra = inject('infra');
  const tenantId = uniqueTenant('sched-events');
  const connectorId = `${tenantId}-imap`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'sched-events-'));
  let app: RunningApp;
  let h: Harness;
  let planId: string;

  beforeAll(async () => {
    h = await openHarness(infra);
    await createTenant(h.prisma, tenantId, [connectorId]);
    app = await startApp({ app: 'scheduling', env: schedulingEnv(infra), logDir });
    const plan = await h.call('plans.create', {
      tenantId,
      actor: 'test',
      name: 'alice-only',
      connectorId,
      mailboxes: { kind: 'list', mailboxes: ['alice'] },
      filter: { fromDate: '2020-01-01T00:00:00Z', excludeFolders: ['Junk'] },
    });
    planId = plan.id;
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await h?.close();
  });

  const checkpoint = (mailbox: string, folder: string, uidValidity: string, lastUid: number): FolderCheckpoint => ({
    mailbox,
    folder,
    cursor: { source: 'imap', version: 1, epoch: uidValidity, position: String(lastUid), changes: null, state: null },
  });
  /** A checkpoint as connectors released before source-neutral cursors report it. */
  const legacyCheckpoint = (mailbox: string, folder: string, uidValidity: string, lastUid: number) =>
    ({ mailbox, folder, uidValidity, lastUid, highestModSeq: '12' }) as unknown as FolderCheckpoint;

  function event(
    jobId: string,
    sequence: number,
    state: JobEvent['state'],
    seen: number,
    extra: Partial<JobEvent> = {},
  ): JobEvent {
    return {
      tenantId,
      jobId,
      connectorId,
      kind: 'backup',
      sequence,
      at: new Date(Date.UTC(2026, 0, 10, 12, 0, sequence)).toISOString(),
      state,
      counters: { ...zero, seen, new: seen, bytes: seen * 1000 },
      checkpoints: [],
      items: [],
      errors: [],
      ...extra,
    };
  }

  async function settle(seqs: number[]): Promise<void> {
    const last = Math.max(...seqs);
    await waitFor(() => h.eventsSettled(last), {
      what: `job events up to stream sequence ${last} to be settled`,
      timeoutMs: 60_000,
    });
  }

  it('run-now publishes one command with the filter, the selection and no checkpoints yet', async () => {
    const accepted = await h.call('plans.run', { tenantId, planId, actor: 'test' });
    const command = await h.nextJob(tenantId, connectorId);
    expect(command).toMatchObject({
      kind: 'backup',
      jobId: accepted.jobId,
      tenantId,
      connectorId,
      requestedBy: 'test',
      mailboxes: { kind: 'list', mailboxes: ['alice'] },
      filter: { fromDate: '2020-01-01T00:00:00Z', excludeFolders: ['Junk'] },
      full: false,
      checkpoints: [],
    });
    expect(await h.nextJob(tenantId, connectorId, 2_000)).toBeNull();
    const job = await h.call('jobs.get', { tenantId, jobId: accepted.jobId });
    expect(job.state).toBe('queued');
    expect(job.publishedAt).not.toBeNull();
    expect(job.planId).toBe(planId);
  });

  it('applies events once each, in sequence order, whatever order and however often they arrive', async () => {
    const { jobId } = await h.call('plans.run', { tenantId, planId, actor: 'test' });
    await h.nextJob(tenantId, connectorId);

    const first = event(jobId, 1, 'running', 2, {
      checkpoints: [checkpoint('alice', 'INBOX', '100', 10)],
    });
    const second = event(jobId, 2, 'running', 5, {
      checkpoints: [checkpoint('alice', 'INBOX', '100', 20)],
      errors: [
        {
          scope: 'message',
          target: 'alice/INBOX/15',
          message: 'could not read message 15',
          item: { mailbox: 'alice', folder: 'INBOX', sourceKey: { source: 'imap', epoch: '100', id: '15' } },
        },
      ],
    });
    const last = event(jobId, 3, 'partially_failed', 9, {
      counters: { ...zero, seen: 9, new: 8, failed: 1, bytes: 9000 },
      checkpoints: [
        checkpoint('alice', 'INBOX', '100', 30),
        checkpoint('alice', 'Sent', '7', 4),
        legacyCheckpoint('bob', 'INBOX', '5', 9),
      ],
      errors: [
        { scope: 'folder', target: 'alice/Archive', message: 'folder vanished during the run' },
        { scope: 'message', target: 'alice/INBOX/27', message: 'message too large' },
      ],
    });
    // The last event first, then a redelivery of it (a new stream message), then the stragglers.
    const seqs = [
      await h.publishEvent(last),
      await h.publishEvent(last, `${jobId}:3:again`),
      await h.publishEvent(second),
      await h.publishEvent(first),
      await h.publishEvent(second, `${jobId}:2:again`),
    ];
    await settle(seqs);

    const job = await h.call('jobs.get', { tenantId, jobId });
    expect(job.state).toBe('partially_failed');
    expect(job.counters).toEqual({ ...zero, seen: 9, new: 8, failed: 1, bytes: 9000 });
    // The earliest event of the run, whichever arrived first (the consumer delivers concurrently).
    expect(job.startedAt).toBe('2026-01-10T12:00:01.000Z');
    expect(job.finishedAt).toBe('2026-01-10T12:00:03.000Z');
    expect(job.errorCount).toBe(3);
    expect(job.errors.map((e) => e.target).sort()).toEqual(['alice/Archive', 'alice/INBOX/15', 'alice/INBOX/27']);
    // A message's problem names it by its sighting key, as its index record would.
    expect(job.errors.find((e) => e.target === 'alice/INBOX/15')?.item).toEqual({
      mailbox: 'alice',
      folder: 'INBOX',
      sourceKey: { source: 'imap', epoch: '100', id: '15' },
    });
    expect(job.errors.find((e) => e.target === 'alice/Archive')?.item).toBeUndefined();

    const stored = await h.prisma.folderCheckpoint.findMany({
      where: { connectorId },
      orderBy: [{ mailbox: 'asc' }, { folder: 'asc' }],
    });
    expect(stored.map((c) => [c.mailbox, c.folder, c.source, c.cursorVersion, c.epoch, c.position, c.changes])).toEqual(
      [
        ['alice', 'INBOX', 'imap', 1, '100', 30n, null],
        ['alice', 'Sent', 'imap', 1, '7', 4n, null],
        // Reported in the IMAP form of earlier connectors: taken as the same cursor.
        ['bob', 'INBOX', 'imap', 1, '5', 9n, 12n],
      ],
    );

    const limited = await h.call('jobs.get', { tenantId, jobId, errorLimit: 1 });
    expect(limited.errors).toHaveLength(1);
    expect(limited.errorCount).toBe(3);
  });

  it('marks a running job without progress stalled with the reason, and running again once it moves', async () => {
    const { jobId } = await h.call('plans.run', { tenantId, planId, actor: 'test' });
    await h.nextJob(tenantId, connectorId);
    await settle([await h.publishEvent(event(jobId, 1, 'running', 4))]);
    // Six minutes without progress, the connector last heard of four minutes ago (its heartbeats).
    const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);
    await h.prisma.job.update({
      where: { id: jobId },
      data: { progressAt: minutesAgo(6), lastEventAt: minutesAgo(4) },
    });
    await waitFor(async () => (await h.call('jobs.get', { tenantId, jobId })).state === 'stalled', {
      what: 'the stall watch to mark the job stalled',
      timeoutMs: 30_000,
    });
    const stalled = await h.call('jobs.get', { tenantId, jobId });
    expect(stalled.stalledReason).toMatch(
      new RegExp(`^connector ${connectorId} is at it but has made no progress since .* \\(6 min\\): it may be waiting`),
    );

    // Word without progress (a heartbeat) leaves it stalled; progress makes it running again.
    await settle([await h.publishEvent(event(jobId, 2, 'running', 4))]);
    expect((await h.call('jobs.get', { tenantId, jobId })).state).toBe('stalled');
    await settle([await h.publishEvent(event(jobId, 3, 'running', 5))]);
    const moving = await h.call('jobs.get', { tenantId, jobId });
    expect(moving.state).toBe('running');
    expect(moving.stalledReason).toBeNull();

    // Not heard of at all for the whole wait: says so.
    await h.prisma.job.update({
      where: { id: jobId },
      data: { progressAt: minutesAgo(7), lastEventAt: minutesAgo(7) },
    });
    await waitFor(async () => (await h.call('jobs.get', { tenantId, jobId })).state === 'stalled', {
      what: 'the stall watch to mark the job stalled again',
      timeoutMs: 30_000,
    });
    expect((await h.call('jobs.get', { tenantId, jobId })).stalledReason).toMatch(
      new RegExp(`^no word from connector ${connectorId} since .* \\(7 min\\): it may be stopped, or cut off`),
    );
    // A stalled job is never final: it can still finish.
    await settle([await h.publishEvent(event(jobId, 4, 'succeeded', 9))]);
    const done = await h.call('jobs.get', { tenantId, jobId });
    expect(done.state).toBe('succeeded');
    expect(done.stalledReason).toBeNull();
  });

  it('a new UIDVALIDITY replaces the checkpoint; the next command carries the stored checkpoints of the plan mailboxes', async () => {
    const { jobId } = await h.call('plans.run', { tenantId, planId, actor: 'test' });
    const command = await h.nextJob(tenantId, connectorId);
    expect(command?.kind === 'backup' && command.checkpoints).toEqual([
      checkpoint('alice', 'INBOX', '100', 30),
      checkpoint('alice', 'Sent', '7', 4),
    ]);
    const seq = await h.publishEvent(
      event(jobId, 1, 'succeeded', 1, { checkpoints: [checkpoint('alice', 'INBOX', '101', 2)] }),
    );
    await settle([seq]);
    expect((await h.call('jobs.get', { tenantId, jobId })).state).toBe('succeeded');

    const { jobId: nextId } = await h.call('plans.run', { tenantId, planId, actor: 'test' });
    const next = await h.nextJob(tenantId, connectorId);
    expect(next?.jobId).toBe(nextId);
    expect(next?.kind === 'backup' && next.checkpoints).toEqual([
      checkpoint('alice', 'INBOX', '101', 2),
      checkpoint('alice', 'Sent', '7', 4),
    ]);

    const full = await h.call('plans.run', { tenantId, planId, actor: 'test', full: true });
    const rescan = await h.nextJob(tenantId, connectorId);
    expect(rescan).toMatchObject({ jobId: full.jobId, full: true, checkpoints: [] });
  });

  it('records a job the connector started by itself', async () => {
    const jobId = `cli-${Date.now().toString(36)}`;
    const seq = await h.publishEvent(event(jobId, 4, 'running', 3));
    await settle([seq]);
    const job = await h.call('jobs.get', { tenantId, jobId });
    expect(job).toMatchObject({ state: 'running', requestedBy: 'connector-cli', planId: null, kind: 'backup' });
    expect(job.counters.seen).toBe(3);

    const listed = await h.call('jobs.list', { tenantId, limit: 100 });
    expect(listed.jobs.map((j) => j.id)).toContain(jobId);
    const ofPlan = await h.call('jobs.list', { tenantId, planId, limit: 100 });
    expect(ofPlan.jobs.every((j) => j.planId === planId)).toBe(true);
    const created = ofPlan.jobs.map((j) => j.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
  });

  it('refuses unknown plans and jobs with not_found naming the field', async () => {
    expect(await h.refusal('plans.run', { tenantId, planId: 'no-such-plan', actor: 'test' })).toMatchObject({
      code: 'not_found',
      field: 'planId',
    });
    expect(await h.refusal('jobs.get', { tenantId: 'someone-else', jobId: 'no-such-job' })).toMatchObject({
      code: 'not_found',
      field: 'jobId',
    });
  });
});
