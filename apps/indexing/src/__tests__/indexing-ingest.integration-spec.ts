import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  subjects,
  type ChannelPayloads,
  type IndexRecord,
  type SightingResult,
  type StoredRecord,
} from '@mlr/contracts';
import { createPrismaClient, Prisma, type PrismaClient, type StoredObject } from '@mlr/db';
import {
  connectMessaging,
  PLATFORM_STREAMS,
  platformValidator,
  Publisher,
  type MessagingConnection,
} from '@mlr/messaging';
import { REPO_ROOT, servicesNatsCredentials, startApp, waitFor, type RunningApp } from '@mlr/testing';
import type { Subscription } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { aStoredRecord } from '../../test/factories/stored-record.js';

const infra = inject('infra');
const tenantId = `indexing-it-${randomBytes(4).toString('hex')}`;
const logDir = join(REPO_ROOT, 'tmp', 'test-logs', tenantId);

let app: RunningApp;
let storage: RunningApp | undefined;
let prisma: PrismaClient;
let messaging: MessagingConnection;
let publisher: Publisher<ChannelPayloads>;
let subscription: Subscription;
/** One sighting's answer, with the job and tenant of the acknowledgement that carried it. */
type Stored = Extract<SightingResult, { outcome: 'stored' }>;
type IndexedEvent = SightingResult &
  Partial<Pick<Stored, 'recordStored' | 'recordId' | 'objectStored'>> & { tenantId: string; jobId: string };
const events: IndexedEvent[] = [];

const contentIdOf = () => randomBytes(32).toString('hex');

async function storedObject(): Promise<StoredObject> {
  const contentId = contentIdOf();
  return prisma.storedObject.create({
    data: {
      tenantId,
      contentId,
      bucket: 'mlr-objects',
      key: `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`,
      plainSize: 4096,
      sealedSize: 4200,
      keyId: '0123456789abcdef',
    },
  });
}

/** A record of this test's tenant for `object`; a new msgId on every publish, as a re-sending storage would. */
function sighting(
  object: StoredObject,
  record: Partial<IndexRecord>,
  extra: Partial<Omit<StoredRecord, 'record'>> = {},
): StoredRecord {
  return aStoredRecord({ tenantId, objectId: object.id, ...extra, record: { contentId: object.contentId, ...record } });
}

/** Publishes each record as a records batch of its own, as storage would for one-item commits. */
async function publish(records: readonly StoredRecord[]): Promise<number[]> {
  const results = await Promise.all(
    records.map((record) =>
      publisher.publish(
        'records',
        subjects.records(tenantId),
        { tenantId: record.tenantId, jobId: record.jobId, records: [record] },
        { msgId: `it-${randomUUID()}` },
      ),
    ),
  );
  return results.map((result) => result.seq);
}

function eventsOf(mailbox: string): IndexedEvent[] {
  return events.filter((event) => event.mailbox === mailbox);
}

async function waitForEvents(mailbox: string, count: number): Promise<IndexedEvent[]> {
  await waitFor(() => eventsOf(mailbox).length >= count, {
    what: `${count} IndexedEvents for ${mailbox} (have ${eventsOf(mailbox).length})`,
    timeoutMs: 60_000,
    intervalMs: 50,
  });
  return eventsOf(mailbox);
}

/**
 * The object's reference count, as storage keeps it, once it has applied every change indexing
 * relayed for it (indexing writes the changes to its outbox with the records; its relay brings them).
 */
async function refCount(object: StoredObject): Promise<number> {
  await waitFor(async () => (await prisma.referenceChange.count({ where: { objectId: object.id } })) === 0, {
    what: `the reference changes of object ${object.id} to reach storage`,
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  const row = await prisma.storedObject.findUniqueOrThrow({ where: { id: object.id }, select: { refCount: true } });
  return row.refCount;
}

function rowsOf(mailbox: string) {
  return prisma.indexRecord.findMany({
    where: { tenantId, mailbox },
    orderBy: [{ folder: 'asc' }, { sightingId: 'asc' }],
  });
}

/** Batches the app has written so far (its Prometheus histogram). */
async function batchTotals(): Promise<{ batches: number; records: number }> {
  const text = await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? 0);
  return { batches: value('mlr_indexing_batch_size_count'), records: value('mlr_indexing_batch_size_sum') };
}

beforeAll(async () => {
  if (!infra.postgres || !infra.nats) throw new Error('the integration tier needs PostgreSQL and NATS');
  prisma = createPrismaClient(infra.postgres.databaseUrl);
  await prisma.tenant.create({ data: { id: tenantId, name: `Indexing IT ${tenantId}`, slug: tenantId } });
  messaging = await connectMessaging({
    servers: infra.nats.url,
    name: `indexing-it-${tenantId}`,
    credentials: servicesNatsCredentials(infra),
  });
  // A core subscription sees every IndexedEvent published, including ones the stream deduplicates.
  subscription = messaging.nc.subscribe(subjects.indexed(tenantId), {
    callback: (error, message) => {
      if (error) return;
      const batch = platformValidator.parse('indexed', message.subject, message.json());
      for (const result of batch.results) events.push({ ...result, tenantId: batch.tenantId, jobId: batch.jobId });
    },
  });
  await messaging.nc.flush();
  publisher = new Publisher<ChannelPayloads>(messaging, { validator: platformValidator });
  // Storage applies the reference changes indexing relays (it owns the counts).
  storage = await startApp({ app: 'storage', env: infra.serviceEnv, logDir: join(logDir, 'storage') });
  app = await startApp({
    app: 'indexing',
    env: { ...infra.serviceEnv, LOG_LEVEL: 'info', INDEXING_REFERENCE_RELAY_MS: '200' },
    logDir,
  });
});

afterAll(async () => {
  await app?.stop();
  await storage?.stop();
  subscription?.unsubscribe();
  await messaging?.close();
  await prisma?.$disconnect();
});

describe('indexing ingest', () => {
  const mailbox = 'Alice.Owner@Example.com';
  let full: StoredRecord;
  let sparse: StoredRecord;
  let fullObject: StoredObject;
  let sparseObject: StoredObject;

  it('stores one row per sighting with every field as sent', async () => {
    fullObject = await storedObject();
    sparseObject = await storedObject();
    full = sighting(
      fullObject,
      {
        mailbox,
        folder: 'INBOX/Projects 2024',
        sourceKey: { source: 'imap', epoch: '4294967295', id: '4294967295' },
        messageId: '<full-1@example.com>',
        submissionDate: '2024-02-29T23:59:59.999-05:00',
        internalDate: '2024-03-01T05:00:01Z',
        from: { address: 'Zora.Quill@Example.COM', name: 'Zora Quill' },
        to: [{ address: 'Alice.Owner@Example.com', name: 'Alice' }, { address: 'TEAM@example.org' }],
        cc: [{ address: 'Carl@Example.net' }],
        bcc: [{ address: 'Hidden@Example.net' }],
        subject: 'Zanzibar budget review',
        attachmentNames: ['budget.xlsx', 'notes.pdf'],
        hasAttachment: true,
        importance: 'high',
        followUp: true,
        itemType: 'phone_message',
        flags: { seen: false, answered: true, flagged: true, draft: false, deleted: false },
        keywords: ['$Label1', '$Forwarded'],
        observedAt: '2024-03-05T09:00:00.000Z',
        size: 2 ** 33 + 17,
        parseProblems: ['Content-Type: unknown charset "x-foo"'],
        backupJobId: 'job-1',
      },
      { objectStored: 'new' },
    );
    sparse = sighting(sparseObject, {
      mailbox,
      folder: 'Sent',
      sourceKey: { source: 'imap', epoch: '1', id: '1' },
      messageId: null,
      submissionDate: null,
      internalDate: null,
      from: null,
      to: [],
      cc: [],
      bcc: [],
      subject: 'broken\u0000subject',
      attachmentNames: [],
      hasAttachment: false,
      importance: 'low',
      followUp: false,
      itemType: 'mail',
      flags: { seen: true, answered: false, flagged: false, draft: true, deleted: true },
      keywords: [],
      observedAt: '2024-03-05T10:00:00.5+01:00',
      size: 0,
      parseProblems: [],
      backupJobId: null,
    });
    await publish([full, sparse]);
    const received = await waitForEvents(mailbox, 2);

    const rows = await rowsOf(mailbox);
    expect(rows).toHaveLength(2);
    const [fullRow, sparseRow] = rows as [(typeof rows)[number], (typeof rows)[number]];
    expect(fullRow).toMatchObject({
      tenantId,
      mailbox,
      folder: 'INBOX/Projects 2024',
      sightingSource: 'imap',
      sightingEpoch: String(4294967295n),
      sightingId: String(4294967295n),
      contentId: fullObject.contentId,
      objectId: fullObject.id,
      messageId: '<full-1@example.com>',
      submissionDate: new Date('2024-03-01T04:59:59.999Z'),
      internalDate: new Date('2024-03-01T05:00:01Z'),
      sender: 'zora.quill@example.com',
      senderName: 'Zora Quill',
      toAddresses: ['alice.owner@example.com', 'team@example.org'],
      ccAddresses: ['carl@example.net'],
      bccAddresses: ['hidden@example.net'],
      subject: 'Zanzibar budget review',
      attachmentNames: ['budget.xlsx', 'notes.pdf'],
      hasAttachment: true,
      followUp: true,
      importance: 'high',
      itemType: 'phone_message',
      seen: false,
      answered: true,
      flagged: true,
      draft: false,
      deleted: false,
      keywords: ['$Forwarded', '$Label1'],
      observedAt: new Date('2024-03-05T09:00:00.000Z'),
      size: 2n ** 33n + 17n,
      parseProblems: ['Content-Type: unknown charset "x-foo"'],
      backupJobId: 'job-1',
    });
    expect(sparseRow).toMatchObject({
      folder: 'Sent',
      sightingSource: 'imap',
      sightingEpoch: String(1n),
      sightingId: String(1n),
      messageId: null,
      submissionDate: null,
      internalDate: null,
      sender: null,
      senderName: null,
      toAddresses: [],
      ccAddresses: [],
      bccAddresses: [],
      subject: 'broken\uFFFDsubject',
      attachmentNames: [],
      hasAttachment: false,
      followUp: false,
      importance: 'low',
      itemType: 'mail',
      seen: true,
      answered: false,
      flagged: false,
      draft: true,
      deleted: true,
      keywords: [],
      observedAt: new Date('2024-03-05T09:00:00.500Z'),
      size: 0n,
      parseProblems: ['subject: characters that cannot be stored (NUL or unpaired surrogate) replaced by U+FFFD'],
      backupJobId: null,
    });

    const fullEvent = received.find((event) => event.folder === full.record.folder);
    expect(fullEvent).toEqual({
      tenantId,
      jobId: 'job-1',
      contentId: fullObject.contentId,
      mailbox,
      folder: 'INBOX/Projects 2024',
      sourceKey: { source: 'imap', epoch: '4294967295', id: '4294967295' },
      outcome: 'stored',
      objectStored: 'new',
      recordStored: 'new',
      recordId: fullRow.id,
    });
    expect(received.find((event) => event.folder === 'Sent')).toMatchObject({
      recordStored: 'new',
      recordId: sparseRow.id,
    });
    expect(await refCount(fullObject)).toBe(1);
    expect(await refCount(sparseObject)).toBe(1);
  });

  it('answers unchanged and writes nothing when the same records are sent again', async () => {
    const before = await rowsOf(mailbox);
    await publish([full, sparse]);
    const received = (await waitForEvents(mailbox, 4)).slice(2);
    expect(received.map((event) => event.recordStored)).toEqual(['unchanged', 'unchanged']);
    expect(new Set(received.map((event) => event.recordId))).toEqual(new Set(before.map((row) => row.id)));
    expect(await rowsOf(mailbox)).toEqual(before);
    expect(await refCount(fullObject)).toBe(1);
    expect(await refCount(sparseObject)).toBe(1);
  });

  it('updates the mutable facts of a known sighting and answers updated', async () => {
    const [before] = await rowsOf(mailbox);
    const changed: StoredRecord = {
      ...full,
      jobId: 'job-2',
      record: {
        ...full.record,
        flags: { ...full.record.flags, seen: true },
        keywords: ['$Forwarded'],
        observedAt: '2024-03-06T09:00:00.000Z',
        backupJobId: 'job-2',
      },
    };
    await publish([changed]);
    const [event] = (await waitForEvents(mailbox, 5)).slice(4);
    expect(event).toMatchObject({ recordStored: 'updated', recordId: before?.id, jobId: 'job-2' });
    const [after] = await rowsOf(mailbox);
    expect(after).toEqual({
      ...before,
      seen: true,
      keywords: ['$Forwarded'],
      backupJobId: 'job-2',
      observedAt: new Date('2024-03-06T09:00:00.000Z'),
      updatedAt: after?.updatedAt,
    });
    expect(after!.updatedAt.getTime()).toBeGreaterThanOrEqual(before!.updatedAt.getTime());
    expect(await refCount(fullObject)).toBe(1);
  });

  it('keeps the newer flags when the older record of a sighting is delivered after them', async () => {
    const before = await rowsOf(mailbox);
    // JetStream redelivers job-1's record (read on March 5th) after job-2's (read on March 6th).
    await publish([full]);
    const [event] = (await waitForEvents(mailbox, 6)).slice(5);
    expect(event).toMatchObject({ recordStored: 'unchanged', recordId: before[0]?.id, jobId: 'job-1' });
    expect(await rowsOf(mailbox)).toEqual(before);
    expect(before[0]).toMatchObject({ seen: true, keywords: ['$Forwarded'], backupJobId: 'job-2' });
    expect(await refCount(fullObject)).toBe(1);
  });

  it('applies the facts of the latest observation whatever order the records arrive in', async () => {
    const object = await storedObject();
    const owner = 'late.delivery@example.com';
    const at = { mailbox: owner, folder: 'INBOX', sourceKey: { source: 'imap', epoch: '300', id: '9' } };
    const unflagged = { seen: false, answered: false, flagged: false, draft: false, deleted: false };
    const observed = (job: string, observedAt: string, flags: Partial<typeof unflagged>, keywords: string[] = []) =>
      sighting(
        object,
        {
          ...at,
          observedAt,
          flags: { ...unflagged, ...flags },
          followUp: flags.flagged ?? false,
          keywords,
          backupJobId: job,
        },
        { jobId: job },
      );
    const row = async () => (await rowsOf(owner))[0];
    const send = async (record: StoredRecord) => {
      const count = eventsOf(owner).length;
      await publish([record]);
      return (await waitForEvents(owner, count + 1))[count];
    };

    // The later backup's record arrives first.
    expect(
      await send(observed('job-b', '2026-11-20T10:00:00.000Z', { seen: true, flagged: true }, ['$Label1'])),
    ).toMatchObject({ recordStored: 'new' });
    const newer = await row();
    // The earlier backup's record, redelivered late, changes nothing.
    expect(await send(observed('job-a', '2026-11-19T10:00:00.000Z', {}))).toMatchObject({
      recordStored: 'unchanged',
      recordId: newer?.id,
      jobId: 'job-a',
    });
    expect(await row()).toEqual(newer);
    expect(newer).toMatchObject({
      seen: true,
      flagged: true,
      followUp: true,
      keywords: ['$Label1'],
      backupJobId: 'job-b',
      observedAt: new Date('2026-11-20T10:00:00.000Z'),
    });

    // A still later one applies.
    expect(await send(observed('job-c', '2026-11-21T10:00:00.000Z', { seen: true, deleted: true }))).toMatchObject({
      recordStored: 'updated',
      recordId: newer?.id,
    });
    expect(await row()).toMatchObject({
      seen: true,
      flagged: false,
      deleted: true,
      followUp: false,
      keywords: [],
      backupJobId: 'job-c',
      observedAt: new Date('2026-11-21T10:00:00.000Z'),
    });

    // The same facts read again later move the observation on, so a reading made in between and
    // delivered last does not take over.
    expect(await send(observed('job-c', '2026-11-23T10:00:00.000Z', { seen: true, deleted: true }))).toMatchObject({
      recordStored: 'updated',
    });
    expect(await send(observed('job-d', '2026-11-22T10:00:00.000Z', { answered: true }))).toMatchObject({
      recordStored: 'unchanged',
    });
    expect(await row()).toMatchObject({
      seen: true,
      answered: false,
      deleted: true,
      backupJobId: 'job-c',
      observedAt: new Date('2026-11-23T10:00:00.000Z'),
    });
    expect(await rowsOf(owner)).toHaveLength(1);
    expect(await refCount(object)).toBe(1);
  });

  it('counts one reference per sighting of the same object', async () => {
    const shared = await storedObject();
    const owner = 'shared.copies@example.com';
    await publish([
      sighting(shared, { mailbox: owner, folder: 'INBOX', sourceKey: { source: 'imap', epoch: '7', id: '10' } }),
      sighting(
        shared,
        { mailbox: owner, folder: 'Archive', sourceKey: { source: 'imap', epoch: '8', id: '3' } },
        { objectStored: 'deduplicated' },
      ),
    ]);
    const received = await waitForEvents(owner, 2);
    expect(received.map((event) => event.recordStored)).toEqual(['new', 'new']);
    expect(received.find((event) => event.folder === 'Archive')?.objectStored).toBe('deduplicated');
    expect(await rowsOf(owner)).toHaveLength(2);
    expect(await refCount(shared)).toBe(2);
  });

  it('replaces the old-UIDVALIDITY record of a message found again after a folder reset', async () => {
    const kept = await storedObject();
    const gone = await storedObject();
    const owner = 'folder.reset@example.com';
    await publish([
      sighting(kept, { mailbox: owner, folder: 'INBOX', sourceKey: { source: 'imap', epoch: '100', id: '1' } }),
      sighting(gone, { mailbox: owner, folder: 'INBOX', sourceKey: { source: 'imap', epoch: '100', id: '2' } }),
    ]);
    await waitForEvents(owner, 2);
    // The server renumbered the folder: the first message is found again under UIDVALIDITY 200.
    await publish([
      sighting(kept, { mailbox: owner, folder: 'INBOX', sourceKey: { source: 'imap', epoch: '200', id: '1' } }),
    ]);
    await waitForEvents(owner, 3);
    const rows = await rowsOf(owner);
    expect(rows.map((row) => [row.contentId, row.sightingEpoch]).sort()).toEqual(
      [
        [kept.contentId, '200'],
        // Not found again (deleted from the mailbox): its record stays, so it can be restored.
        [gone.contentId, '100'],
      ].sort(),
    );
    expect(await refCount(kept)).toBe(1);
    expect(await refCount(gone)).toBe(1);
  });

  it('stores 1,000 records that arrive together in batches', async () => {
    const owner = 'bulk.owner@example.com';
    const objects = await Promise.all(Array.from({ length: 20 }, () => storedObject()));
    const records = Array.from({ length: 1_000 }, (_, index) =>
      sighting(objects[index % objects.length] as StoredObject, {
        mailbox: owner,
        folder: `Folder ${index % 4}`,
        sourceKey: { source: 'imap', epoch: '99', id: String(index + 1) },
        subject: `Bulk message ${index + 1}`,
      }),
    );
    const before = await batchTotals();
    await publish(records);
    const received = await waitForEvents(owner, 1_000);
    expect(received.every((event) => event.recordStored === 'new')).toBe(true);
    expect(new Set(received.map((event) => event.recordId)).size).toBe(1_000);
    expect(await prisma.indexRecord.count({ where: { tenantId, mailbox: owner } })).toBe(1_000);
    for (const object of objects) expect(await refCount(object)).toBe(50);
    const after = await batchTotals();
    expect(after.records - before.records).toBeGreaterThanOrEqual(1_000);
    expect(after.batches - before.batches).toBeLessThan(1_000);
  });

  it('refuses a record whose stored object does not exist, says why, and stores its batch-mates', async () => {
    const owner = 'mixed.batch@example.com';
    const good = await storedObject();
    const missingObjectId = `missing-${randomUUID()}`;
    const records = [
      sighting(good, { mailbox: owner, folder: 'INBOX', sourceKey: { source: 'imap', epoch: '5', id: '1' } }),
      aStoredRecord({
        tenantId,
        objectId: missingObjectId,
        record: {
          mailbox: owner,
          folder: 'INBOX',
          sourceKey: { source: 'imap', epoch: '5', id: '2' },
          contentId: contentIdOf(),
        },
      }),
      sighting(good, { mailbox: owner, folder: 'INBOX', sourceKey: { source: 'imap', epoch: '5', id: '3' } }),
    ];
    // All three in one records batch, as storage sends the records of one commit batch.
    const { seq } = await publisher.publish(
      'records',
      subjects.records(tenantId),
      { tenantId, jobId: 'job-1', records },
      { msgId: `it-${randomUUID()}` },
    );
    const received = await waitForEvents(owner, 3);
    expect(received.map((event) => [event.sourceKey.id, event.outcome])).toEqual([
      ['1', 'stored'],
      ['2', 'rejected'],
      ['3', 'stored'],
    ]);
    const refused = received[1] as Extract<IndexedEvent, { outcome: 'rejected' }>;
    expect(refused.stage).toBe('indexing');
    expect(refused.reason).toContain(`stored object ${missingObjectId} of tenant ${tenantId}`);
    expect(refused.reason).toContain('does not exist');

    // Answered and acknowledged, not left for redelivery: the work queue drops the batch.
    const jsm = await messaging.manager();
    await waitFor(async () => (await jsm.streams.getMessage(PLATFORM_STREAMS.records.name, { seq })) === null, {
      what: 'the records batch to leave the records stream',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const logged = readFileSync(app.logFile, 'utf8')
      .split('\n')
      .find((line) => line.includes(missingObjectId) && line.includes('record rejected'));
    expect(logged).toContain('does not exist');
    expect((await rowsOf(owner)).map((row) => row.sightingId)).toEqual(['1', '3']);
    expect(await refCount(good)).toBe(2);
  });

  it('finds an ingested record by a subject word and by the sender address', async () => {
    const search = (query: string) =>
      prisma.$queryRaw<Array<{ id: string }>>(Prisma.sql`
        SELECT id FROM index_records
        WHERE tenant_id = ${tenantId} AND search_vector @@ websearch_to_tsquery('simple', ${query})`);
    const [row] = await rowsOf(mailbox);
    expect(await search('zanzibar')).toEqual([{ id: row!.id }]);
    expect(await search('zora.quill@example.com')).toEqual([{ id: row!.id }]);
    expect(await search('Zanzibar budget -nonexistentword')).toEqual([{ id: row!.id }]);
  });
});
