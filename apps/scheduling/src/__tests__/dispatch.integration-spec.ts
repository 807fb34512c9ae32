import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, startApp, waitFor, type RunningApp } from '@mlr/testing';
import { createTenant, openHarness, schedulingEnv, uniqueTenant, type Harness } from './harness.js';

/**
 * Two scheduling replicas against one database and one NATS: every due time of a plan becomes
 * exactly one job and one job command, and a job whose command never reached the queue is published.
 */
describe('scheduling: due plans with two replicas', () => {
  const infra = inject('infra');
  const tenantId = uniqueTenant('sched-dispatch');
  const connectorId = `${tenantId}-imap`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'sched-dispatch-'));
  const apps: RunningApp[] = [];
  let h: Harness;

  beforeAll(async () => {
    h = await openHarness(infra);
    await createTenant(h.prisma, tenantId, [connectorId]);
    const env = schedulingEnv(infra);
    apps.push(
      ...(await Promise.all([
        startApp({ app: 'scheduling', env, logDir: join(logDir, 'a') }),
        startApp({ app: 'scheduling', env, logDir: join(logDir, 'b') }),
      ])),
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.stop()));
    await h?.close();
  });

  /** Drains the connector's queue until it stays empty for a few seconds. */
  async function drainCommands(): Promise<string[]> {
    const jobIds: string[] = [];
    for (;;) {
      const command = await h.nextJob(tenantId, connectorId, 3_000);
      if (!command) return jobIds;
      expect(command.tenantId).toBe(tenantId);
      jobIds.push(command.jobId);
    }
  }

  it('fires each due plan exactly once per due time', async () => {
    const planIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const plan = await h.call('plans.create', {
        tenantId,
        actor: 'test',
        name: `nightly-${i}`,
        connectorId,
        mailboxes: { kind: 'all' },
        schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' },
      });
      expect(plan.nextRunAt).not.toBeNull();
      planIds.push(plan.id);
    }

    const published: string[] = [];
    for (let round = 1; round <= 2; round++) {
      // The previous round's jobs have run (a plan with a job still pending skips its run).
      await h.prisma.job.updateMany({
        where: { planId: { in: planIds }, state: 'queued' },
        data: { state: 'succeeded', finishedAt: new Date() },
      });
      // Make every plan due now (as if 03:00 had come), then let both replicas race for them.
      const due = new Date(Date.now() - 1_000);
      await h.prisma.backupPlan.updateMany({ where: { id: { in: planIds } }, data: { nextRunAt: due } });
      await waitFor(
        async () =>
          (await h.prisma.backupPlan.count({ where: { id: { in: planIds }, nextRunAt: { lte: due } } })) === 0,
        { what: 'both replicas to claim the due plans', timeoutMs: 30_000 },
      );
      published.push(...(await drainCommands()));
      const jobs = await h.prisma.job.findMany({ where: { tenantId, planId: { in: planIds } } });
      expect(jobs).toHaveLength(planIds.length * round);
      for (const planId of planIds) expect(jobs.filter((j) => j.planId === planId)).toHaveLength(round);
      expect(jobs.every((j) => j.requestedBy === 'schedule' && j.kind === 'backup')).toBe(true);
      // One command per job, none twice.
      expect(new Set(published).size).toBe(published.length);
      expect([...published].sort()).toEqual(jobs.map((j) => j.id).sort());
    }

    // The next run is the next 03:00 in Berlin, after now.
    const plans = await h.prisma.backupPlan.findMany({ where: { id: { in: planIds } } });
    for (const plan of plans) {
      expect(plan.nextRunAt!.getTime()).toBeGreaterThan(Date.now());
      const local = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        hour: '2-digit',
        minute: '2-digit',
      }).format(plan.nextRunAt!);
      expect(local).toBe('03:00');
    }
  });

  it("skips a due run while the plan's previous job is still queued or running, and runs again once it finished", async () => {
    const plan = await h.call('plans.create', {
      tenantId,
      actor: 'test',
      name: 'hourly-during-a-long-backup',
      connectorId,
      mailboxes: { kind: 'all' },
      schedule: { cron: '0 * * * *', timezone: 'UTC' },
    });
    const makeDue = async () => {
      const due = new Date(Date.now() - 1_000);
      await h.prisma.backupPlan.update({ where: { id: plan.id }, data: { nextRunAt: due } });
      await waitFor(
        async () => (await h.prisma.backupPlan.findUniqueOrThrow({ where: { id: plan.id } })).nextRunAt! > due,
        { what: 'a replica to take the due run', timeoutMs: 30_000 },
      );
    };
    await makeDue();
    expect(await drainCommands()).toHaveLength(1);
    const [first] = await h.prisma.job.findMany({ where: { planId: plan.id } });
    expect(first?.state).toBe('queued');

    // Due again while the first job is queued, then while it runs: no second job, the next run moves on.
    await makeDue();
    await h.prisma.job.update({ where: { id: first!.id }, data: { state: 'running', startedAt: new Date() } });
    await makeDue();
    expect(await drainCommands()).toEqual([]);
    expect(await h.prisma.job.count({ where: { planId: plan.id } })).toBe(1);
    const moved = await h.prisma.backupPlan.findUniqueOrThrow({ where: { id: plan.id } });
    expect(moved.nextRunAt!.getTime()).toBeGreaterThan(Date.now());

    // Once it has finished, the next due run queues a job again.
    await h.prisma.job.update({ where: { id: first!.id }, data: { state: 'succeeded', finishedAt: new Date() } });
    await makeDue();
    expect(await drainCommands()).toHaveLength(1);
    expect(await h.prisma.job.count({ where: { planId: plan.id } })).toBe(2);
  });

  it('publishes a queued job whose command never reached the queue', async () => {
    const plan = await h.call('plans.create', {
      tenantId,
      actor: 'test',
      name: 'crashed-before-publish',
      connectorId,
      mailboxes: { kind: 'list', mailboxes: ['alice'] },
    });
    // What a replica leaves behind when it dies between committing the job and publishing it.
    const jobId = `crash-${Date.now().toString(36)}`;
    const command = {
      kind: 'backup',
      jobId,
      tenantId,
      connectorId,
      requestedAt: new Date().toISOString(),
      requestedBy: 'schedule',
      mailboxes: { kind: 'list', mailboxes: ['alice'] },
      filter: {},
      full: false,
      checkpoints: [],
    };
    await h.prisma.job.create({
      data: {
        id: jobId,
        tenantId,
        connectorId,
        planId: plan.id,
        kind: 'backup',
        state: 'queued',
        request: command,
        requestedBy: 'schedule',
        createdAt: new Date(Date.now() - 60_000),
      },
    });
    const received = await h.nextJob(tenantId, connectorId);
    expect(received).toEqual(command);
    await waitFor(async () => (await h.prisma.job.findUnique({ where: { id: jobId } }))?.publishedAt != null, {
      what: 'the job to be marked published',
    });
    expect(await h.nextJob(tenantId, connectorId, 2_000)).toBeNull();
  });
  it('runs no plan of a revoked connector: run-now refused, a due run recorded as failed, nothing published', async () => {
    const revokedId = `${tenantId}-old`;
    await h.prisma.connector.create({
      data: { id: revokedId, tenantId, name: revokedId, kind: 'imap' },
    });
    const plan = await h.call('plans.create', {
      tenantId,
      actor: 'test',
      name: 'on-a-revoked-connector',
      connectorId: revokedId,
      mailboxes: { kind: 'all' },
      schedule: { cron: '0 4 * * *', timezone: 'UTC' },
    });
    // Revoked after the plan was made (a plan cannot be made for a revoked connector).
    await h.prisma.connector.update({
      where: { id: revokedId },
      data: { revokedAt: new Date('2026-11-01T00:00:00Z') },
    });
    expect(await h.refusal('plans.run', { tenantId, planId: plan.id, actor: 'test' })).toMatchObject({
      code: 'conflict',
      field: 'planId',
      message: expect.stringMatching(/backup refused, no job was created: connector .* was revoked on 2026-11-01/),
    });

    await h.prisma.backupPlan.update({ where: { id: plan.id }, data: { nextRunAt: new Date(Date.now() - 1_000) } });
    await waitFor(async () => (await h.prisma.job.count({ where: { planId: plan.id } })) === 1, {
      what: 'the due run of the revoked connector to be recorded',
      timeoutMs: 30_000,
    });
    const [job] = await h.prisma.job.findMany({ where: { planId: plan.id } });
    expect(job).toMatchObject({ state: 'failed', publishedAt: null });
    expect(job?.error).toMatch(/backup refused before any mail was read: connector .* was revoked/);
    // Never published: the connector's job queue was not even created.
    expect(await h.prisma.job.count({ where: { planId: plan.id, publishedAt: { not: null } } })).toBe(0);
  });
});
