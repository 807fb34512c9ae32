import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectorJobsConsumer, jobCommandSchema, STREAMS, type JobCommand } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { connectMessaging, type MessagingConnection } from '@mlr/messaging';
import {
  fetchHealth,
  mintAccessToken,
  REPO_ROOT,
  servicesNatsCredentials,
  startApp,
  waitFor,
  type RunningApp,
} from '@mlr/testing';

/** The plans and jobs API over HTTP, through the gateway to a real scheduling service. */
describe('gateway: backup plans and jobs API', () => {
  const infra = inject('infra');
  const tenantId = `gw-plans-${randomBytes(4).toString('hex')}`;
  const connectorId = `${tenantId}-imap`;
  const plainConnectorId = `${tenantId}-plain`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'gw-plans-'));
  const apps: RunningApp[] = [];
  let prisma: PrismaClient;
  let messaging: MessagingConnection;
  let base: string;
  /** A tenant admin of the tenant (plans and jobs are theirs and the operators'). */
  let adminToken: string;
  const ADMIN = 'admin@gw-plans.test';

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    await prisma.tenant.create({ data: { id: tenantId, name: tenantId, slug: tenantId, mlrEnabled: true } });
    // "Receive As": the tenant admin may back up any mailbox of the tenant.
    await prisma.connector.create({
      data: { id: connectorId, tenantId, name: connectorId, kind: 'imap', receiveAs: 'yes' },
    });
    // A second connector whose service account has no "Receive As".
    await prisma.connector.create({
      data: { id: plainConnectorId, tenantId, name: plainConnectorId, kind: 'imap', receiveAs: 'no' },
    });
    const nats = infra.nats!;
    messaging = await connectMessaging({
      servers: nats.url,
      name: 'gateway-test',
      credentials: servicesNatsCredentials(infra),
    });
    apps.push(await startApp({ app: 'scheduling', env: { ...infra.serviceEnv, SCHEDULING_TICK_MS: '500' }, logDir }));
    // Licensing answers what a tenant admin may reach and keeps the audit trail.
    apps.push(await startApp({ app: 'licensing', env: infra.serviceEnv, logDir }));
    // The gateway's own health also needs the other services; only scheduling matters here.
    const gateway = await startApp({ app: 'gateway', env: infra.serviceEnv, logDir, waitHealthy: false });
    apps.push(gateway);
    const reaches = (checks: Record<string, { ok: boolean }> | undefined) =>
      checks?.['service:scheduling']?.ok === true && checks['service:licensing']?.ok === true;
    await waitFor(async () => reaches((await fetchHealth(gateway.port)).body?.checks), {
      what: 'the gateway to reach scheduling and licensing',
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    base = `http://127.0.0.1:${gateway.port}/v1/tenants/${tenantId}`;
    adminToken = await mintAccessToken(infra.tokens, { sub: ADMIN, role: 'tenant_admin', tenant: tenantId });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.stop()));
    await messaging?.close();
    await prisma?.$disconnect();
  });

  // The answers are JSON of any shape; every use below checks what it reads with expect().
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Json = any;

  async function http(
    method: string,
    path: string,
    body?: unknown,
    token = adminToken,
  ): Promise<{ status: number; body: Json; location: string | null }> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? JSON.parse(text) : undefined,
      location: response.headers.get('location'),
    };
  }

  async function nextJob(waitMs: number): Promise<JobCommand | null> {
    const consumer = await messaging.js.consumers.get(STREAMS.jobs.name, connectorJobsConsumer(tenantId, connectorId));
    const message = await consumer.next({ expires: waitMs });
    if (!message) return null;
    message.ack();
    return jobCommandSchema.parse(message.json());
  }

  const plan = {
    name: 'nightly',
    connectorId,
    mailboxes: { kind: 'list', mailboxes: ['alice', 'bob'] },
    filter: { fromDate: '2025-01-01T00:00:00Z', hasAttachment: true },
    schedule: { cron: '30 1 * * *', timezone: 'Europe/Berlin' },
    retentionDays: 365,
  };

  it('creates, lists, reads, updates and deletes a plan', async () => {
    const created = await http('POST', '/plans', plan);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...plan, tenantId, enabled: true, createdBy: ADMIN, lastRunAt: null });
    expect(Date.parse(created.body.nextRunAt)).toBeGreaterThan(Date.now());
    const id = created.body.id as string;

    const listed = await http('GET', '/plans');
    expect(listed.status).toBe(200);
    expect(listed.body.plans.map((p: { id: string }) => p.id)).toEqual([id]);
    expect((await http('GET', `/plans/${id}`)).body).toEqual(created.body);

    const disabled = await http('PATCH', `/plans/${id}`, { enabled: false, retentionDays: null });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ enabled: false, retentionDays: null, nextRunAt: null });
    const manual = await http('PATCH', `/plans/${id}`, { enabled: true, schedule: null, name: 'on demand' });
    expect(manual.body).toMatchObject({ enabled: true, schedule: null, nextRunAt: null, name: 'on demand' });
    const hourly = await http('PATCH', `/plans/${id}`, { schedule: { cron: '0 * * * *' } });
    expect(hourly.body.schedule).toEqual({ cron: '0 * * * *', timezone: 'UTC' });
    expect(new Date(hourly.body.nextRunAt).getUTCMinutes()).toBe(0);

    const deleted = await http('DELETE', `/plans/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.id).toBe(id);
    expect((await http('GET', `/plans/${id}`)).status).toBe(404);
    expect((await http('DELETE', `/plans/${id}`)).status).toBe(404);
    expect((await http('GET', '/plans')).body.plans).toEqual([]);
    const row = await prisma.backupPlan.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ enabled: false, nextRunAt: null });
    expect(row.deletedAt).not.toBeNull();
  });

  it.each([
    [
      'reversed dates',
      { filter: { fromDate: '2026-02-01T00:00:00Z', toDate: '2026-01-01T00:00:00Z' } },
      'filter.toDate',
    ],
    ['a bad cron expression', { schedule: { cron: '0 25 * * *', timezone: 'UTC' } }, 'schedule.cron'],
    ['a cron expression with six fields', { schedule: { cron: '0 0 2 * * *', timezone: 'UTC' } }, 'schedule.cron'],
    ['an unknown time zone', { schedule: { cron: '0 2 * * *', timezone: 'Europe/Atlantis' } }, 'schedule.timezone'],
    ['an unknown connector', { connectorId: 'imap-9' }, 'connectorId'],
    ['an unknown field', { colour: 'blue' }, ''],
  ])('refuses %s with 400 naming the field, and stores nothing', async (_what, change, field) => {
    const name = `refused-${randomBytes(3).toString('hex')}`;
    const response = await http('POST', '/plans', { ...plan, name, ...change });
    expect(response.status).toBe(400);
    if (field) {
      expect(response.body.field).toBe(field);
      expect(response.body.message).toContain(field);
    } else {
      expect(response.body.message).toMatch(/colour/);
    }
    expect(await prisma.backupPlan.count({ where: { tenantId, name } })).toBe(0);
  });

  it('refuses a bad update without changing the plan', async () => {
    const created = await http('POST', '/plans', { ...plan, name: 'keep-me' });
    const response = await http('PATCH', `/plans/${created.body.id}`, {
      schedule: { cron: 'at noon', timezone: 'UTC' },
    });
    expect(response.status).toBe(400);
    expect(response.body.field).toBe('schedule.cron');
    expect((await http('GET', `/plans/${created.body.id}`)).body).toEqual(created.body);
    expect((await http('POST', '/plans', { ...plan, name: 'keep-me' })).status).toBe(409);
  });

  it('runs a plan now: 202, one job command on the connector queue, and the job to follow', async () => {
    const created = await http('POST', '/plans', { ...plan, name: 'run-now', schedule: null });
    const run = await http('POST', `/plans/${created.body.id}/run`);
    expect(run.status).toBe(202);
    expect(run.body.state).toBe('queued');
    const jobId = run.body.jobId as string;
    expect(run.location).toBe(`/v1/tenants/${tenantId}/jobs/${jobId}`);

    const command = await nextJob(20_000);
    expect(command).toMatchObject({
      kind: 'backup',
      jobId,
      tenantId,
      connectorId,
      requestedBy: ADMIN,
      mailboxes: plan.mailboxes,
      filter: plan.filter,
      full: false,
    });
    expect(await nextJob(2_000)).toBeNull();

    const job = await http('GET', `/jobs/${jobId}`);
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({ id: jobId, planId: created.body.id, state: 'queued', errorCount: 0, errors: [] });
    const jobs = await http('GET', `/jobs?planId=${created.body.id}&limit=5`);
    expect(jobs.body.jobs.map((j: { id: string }) => j.id)).toEqual([jobId]);

    const disabled = await http('POST', '/plans', { ...plan, name: 'disabled', enabled: false });
    expect((await http('POST', `/plans/${disabled.body.id}/run`)).status).toBe(409);
    expect((await http('POST', `/plans/${created.body.id}/run`, { full: 'yes' })).body.field).toBe('full');
  });

  describe('the backup scope of the connector a plan runs on', () => {
    const notYours = (connector: string) =>
      `without "Receive As" on connector ${connector} a plan may back up only your own mailboxes; not yours: alice, bob`;
    const deniedEvents = (action: string) =>
      prisma.auditEvent.findMany({ where: { tenantId, action, outcome: 'denied' }, orderBy: { id: 'asc' } });

    it('keeps a tenant admin to their own mailboxes on a connector without Receive As, when creating or moving a plan', async () => {
      const onPlain = await http('POST', '/plans', { ...plan, name: 'on-plain', connectorId: plainConnectorId });
      expect(onPlain.status).toBe(403);
      expect(onPlain.body.message).toBe(notYours(plainConnectorId));
      expect(await prisma.backupPlan.count({ where: { tenantId, name: 'on-plain' } })).toBe(0);

      const created = await http('POST', '/plans', { ...plan, name: 'to-move' });
      expect(created.status).toBe(201);
      const moved = await http('PATCH', `/plans/${created.body.id}`, { connectorId: plainConnectorId });
      expect(moved.status).toBe(403);
      expect(moved.body.message).toBe(notYours(plainConnectorId));
      expect((await http('GET', `/plans/${created.body.id}`)).body.connectorId).toBe(connectorId);

      // Someone whose own mailboxes they are may set it up there.
      const owner = await mintAccessToken(infra.tokens, {
        sub: 'owner@gw-plans.test',
        role: 'tenant_admin',
        tenant: tenantId,
        mailboxes: ['alice', 'bob'],
      });
      const own = await http('PATCH', `/plans/${created.body.id}`, { connectorId: plainConnectorId }, owner);
      expect(own.status, JSON.stringify(own.body)).toBe(200);
      expect(own.body.connectorId).toBe(plainConnectorId);
      await waitFor(async () => (await deniedEvents('plan.update')).length === 1, {
        what: 'the denied plan update to be audited',
        timeoutMs: 20_000,
      });
    });

    it('re-checks it when a plan is run now: a tenant admin without Receive As runs no plan of other mailboxes', async () => {
      const created = await http('POST', '/plans', { ...plan, name: 'run-scope', schedule: null });
      expect(created.status).toBe(201);
      const planId = created.body.id as string;
      await prisma.connector.update({ where: { id: connectorId }, data: { receiveAs: 'no' } });
      try {
        const refused = await http('POST', `/plans/${planId}/run`);
        expect(refused.status).toBe(403);
        expect(refused.body.message).toBe(notYours(connectorId));
        expect(await prisma.job.count({ where: { planId } })).toBe(0);
        expect(await nextJob(2_000)).toBeNull();
        await waitFor(async () => (await deniedEvents('plan.run')).length === 1, {
          what: 'the denied run to be audited',
          timeoutMs: 20_000,
        });
        expect((await deniedEvents('plan.run'))[0]).toMatchObject({
          actor: ADMIN,
          role: 'tenant_admin',
          target: `plan:${planId}`,
          detail: expect.objectContaining({ status: 403, reason: notYours(connectorId) }),
        });

        // Operators set up and run backups without seeing the content: exempt.
        const operator = await mintAccessToken(infra.tokens, { sub: 'ops@msp.test', role: 'operator' });
        const byOperator = await http('POST', `/plans/${planId}/run`, undefined, operator);
        expect(byOperator.status, JSON.stringify(byOperator.body)).toBe(202);
        expect(await nextJob(20_000)).toMatchObject({ jobId: byOperator.body.jobId, requestedBy: 'ops@msp.test' });
      } finally {
        await prisma.connector.update({ where: { id: connectorId }, data: { receiveAs: 'yes' } });
      }
      // With Receive As back, the admin runs it again.
      const run = await http('POST', `/plans/${planId}/run`);
      expect(run.status).toBe(202);
      expect(await nextJob(20_000)).toMatchObject({ jobId: run.body.jobId, requestedBy: ADMIN });
    });
  });

  it('answers 404 for unknown plans and jobs; another tenant is refused to a tenant admin', async () => {
    expect((await http('GET', '/plans/no-such-plan')).status).toBe(404);
    expect((await http('POST', '/plans/no-such-plan/run')).status).toBe(404);
    expect((await http('GET', '/jobs/no-such-job')).status).toBe(404);
    const otherTenant = `${base.replace(tenantId, 'another-tenant')}/jobs/no-such-job`;
    const refused = await fetch(otherTenant, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(refused.status).toBe(403);
    const operator = await mintAccessToken(infra.tokens, { sub: 'ops@msp.test', role: 'operator' });
    const other = await fetch(otherTenant, { headers: { authorization: `Bearer ${operator}` } });
    expect(other.status).toBe(404);
    expect((await http('GET', '/jobs?limit=0')).body.field).toBe('limit');
  });
});
