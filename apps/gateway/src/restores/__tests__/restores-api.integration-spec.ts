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
  /** Two connectors: one without "Receive As", one with it. */
  const mixedTenant = `${tenantId}-mixed`;
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
    // Their own mailbox is Bob's, so that the fallback scope has records.
    mixedAdmin: { sub: 'admin@mixed.test', role: 'tenant_admin', tenant: mixedTenant, mailboxes: [BOB] },
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
        sightingSource: 'imap',
        sightingEpoch: '1',
        sightingId: String(uid),
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
    // A connector just created, its enrolment token not used yet: nobody has checked its service
    // account, so it neither narrows the admin nor is picked for a restore.
    await prisma.connector.create({
      data: {
        id: `${tenantId}-new`,
        tenantId,
        name: 'new',
        kind: 'imap',
        enrolmentTokenHash: randomBytes(32).toString('hex'),
        enrolmentTokenExpiresAt: new Date(Date.now() + 86_400_000),
      },
    });
    await prisma.tenant.create({ data: { id: mixedTenant, name: mixedTenant, slug: mixedTenant, mlrEnabled: true } });
    for (const receiveAs of ['no', 'yes'] as const) {
      await prisma.connector.create({
        data: { id: `${mixedTenant}-${receiveAs}`, tenantId: mixedTenant, name: receiveAs, kind: 'imap', receiveAs },
      });
    }
    recordIds[mixedTenant] = [];
    for (const [uid, mailbox] of [ALICE, ALICE, BOB, BOB, BOB].entries()) {
      recordIds[mixedTenant].push(await insertRecord(mixedTenant, uid + 1, mailbox));
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
  async function restoreAudits(count: number, tenant = tenantId) {
    const find = () =>
      prisma.auditEvent.findMany({ where: { tenantId: tenant, action: 'restore.create' }, orderBy: { id: 'asc' } });
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
    // Alice's search covers her own mailbox only; an export opens no mailbox, so the agent writes it.
    expect(exported.body).toMatchObject({ kind: 'export', itemCount: 5, runBy: 'connector' });
  });

  it("sends a user to their own credentials: the agent's service account never restores for them", async () => {
    const before = await jobs(tenantId);
    const agent = await http(principals.alice, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'folder', folder: 'Restored' },
    });
    expect(agent.status).toBe(403);
    expect(agent.body).toMatchObject({ error: 'forbidden', field: 'runBy' });
    expect(agent.body.message).toContain('connector restore --own-credentials --login <address>');
    expect(await jobs(tenantId)).toBe(before);

    // The connector's command line runs it with her own login: created, never queued for the agent.
    const own = await http(principals.alice, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'folder', folder: 'Restored' },
      runBy: 'caller',
    });
    expect(own.status).toBe(202);
    expect(own.body).toMatchObject({ kind: 'restore', itemCount: 5, runBy: 'caller', connectorId });
    const job = await prisma.job.findUniqueOrThrow({ where: { id: own.body.jobId } });
    expect(job.publishedAt?.getTime()).toBe(job.createdAt.getTime());

    const audits = await restoreAudits(4);
    const refused = audits.find((event) => event.actor === ALICE && event.outcome === 'denied');
    expect(refused?.detail).toMatchObject({
      runBy: 'connector',
      serviceAccount: false,
      scope: [ALICE],
      status: 403,
      reason: expect.stringContaining('--own-credentials'),
    });
  });

  it('a tenant admin without Receive As falls back to own-mailbox scope for a restore', async () => {
    const admin = principals.mixedAdmin;
    const noReceiveAs = `${mixedTenant}-no`;
    const before = await jobs(mixedTenant);
    // Through the agent: its service account may not act for them.
    const agent = await http(admin, 'POST', `/${mixedTenant}/restores`, {
      connectorId: noReceiveAs,
      query: {},
      target: { kind: 'original' },
    });
    expect(agent.status).toBe(403);
    expect(agent.body).toMatchObject({ error: 'forbidden', field: 'runBy' });
    expect(agent.body.message).toContain(`connector ${noReceiveAs}`);
    expect(agent.body.message).toContain('--own-credentials');

    // With their own credentials: only their own mailbox (Bob's), though the search names everything.
    const own = await http(admin, 'POST', `/${mixedTenant}/restores`, {
      connectorId: noReceiveAs,
      query: {},
      target: { kind: 'original' },
      runBy: 'caller',
    });
    expect(own.status, JSON.stringify(own.body)).toBe(202);
    expect(own.body).toMatchObject({ itemCount: 3, runBy: 'caller', connectorId: noReceiveAs });
    const items = await prisma.restoreItem.findMany({ where: { jobId: own.body.jobId } });
    expect(new Set(items.map((item) => item.mailbox))).toEqual(new Set([BOB]));

    // Naming Alice's records, or her mailbox as the target, is refused like for a user.
    const alices = await http(admin, 'POST', `/${mixedTenant}/restores`, {
      connectorId: noReceiveAs,
      recordIds: recordIds[mixedTenant]!.slice(0, 2),
      target: { kind: 'original' },
      runBy: 'caller',
    });
    expect(alices.status).toBe(403);
    expect(alices.body.field).toBe('recordIds');
    const intoAlice = await http(admin, 'POST', `/${mixedTenant}/restores`, {
      connectorId: noReceiveAs,
      recordIds: recordIds[mixedTenant]!.slice(2),
      target: { kind: 'mailbox', mailbox: ALICE },
      runBy: 'caller',
    });
    expect(intoAlice.status).toBe(403);
    expect(intoAlice.body.field).toBe('target.mailbox');
    expect(await jobs(mixedTenant)).toBe(before + 1);

    const audits = await restoreAudits(4, mixedTenant);
    expect(audits.map((event) => event.outcome).sort()).toEqual(['denied', 'denied', 'denied', 'success']);
    const throughAgent = audits.find((event) => (event.detail as { runBy?: string } | null)?.runBy === 'connector');
    expect(throughAgent).toMatchObject({ actor: admin.sub, outcome: 'denied' });
    expect(throughAgent?.detail).toMatchObject({ connectorId: noReceiveAs, scope: [BOB], serviceAccount: false });
  });

  it('decides with the connector a restore names: the one with Receive As acts for the admin on every mailbox', async () => {
    const accepted = await http(principals.mixedAdmin, 'POST', `/${mixedTenant}/restores`, {
      connectorId: `${mixedTenant}-yes`,
      query: {},
      target: { kind: 'mailbox', mailbox: ALICE, folder: 'Everything' },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    expect(accepted.body).toMatchObject({ itemCount: 5, runBy: 'connector', connectorId: `${mixedTenant}-yes` });
    // Naming no connector, the tenant has one without it: the admin keeps to their own mailbox, and
    // scheduling asks which connector.
    const unnamed = await http(principals.mixedAdmin, 'POST', `/${mixedTenant}/restores`, {
      query: {},
      target: { kind: 'original' },
    });
    expect(unnamed.status).toBe(400);
    expect(unnamed.body).toMatchObject({ field: 'connectorId' });
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
      runBy: 'caller',
    });
    expect(bobsMail.status).toBe(403);
    expect(bobsMail.body.message).toContain(recordIds[BOB]![0]);

    const operator = await http(principals.operator, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
    });
    expect(operator.status).toBe(403);
    expect(await jobs(tenantId)).toBe(before);
    // Two accepted and one denied before, one run by Alice; four refused as bad requests, and these three denied.
    const audits = await restoreAudits(11);
    const denied = audits.filter((event) => event.outcome === 'denied').map((event) => event.actor);
    expect(denied.sort()).toEqual([ALICE, ALICE, ALICE, principals.operator.sub]);
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
