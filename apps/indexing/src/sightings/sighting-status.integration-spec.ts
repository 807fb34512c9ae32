import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { STREAMS, subjects, tenantCallSubjects } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { connectMessaging, tenantCallClient, type MessagingConnection } from '@mlr/messaging';
import { REPO_ROOT, servicesNatsCredentials, startApp, type RunningApp } from '@mlr/testing';
import { aRecord, insertRecords, type StoredSpec } from '../search/__tests__/search-fixtures.js';

/** `sightings.status` (`mlr.<tenant>.sightings`) against a real indexing service and PostgreSQL. */
const infra = inject('infra');
const tenantId = `sightings-it-${randomBytes(4).toString('hex')}`;
const otherTenantId = `${tenantId}-other`;
const logDir = join(REPO_ROOT, 'tmp', 'test-logs', tenantId);

let app: RunningApp;
let prisma: PrismaClient;
let messaging: MessagingConnection;
let records: StoredSpec[];
let contentIds: Map<string, string>;

const sighting = (record: StoredSpec, contentId: string) => ({
  contentId,
  mailbox: record.mailbox,
  folder: record.folder,
  sourceKey: { source: 'imap', epoch: '1', id: String(record.uid) },
});

beforeAll(async () => {
  if (!infra.postgres || !infra.nats) throw new Error('the integration tier needs PostgreSQL and NATS');
  prisma = createPrismaClient(infra.postgres.databaseUrl, { maxConnections: 2 });
  for (const id of [tenantId, otherTenantId]) {
    await prisma.tenant.create({ data: { id, name: `Sightings IT ${id}`, slug: id } });
  }
  records = await insertRecords(prisma, [
    aRecord(tenantId, 1, { backupJobId: 'job-a' }),
    aRecord(tenantId, 2, { backupJobId: null }),
    aRecord(otherTenantId, 3),
  ]);
  const rows = await prisma.indexRecord.findMany({
    where: { id: { in: records.map((r) => r.id) } },
    select: { id: true, contentId: true },
  });
  contentIds = new Map(rows.map((row) => [row.id, row.contentId]));
  app = await startApp({ app: 'indexing', env: { ...infra.serviceEnv, LOG_LEVEL: 'info' }, logDir });
  messaging = await connectMessaging({
    servers: infra.nats.url,
    name: 'sightings-it',
    credentials: servicesNatsCredentials(infra),
  });
}, 120_000);

afterAll(async () => {
  await messaging?.close();
  await app?.stop();
  await prisma?.$disconnect();
});

describe('sightings.status', () => {
  it('says which sightings the index holds, with the job that recorded them, in the order asked', async () => {
    const [one, two, other] = records as [StoredSpec, StoredSpec, StoredSpec];
    const asked = [
      sighting(two, contentIds.get(two.id)!),
      // The right place, but other content: not the message asked about.
      sighting(one, 'f'.repeat(64)),
      sighting(one, contentIds.get(one.id)!),
      // Nothing at this UID.
      { ...sighting(one, contentIds.get(one.id)!), sourceKey: { source: 'imap', epoch: '1', id: '99' } },
      // Another tenant's record is never found through this tenant's subject.
      sighting(other, contentIds.get(other.id)!),
    ];
    const reply = await tenantCallClient(messaging).request(
      'sightings.status',
      tenantCallSubjects['sightings.status'](tenantId),
      { tenantId, sightings: asked },
      { timeoutMs: 20_000 },
    );
    expect(reply.ok).toBe(true);
    if (!reply.ok) return;
    expect(reply.value.sightings).toEqual([
      { ...asked[0], state: 'indexed', recordId: two.id, backupJobId: null },
      { ...asked[1], state: 'unknown' },
      { ...asked[2], state: 'indexed', recordId: one.id, backupJobId: 'job-a' },
      { ...asked[3], state: 'unknown' },
      { ...asked[4], state: 'unknown' },
    ]);
  });

  it('says which of the commits asked about still wait for storage, of its own tenant only', async () => {
    const [one] = records as [StoredSpec];
    // Nobody takes them from the commit stream here: they wait as they would while S3 is down.
    const publish = async (tenant: string) =>
      (
        await messaging.js.publish(subjects.objects(tenant), new Uint8Array([1]), {
          msgID: randomBytes(8).toString('hex'),
        })
      ).seq;
    const mine = await publish(tenantId);
    const theirs = await publish(otherTenantId);
    const taken = await publish(tenantId);
    const jsm = await messaging.manager();
    await jsm.streams.deleteMessage(STREAMS.objects.name, taken); // storage stored it
    try {
      const reply = await tenantCallClient(messaging).request(
        'sightings.status',
        tenantCallSubjects['sightings.status'](tenantId),
        { tenantId, sightings: [sighting(one, 'f'.repeat(64))], commits: [taken, theirs, mine, mine, 10_000_000] },
        { timeoutMs: 20_000 },
      );
      expect(reply.ok).toBe(true);
      if (!reply.ok) return;
      expect(reply.value.waitingCommits).toEqual([mine]);
      expect(reply.value.sightings.map((s) => s.state)).toEqual(['unknown']);
    } finally {
      for (const seq of [mine, theirs]) await jsm.streams.deleteMessage(STREAMS.objects.name, seq);
    }
  });

  it("refuses a request naming another tenant than its subject's", async () => {
    const [one] = records as [StoredSpec];
    const reply = await tenantCallClient(messaging).request(
      'sightings.status',
      tenantCallSubjects['sightings.status'](tenantId),
      { tenantId: otherTenantId, sightings: [sighting(one, contentIds.get(one.id)!)] },
      { timeoutMs: 20_000 },
    );
    expect(reply.ok).toBe(false);
    if (reply.ok) return;
    expect(reply.error.code).toBe('invalid_request');
    expect(reply.error.message).toContain('does not match the subject');
  });
});
