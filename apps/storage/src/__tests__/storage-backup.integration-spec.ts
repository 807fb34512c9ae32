import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  MAX_CHUNK_BYTES,
  STREAMS,
  parseChannelPayload,
  subjects,
  type Channel,
  type ChannelPayloads,
  type ObjectCommit,
  type StoredRecord,
  type Subject,
} from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { connectMessaging, platformValidator, Publisher, type MessagingConnection } from '@mlr/messaging';
import { createS3ObjectStore, messageObjectKey, type ObjectStore } from '@mlr/objectstore';
import { REPO_ROOT, servicesNatsCredentials, startApp, type RunningApp } from '@mlr/testing';
import type { JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import { buildObjectCommit } from './object-commit.factory.js';

type Upload = NonNullable<ObjectCommit['upload']>;
type LogEntry = Record<string, unknown> & { msg?: string };

const MIB = 1024 * 1024;

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
 * The storage service as a connector sees it: chunks and commits go in over NATS, objects come out in
 * S3 and `stored_objects`, and records go on to indexing. The app runs as its own process; other test
 * files share the infrastructure, so everything here lives under a tenant of its own.
 */
describe('storage backup path', () => {
  const infra = inject('infra');
  const tenantId = `storage-it-${randomBytes(4).toString('hex')}`;
  const bucket = infra.s3!.bucket;
  let logDir: string;
  let app: RunningApp;
  let retainingApp: RunningApp | undefined;
  let messaging: MessagingConnection;
  let jsm: JetStreamManager;
  let publisher: Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>;
  let prisma: PrismaClient;
  let store: ObjectStore;
  let nextUid = 1;

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl);
    await prisma.tenant.create({ data: { id: tenantId, name: `Storage IT ${tenantId}`, slug: tenantId } });
    store = createS3ObjectStore(infra.s3!);
    logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'storage-it-'));
    app = await startApp({ app: 'storage', env: { ...infra.serviceEnv, LOG_LEVEL: 'debug' }, logDir });
    messaging = await connectMessaging({
      servers: infra.nats!.url,
      name: `storage-it-${tenantId}`,
      credentials: servicesNatsCredentials(infra),
    });
    jsm = await messaging.manager();
    publisher = new Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>(messaging, {
      validator: platformValidator,
    });
  });

  afterAll(async () => {
    await app?.stop();
    await retainingApp?.stop();
    await messaging?.close();
    store?.close();
    await prisma?.$disconnect();
  });

  /** Publishes `sealed` as a connector does: chunks in a shuffled order (they go out in parallel). */
  async function sendChunks(
    contentId: string,
    sealed: Buffer,
    options: { chunkSize?: number; hold?: number[] } = {},
  ): Promise<{ upload: Upload; sendHeld(): Promise<void> }> {
    const chunkSize = options.chunkSize ?? MAX_CHUNK_BYTES;
    const uploadId = randomBytes(16).toString('hex');
    const chunkCount = Math.ceil(sealed.length / chunkSize);
    const send = (index: number) =>
      publisher.publishBinary(
        'chunks',
        subjects.chunks(tenantId, uploadId),
        { tenantId, uploadId, contentId, chunkIndex: index, chunkCount, offset: index * chunkSize },
        sealed.subarray(index * chunkSize, (index + 1) * chunkSize),
        { msgId: `${uploadId}:${index}` },
      );
    const indexes = Array.from({ length: chunkCount }, (_, i) => i).sort(() => Math.random() - 0.5);
    const held = options.hold ?? [];
    await Promise.all(indexes.filter((i) => !held.includes(i)).map(send));
    return {
      upload: { uploadId, chunkCount, sealedSize: sealed.length },
      sendHeld: async () => {
        await Promise.all(held.map(send));
      },
    };
  }

  /** Publishes a commit; returns its sequence in the objects stream. */
  async function sendCommit(commit: ObjectCommit): Promise<{ sequence: number; msgId: string }> {
    const msgId = `commit-${randomBytes(8).toString('hex')}`;
    const ack = await publisher.publish('objects', subjects.objects(tenantId), commit, { msgId });
    return { sequence: ack.seq, msgId };
  }

  const sighting = (mailbox = 'alice@example.test') => ({ mailbox, uid: nextUid++ });

  /** Every StoredRecord of this tenant, read without a consumer (the stream is indexing's work queue). */
  async function storedRecords(): Promise<StoredRecord[]> {
    const subject = subjects.records(tenantId);
    const found: StoredRecord[] = [];
    let from = 1;
    for (;;) {
      // The server answers "first message of `subject` from `seq` on"; the client's type knows only
      // `seq` and `last_by_subj`.
      const query = { seq: from, next_by_subj: subject } as unknown as MsgRequest;
      const message = await jsm.streams.getMessage(STREAMS.records.name, query);
      if (!message) return found;
      found.push(parseChannelPayload('records', message.subject, message.json()));
      from = message.seq + 1;
    }
  }

  async function recordOf(commit: ObjectCommit): Promise<StoredRecord[]> {
    return (await storedRecords()).filter(
      (r) =>
        r.record.contentId === commit.contentId &&
        r.record.mailbox === commit.record.mailbox &&
        r.record.sourceKey.uid === commit.record.sourceKey.uid,
    );
  }

  const waitForRecord = (commit: ObjectCommit) =>
    until(`the StoredRecord of ${commit.record.mailbox} uid ${commit.record.sourceKey.uid}`, async () => {
      const records = await recordOf(commit);
      return records.length > 0 ? records : undefined;
    });

  const storedRows = (contentId: string) => prisma.storedObject.findMany({ where: { tenantId, contentId } });

  const commitPending = async (sequence: number) =>
    (await jsm.streams.getMessage(STREAMS.objects.name, { seq: sequence })) !== null;

  async function chunksLeft(upload: Upload): Promise<number> {
    const subject = subjects.chunks(tenantId, upload.uploadId);
    const info = await jsm.streams.info(STREAMS.chunks.name, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  function logEntries(): LogEntry[] {
    return readFileSync(app.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogEntry);
  }

  const readObject = (contentId: string) => store.getBuffer({ bucket, key: messageObjectKey(tenantId, contentId) });

  describe('a message seen in two mailboxes', () => {
    const contentId = newContentId();
    const sealed = randomBytes(3 * MAX_CHUNK_BYTES + 12_345);
    let first: ObjectCommit;

    it('is written to S3 byte for byte, recorded, and its record forwarded', async () => {
      const { upload } = await sendChunks(contentId, sealed);
      first = buildObjectCommit(tenantId, contentId, upload, sighting());
      const { sequence } = await sendCommit(first);

      const [record] = await waitForRecord(first);
      const rows = await storedRows(contentId);
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row).toMatchObject({
        bucket,
        key: messageObjectKey(tenantId, contentId),
        byteOffset: null,
        byteLength: null,
        sealedSize: BigInt(sealed.length),
        plainSize: BigInt(first.plainSize),
        keyId: first.keyId,
      });
      expect(record).toEqual({
        tenantId,
        jobId: first.jobId,
        objectId: row.id,
        objectStored: 'new',
        record: first.record,
      });
      expect((await readObject(contentId)).equals(sealed)).toBe(true);
      expect(await chunksLeft(upload)).toBe(0);
      await until('the commit to be acknowledged', async () => ((await commitPending(sequence)) ? undefined : true));
    });

    it('is stored once when it comes again from another mailbox', async () => {
      // Same content id, sealed again by the connector (new nonce): other bytes, same message.
      const { upload } = await sendChunks(contentId, randomBytes(sealed.length));
      const second = buildObjectCommit(tenantId, contentId, upload, sighting('bob@example.test'));
      await sendCommit(second);

      const [record] = await waitForRecord(second);
      const rows = await storedRows(contentId);
      expect(rows).toHaveLength(1);
      expect(record).toMatchObject({ objectId: rows[0]!.id, objectStored: 'deduplicated' });
      expect((await readObject(contentId)).equals(sealed)).toBe(true);
      expect(await recordOf(first)).toHaveLength(1);
      expect(await chunksLeft(upload)).toBe(0);
    });

    it('forwards a flag change (no upload) of the stored object', async () => {
      const flagged = structuredClone(first);
      flagged.upload = null;
      flagged.jobId = 'job-2';
      flagged.record.flags.flagged = true;
      await sendCommit(flagged);
      const records = await until('the flag change to be forwarded', async () => {
        const found = (await recordOf(first)).filter((r) => r.jobId === 'job-2');
        return found.length > 0 ? found : undefined;
      });
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ objectStored: 'deduplicated', record: { flags: { flagged: true } } });
      expect(await storedRows(contentId)).toHaveLength(1);
    });
  });

  it('ends with one object and one row when two commits of one content id arrive at once', async () => {
    const contentId = newContentId();
    const sealedA = randomBytes(700_000);
    const sealedB = randomBytes(700_000);
    const a = await sendChunks(contentId, sealedA);
    const b = await sendChunks(contentId, sealedB);
    const commitA = buildObjectCommit(tenantId, contentId, a.upload, sighting('alice@example.test'));
    const commitB = buildObjectCommit(tenantId, contentId, b.upload, sighting('bob@example.test'));
    await Promise.all([sendCommit(commitA), sendCommit(commitB)]);

    const [recordA] = await waitForRecord(commitA);
    const [recordB] = await waitForRecord(commitB);
    const rows = await storedRows(contentId);
    expect(rows).toHaveLength(1);
    expect([recordA!.objectStored, recordB!.objectStored].sort()).toEqual(['deduplicated', 'new']);
    expect(recordA!.objectId).toBe(rows[0]!.id);
    expect(recordB!.objectId).toBe(rows[0]!.id);
    const stored = await readObject(contentId);
    expect(stored.equals(sealedA) || stored.equals(sealedB)).toBe(true);
  });

  it('streams a 20 MiB object of 40 chunks into a multipart upload', async () => {
    const contentId = newContentId();
    const sealed = randomBytes(20 * MIB);
    const { upload } = await sendChunks(contentId, sealed);
    expect(upload.chunkCount).toBe(40);
    const commit = buildObjectCommit(tenantId, contentId, upload, sighting());
    await sendCommit(commit);

    await waitForRecord(commit);
    const head = await store.head({ bucket, key: messageObjectKey(tenantId, contentId) });
    expect(head?.size).toBe(sealed.length);
    expect(sha256(await readObject(contentId))).toBe(sha256(sealed));
    expect((await storedRows(contentId))[0]?.sealedSize).toBe(BigInt(sealed.length));
    expect(await chunksLeft(upload)).toBe(0);
  });

  it('keeps a commit whose chunk has not arrived, and stores it once the chunk is there', async () => {
    const contentId = newContentId();
    const sealed = randomBytes(4 * 100_000 + 5);
    const { upload, sendHeld } = await sendChunks(contentId, sealed, { chunkSize: 100_000, hold: [2] });
    const commit = buildObjectCommit(tenantId, contentId, upload, sighting());
    const { sequence, msgId } = await sendCommit(commit);

    await until('storage to try the commit and put it back', () =>
      logEntries().some((e) => e.msg === 'handler failed; message will be redelivered' && e['msgId'] === msgId)
        ? true
        : undefined,
    );
    const failure = logEntries().find(
      (e) => e['msgId'] === msgId && e.msg === 'handler failed; message will be redelivered',
    );
    expect(JSON.stringify(failure)).toContain('chunks 2 of the 5');
    expect(await commitPending(sequence)).toBe(true);
    expect(await storedRows(contentId)).toHaveLength(0);
    expect(await recordOf(commit)).toHaveLength(0);

    await sendHeld();
    const [record] = await waitForRecord(commit);
    expect(record?.objectStored).toBe('new');
    expect((await readObject(contentId)).equals(sealed)).toBe(true);
    await until('the commit to be acknowledged', async () => ((await commitPending(sequence)) ? undefined : true));
  });

  it('rejects for good, with the reason in the log, a commit without upload for an unknown object', async () => {
    const contentId = newContentId();
    const commit = buildObjectCommit(tenantId, contentId, null, sighting());
    const { sequence } = await sendCommit(commit);

    const rejected = await until('the commit to be rejected', () =>
      logEntries().find((e) => e.msg === 'object commit rejected for good' && e['contentId'] === contentId),
    );
    expect(rejected).toMatchObject({ code: 'OBJECT_NOT_STORED', tenantId, streamSequence: sequence });
    expect(String(rejected['reason'])).toContain(`tenant ${tenantId} has no object ${contentId}`);
    await until('the commit to be terminated', async () => ((await commitPending(sequence)) ? undefined : true));
    expect(await storedRows(contentId)).toHaveLength(0);
    expect(await recordOf(commit)).toHaveLength(0);
  });

  it('terminates an invalid commit', async () => {
    const msgId = `invalid-${randomBytes(8).toString('hex')}`;
    const ack = await messaging.js.publish(
      subjects.objects(tenantId),
      JSON.stringify({ tenantId, jobId: 'job-1', contentId: 'not-a-content-id' }),
      { msgID: msgId },
    );
    const terminated = await until('the invalid commit to be terminated', () =>
      logEntries().find((e) => e.msg === 'invalid message terminated' && e['msgId'] === msgId),
    );
    expect(String(terminated['reason'])).toContain('content id must be 64 lower-case hex characters');
    await until('the invalid commit to leave the stream', async () =>
      (await commitPending(ack.seq)) ? undefined : true,
    );
  });
  // Last: it replaces the storage process, so that this commit surely reaches the one with retention.
  it('locks new objects for the configured retention', async () => {
    await app.stop();
    retainingApp = await startApp({
      app: 'storage',
      env: { ...infra.serviceEnv, STORAGE_RETENTION_DAYS: '1', STORAGE_RETENTION_MODE: 'GOVERNANCE' },
      logDir: join(logDir, 'retention'),
    });
    const contentId = newContentId();
    const sealed = randomBytes(150_000);
    const { upload } = await sendChunks(contentId, sealed);
    const commit = buildObjectCommit(tenantId, contentId, upload, sighting());
    const publishedAt = Date.now();
    await sendCommit(commit);

    await waitForRecord(commit);
    const row = (await storedRows(contentId))[0]!;
    const head = await store.head({ bucket, key: messageObjectKey(tenantId, contentId) });
    expect(head).toMatchObject({ size: sealed.length, retentionMode: 'GOVERNANCE' });
    expect(row.retainUntil).not.toBeNull();
    expect(row.retainUntil!.getTime()).toBeGreaterThan(publishedAt + 23 * 3_600_000);
    expect(Math.abs(head!.retainUntil!.getTime() - row.retainUntil!.getTime())).toBeLessThan(1_000);
  });
});
