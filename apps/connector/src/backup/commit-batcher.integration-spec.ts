import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  connectMessaging,
  decodeMessage,
  ensurePlatformStreams,
  ensureTenantChunksStream,
  platformValidator,
  tenantCallServer,
  type MessagingConnection,
  type Responder,
} from '@mlr/messaging';
import {
  INLINE_SEALED_MAX_BYTES,
  MAX_CHUNK_BYTES,
  STREAMS,
  subjects,
  tenantChunksStream,
  UPLOAD_QUOTA_MIN_BYTES,
  type IndexRecord,
  type ObjectCommitBatch,
  type SightingResult,
  type SightingStatusRequest,
  type SightingStatusResponse,
} from '@mlr/contracts';
import { contentId, deriveTenantKeys, generateRootKey, openSealedObject, sealMessage } from '@mlr/crypto';
import { checkEnvelope } from '@mlr/envelope';
import { servicesNatsCredentials } from '@mlr/testing';
import type { MsgRequest } from '@nats-io/jetstream';
import { CommitBatcher, UploadError } from './commit-batcher.js';

const keys = deriveTenantKeys(generateRootKey());

function recordFor(tenantId: string, raw: Buffer, uid: number): IndexRecord {
  return {
    tenantId,
    mailbox: 'alice',
    folder: 'INBOX',
    sourceKey: { source: 'imap', epoch: '7', id: String(uid) },
    contentId: contentId(keys, raw),
    messageId: null,
    submissionDate: null,
    internalDate: null,
    from: null,
    to: [],
    cc: [],
    bcc: [],
    subject: `message ${uid}`,
    attachmentNames: [],
    hasAttachment: false,
    importance: 'normal',
    followUp: false,
    itemType: 'mail',
    form: 'rfc5322',
    kindFields: null,
    flags: { seen: false, answered: false, flagged: false, draft: false, deleted: false },
    keywords: [],
    observedAt: new Date().toISOString(),
    size: raw.length,
    parseProblems: [],
    backupJobId: 'job-1',
  };
}

/**
 * The connector's side of the data path against a real NATS JetStream: what the batcher publishes
 * (read back from the streams without consuming them) and how it takes the platform's answers, which
 * this test plays itself on the tenant's acknowledgement subject.
 */
describe('CommitBatcher against NATS JetStream', () => {
  const infra = inject('infra');
  let messaging: MessagingConnection;

  beforeAll(async () => {
    messaging = await connectMessaging({
      servers: infra.nats!.url,
      name: 'commit-batcher-it',
      credentials: servicesNatsCredentials(infra),
    });
    await ensurePlatformStreams(messaging);
  });

  afterAll(async () => {
    await messaging?.close();
  });

  /** Every commit batch the tenant published, with its inline bytes. */
  async function batchesOf(tenantId: string): Promise<Array<{ batch: ObjectCommitBatch; data: Uint8Array }>> {
    const jsm = await messaging.manager();
    const found: Array<{ batch: ObjectCommitBatch; data: Uint8Array }> = [];
    let from = 1;
    for (;;) {
      const query = { seq: from, next_by_subj: subjects.objects(tenantId) } as unknown as MsgRequest;
      const message = await jsm.streams.getMessage(STREAMS.objects.name, query);
      if (!message) return found;
      const header = (name: string) => (message.header?.has(name) ? message.header.get(name) : undefined);
      const decoded = decodeMessage(message.data, header);
      found.push({
        batch: platformValidator.parse('objects', message.subject, decoded.payload),
        data: decoded.data ?? new Uint8Array(),
      });
      from = message.seq + 1;
    }
  }

  /** Answers on the tenant's acknowledgement subject as indexing (or storage) would. */
  function answer(tenantId: string, jobId: string, results: SightingResult[]): void {
    messaging.nc.publish(subjects.indexed(tenantId), JSON.stringify({ tenantId, jobId, results }));
  }

  const stored = (record: IndexRecord): SightingResult => ({
    contentId: record.contentId,
    mailbox: record.mailbox,
    folder: record.folder,
    sourceKey: record.sourceKey,
    outcome: 'stored',
    objectStored: 'new',
    recordStored: 'new',
    recordId: `r-${Number(record.sourceKey.id)}`,
  });

  async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('sends small messages inline in one batch and a large one as chunks, and answers each when acknowledged', async () => {
    const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
    await ensureTenantChunksStream(messaging, tenantId, UPLOAD_QUOTA_MIN_BYTES);
    const batcher = new CommitBatcher(messaging, tenantId, { lingerMs: 50 });
    batcher.start();
    try {
      const small = [1, 2, 3].map((i) => Buffer.from(`Subject: small ${i}\r\n\r\n${'text '.repeat(200 * i)}\r\n`));
      // Random bytes do not compress: sealed, this is above the inline limit.
      const large = Buffer.concat([
        Buffer.from('Subject: large\r\n\r\n'),
        randomBytes(INLINE_SEALED_MAX_BYTES + 50_000),
      ]);
      const raws = [...small, large];
      const records = raws.map((raw, i) => recordFor(tenantId, raw, i + 1));
      const sealed = await Promise.all(raws.map((raw) => sealMessage(keys, raw)));
      const uploads = sealed.map((message, i) => batcher.upload('job-1', message, records[i]!));

      const [first] = await until('the commit batch', async () => {
        const found = await batchesOf(tenantId);
        return found.length > 0 ? found : undefined;
      });
      const { batch, data } = first!;
      expect(batch.items.map((item) => item.sealed.kind)).toEqual(['inline', 'inline', 'inline', 'chunks']);
      for (const [i, item] of batch.items.entries()) {
        expect(item.record).toEqual(records[i]);
        if (item.sealed.kind !== 'inline') continue;
        const sealed = Buffer.from(data.subarray(item.sealed.offset, item.sealed.offset + item.sealed.length));
        checkEnvelope(sealed, { contentId: item.contentId, keyId: keys.keyId });
        expect(await openSealedObject(keys, sealed, { expectedContentId: item.contentId })).toEqual(raws[i]);
      }
      const chunked = batch.items[3]!.sealed;
      if (chunked.kind !== 'chunks') throw new Error('expected chunks');
      const jsm = await messaging.manager();
      const pieces = await Promise.all(
        chunked.chunks.map(
          async (chunk) =>
            (await jsm.streams.getMessage(tenantChunksStream(tenantId).name, { seq: chunk.sequence }))!.data,
        ),
      );
      const sealedLarge = Buffer.concat(pieces);
      expect(sealedLarge.length).toBe(chunked.sealedSize);
      expect(await openSealedObject(keys, sealedLarge, { expectedContentId: records[3]!.contentId })).toEqual(large);

      answer(tenantId, 'job-1', records.map(stored));
      await expect(Promise.all(uploads)).resolves.toEqual(
        records.map(() => ({ objectStored: 'new', recordStored: 'new' })),
      );
    } finally {
      await batcher.stop();
    }
  });

  it("fails a refused sighting at once with the platform's reason", async () => {
    const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
    const batcher = new CommitBatcher(messaging, tenantId, { lingerMs: 10 });
    batcher.start();
    try {
      const raw = Buffer.from('Subject: refused\r\n\r\nbody\r\n');
      const record = recordFor(tenantId, raw, 1);
      const upload = batcher.upload('job-1', await sealMessage(keys, raw), record);
      await until('the commit batch', async () => ((await batchesOf(tenantId)).length > 0 ? true : undefined));
      const {
        outcome: _outcome,
        objectStored: _o,
        recordStored: _r,
        recordId: _id,
        ...sighting
      } = stored(record) as Extract<SightingResult, { outcome: 'stored' }>;
      answer(tenantId, 'job-1', [
        { ...sighting, outcome: 'rejected', stage: 'storage', reason: 'not a sealed object' },
      ]);
      const error = await upload.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UploadError);
      expect((error as Error).message).toBe('the platform refused it (storage): not a sealed object');
    } finally {
      await batcher.stop();
    }
  });

  it('sends what it collects at once when asked to flush, and asks storage to write what it holds', async () => {
    const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
    const batcher = new CommitBatcher(messaging, tenantId, { lingerMs: 60_000 });
    batcher.start();
    try {
      const raws = [1, 2].map((i) => Buffer.from(`Subject: flushed ${i}\r\n\r\nbody\r\n`));
      const records = raws.map((raw, i) => recordFor(tenantId, raw, i + 1));
      const sealed = await Promise.all(raws.map((raw) => sealMessage(keys, raw)));
      const uploads = sealed.map((message, i) => batcher.upload('job-1', message, records[i]!));
      batcher.flush('job-1');
      const [first] = await until('the flushed batch', async () => {
        const found = await batchesOf(tenantId);
        return found.length > 0 ? found : undefined;
      });
      expect(first!.batch).toMatchObject({ flush: true });
      expect(first!.batch.items).toHaveLength(2);
      // Nothing collected any more, but two sightings unanswered: a batch without items asks again.
      batcher.flush('job-1');
      const second = await until('the flush without items', async () => (await batchesOf(tenantId))[1]);
      expect(second.batch).toMatchObject({ items: [], flush: true });
      answer(tenantId, 'job-1', records.map(stored));
      await Promise.all(uploads);
      // Everything answered: nothing to ask for.
      batcher.flush('job-1');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await batchesOf(tenantId)).toHaveLength(2);
    } finally {
      await batcher.stop();
    }
  });

  /**
   * Answers `sightings.status` for `tenantId` as indexing would, with `indexed` for the sightings
   * `holds` says the index has; records what was asked.
   */
  function serveSightingStatus(
    tenantId: string,
    holds: (sighting: SightingStatusRequest['sightings'][number]) => boolean,
    /** Which of the commits asked about still wait for storage (none by default). */
    waiting: (commits: number[]) => number[] = () => [],
  ): { asked: SightingStatusRequest[]; responder: Responder } {
    const asked: SightingStatusRequest[] = [];
    const responder = tenantCallServer(messaging).serve(
      'sightings.status',
      `mlr.${tenantId}.sightings`,
      async (request): Promise<SightingStatusResponse> => {
        asked.push(request);
        return {
          sightings: request.sightings.map((sighting) =>
            holds(sighting)
              ? { ...sighting, state: 'indexed', recordId: `r-${sighting.sourceKey.id}`, backupJobId: 'job-1' }
              : { ...sighting, state: 'unknown' },
          ),
          waitingCommits: waiting(request.commits ?? []),
        };
      },
    );
    return { asked, responder };
  }

  it('answers a sighting whose acknowledgement was lost as stored once the platform says it has it', async () => {
    const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
    const batcher = new CommitBatcher(messaging, tenantId, { lingerMs: 10, ackTimeoutMs: 300, attempts: 2 });
    // The index has message 1 (its acknowledgement was lost: the connector was cut off meanwhile), not 2.
    const { asked, responder } = serveSightingStatus(tenantId, (sighting) => sighting.sourceKey.id === '1');
    batcher.start();
    try {
      const [one, two] = [Buffer.from('Subject: one\r\n\r\nbody\r\n'), Buffer.from('Subject: two\r\n\r\nbody\r\n')];
      const [first, second] = [recordFor(tenantId, one, 1), recordFor(tenantId, two, 2)];
      const uploads = [
        batcher.upload('job-1', await sealMessage(keys, one), first),
        batcher.upload('job-1', await sealMessage(keys, two), second),
      ];
      await expect(uploads[0]).resolves.toEqual({ objectStored: 'new', recordStored: 'unchanged' });
      await expect(uploads[1]).rejects.toThrow(/not acknowledged after 2 attempts/);
      expect(asked[0]?.sightings.map((sighting) => sighting.sourceKey.id)).toEqual(['1', '2']);
      expect(asked[0]?.sightings[0]).toEqual({
        contentId: first.contentId,
        mailbox: 'alice',
        folder: 'INBOX',
        sourceKey: { source: 'imap', epoch: '7', id: '1' },
      });
      // Message 1 was never sent again; message 2 twice (the attempts), and asked about after each.
      const sent = (await batchesOf(tenantId)).map(({ batch }) =>
        batch.items.map((item) => Number(item.record.sourceKey.id)),
      );
      expect(sent).toEqual([[1, 2], [2]]);
    } finally {
      await batcher.stop();
      await responder.stop();
    }
  });

  it('counts no attempt while the platform cannot say, and gives up only after unreachableGiveUpMs', async () => {
    const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
    // Nobody answers sightings.status: the platform cannot be asked (as when indexing is down).
    const batcher = new CommitBatcher(messaging, tenantId, {
      lingerMs: 10,
      ackTimeoutMs: 200,
      attempts: 1,
      unreachableRetryMs: 100,
      unreachableGiveUpMs: 3_000,
    });
    batcher.start();
    try {
      const raw = Buffer.from('Subject: into the void\r\n\r\nbody\r\n');
      const started = Date.now();
      const upload = batcher.upload('job-1', await sealMessage(keys, raw), recordFor(tenantId, raw, 1));
      await expect(upload).rejects.toThrow(
        /the platform could not be reached or answer for \d+ s: no acknowledgement .* could not say/,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
      // Sent again meanwhile, although only one attempt is allowed: none of them counted.
      expect((await batchesOf(tenantId)).length).toBeGreaterThan(1);
    } finally {
      await batcher.stop();
    }
  });

  it('sends an unacknowledged sighting again in a later batch, then gives up after the last attempt', async () => {
    const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
    const batcher = new CommitBatcher(messaging, tenantId, { lingerMs: 10, ackTimeoutMs: 300, attempts: 2 });
    // The platform answers questions about sightings, and has none of these.
    const { responder } = serveSightingStatus(tenantId, () => false);
    batcher.start();
    try {
      const acknowledged = Buffer.from('Subject: second time lucky\r\n\r\nbody\r\n');
      const lost = Buffer.from('Subject: never acknowledged\r\n\r\nbody\r\n');
      const [first, second] = [recordFor(tenantId, acknowledged, 1), recordFor(tenantId, lost, 2)];
      const uploads = [
        batcher.upload('job-1', await sealMessage(keys, acknowledged), first),
        batcher.upload('job-1', await sealMessage(keys, lost), second),
      ];
      await until('the second send', async () => ((await batchesOf(tenantId)).length >= 2 ? true : undefined));
      const sent = await batchesOf(tenantId);
      expect(sent.slice(0, 2).map(({ batch }) => batch.items.map((item) => Number(item.record.sourceKey.id)))).toEqual([
        [1, 2],
        [1, 2],
      ]);
      expect(sent[0]!.batch.batchId).not.toBe(sent[1]!.batch.batchId);
      answer(tenantId, 'job-1', [stored(first)]);
      await expect(uploads[0]).resolves.toEqual({ objectStored: 'new', recordStored: 'new' });
      await expect(uploads[1]).rejects.toThrow(
        /not acknowledged after 2 attempts: no acknowledgement from the platform within 0\.3 s/,
      );
    } finally {
      await batcher.stop();
      await responder.stop();
    }
  });

  describe('while storage holds its commit without storing it (S3 down, storage behind)', () => {
    it('neither sends it again nor counts an attempt, and takes the acknowledgement when it comes', async () => {
      const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
      const batcher = new CommitBatcher(messaging, tenantId, { lingerMs: 10, ackTimeoutMs: 200, attempts: 1 });
      let storageWrites = false;
      const { asked, responder } = serveSightingStatus(
        tenantId,
        () => false,
        (commits) => (storageWrites ? [] : commits),
      );
      batcher.start();
      try {
        const raw = Buffer.from('Subject: waits for S3\r\n\r\nbody\r\n');
        const record = recordFor(tenantId, raw, 1);
        const upload = batcher.upload('job-1', await sealMessage(keys, raw), record);
        await until('three questions', async () => (asked.length >= 3 ? true : undefined));
        const sent = await batchesOf(tenantId);
        expect(sent).toHaveLength(1); // not sent again
        expect(sent[0]!.batch.items).toHaveLength(1);
        // Every question named the commit the sighting went in.
        const jsm = await messaging.manager();
        const { state } = await jsm.streams.info(STREAMS.objects.name, { subjects_filter: subjects.objects(tenantId) });
        expect(asked.map((question) => question.commits)).toEqual(asked.map(() => [state.last_seq]));

        storageWrites = true; // storage takes it, indexing acknowledges it
        answer(tenantId, 'job-1', [stored(record)]);
        await expect(upload).resolves.toEqual({ objectStored: 'new', recordStored: 'new' });
      } finally {
        await batcher.stop();
        await responder.stop();
      }
    });

    it('fails it after storageWaitGiveUpMs, saying that storage held its commit', async () => {
      const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
      const batcher = new CommitBatcher(messaging, tenantId, {
        lingerMs: 10,
        ackTimeoutMs: 200,
        attempts: 1,
        storageWaitGiveUpMs: 1_500,
      });
      const { responder } = serveSightingStatus(
        tenantId,
        () => false,
        (commits) => commits,
      );
      batcher.start();
      try {
        const raw = Buffer.from('Subject: S3 never comes back\r\n\r\nbody\r\n');
        await expect(
          batcher.upload('job-1', await sealMessage(keys, raw), recordFor(tenantId, raw, 1)),
        ).rejects.toThrow(
          /storage has held its commit for \d+ s without storing it \(no acknowledgement .*\): is its object storage reachable\?/,
        );
        expect(await batchesOf(tenantId)).toHaveLength(1);
      } finally {
        await batcher.stop();
        await responder.stop();
      }
    });
  });

  describe("at the tenant's upload quota", () => {
    /** A tenant whose chunk stream is filled to its quota (uploads storage has not taken yet). */
    async function tenantAtQuota(): Promise<{ tenantId: string; makeRoom: () => Promise<void> }> {
      const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
      await ensureTenantChunksStream(messaging, tenantId, UPLOAD_QUOTA_MIN_BYTES);
      const waiting = subjects.chunks(tenantId, 'f'.repeat(32));
      for (let i = 0; ; i++) {
        try {
          await messaging.js.publish(waiting, randomBytes(MAX_CHUNK_BYTES), { msgID: `fill-${i}` });
        } catch (error) {
          expect((error as Error).message).toMatch(/maximum bytes exceeded/);
          break;
        }
      }
      const makeRoom = async () => {
        await (await messaging.manager()).streams.purge(tenantChunksStream(tenantId).name, { filter: waiting });
      };
      return { tenantId, makeRoom };
    }

    const largeMessage = () =>
      Buffer.concat([Buffer.from('Subject: large\r\n\r\n'), randomBytes(INLINE_SEALED_MAX_BYTES + 400_000)]);

    it('waits for room instead of failing the message, and sends it once storage has made room', async () => {
      const { tenantId, makeRoom } = await tenantAtQuota();
      const batcher = new CommitBatcher(messaging, tenantId, { lingerMs: 10, unreachableRetryMs: 200 });
      batcher.setUploadQuota(UPLOAD_QUOTA_MIN_BYTES);
      batcher.start();
      try {
        const raw = largeMessage();
        const record = recordFor(tenantId, raw, 1);
        let settled = false;
        const upload = batcher.upload('job-1', await sealMessage(keys, raw), record);
        void upload.then(
          () => (settled = true),
          () => (settled = true),
        );
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        expect(settled).toBe(false); // neither failed nor sent: waiting for room
        expect(await batchesOf(tenantId)).toEqual([]);

        await makeRoom();
        const [sent] = await until('the commit batch', async () => {
          const found = await batchesOf(tenantId);
          return found.length > 0 ? found : undefined;
        });
        expect(sent!.batch.items.map((item) => item.sealed.kind)).toEqual(['chunks']);
        answer(tenantId, 'job-1', [stored(record)]);
        await expect(upload).resolves.toEqual({ objectStored: 'new', recordStored: 'new' });
      } finally {
        await batcher.stop();
      }
    });

    it('fails the message naming the quota when it stays full for longer than storageWaitGiveUpMs', async () => {
      const { tenantId } = await tenantAtQuota();
      const batcher = new CommitBatcher(messaging, tenantId, {
        lingerMs: 10,
        unreachableRetryMs: 200,
        storageWaitGiveUpMs: 1_500,
      });
      batcher.setUploadQuota(UPLOAD_QUOTA_MIN_BYTES);
      batcher.start();
      try {
        const raw = largeMessage();
        await expect(
          batcher.upload('job-1', await sealMessage(keys, raw), recordFor(tenantId, raw, 1)),
        ).rejects.toThrow(
          new RegExp(`tenant ${tenantId}'s upload quota of 16 MiB stayed full for \\d+ s: storage did not take`),
        );
      } finally {
        await batcher.stop();
      }
    });

    it('refuses a message larger than the quota at once, naming the quota and who can raise it', async () => {
      const tenantId = `batcher-${randomBytes(4).toString('hex')}`;
      await ensureTenantChunksStream(messaging, tenantId, UPLOAD_QUOTA_MIN_BYTES);
      const batcher = new CommitBatcher(messaging, tenantId, { lingerMs: 10 });
      batcher.setUploadQuota(UPLOAD_QUOTA_MIN_BYTES);
      batcher.start();
      try {
        const raw = Buffer.concat([Buffer.from('Subject: huge\r\n\r\n'), randomBytes(UPLOAD_QUOTA_MIN_BYTES + 1)]);
        const upload = batcher.upload('job-1', await sealMessage(keys, raw), recordFor(tenantId, raw, 1));
        await expect(upload).rejects.toThrow(UploadError);
        await expect(upload).rejects.toThrow(
          new RegExp(
            `the message is 16 MiB sealed, more than tenant ${tenantId}'s upload quota of 16 MiB .*` +
              `PUT /v1/tenants/${tenantId}/upload-quota`,
          ),
        );
        const info = await (await messaging.manager()).streams.info(tenantChunksStream(tenantId).name);
        expect(info.state.messages).toBe(0); // nothing of it was sent
      } finally {
        await batcher.stop();
      }
    });
  });
});
