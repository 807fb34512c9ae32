import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { restoreAcceptedSchema, type AccessTokenClaimsInput } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { PlatformRunner, REPO_ROOT, waitFor } from '@mlr/testing';

/**
 * The restore API over HTTP with real tokens: gateway (authentication, roles, `requesterOf`, audit)
 * → scheduling → indexing, with licensing deciding MLR and what a tenant admin may see.
 */
describe('gateway: restores API', () => {
  const infra = inject('infra');
  const tenantId = `gw-restore-${randomBytes(4).toString('hex')}`;
  const connectorId = `${tenantId}-imap`;
  const disabledTenant = `${tenantId}-off`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'gw-restore-'));
  const ALICE = 'alice@acme.test';
  const BOB = 'bob@acme.test';
  const platform = new PlatformRunner(infra, logDir);
  let prisma: PrismaClient;
  const recordIds: Record<string, string[]> = {};

  const principals = {
    // The tenant's connector has "Receive As": its admin sees every mailbox.
    admin: { sub: 'admin@acme.test', role: 'tenant_admin', tenant: tenantId },
    alice: { sub: ALICE, role: 'user', tenant: tenantId, mailboxes: [ALICE] },
    operator: { sub: 'ops@msp.test', role: 'operator' },
    disabledAdmin: { sub: 'admin@off.test', role: 'tenant_admin', tenant: disabledTenant },
  } satisfies Record<string, AccessTokenClaimsInput>;

  async function insertRecord(tenant: string, uid: number, mailbox: string): Promise<string> {
    const contentId = randomBytes(32).toString('hex');
    const object = await prisma.storedObject.create({
      data: {
        tenantId: tenant,
        contentId,
        bucket: 'mlr-objects',
        key: `tenants/${tenant}/objects/${contentId.slice(0, 2)}/${contentId}`,
        plainSize: 1_000,
        sealedSize: 1_100,
        keyId: '0123456789abcdef',
        refCount: 1,
      },
    });
    const record = await prisma.indexRecord.create({
      data: {
        tenantId: tenant,
        mailbox,
        folder: 'INBOX',
        uidValidity: 1,
        uid,
        contentId,
        objectId: object.id,
        messageId: `<m${uid}@${tenant}>`,
        submissionDate: new Date(Date.UTC(2025, 5, 1) + uid * 60_000),
        subject: `Report ${uid}`,
        size: 1_000,
      },
      select: { id: true },
    });
    return record.id;
  }

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    for (const [id, enabled] of [
      [tenantId, true],
      [disabledTenant, false],
    ] as const) {
      await prisma.tenant.create({ data: { id, name: id, slug: id, mlrEnabled: enabled } });
      await prisma.connector.create({
        data: { id: `${id}-imap`, tenantId: id, name: 'imap', kind: 'imap', receiveAs: 'yes' },
      });
    }
    recordIds[ALICE] = [];
    for (let uid = 1; uid <= 5; uid++) recordIds[ALICE].push(await insertRecord(tenantId, uid, ALICE));
    recordIds[BOB] = [await insertRecord(tenantId, 6, BOB)];
    recordIds[disabledTenant] = [await insertRecord(disabledTenant, 1, ALICE)];

    await platform.startPlatform();
  }, 240_000);

  afterAll(async () => {
    await platform.stop();
    await prisma?.$disconnect();
  });

  // The answers are JSON of any shape; every use below checks what it reads with expect().
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Json = any;

  async function http(
    principal: AccessTokenClaimsInput,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json; location: string | null }> {
    const response = await fetch(`http://127.0.0.1:${platform.app('gateway').port}/v1/tenants${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await platform.token(principal)}`,
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

  /** The audit events of restore requests of the tenant, once `count` of them are recorded. */
  async function restoreAudits(count: number) {
    const find = () =>
      prisma.auditEvent.findMany({ where: { tenantId, action: 'restore.create' }, orderBy: { id: 'asc' } });
    try {
      await waitFor(async () => (await find()).length >= count, {
        what: `${count} restore.create audit events`,
        timeoutMs: 20_000,
      });
    } catch (error) {
      const found = (await find()).map((e) => `${e.actor} ${e.outcome} ${JSON.stringify(e.detail)}`);
      throw new Error(`${(error as Error).message}; recorded:\n${found.join('\n')}`, { cause: error });
    }
    return find();
  }

  const jobs = (tenant: string) => prisma.job.count({ where: { tenantId: tenant } });

  it('queues a restore: 202 with the accepted job and its Location', async () => {
    const reply = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'mailbox', mailbox: BOB, folder: 'From Alice' },
    });
    expect(reply.status).toBe(202);
    const accepted = restoreAcceptedSchema.parse(reply.body);
    expect(accepted).toMatchObject({ state: 'queued', kind: 'restore', itemCount: 5, connectorId });
    expect(reply.location).toBe(`/v1/tenants/${tenantId}/jobs/${accepted.jobId}`);
    const job = await prisma.job.findUniqueOrThrow({ where: { id: accepted.jobId } });
    expect(job).toMatchObject({ kind: 'restore', requestedBy: principals.admin.sub });
    const [audit] = await restoreAudits(1);
    expect(audit).toMatchObject({
      actor: principals.admin.sub,
      role: 'tenant_admin',
      target: `job:${accepted.jobId}`,
      outcome: 'success',
    });
    // What was asked, never mail content.
    expect(audit?.detail).toMatchObject({ target: 'mailbox', targetMailbox: BOB, recordIds: 5 });

    const exported = await http(principals.alice, 'POST', `/${tenantId}/restores`, {
      query: { subject: 'report' },
      target: { kind: 'export', format: 'eml-zip', fileName: 'reports.zip' },
    });
    expect(exported.status).toBe(202);
    // Alice's search covers her own mailbox only.
    expect(exported.body).toMatchObject({ kind: 'export', itemCount: 5 });
  });

  it('refuses a bad body with 400 naming the field, before any service is asked', async () => {
    const before = await jobs(tenantId);
    const both = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      query: { subject: 'report' },
      target: { kind: 'original' },
    });
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ field: 'recordIds' });
    expect(both.body.message).toContain('exactly one');

    const path = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'export', format: 'mbox', fileName: '../../etc/cron.d/x' },
    });
    expect(path.status).toBe(400);
    expect(path.body.field).toBe('target.fileName');

    const unknownField = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
      overwrite: true,
    });
    expect(unknownField.status).toBe(400);

    // A connector the tenant does not have: refused by scheduling, still 400.
    const connector = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      connectorId: 'no-such-connector',
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
    });
    expect(connector.status).toBe(400);
    expect(connector.body).toMatchObject({ error: 'invalid_request', field: 'connectorId' });
    expect(await jobs(tenantId)).toBe(before);
  });

  it('refuses with 403 what the requester may not do, and writes nothing', async () => {
    const before = await jobs(tenantId);
    const elsewhere = await http(principals.alice, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'mailbox', mailbox: BOB },
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body).toMatchObject({ error: 'forbidden', field: 'target' });

    const bobsMail = await http(principals.alice, 'POST', `/${tenantId}/restores`, {
      recordIds: [...recordIds[ALICE]!, ...recordIds[BOB]!],
      target: { kind: 'original' },
    });
    expect(bobsMail.status).toBe(403);
    expect(bobsMail.body.message).toContain(recordIds[BOB]![0]);

    const operator = await http(principals.operator, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
    });
    expect(operator.status).toBe(403);
    expect(await jobs(tenantId)).toBe(before);
    // Two accepted, four refused as bad requests, and these three denied.
    const audits = await restoreAudits(9);
    const denied = audits.filter((event) => event.outcome === 'denied').map((event) => event.actor);
    expect(denied.sort()).toEqual([ALICE, ALICE, principals.operator.sub]);
  });

  it('refuses with 409 a tenant without MLR enabled', async () => {
    const reply = await http(principals.disabledAdmin, 'POST', `/${disabledTenant}/restores`, {
      recordIds: recordIds[disabledTenant],
      target: { kind: 'original' },
    });
    expect(reply.status).toBe(409);
    expect(reply.body.message).toContain('MLR is not enabled');
    expect(await jobs(disabledTenant)).toBe(0);
  });

  it('lists the items of a job with their results, by outcome and in pages', async () => {
    const created = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
    });
    const jobId = created.body.jobId as string;
    const first = await http(principals.admin, 'GET', `/${tenantId}/jobs/${jobId}/items?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.items.map((item: Json) => item.seq)).toEqual([0, 1]);
    expect(first.body.items[0]).toMatchObject({ mailbox: ALICE, outcome: 'pending', reason: null });
    expect(first.body.nextAfter).toBe(1);
    const rest = await http(principals.admin, 'GET', `/${tenantId}/jobs/${jobId}/items?after=1&limit=10`);
    expect(rest.body).toMatchObject({ nextAfter: null });
    expect(rest.body.items.map((item: Json) => item.seq)).toEqual([2, 3, 4]);

    const restored = await http(principals.alice, 'GET', `/${tenantId}/jobs/${jobId}/items?outcome=restored`);
    expect(restored.body).toEqual({ items: [], nextAfter: null });

    const bad = await http(principals.admin, 'GET', `/${tenantId}/jobs/${jobId}/items?outcome=lost`);
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('outcome');

    const unknown = await http(principals.admin, 'GET', `/${tenantId}/jobs/no-such-job/items`);
    expect(unknown.status).toBe(404);

    const operator = await http(principals.operator, 'GET', `/${tenantId}/jobs/${jobId}/items`);
    expect(operator.status).toBe(403);
  });
});
