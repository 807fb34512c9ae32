import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  tenantCallSubjects,
  type JobCounters,
  type JobEvent,
  type Requester,
  type RestoreItemResult,
} from '@mlr/contracts';
import type { PrismaClient } from '@mlr/db';
import { tenantCallClient } from '@mlr/messaging';
import { REPO_ROOT, startApp, waitFor, type RunningApp } from '@mlr/testing';
import { createTenant, openHarness, schedulingEnv, uniqueTenant, type Harness } from '../../__tests__/harness.js';

const zero: JobCounters = { seen: 0, new: 0, deduplicated: 0, bytes: 0, failed: 0, restored: 0, skipped: 0 };
const ALICE = 'alice@acme.test';
const BOB = 'bob@acme.test';

/** A tenant admin whose connector has "Receive As": the agent may act for them with the service account. */
const admin: Requester = {
  actor: 'admin@acme.test',
  role: 'tenant_admin',
  visibleMailboxes: 'all',
  serviceAccount: true,
};
const alice: Requester = { actor: ALICE, role: 'user', visibleMailboxes: [ALICE], serviceAccount: false };
/** A tenant admin without "Receive As": their own mailbox (Alice's here), their own credentials. */
const narrowAdmin: Requester = {
  actor: 'admin@acme.test',
  role: 'tenant_admin',
  visibleMailboxes: [ALICE],
  serviceAccount: false,
};
const operator: Requester = { actor: 'ops@msp.test', role: 'operator', visibleMailboxes: 'all', serviceAccount: false };

interface Seeded {
  id: string;
  mailbox: string;
  date: Date;
}

/** One index record (and its stored object) written straight into the database. */
async function insertRecord(
  prisma: PrismaClient,
  tenantId: string,
  uid: number,
  mailbox: string,
  subject: string,
): Promise<Seeded> {
  const contentId = randomBytes(32).toString('hex');
  const object = await prisma.storedObject.create({
    data: {
      tenantId,
      contentId,
      bucket: 'mlr-objects',
      key: `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`,
      plainSize: 1_000 + uid,
      sealedSize: 1_100 + uid,
      keyId: '0123456789abcdef',
      refCount: 1,
    },
  });
  const date = new Date(Date.UTC(2025, 0, 1) + uid * 3_600_000);
  const record = await prisma.indexRecord.create({
    data: {
      tenantId,
      mailbox,
      folder: uid % 2 === 0 ? 'INBOX' : 'Projects',
      sightingSource: 'imap',
      sightingEpoch: '1',
      sightingId: String(uid),
      contentId,
      objectId: object.id,
      messageId: `<m${uid}@${tenantId}>`,
      submissionDate: date,
      internalDate: date,
      subject,
      seen: uid % 2 === 0,
      keywords: uid === 1 ? ['$Forwarded'] : [],
      size: 1_000 + uid,
      backupJobId: 'job-1',
    },
    select: { id: true },
  });
  return { id: record.id, mailbox, date };
}

/** restores.create, restore.items and jobs.items against real scheduling and indexing services. */
describe('scheduling: restore jobs', () => {
  const infra = inject('infra');
  const tenantId = uniqueTenant('sched-restore');
  const connectorId = `${tenantId}-imap`;
  const disabledTenant = uniqueTenant('sched-restore-off');
  const twoConnectorTenant = uniqueTenant('sched-restore-two');
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'sched-restore-'));
  const apps: RunningApp[] = [];
  let h: Harness;
  let records: Seeded[];
  let bobsRecord: Seeded;
  let disabledRecord: Seeded;

  beforeAll(async () => {
    h = await openHarness(infra);
    await createTenant(h.prisma, tenantId, [connectorId]);
    await h.prisma.connector.create({
      data: { id: `${tenantId}-old`, tenantId, name: 'revoked', kind: 'imap', revokedAt: new Date() },
    });
    // Created, its enrolment token not used yet: it runs nothing, so a restore naming no connector
    // still goes to the one enrolled connector.
    await h.prisma.connector.create({
      data: {
        id: `${tenantId}-new`,
        tenantId,
        name: 'awaiting enrolment',
        kind: 'imap',
        enrolmentTokenHash: randomBytes(32).toString('hex'),
        enrolmentTokenExpiresAt: new Date(Date.now() + 86_400_000),
      },
    });
    await createTenant(h.prisma, disabledTenant, [`${disabledTenant}-imap`], false);
    await createTenant(h.prisma, twoConnectorTenant, [`${twoConnectorTenant}-a`, `${twoConnectorTenant}-b`]);
    records = [];
    for (let uid = 1; uid <= 6; uid++)
      records.push(await insertRecord(h.prisma, tenantId, uid, ALICE, `Budget ${uid}`));
    bobsRecord = await insertRecord(h.prisma, tenantId, 7, BOB, 'Budget for Bob');
    disabledRecord = await insertRecord(h.prisma, disabledTenant, 1, ALICE, 'Budget');
    // No licensing service runs: the MLR gate decides from licensing's last answer (createTenant).
    apps.push(await startApp({ app: 'indexing', env: infra.serviceEnv, logDir }));
    apps.push(await startApp({ app: 'scheduling', env: schedulingEnv(infra), logDir }));
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.stop()));
    await h?.close();
  });

  const newestFirst = (seeded: readonly Seeded[]) =>
    [...seeded].sort((a, b) => b.date.getTime() - a.date.getTime()).map((r) => r.id);

  async function written(tenant: string): Promise<{ jobs: number; items: number }> {
    const [jobs, items] = await Promise.all([
      h.prisma.job.count({ where: { tenantId: tenant } }),
      h.prisma.restoreItem.count({ where: { job: { tenantId: tenant } } }),
    ]);
    return { jobs, items };
  }

  it('creates a restore job with its items in message-date order and publishes its command', async () => {
    const chosen = [records[0]!, records[3]!, records[4]!];
    const accepted = await h.call('restores.create', {
      tenantId,
      requester: admin,
      recordIds: chosen.map((r) => r.id),
      target: { kind: 'original' },
    });
    expect(accepted).toMatchObject({ state: 'queued', kind: 'restore', itemCount: 3, connectorId });

    const command = await h.nextJob(tenantId, connectorId);
    expect(command).toMatchObject({
      kind: 'restore',
      jobId: accepted.jobId,
      tenantId,
      connectorId,
      requestedBy: admin.actor,
      itemCount: 3,
      target: { kind: 'original' },
      duplicate: false,
    });
    const job = await h.prisma.job.findUniqueOrThrow({ where: { id: accepted.jobId } });
    expect(job).toMatchObject({ kind: 'restore', state: 'queued', requestedBy: admin.actor, planId: null });
    expect(job.request).toEqual(command);
    const items = await h.prisma.restoreItem.findMany({ where: { jobId: accepted.jobId }, orderBy: { seq: 'asc' } });
    expect(items.map((item) => item.seq)).toEqual([0, 1, 2]);
    expect(items.map((item) => item.recordId)).toEqual(newestFirst(chosen));
    expect(items.every((item) => item.outcome === 'pending')).toBe(true);
    const first = items.find((item) => item.recordId === records[0]!.id)!;
    expect(first).toMatchObject({
      mailbox: ALICE,
      folder: 'Projects',
      messageId: `<m1@${tenantId}>`,
      subject: 'Budget 1',
      keywords: ['$Forwarded'],
      size: 1_001n,
      flags: { seen: false, answered: false, flagged: false, draft: false, deleted: false },
    });
  });

  it('creates an export job for an export target; a user restores their own mail by search, with their own credentials', async () => {
    const exported = await h.call('restores.create', {
      tenantId,
      connectorId,
      requester: admin,
      query: { subject: 'budget' },
      target: { kind: 'export', format: 'mbox', fileName: 'budget.mbox' },
    });
    expect(exported).toMatchObject({ kind: 'export', itemCount: 7 });
    expect((await h.prisma.job.findUniqueOrThrow({ where: { id: exported.jobId } })).kind).toBe('export');

    // Alice's search names every budget, but she sees only her own mailbox. The connector's command
    // line runs her job with her own login (runBy caller): it is never queued for the agent.
    const own = await h.call('restores.create', {
      tenantId,
      requester: alice,
      query: { subject: 'budget' },
      target: { kind: 'folder', folder: 'Restored Items/2026-11-24' },
      duplicate: true,
      runBy: 'caller',
    });
    expect(own).toMatchObject({ kind: 'restore', itemCount: 6, runBy: 'caller' });
    const items = await h.prisma.restoreItem.findMany({ where: { jobId: own.jobId }, orderBy: { seq: 'asc' } });
    expect(items.map((item) => item.recordId)).toEqual(newestFirst(records));
    const job = await h.prisma.job.findUniqueOrThrow({ where: { id: own.jobId } });
    expect(job.request).toMatchObject({
      duplicate: true,
      target: { kind: 'folder', folder: 'Restored Items/2026-11-24' },
    });
    expect(job.publishedAt?.getTime()).toBe(job.createdAt.getTime());

    // An export opens no mailbox: the agent writes it for her (her records only).
    const exportedByAlice = await h.call('restores.create', {
      tenantId,
      requester: alice,
      query: { subject: 'budget' },
      target: { kind: 'export', format: 'eml-zip', fileName: 'alice.zip' },
    });
    expect(exportedByAlice).toMatchObject({ kind: 'export', itemCount: 6, runBy: 'connector' });
  });

  it('queues nothing for the agent when a tenant admin without "Receive As" restores with their own credentials', async () => {
    const accepted = await h.call('restores.create', {
      tenantId,
      requester: narrowAdmin,
      query: { subject: 'budget' },
      target: { kind: 'original' },
      runBy: 'caller',
    });
    // Only their own mailbox: Bob's budget is not among the items.
    expect(accepted).toMatchObject({ kind: 'restore', itemCount: 6, runBy: 'caller' });
    const job = await h.prisma.job.findUniqueOrThrow({ where: { id: accepted.jobId } });
    expect(job.publishedAt?.getTime()).toBe(job.createdAt.getTime());
  });

  describe('refusals write nothing', () => {
    const cases: Array<{
      what: string;
      tenant?: () => string;
      request: () => Record<string, unknown>;
      code: string;
      field?: string;
      says: string | (() => string);
    }> = [
      {
        what: 'an operator (no mail content for operators)',
        request: () => ({ requester: operator, recordIds: [records[0]!.id], target: { kind: 'original' } }),
        code: 'forbidden',
        field: 'requester',
        says: 'operators',
      },
      {
        what: 'a user restoring into another mailbox',
        request: () => ({
          requester: alice,
          recordIds: [records[0]!.id],
          target: { kind: 'mailbox', mailbox: BOB },
        }),
        code: 'forbidden',
        field: 'target',
        says: 'tenant admin',
      },
      {
        what: 'a user restoring through the agent (its service account may not act for users)',
        request: () => ({ requester: alice, recordIds: [records[0]!.id], target: { kind: 'original' } }),
        code: 'forbidden',
        field: 'runBy',
        says: 'connector restore --own-credentials --login <address>',
      },
      {
        what: 'a tenant admin without "Receive As" restoring through the agent',
        request: () => ({
          requester: narrowAdmin,
          query: { subject: 'budget' },
          target: { kind: 'folder', folder: 'Restored' },
          runBy: 'connector',
        }),
        code: 'forbidden',
        field: 'runBy',
        says: `the service account of connector ${connectorId} is not known to have "Receive As"`,
      },
      {
        what: 'a requester who claims the service account without being a tenant admin who sees all',
        request: () => ({
          requester: { ...alice, serviceAccount: true },
          recordIds: [records[0]!.id],
          target: { kind: 'original' },
        }),
        code: 'invalid_request',
        field: 'requester.serviceAccount',
        says: 'acts only for tenant admins',
      },
      {
        what: 'a user naming a record of a mailbox they may not see',
        request: () => ({
          requester: alice,
          recordIds: [records[0]!.id, bobsRecord.id],
          target: { kind: 'original' },
          runBy: 'caller',
        }),
        code: 'forbidden',
        field: 'recordIds',
        says: () => bobsRecord.id,
      },
      {
        what: 'a record the tenant does not have',
        request: () => ({
          requester: admin,
          recordIds: [records[0]!.id, disabledRecord.id],
          target: { kind: 'original' },
        }),
        code: 'not_found',
        field: 'recordIds',
        says: () => disabledRecord.id,
      },
      {
        what: 'an unknown connector',
        request: () => ({
          requester: admin,
          connectorId: 'no-such-connector',
          recordIds: [records[0]!.id],
          target: { kind: 'original' },
        }),
        code: 'invalid_request',
        field: 'connectorId',
        says: 'no-such-connector',
      },
      {
        what: 'a revoked connector',
        request: () => ({
          requester: admin,
          connectorId: `${tenantId}-old`,
          recordIds: [records[0]!.id],
          target: { kind: 'original' },
        }),
        code: 'invalid_request',
        field: 'connectorId',
        says: 'revoked',
      },
      {
        what: 'a connector awaiting enrolment',
        request: () => ({
          requester: admin,
          connectorId: `${tenantId}-new`,
          recordIds: [records[0]!.id],
          target: { kind: 'original' },
        }),
        code: 'invalid_request',
        field: 'connectorId',
        says: 'has not enrolled yet',
      },
      {
        what: 'no connector named when the tenant has two',
        tenant: () => twoConnectorTenant,
        request: () => ({ requester: admin, recordIds: [records[0]!.id], target: { kind: 'original' } }),
        code: 'invalid_request',
        field: 'connectorId',
        says: 'give connectorId',
      },
      {
        what: 'a tenant without MLR enabled',
        tenant: () => disabledTenant,
        request: () => ({ requester: admin, recordIds: [disabledRecord.id], target: { kind: 'original' } }),
        code: 'conflict',
        field: 'tenantId',
        says: 'MLR is not enabled',
      },
      {
        what: 'a search that matches nothing',
        request: () => ({ requester: admin, query: { subject: 'no such subject' }, target: { kind: 'original' } }),
        code: 'invalid_request',
        field: 'query',
        says: 'nothing to do',
      },
      {
        what: 'both recordIds and query',
        request: () => ({
          requester: admin,
          recordIds: [records[0]!.id],
          query: { subject: 'budget' },
          target: { kind: 'original' },
        }),
        code: 'invalid_request',
        field: 'recordIds',
        says: 'exactly one',
      },
      {
        what: 'an export file name with a directory',
        request: () => ({
          requester: admin,
          recordIds: [records[0]!.id],
          target: { kind: 'export', format: 'mbox', fileName: '../etc/passwd' },
        }),
        code: 'invalid_request',
        field: 'target.fileName',
        says: 'plain file name',
      },
    ];

    for (const c of cases) {
      it(`refuses ${c.what}`, async () => {
        const tenant = c.tenant?.() ?? tenantId;
        const before = await written(tenant);
        const reply = await h.refusal('restores.create', { tenantId: tenant, ...c.request() });
        expect(reply.code).toBe(c.code);
        if (c.field) expect(reply.field).toBe(c.field);
        expect(reply.message).toContain(typeof c.says === 'string' ? c.says : c.says());
        expect(await written(tenant)).toEqual(before);
      });
    }
  });

  describe('restore.items tenant call and job results', () => {
    let jobId: string;
    const itemsSubject = () => tenantCallSubjects['restore.items'](tenantId, jobId);

    beforeAll(async () => {
      const accepted = await h.call('restores.create', {
        tenantId,
        requester: admin,
        recordIds: records.map((r) => r.id),
        target: { kind: 'mailbox', mailbox: BOB, folder: 'From Alice' },
      });
      jobId = accepted.jobId;
    });

    it('pages through the items by seq', async () => {
      const client = tenantCallClient(h.messaging);
      const seen: number[] = [];
      let after = -1;
      for (;;) {
        const reply = await client.request('restore.items', itemsSubject(), { tenantId, jobId, after, limit: 4 });
        if (!reply.ok) throw new Error(reply.error.message);
        expect(reply.value.total).toBe(6);
        if (reply.value.items.length === 0) break;
        seen.push(...reply.value.items.map((item) => item.seq));
        after = reply.value.items.at(-1)!.seq;
      }
      expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
      const first = await client.request('restore.items', itemsSubject(), { tenantId, jobId, after: -1, limit: 1 });
      expect(first.ok && first.value.items[0]).toMatchObject({
        seq: 0,
        recordId: newestFirst(records)[0],
        mailbox: ALICE,
        flags: { seen: true },
      });
    });

    it('refuses a request whose tenant is not the subject tenant, and jobs of other tenants or kinds', async () => {
      const client = tenantCallClient(h.messaging);
      const mismatched = await client.request('restore.items', itemsSubject(), {
        tenantId: disabledTenant,
        jobId,
        after: -1,
        limit: 10,
      });
      expect(mismatched).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
      if (!mismatched.ok) expect(mismatched.error.message).toContain('tenant');

      // The job, asked for on another tenant's own subject.
      const foreign = await client.request(
        'restore.items',
        tenantCallSubjects['restore.items'](twoConnectorTenant, jobId),
        { tenantId: twoConnectorTenant, jobId, after: -1, limit: 10 },
      );
      expect(foreign).toMatchObject({ ok: false, error: { code: 'not_found' } });

      const backup = await h.prisma.job.create({
        data: {
          tenantId,
          connectorId,
          kind: 'backup',
          request: { kind: 'backup' },
          requestedBy: 'test',
          state: 'succeeded',
          publishedAt: new Date(),
        },
      });
      const notRestore = await client.request(
        'restore.items',
        tenantCallSubjects['restore.items'](tenantId, backup.id),
        {
          tenantId,
          jobId: backup.id,
          after: -1,
          limit: 10,
        },
      );
      expect(notRestore).toMatchObject({ ok: false, error: { code: 'not_found' } });
    });

    function event(
      sequence: number,
      state: JobEvent['state'],
      items: RestoreItemResult[],
      counters: Partial<JobCounters>,
    ): JobEvent {
      return {
        tenantId,
        jobId,
        connectorId,
        kind: 'restore',
        sequence,
        at: new Date(Date.UTC(2026, 10, 24, 10, 0, sequence)).toISOString(),
        state,
        counters: { ...zero, ...counters },
        checkpoints: [],
        items,
        errors: [],
      };
    }

    async function settle(seq: number): Promise<void> {
      await waitFor(() => h.eventsSettled(seq), { what: `job events up to ${seq} to be settled`, timeoutMs: 60_000 });
    }

    async function outcomes(): Promise<Array<[number, string, string | null]>> {
      const rows = await h.prisma.restoreItem.findMany({ where: { jobId }, orderBy: { seq: 'asc' } });
      return rows.map((row) => [row.seq, row.outcome, row.reason]);
    }

    it('applies item results once: a redelivered or older event changes nothing', async () => {
      const target = { targetMailbox: BOB, targetFolder: 'From Alice' };
      await settle(
        await h.publishEvent(
          event(
            2,
            'running',
            [
              { seq: 0, outcome: 'restored', ...target },
              { seq: 1, outcome: 'failed', reason: 'APPEND refused: over quota' },
            ],
            { restored: 1, failed: 1 },
          ),
        ),
      );
      const afterFirst = await outcomes();
      expect(afterFirst.slice(0, 3)).toEqual([
        [0, 'restored', null],
        [1, 'failed', 'APPEND refused: over quota'],
        [2, 'pending', null],
      ]);

      // The same event again (another message id, so JetStream does not drop it): nothing changes.
      await settle(
        await h.publishEvent(
          event(2, 'running', [{ seq: 1, outcome: 'restored', ...target }], { restored: 2 }),
          `${jobId}:2:again`,
        ),
      );
      // A straggler older than what was applied: nothing changes either.
      await settle(
        await h.publishEvent(event(1, 'running', [{ seq: 0, outcome: 'failed', reason: 'late' }], { failed: 1 })),
      );
      expect(await outcomes()).toEqual(afterFirst);

      // A newer event retries item 1 and finishes the rest; a result for an unknown seq is ignored.
      await settle(
        await h.publishEvent(
          event(
            3,
            'partially_failed',
            [
              { seq: 1, outcome: 'restored', ...target },
              { seq: 2, outcome: 'skipped', reason: 'already in the target folder', ...target },
              { seq: 3, outcome: 'restored', ...target },
              { seq: 4, outcome: 'restored', ...target },
              { seq: 5, outcome: 'failed', reason: 'mailbox not found' },
              { seq: 99, outcome: 'restored' },
            ],
            { restored: 4, skipped: 1, failed: 1 },
          ),
        ),
      );
      expect((await outcomes()).map(([, outcome]) => outcome)).toEqual([
        'restored',
        'restored',
        'skipped',
        'restored',
        'restored',
        'failed',
      ]);
      const job = await h.prisma.job.findUniqueOrThrow({ where: { id: jobId } });
      expect(job).toMatchObject({ state: 'partially_failed', restoredCount: 4, skippedCount: 1, failedCount: 1 });
      const item = await h.prisma.restoreItem.findUniqueOrThrow({ where: { jobId_seq: { jobId, seq: 2 } } });
      expect(item).toMatchObject({ targetMailbox: BOB, targetFolder: 'From Alice', resultSequence: 3n });
      expect(item.finishedAt?.toISOString()).toBe(new Date(Date.UTC(2026, 10, 24, 10, 0, 3)).toISOString());
    });

    it('jobs.items lists items with their results, by outcome and in pages', async () => {
      const all = await h.call('jobs.items', { tenantId, jobId, limit: 4 });
      expect(all.items.map((item) => item.seq)).toEqual([0, 1, 2, 3]);
      expect(all.nextAfter).toBe(3);
      const rest = await h.call('jobs.items', { tenantId, jobId, after: all.nextAfter!, limit: 4 });
      expect(rest.items.map((item) => item.seq)).toEqual([4, 5]);
      expect(rest.nextAfter).toBeNull();

      const failed = await h.call('jobs.items', { tenantId, jobId, outcome: 'failed' });
      expect(failed).toEqual({
        items: [
          {
            seq: 5,
            recordId: newestFirst(records)[5],
            mailbox: ALICE,
            folder: expect.any(String),
            messageId: expect.stringMatching(/^<m\d@/),
            subject: expect.stringMatching(/^Budget/),
            size: expect.any(Number),
            itemType: 'mail',
            form: 'rfc5322',
            outcome: 'failed',
            reason: 'mailbox not found',
            targetMailbox: null,
            targetFolder: null,
            finishedAt: expect.any(String),
          },
        ],
        nextAfter: null,
      });
      expect((await h.call('jobs.items', { tenantId, jobId, outcome: 'pending' })).items).toEqual([]);

      // Items show subjects: operators see none, users only the items of their own mailboxes.
      expect(await h.refusal('jobs.items', { tenantId, jobId, requester: operator })).toMatchObject({
        code: 'forbidden',
        field: 'requester',
      });
      expect((await h.call('jobs.items', { tenantId, jobId, requester: alice })).items).toHaveLength(6);
      const bob: Requester = { actor: BOB, role: 'user', visibleMailboxes: [BOB], serviceAccount: false };
      expect(await h.call('jobs.items', { tenantId, jobId, requester: bob })).toEqual({ items: [], nextAfter: null });

      const unknown = await h.refusal('jobs.items', { tenantId: twoConnectorTenant, jobId });
      expect(unknown).toMatchObject({ code: 'not_found', field: 'jobId' });
    });
  });
});
