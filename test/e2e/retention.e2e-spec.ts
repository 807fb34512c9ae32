import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '@mlr/testing';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-retention';
const CONNECTOR = 'imap-retention';
const DAY_MS = 24 * 60 * 60_000;

interface AuditEvent {
  action: string;
  target: string | null;
  actor: string;
  role: string;
  outcome: string;
  detail: Record<string, unknown> | null;
}

/**
 * The plans' retention, enforced on the real services: scheduling works out how long each mailbox is
 * kept, indexing removes the records first backed up longer ago (their objects lose the references)
 * unless a legal hold covers the mailbox or the tenant; holds are set and released through the
 * gateway; everything is audited.
 */
describe('retention that expires, and legal holds that stop it', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-retention-'));
  // Expiry every second instead of every hour, so the test sees several runs.
  const platform = new PlatformFixture(
    { ...infra, serviceEnv: { ...infra.serviceEnv, SCHEDULING_EXPIRY_EVERY_MS: '1000' } },
    dir,
  );
  const admin = { sub: 'admin@retention.test', role: 'tenant_admin' as const, tenant: TENANT };
  let uid = 0;

  /** Index records of `mailbox` (one object each) first backed up `daysAgo` days ago. */
  const backedUp = async (mailbox: string, count: number, daysAgo: number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const contentId = randomBytes(32).toString('hex');
      const object = await platform.prisma.storedObject.create({
        data: {
          tenantId: TENANT,
          contentId,
          bucket: 'mlr-objects',
          key: `tenants/${TENANT}/objects/${contentId.slice(0, 2)}/${contentId}`,
          plainSize: 1_000,
          sealedSize: 1_100,
          keyId: '0123456789abcdef',
          refCount: 1,
        },
      });
      await platform.prisma.indexRecord.create({
        data: {
          tenantId: TENANT,
          mailbox,
          folder: 'INBOX',
          sightingSource: 'imap',
          sightingEpoch: String(1),
          sightingId: String(++uid),
          contentId,
          objectId: object.id,
          size: 1_000,
          createdAt: new Date(Date.now() - daysAgo * DAY_MS),
        },
      });
      ids.push(object.id);
    }
    return ids;
  };
  const recordsOf = (mailbox: string) => platform.prisma.indexRecord.count({ where: { tenantId: TENANT, mailbox } });
  const until = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };
  const auditOf = async (action: string) =>
    (await platform.http<{ events: AuditEvent[] }>('GET', `/v1/tenants/${TENANT}/audit?action=${action}&limit=100`))
      .body.events;

  beforeAll(async () => {
    await platform.prisma.tenant.create({ data: { id: TENANT, name: 'Retention', slug: TENANT } });
    await platform.prisma.connector.create({
      data: { id: CONNECTOR, tenantId: TENANT, name: CONNECTOR, kind: 'imap' },
    });
    // The connector backs dora up (a checkpoint of hers): a plan of all its mailboxes covers her.
    await platform.prisma.folderCheckpoint.create({
      data: {
        tenantId: TENANT,
        connectorId: CONNECTOR,
        mailbox: 'dora',
        folder: 'INBOX',
        source: 'imap',
        cursorVersion: 1,
        epoch: '1',
        position: 3n,
      },
    });
    const plan = (name: string, mailboxSelection: unknown, retentionDays: number | null) =>
      platform.prisma.backupPlan.create({
        data: {
          tenantId: TENANT,
          connectorId: CONNECTOR,
          name,
          mailboxSelection: mailboxSelection as object,
          filter: {},
          retentionDays,
          createdBy: 'test',
        },
      });
    await plan('30 days', { kind: 'list', mailboxes: ['alice', 'bob', 'carol', 'gina'] }, 30);
    // Kept until deleted by a second plan: 30 days of the first do not shorten it.
    await plan('forever', { kind: 'list', mailboxes: ['erin'] }, null);
    await plan('erin too', { kind: 'list', mailboxes: ['erin'] }, 30);
    // Every mailbox the connector knows (dora).
    await plan('all, 60 days', { kind: 'all' }, 60);

    await platform.startPlatform();
    // The hold before the records, so that no expiry runs before it.
    const held = await platform.http(
      'PUT',
      `/v1/tenants/${TENANT}/mailboxes/Bob/legal-hold`,
      { reason: 'case 17' },
      {
        as: admin,
      },
    );
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ tenantId: TENANT, mailbox: 'bob', reason: 'case 17', setBy: admin.sub });

    await backedUp('alice', 3, 40);
    await backedUp('alice', 2, 5);
    await backedUp('bob', 2, 40);
    await backedUp('dora', 2, 45);
    await backedUp('dora', 1, 70);
    await backedUp('erin', 2, 400);
    await backedUp('frank', 2, 400); // no plan covers frank
    // The mail server spells her with a capital; the plan does not: the same mailbox.
    await backedUp('Gina', 2, 40);
  }, 300_000);

  afterAll(async () => {
    await platform.stop();
  });

  it("removes what is older than its mailbox's retention and keeps the rest, holds and mailboxes no plan covers", async () => {
    await until(
      'alice, dora and gina to expire',
      async () =>
        (await recordsOf('alice')) === 2 && (await recordsOf('dora')) === 2 && (await recordsOf('Gina')) === 0,
    );
    // A few more runs: nothing else goes.
    await sleep(2_500);
    expect({
      alice: await recordsOf('alice'),
      bob: await recordsOf('bob'),
      dora: await recordsOf('dora'),
      erin: await recordsOf('erin'),
      frank: await recordsOf('frank'),
    }).toEqual({ alice: 2, bob: 2, dora: 2, erin: 2, frank: 2 });
    // The expired records' objects lost their only reference, once indexing's relay brought the
    // changes to storage (which owns the counts).
    const orphans = () => platform.prisma.storedObject.count({ where: { tenantId: TENANT, refCount: 0 } });
    await until('the six released objects to have no references in storage', async () => (await orphans()) === 6);
    await sleep(1_500);
    expect(await orphans()).toBe(6);

    const events = await auditOf('records.expire');
    expect(
      events.map((event) => [event.target, event.detail?.['expired'], event.detail?.['retentionDays']]).sort(),
    ).toEqual([
      ['mailbox:alice', 3, 30],
      ['mailbox:dora', 1, 60],
      ['mailbox:gina', 2, 30],
    ]);
    expect(events[0]).toMatchObject({ actor: 'scheduling', role: 'system', outcome: 'success' });
  });

  it('lists the holds, refuses users and other tenants, and audits each change with its reason', async () => {
    const list = await platform.http<{ holds: Array<{ mailbox: string | null }> }>(
      'GET',
      `/v1/tenants/${TENANT}/legal-holds`,
      undefined,
      { as: admin },
    );
    expect(list.body.holds.map((hold) => hold.mailbox)).toEqual(['bob']);
    const user = { sub: 'alice', role: 'user' as const, tenant: TENANT, mailboxes: ['alice'] };
    expect((await platform.http('PUT', `/v1/tenants/${TENANT}/legal-hold`, { reason: 'x' }, { as: user })).status).toBe(
      403,
    );
    const stranger = { sub: 'admin@other', role: 'tenant_admin' as const, tenant: 'e2e-other' };
    expect(
      (await platform.http('DELETE', `/v1/tenants/${TENANT}/mailboxes/bob/legal-hold`, undefined, { as: stranger }))
        .status,
    ).toBe(403);
    expect((await platform.http('PUT', `/v1/tenants/${TENANT}/legal-hold`, { reason: '' }, { as: admin })).status).toBe(
      400,
    );
    // `*` names no mailbox: the tenant-wide hold has its own path.
    expect(
      (await platform.http('DELETE', `/v1/tenants/${TENANT}/mailboxes/*/legal-hold`, undefined, { as: admin })).status,
    ).toBe(400);
    const set = await auditOf('legal_hold.set');
    expect(set.find((event) => event.target === 'mailbox:bob')).toMatchObject({
      actor: admin.sub,
      outcome: 'success',
      detail: expect.objectContaining({ reason: 'case 17' }),
    });
    expect(set.some((event) => event.outcome === 'denied')).toBe(true);
  });

  it('expires a mailbox once its hold is released, and nothing of a tenant under a tenant-wide hold', async () => {
    await backedUp('carol', 2, 40);
    const tenantHold = await platform.http(
      'PUT',
      `/v1/tenants/${TENANT}/legal-hold`,
      { reason: 'audit 2026' },
      {
        as: admin,
      },
    );
    expect(tenantHold.status).toBe(200);
    expect(
      (await platform.http('DELETE', `/v1/tenants/${TENANT}/mailboxes/bob/legal-hold`, undefined, { as: admin })).body,
    ).toEqual({ released: true });
    await sleep(2_500);
    expect({ bob: await recordsOf('bob'), carol: await recordsOf('carol') }).toEqual({ bob: 2, carol: 2 });

    const released = await platform.http('DELETE', `/v1/tenants/${TENANT}/legal-hold`, undefined, { as: admin });
    expect(released.body).toEqual({ released: true });
    await until(
      'bob and carol to expire',
      async () => (await recordsOf('bob')) === 0 && (await recordsOf('carol')) === 0,
    );
    const again = await platform.http('DELETE', `/v1/tenants/${TENANT}/legal-hold`, undefined, { as: admin });
    expect(again.body).toEqual({ released: false });
    expect((await auditOf('legal_hold.release')).filter((event) => event.outcome === 'success')).toHaveLength(3);
  });
});
