import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  FETCH_MAX_BYTES,
  MAX_CHUNK_BYTES,
  STREAMS,
  parseChannelPayload,
  subjects,
  tenantChunksStream,
  tenantCallSubjects,
  type Channel,
  type ChannelPayloads,
  type ObjectCommitItem,
  type SightingResult,
  type StoredRecord,
  type Subject,
} from '@mlr/contracts';
import { createPrismaClient, type PrismaClient, type StoredObject } from '@mlr/db';
import {
  connectMessaging,
  ensureTenantChunksStream,
  platformValidator,
  Publisher,
  tenantCallClient,
  type MessagingConnection,
} from '@mlr/messaging';
import {
  createS3ObjectStore,
  decodePackFooter,
  decodePackTrailer,
  messageObjectKey,
  PACK_TRAILER_BYTES,
  type ObjectStore,
} from '@mlr/objectstore';
import {
  CLOUD_NODE_FLAGS,
  REPO_ROOT,
  ensureBuilt,
  envFor,
  sealedShape,
  servicesNatsCredentials,
  servicesS3,
  startApp,
  type RunningApp,
} from '@mlr/testing';
import type { JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/nats-core';
import { buildCommitItem } from './commit-batch.factory.js';

type Chunked = Extract<ObjectCommitItem['sealed'], { kind: 'chunks' }>;
type LogEntry = Record<string, unknown> & { msg?: string };

const MIB = 1024 * 1024;
/** Packs of the storage under test are written 300 ms after their first member at the latest. */
const PACK_WAIT_MS = 300;

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const newContentId = () => randomBytes(32).toString('hex');

/**
 * The storage service as a connector sees it: commit batches (and chunks of large objects) go in
 * over NATS, packs come out in S3 with their members recorded in `stored_objects`, records go on to
 * indexing, and refusals come back to the connector. The app runs as its own process; other test
 * files share the infrastructure, so everything here lives under tenants of its own.
 */
describe('storage backup path', () => {
  const infra = inject('infra');
  const tenantId = `storage-it-${randomBytes(4).toString('hex')}`;
  const individualTenant = `${tenantId}-one`;
  /** The operator set a default retention longer than the bucket's (30 days): its objects are locked longer. */
  const longKeptTenant = `${tenantId}-long`;
  const bucket = infra.s3!.bucket;
  let logDir: string;
  let app: RunningApp;
  let retainingApp: RunningApp | undefined;
  let licensing: RunningApp | undefined;
  let messaging: MessagingConnection;
  let jsm: JetStreamManager;
  let publisher: Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>;
  let prisma: PrismaClient;
  let store: ObjectStore;
  let acknowledgements: Subscription[] = [];
  const refusals: SightingResult[] = [];
  let nextUid = 1;

  const storageEnv = {
    ...infra.serviceEnv,
    LOG_LEVEL: 'debug',
    STORAGE_PACK_MAX_WAIT_MS: String(PACK_WAIT_MS),
    STORAGE_VERSION_CHECK_MS: '1000',
  };

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl);
    await prisma.tenant.create({ data: { id: tenantId, name: `Storage IT ${tenantId}`, slug: tenantId } });
    await prisma.tenant.create({
      data: { id: individualTenant, name: 'one object each', slug: individualTenant, objectLayout: 'individual' },
    });
    await prisma.tenant.create({
      data: { id: longKeptTenant, name: 'kept long', slug: longKeptTenant, objectRetentionDays: 45 },
    });
    store = createS3ObjectStore(servicesS3(infra));
    logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'storage-it-'));
    // Storage asks licensing for a tenant's object layout (tenants are licensing's).
    licensing = await startApp({ app: 'licensing', env: infra.serviceEnv, logDir: join(logDir, 'licensing') });
    app = await startApp({ app: 'storage', env: storageEnv, logDir });
    messaging = await connectMessaging({
      servers: infra.nats!.url,
      name: `storage-it-${tenantId}`,
      credentials: servicesNatsCredentials(infra),
    });
    jsm = await messaging.manager();
    // As licensing declares them when MLR is enabled.
    for (const tenant of [tenantId, individualTenant, longKeptTenant, `${tenantId}-ghost`]) {
      await ensureTenantChunksStream(messaging, tenant, 256 * 1024 * 1024);
    }
    publisher = new Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>(messaging, {
      validator: platformValidator,
    });
    acknowledgements = [tenantId, individualTenant, longKeptTenant, `${tenantId}-ghost`].map((tenant) =>
      messaging.nc.subscribe(subjects.indexed(tenant), {
        callback: (error, message) => {
          if (error) return;
          refusals.push(...parseChannelPayload('indexed', message.subject, message.json()).results);
        },
      }),
    );
    await messaging.nc.flush();
  });

  afterAll(async () => {
    for (const subscription of acknowledgements) subscription.unsubscribe();
    await app?.stop();
    await retainingApp?.stop();
    await licensing?.stop();
    await messaging?.close();
    store?.close();
    await prisma?.$disconnect();
  });

  /** Publishes `sealed` as a connector does: chunks first, then their stream sequences go into the commit. */
  async function sendChunks(contentId: string, sealed: Buffer, tenant = tenantId): Promise<Chunked> {
    const uploadId = randomBytes(16).toString('hex');
    const chunkCount = Math.ceil(sealed.length / MAX_CHUNK_BYTES);
    const chunks = await Promise.all(
      Array.from({ length: chunkCount }, async (_, index) => {
        const offset = index * MAX_CHUNK_BYTES;
        const data = sealed.subarray(offset, offset + MAX_CHUNK_BYTES);
        const ack = await publisher.publishBinary(
          'chunks',
          subjects.chunks(tenant, uploadId),
          { tenantId: tenant, uploadId, contentId, chunkIndex: index, chunkCount, offset },
          data,
          { msgId: `${uploadId}:${index}` },
        );
        return { sequence: ack.seq, offset, length: data.length };
      }),
    );
    return { kind: 'chunks', uploadId, sealedSize: sealed.length, chunks };
  }

  interface Part {
    contentId: string;
    /** Inline bytes, or chunks already sent. */
    sealed: Buffer | Chunked;
    mailbox?: string;
    keyId?: string;
  }

  /** Publishes one commit batch of `parts`; returns the items and the batch's stream sequence. */
  async function sendBatch(
    parts: Part[],
    options: { tenant?: string; jobId?: string; data?: Buffer } = {},
  ): Promise<{ items: ObjectCommitItem[]; sequence: number }> {
    const tenant = options.tenant ?? tenantId;
    const data: Buffer[] = [];
    let offset = 0;
    const items = parts.map((part) => {
      let sealed: ObjectCommitItem['sealed'];
      if (Buffer.isBuffer(part.sealed)) {
        sealed = { kind: 'inline', offset, length: part.sealed.length };
        data.push(part.sealed);
        offset += part.sealed.length;
      } else {
        sealed = part.sealed;
      }
      return buildCommitItem(tenant, part.contentId, sealed, { mailbox: part.mailbox, uid: nextUid++ }, part.keyId);
    });
    const batchId = randomBytes(8).toString('hex');
    const ack = await publisher.publishFramed(
      'objects',
      subjects.objects(tenant),
      { tenantId: tenant, jobId: options.jobId ?? 'job-1', batchId, items },
      options.data ? [options.data] : data,
      { msgId: batchId },
    );
    return { items, sequence: ack.seq };
  }

  /** Every StoredRecord storage forwarded for `tenant`, read without a consumer (the stream is indexing's work queue). */
  async function storedRecords(tenant = tenantId): Promise<StoredRecord[]> {
    const subject = subjects.records(tenant);
    const found: StoredRecord[] = [];
    let from = 1;
    for (;;) {
      // The server answers "first message of `subject` from `seq` on"; the client's type knows only
      // `seq` and `last_by_subj`.
      const query = { seq: from, next_by_subj: subject } as unknown as MsgRequest;
      const message = await jsm.streams.getMessage(STREAMS.records.name, query);
      if (!message) return found;
      found.push(...parseChannelPayload('records', message.subject, message.json()).records);
      from = message.seq + 1;
    }
  }

  const recordOf = async (item: ObjectCommitItem, tenant = tenantId) =>
    (await storedRecords(tenant)).filter(
      (r) =>
        r.record.contentId === item.contentId &&
        r.record.mailbox === item.record.mailbox &&
        r.record.sourceKey.id === item.record.sourceKey.id,
    );

  const waitForRecords = (items: ObjectCommitItem[], tenant = tenantId) =>
    Promise.all(
      items.map((item) =>
        until(`the StoredRecord of ${item.record.mailbox} uid ${item.record.sourceKey.id}`, async () => {
          const [record] = await recordOf(item, tenant);
          return record;
        }),
      ),
    );

  const refusalOf = (item: ObjectCommitItem) =>
    until(`the refusal of uid ${item.record.sourceKey.id}`, () =>
      refusals.find((r) => r.sourceKey.id === item.record.sourceKey.id && r.contentId === item.contentId),
    );

  const storedRow = async (contentId: string, tenant = tenantId) =>
    prisma.storedObject.findUniqueOrThrow({ where: { tenantId_contentId: { tenantId: tenant, contentId } } });

  /** The sealed bytes of a stored object, read exactly as restores read them: through its locator. */
  const readMember = (row: StoredObject) =>
    store.getBuffer({
      bucket: row.bucket,
      key: row.key,
      ...(row.versionId ? { versionId: row.versionId } : {}),
      ...(row.byteOffset !== null && row.byteLength !== null
        ? { range: { offset: Number(row.byteOffset), length: Number(row.byteLength) } }
        : {}),
    });

  const batchPending = async (sequence: number) =>
    (await jsm.streams.getMessage(STREAMS.objects.name, { seq: sequence })) !== null;

  async function chunksLeft(upload: Chunked): Promise<number> {
    const subject = subjects.chunks(tenantId, upload.uploadId);
    const info = await jsm.streams.info(tenantChunksStream(tenantId).name, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  function logEntries(running = app): LogEntry[] {
    return readFileSync(running.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogEntry);
  }

  describe('a batch of small messages', () => {
    const contentIds = Array.from({ length: 5 }, newContentId);
    const sealed = contentIds.map((id, i) => sealedShape(id, 20_000 + i * 1_000));
    let items: ObjectCommitItem[];

    it('is written as one pack, each member readable byte for byte through its locator, and forwarded', async () => {
      const sent = await sendBatch(contentIds.map((contentId, i) => ({ contentId, sealed: sealed[i]! })));
      items = sent.items;
      const records = await waitForRecords(items);
      const rows = await Promise.all(contentIds.map((id) => storedRow(id)));
      expect(new Set(rows.map((row) => row.packId)).size).toBe(1);
      const pack = await prisma.pack.findUniqueOrThrow({ where: { id: rows[0]!.packId! } });
      expect(pack).toMatchObject({ tenantId, bucket, memberCount: 5 });
      expect(pack.key).toMatch(new RegExp(`^tenants/${tenantId}/packs/\\d{4}/\\d{2}/${pack.id}$`));
      expect(pack.versionId).toBeTruthy();
      for (const [i, row] of rows.entries()) {
        expect(row).toMatchObject({ key: pack.key, versionId: pack.versionId, sealedSize: BigInt(sealed[i]!.length) });
        expect(sha256(await readMember(row))).toBe(sha256(sealed[i]!));
        expect(records[i]).toEqual({
          tenantId,
          jobId: 'job-1',
          objectId: row.id,
          objectStored: 'new',
          record: items[i]!.record,
        });
      }
      await until('the batch to be acknowledged', async () => ((await batchPending(sent.sequence)) ? undefined : true));
    });

    it('ends with a footer from which every locator can be rebuilt', async () => {
      const row = await storedRow(contentIds[0]!);
      const pack = await prisma.pack.findUniqueOrThrow({ where: { id: row.packId! } });
      const whole = await store.getBuffer({ bucket, key: pack.key, versionId: pack.versionId! });
      expect(whole.length).toBe(Number(pack.size));
      const trailer = decodePackTrailer(whole.subarray(whole.length - PACK_TRAILER_BYTES), whole.length);
      const footer = decodePackFooter(
        whole.subarray(trailer.footerOffset, trailer.footerOffset + trailer.footerLength),
        trailer,
      );
      expect(footer).toMatchObject({ packId: pack.id, tenantId });
      for (const member of footer.members) {
        const stored = await storedRow(member.contentId);
        expect([member.offset, member.length]).toEqual([Number(stored.byteOffset), Number(stored.byteLength)]);
        expect(member.keyId).toBe(stored.keyId);
      }
    });

    it('stores a message seen again in another mailbox once: deduplicated, no new member', async () => {
      // Same content id, sealed again by the connector (new nonce): other bytes, same message.
      const again = sealedShape(contentIds[0]!, 20_000);
      const {
        items: [item],
      } = await sendBatch([{ contentId: contentIds[0]!, sealed: again, mailbox: 'bob@example.test' }]);
      const [record] = await waitForRecords([item!]);
      const row = await storedRow(contentIds[0]!);
      expect(record).toMatchObject({ objectId: row.id, objectStored: 'deduplicated' });
      expect(sha256(await readMember(row))).toBe(sha256(sealed[0]!));
      expect(await prisma.storedObject.count({ where: { tenantId, contentId: contentIds[0]! } })).toBe(1);
    });

    it('reads a member by its pinned version after a newer version was written over its pack', async () => {
      const row = await storedRow(contentIds[1]!);
      await store.put({ bucket, key: row.key }, randomBytes(Number(row.byteOffset) + Number(row.byteLength) + 100));
      const fetched = await tenantCallClient(messaging).request(
        'objects.fetch',
        tenantCallSubjects['objects.fetch'](tenantId),
        { tenantId, contentId: contentIds[1]!, offset: 0, length: FETCH_MAX_BYTES },
      );
      expect(fetched.ok ? 'ok' : fetched.error).toBe('ok');
      if (fetched.ok && 'data' in fetched.value) {
        expect(sha256(Buffer.from(fetched.value.data, 'base64'))).toBe(sha256(sealed[1]!));
      } else {
        expect.fail('a range fetch was answered with a batch');
      }
      // Storage notices the version beside the recorded one: the metric an alert watches says so.
      await until('storage to count the unexpected version', async () => {
        const text = await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text();
        const value = /^mlr_storage_unexpected_object_versions(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1];
        const checkedAt = /^mlr_storage_version_check_time(?:\{[^}]*\})? ([\d.e+]+)/m.exec(text)?.[1];
        return Number(value) >= 1 && Math.abs(Number(checkedAt) - Date.now() / 1000) < 120 ? true : undefined;
      });
    });
  });

  it('stores chunked and inline objects of one batch, and drops the chunks once stored', async () => {
    const large = newContentId();
    const largeBytes = sealedShape(large, 700_000);
    const upload = await sendChunks(large, largeBytes);
    expect(upload.chunks).toHaveLength(2);
    const small = newContentId();
    const smallBytes = sealedShape(small, 5_000);
    const { items } = await sendBatch([
      { contentId: large, sealed: upload },
      { contentId: small, sealed: smallBytes },
    ]);
    await waitForRecords(items);
    const [largeRow, smallRow] = [await storedRow(large), await storedRow(small)];
    expect(largeRow.packId).toBe(smallRow.packId);
    expect(sha256(await readMember(largeRow))).toBe(sha256(largeBytes));
    expect(sha256(await readMember(smallRow))).toBe(sha256(smallBytes));
    await until('the chunks to be dropped', async () => ((await chunksLeft(upload)) === 0 ? true : undefined));
  });

  it('ends with one row when two batches bring the same content at once', async () => {
    const contentId = newContentId();
    const [a, b] = await Promise.all([
      sendBatch([{ contentId, sealed: sealedShape(contentId, 30_000), mailbox: 'alice@example.test' }]),
      sendBatch([{ contentId, sealed: sealedShape(contentId, 30_000), mailbox: 'bob@example.test' }]),
    ]);
    const [[recordA], [recordB]] = await Promise.all([waitForRecords(a.items), waitForRecords(b.items)]);
    const row = await storedRow(contentId);
    expect([recordA!.objectStored, recordB!.objectStored].sort()).toEqual(['deduplicated', 'new']);
    expect(recordA!.objectId).toBe(row.id);
    expect(recordB!.objectId).toBe(row.id);
  });

  it('streams a 20 MiB object of 40 chunks into a pack of its own', async () => {
    const contentId = newContentId();
    const sealed = sealedShape(contentId, 20 * MIB);
    const upload = await sendChunks(contentId, sealed);
    expect(upload.chunks.length).toBeGreaterThanOrEqual(40);
    const { items } = await sendBatch([{ contentId, sealed: upload }]);
    await waitForRecords(items);
    const row = await storedRow(contentId);
    const pack = await prisma.pack.findUniqueOrThrow({ where: { id: row.packId! } });
    expect(pack.memberCount).toBe(1);
    expect(sha256(await readMember(row))).toBe(sha256(sealed));
  });

  it('refuses the bad items of a batch, each with its reason, and stores the rest', async () => {
    const good = newContentId();
    const goodBytes = sealedShape(good, 8_000);
    const notSealed = newContentId();
    const otherMessage = newContentId();
    const wrongKey = newContentId();
    const trailing = newContentId();
    const foreignChunk = newContentId();
    const stolen = await sendChunks(newContentId(), sealedShape(newContentId(), 600_000));
    const { items, sequence } = await sendBatch([
      { contentId: notSealed, sealed: randomBytes(5_000) },
      { contentId: good, sealed: goodBytes },
      { contentId: otherMessage, sealed: sealedShape(newContentId(), 5_000) },
      { contentId: wrongKey, sealed: sealedShape(wrongKey, 5_000), keyId: 'ffffffffffffffff' },
      { contentId: trailing, sealed: Buffer.concat([sealedShape(trailing, 5_000), Buffer.from('extra')]) },
      { contentId: foreignChunk, sealed: { ...stolen, uploadId: randomBytes(16).toString('hex') } },
    ]);
    await waitForRecords([items[1]!]);
    const reasons = await Promise.all(
      [0, 2, 3, 4, 5].map(async (i) => {
        const refusal = await refusalOf(items[i]!);
        expect(refusal).toMatchObject({ outcome: 'rejected', stage: 'storage' });
        return (refusal as Extract<SightingResult, { outcome: 'rejected' }>).reason;
      }),
    );
    expect(reasons[0]).toMatch(/not a sealed object \(bad magic bytes\)/);
    expect(reasons[1]).toMatch(/header names content id .* not /);
    expect(reasons[2]).toMatch(/header names key id 0123456789abcdef, not ffffffffffffffff/);
    expect(reasons[3]).toMatch(/5 bytes after its final segment/);
    expect(reasons[4]).toMatch(/is not valid: it is a message of mlr\.[^ ]+\.chunks\.[0-9a-f]+, not of/);
    for (const id of [notSealed, otherMessage, wrongKey, trailing, foreignChunk]) {
      expect(await prisma.storedObject.count({ where: { tenantId, contentId: id } })).toBe(0);
    }
    expect(sha256(await readMember(await storedRow(good)))).toBe(sha256(goodBytes));
    await until('the batch to be acknowledged', async () => ((await batchPending(sequence)) ? undefined : true));
  });

  it('refuses inline bytes that run past the batch, and every item of a tenant that does not exist', async () => {
    const contentId = newContentId();
    const { items } = await sendBatch([{ contentId, sealed: sealedShape(contentId, 5_000) }], {
      data: Buffer.alloc(10),
    });
    expect((await refusalOf(items[0]!)) as { reason: string }).toMatchObject({
      reason: expect.stringMatching(/run past the 10 bytes the batch carries/),
    });
    const ghost = `${tenantId}-ghost`;
    const orphan = newContentId();
    const sent = await sendBatch([{ contentId: orphan, sealed: sealedShape(orphan, 5_000) }], { tenant: ghost });
    expect((await refusalOf(sent.items[0]!)) as { reason: string }).toMatchObject({
      reason: `tenant ${ghost} does not exist; nothing is stored`,
    });
  });

  it('terminates a batch that is not a commit batch', async () => {
    const msgId = `invalid-${randomBytes(8).toString('hex')}`;
    const ack = await messaging.js.publish(
      subjects.objects(tenantId),
      JSON.stringify({ tenantId, jobId: 'job-1', contentId: 'not-a-content-id' }),
      { msgID: msgId },
    );
    const terminated = await until('the invalid batch to be terminated', () =>
      logEntries().find((e) => e.msg === 'invalid message terminated' && e['msgId'] === msgId),
    );
    expect(String(terminated['reason'])).toContain('batchId');
    await until('the invalid batch to leave the stream', async () =>
      (await batchPending(ack.seq)) ? undefined : true,
    );
  });

  it("locks a tenant's packs for its default retention when the operator set one longer than the bucket's", async () => {
    const contentId = newContentId();
    const writtenAt = Date.now();
    const { items } = await sendBatch([{ contentId, sealed: sealedShape(contentId, 9_000) }], {
      tenant: longKeptTenant,
    });
    await waitForRecords(items, longKeptTenant);
    const row = await storedRow(contentId, longKeptTenant);
    const pack = await prisma.pack.findUniqueOrThrow({ where: { id: row.packId! } });
    const head = await store.head({ bucket, key: pack.key, versionId: pack.versionId! });
    expect(head?.retentionMode).toBe('COMPLIANCE');
    expect(pack.retainUntil!.getTime()).toBeGreaterThanOrEqual(writtenAt + 45 * 86_400_000 - 60_000);
    expect(pack.retainUntil!.getTime()).toBeLessThan(Date.now() + 45 * 86_400_000 + 60_000);
    expect(Math.abs(head!.retainUntil!.getTime() - pack.retainUntil!.getTime())).toBeLessThan(1_000);
    expect(row.retainUntil).toEqual(pack.retainUntil);
    // Another tenant's packs keep the bucket's default: no explicit retention is written for them.
    const other = newContentId();
    const sent = await sendBatch([{ contentId: other, sealed: sealedShape(other, 9_000) }]);
    await waitForRecords(sent.items);
    expect((await storedRow(other)).retainUntil).toBeNull();
  });

  it('writes one S3 object per message for a tenant of the individual layout', async () => {
    const contentIds = [newContentId(), newContentId()];
    const sealed = contentIds.map((id) => sealedShape(id, 12_000));
    const { items } = await sendBatch(
      contentIds.map((contentId, i) => ({ contentId, sealed: sealed[i]! })),
      { tenant: individualTenant },
    );
    await waitForRecords(items, individualTenant);
    for (const [i, contentId] of contentIds.entries()) {
      const row = await storedRow(contentId, individualTenant);
      expect(row).toMatchObject({ key: messageObjectKey(individualTenant, contentId), packId: null, byteOffset: null });
      expect(row.versionId).toBeTruthy();
      expect(sha256(await readMember(row))).toBe(sha256(sealed[i]!));
    }
    expect(await prisma.pack.count({ where: { tenantId: individualTenant } })).toBe(0);
  });

  describe('the locators rebuilt from the packs alone', () => {
    async function rebuild(...args: string[]): Promise<{ code: number; summary: Record<string, unknown> }> {
      // The command as it ships: compiled (`npm run storage:rebuild-locators`).
      ensureBuilt();
      const { stdout, code } = await new Promise<{ stdout: string; code: number }>((resolve) => {
        execFile(
          process.execPath,
          [
            ...CLOUD_NODE_FLAGS,
            'dist/apps/storage/src/cli/rebuild-locators.js',
            '--tenant',
            tenantId,
            '--json',
            ...args,
          ],
          { cwd: REPO_ROOT, env: { PATH: process.env['PATH'] ?? '', ...envFor('storage', infra.serviceEnv) } },
          (error, out) => resolve({ stdout: out, code: error ? Number(error.code ?? 1) : 0 }),
        );
      });
      return { code, summary: JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown> };
    }

    it('match what PostgreSQL records, and name the version written over a pack', async () => {
      const { code, summary } = await rebuild();
      const packed = await prisma.storedObject.count({ where: { tenantId, packId: { not: null } } });
      expect(code).toBe(0);
      expect(summary).toMatchObject({ matching: packed, missing: [], differing: [], unlisted: [] });
      expect(summary['problems']).toEqual([expect.stringMatching(/was written over the pack and is ignored$/)]);
    });

    it('record exactly what PostgreSQL lost, and nothing else', async () => {
      const pack = await prisma.pack.findFirstOrThrow({
        where: { tenantId, memberCount: { gte: 2 } },
        orderBy: { createdAt: 'desc' },
      });
      const lost = await prisma.storedObject.findMany({ where: { packId: pack.id }, orderBy: { contentId: 'asc' } });
      await prisma.storedObject.deleteMany({ where: { packId: pack.id } });
      await prisma.pack.delete({ where: { id: pack.id } });

      const before = await rebuild();
      expect(before.code).toBe(1);
      expect((before.summary['missing'] as Array<{ contentId: string }>).map((m) => m.contentId).sort()).toEqual(
        lost.map((row) => row.contentId),
      );

      const applied = await rebuild('--apply');
      expect(applied.code).toBe(0);
      expect(applied.summary['recorded']).toBe(lost.length);
      const back = await prisma.storedObject.findMany({ where: { packId: pack.id }, orderBy: { contentId: 'asc' } });
      const locator = (row: StoredObject) => [
        row.contentId,
        row.key,
        row.versionId,
        row.byteOffset,
        row.byteLength,
        row.sealedSize,
        row.plainSize,
        row.keyId,
      ];
      expect(back.map(locator)).toEqual(lost.map(locator));
      expect(await prisma.pack.findUniqueOrThrow({ where: { id: pack.id } })).toMatchObject({
        key: pack.key,
        versionId: pack.versionId,
        size: pack.size,
        memberCount: pack.memberCount,
      });
    });
  });

  // Last: it replaces the storage process, so that this batch surely reaches the one with retention.
  it('locks new packs for the configured retention', async () => {
    await app.stop();
    retainingApp = await startApp({
      app: 'storage',
      env: { ...storageEnv, STORAGE_RETENTION_DAYS: '1', STORAGE_RETENTION_MODE: 'GOVERNANCE' },
      logDir: join(logDir, 'retention'),
    });
    const contentId = newContentId();
    const publishedAt = Date.now();
    const { items } = await sendBatch([{ contentId, sealed: sealedShape(contentId, 150_000) }]);
    await waitForRecords(items);
    const row = await storedRow(contentId);
    const pack = await prisma.pack.findUniqueOrThrow({ where: { id: row.packId! } });
    const head = await store.head({ bucket, key: pack.key, versionId: pack.versionId! });
    expect(head).toMatchObject({ size: Number(pack.size), retentionMode: 'GOVERNANCE' });
    expect(row.retainUntil!.getTime()).toBeGreaterThan(publishedAt + 23 * 3_600_000);
    expect(pack.retainUntil!.getTime()).toBe(row.retainUntil!.getTime());
    expect(Math.abs(head!.retainUntil!.getTime() - row.retainUntil!.getTime())).toBeLessThan(1_000);
    expect(logEntries(retainingApp).some((e) => e.msg === 'pack written')).toBe(true);
  });
});
