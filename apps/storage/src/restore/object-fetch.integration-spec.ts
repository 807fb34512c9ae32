import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  FETCH_MAX_BYTES,
  tenantCallSubjects,
  tenantInboxPrefix,
  type ObjectBatchFetchResponse,
  type ObjectRangeFetchRequest,
  type ObjectRangeFetchResponse,
  type TenantCalls,
} from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { connectMessaging, tenantCallClient, type MessagingConnection, type ServiceReply } from '@mlr/messaging';
import { createS3ObjectStore, messageObjectKey, type ObjectStore } from '@mlr/objectstore';
import {
  connectorNatsCreds,
  REPO_ROOT,
  servicesNatsCredentials,
  servicesS3,
  startApp,
  type RunningApp,
} from '@mlr/testing';

type LogEntry = Record<string, unknown> & { msg?: string };
type FetchRequest = TenantCalls['objects.fetch']['request'];

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const newContentId = () => randomBytes(32).toString('hex');

/**
 * `objects.fetch` as a restoring connector sees it: the storage service runs as its own process, the
 * connectors connect with the NATS permissions the platform gives them, and the objects are real
 * S3 objects with their `stored_objects` rows.
 */
describe('storage objects.fetch', () => {
  const infra = inject('infra');
  const suffix = randomBytes(4).toString('hex');
  const tenantA = `fetch-a-${suffix}`;
  const tenantB = `fetch-b-${suffix}`;
  const bucket = infra.s3!.bucket;
  let prisma: PrismaClient;
  let store: ObjectStore;
  let app: RunningApp;
  let connectorA: MessagingConnection;
  let connectorB: MessagingConnection;
  let services: MessagingConnection;

  /** A whole S3 object: 2.5 fetch slices, so paging crosses slice boundaries and ends short. */
  const whole = { contentId: newContentId(), sealed: randomBytes(2 * FETCH_MAX_BYTES + FETCH_MAX_BYTES / 2 + 7) };
  /** An object stored as a byte range of a larger S3 object (between two neighbours). */
  const packed = { contentId: newContentId(), sealed: randomBytes(70_001), before: randomBytes(1_234) };
  /** Three neighbours in one pack, with a gap between the second and the third. */
  const mates = [randomBytes(5_000), randomBytes(7_000), randomBytes(3_000)].map((sealed) => ({
    contentId: newContentId(),
    sealed,
  }));
  /** A row whose S3 object is gone: the store fails, the caller gets an internal error. */
  const lost = { contentId: newContentId() };

  function row(tenantId: string, contentId: string, key: string, sealedSize: number, range?: [number, number]) {
    return {
      tenantId,
      contentId,
      bucket,
      key,
      ...(range ? { byteOffset: BigInt(range[0]), byteLength: BigInt(range[1]) } : {}),
      plainSize: BigInt(sealedSize),
      sealedSize: BigInt(sealedSize),
      keyId: 'key-2026',
    };
  }

  /** A connector of `tenantId` with the credentials enrolment gives it. */
  async function connectAs(tenantId: string, connectorId: string): Promise<MessagingConnection> {
    const { creds } = await connectorNatsCreds(infra, tenantId, connectorId);
    return connectMessaging({
      servers: infra.nats!.url,
      name: `${tenantId}-${connectorId}`,
      credentials: { kind: 'creds', creds },
      inboxPrefix: tenantInboxPrefix(tenantId),
    });
  }

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl);
    for (const id of [tenantA, tenantB]) {
      await prisma.tenant.create({ data: { id, name: `Fetch IT ${id}`, slug: id } });
    }
    store = createS3ObjectStore(servicesS3(infra));
    const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'storage-fetch-it-'));
    app = await startApp({ app: 'storage', env: { ...infra.serviceEnv, LOG_LEVEL: 'debug' }, logDir });
    await store.put({ bucket, key: messageObjectKey(tenantA, whole.contentId) }, whole.sealed);
    const packKey = `${tenantA}/packs/${suffix}`;
    await store.put({ bucket, key: packKey }, Buffer.concat([packed.before, packed.sealed, randomBytes(999)]));
    const matesKey = `${tenantA}/packs/mates-${suffix}`;
    const gap = randomBytes(100);
    await store.put(
      { bucket, key: matesKey },
      Buffer.concat([randomBytes(50), mates[0]!.sealed, mates[1]!.sealed, gap, mates[2]!.sealed, randomBytes(20)]),
    );
    const at = (i: number) => 50 + mates.slice(0, i).reduce((sum, m) => sum + m.sealed.length, 0) + (i === 2 ? 100 : 0);
    await prisma.storedObject.createMany({
      data: [
        ...mates.map((m, i) => row(tenantA, m.contentId, matesKey, m.sealed.length, [at(i), m.sealed.length])),
        row(tenantA, whole.contentId, messageObjectKey(tenantA, whole.contentId), whole.sealed.length),
        row(tenantA, packed.contentId, packKey, packed.sealed.length, [packed.before.length, packed.sealed.length]),
        row(tenantA, lost.contentId, `${tenantA}/never-written/${suffix}`, 10_000),
      ],
    });
    connectorA = await connectAs(tenantA, 'c1');
    connectorB = await connectAs(tenantB, 'c1');
    services = await connectMessaging({
      servers: infra.nats!.url,
      name: `fetch-it-services-${suffix}`,
      credentials: servicesNatsCredentials(infra),
    });
  });

  afterAll(async () => {
    await app?.stop();
    for (const connection of [connectorA, connectorB, services]) await connection?.close();
    store?.close();
    await prisma?.$disconnect();
  });

  const fetchAs = async (connection: MessagingConnection, subjectTenant: string, request: ObjectRangeFetchRequest) => {
    const reply = await tenantCallClient(connection, { timeoutMs: 10_000 }).request(
      'objects.fetch',
      tenantCallSubjects['objects.fetch'](subjectTenant),
      request,
    );
    if (reply.ok && 'objects' in reply.value) throw new Error('a range fetch was answered with a batch');
    return reply as ServiceReply<ObjectRangeFetchResponse>;
  };
  const fetchBatchAs = async (connection: MessagingConnection, subjectTenant: string, request: FetchRequest) => {
    const reply = await tenantCallClient(connection, { timeoutMs: 10_000 }).request(
      'objects.fetch',
      tenantCallSubjects['objects.fetch'](subjectTenant),
      request,
    );
    if (reply.ok && !('objects' in reply.value)) throw new Error('a batch fetch was answered with a range');
    return reply as ServiceReply<ObjectBatchFetchResponse>;
  };

  /** Pages through an object as a connector does; returns the bytes and the replies' metadata. */
  async function fetchAll(contentId: string, sliceBytes: number) {
    const parts: Buffer[] = [];
    const replies: Array<{ sealedSize: number; keyId: string; offset: number; bytes: number }> = [];
    let offset = 0;
    let sealedSize = Infinity;
    while (offset < sealedSize) {
      const reply = await fetchAs(connectorA, tenantA, { tenantId: tenantA, contentId, offset, length: sliceBytes });
      if (!reply.ok) throw new Error(`fetch ${contentId} at ${offset}: ${reply.error.code}: ${reply.error.message}`);
      const data = Buffer.from(reply.value.data, 'base64');
      expect(data.length).toBeGreaterThan(0);
      replies.push({ ...reply.value, bytes: data.length });
      sealedSize = reply.value.sealedSize;
      parts.push(data);
      offset += data.length;
    }
    return { data: Buffer.concat(parts), replies };
  }

  function logEntries(): LogEntry[] {
    return readFileSync(app.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogEntry);
  }

  it('returns a stored object in ranges, byte for byte', async () => {
    const { data, replies } = await fetchAll(whole.contentId, FETCH_MAX_BYTES);
    expect(sha256(data)).toBe(sha256(whole.sealed));
    expect(replies.map((r) => r.bytes)).toEqual([FETCH_MAX_BYTES, FETCH_MAX_BYTES, FETCH_MAX_BYTES / 2 + 7]);
    expect(replies.every((r) => r.sealedSize === whole.sealed.length && r.keyId === 'key-2026')).toBe(true);
    expect(replies.map((r) => r.offset)).toEqual([0, FETCH_MAX_BYTES, 2 * FETCH_MAX_BYTES]);
  });

  it('reads an object stored inside a larger S3 object without touching its neighbours', async () => {
    const { data } = await fetchAll(packed.contentId, 30_000);
    expect(data.equals(packed.sealed)).toBe(true);
    // A slice asked past the end comes back short, never with the next object's bytes.
    const tail = await fetchAs(connectorA, tenantA, {
      tenantId: tenantA,
      contentId: packed.contentId,
      offset: packed.sealed.length - 5,
      length: 1_000,
    });
    expect(tail.ok && Buffer.from(tail.value.data, 'base64')).toEqual(packed.sealed.subarray(-5));
  });

  it('answers not_found for a content id the tenant does not have', async () => {
    const unknown = newContentId();
    const reply = await fetchAs(connectorA, tenantA, { tenantId: tenantA, contentId: unknown, offset: 0, length: 10 });
    expect(reply).toEqual({
      ok: false,
      error: { code: 'not_found', message: expect.stringContaining(unknown) },
    });
  });

  it('answers invalid_request for an offset beyond the end', async () => {
    const reply = await fetchAs(connectorA, tenantA, {
      tenantId: tenantA,
      contentId: whole.contentId,
      offset: whole.sealed.length,
      length: 10,
    });
    expect(reply).toEqual({
      ok: false,
      error: { code: 'invalid_request', message: expect.stringMatching(/beyond the end/) },
    });
  });

  it("refuses a request whose tenant is not the subject's", async () => {
    // Sent with the services' credentials, which may publish anywhere: the server still refuses.
    const reply = await fetchAs(services, tenantA, {
      tenantId: tenantB,
      contentId: whole.contentId,
      offset: 0,
      length: 10,
    });
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.error).toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining(`does not match the subject's tenant "${tenantA}"`),
    });
  });

  it("does not let tenant B's connector ask on tenant A's fetch subject", async () => {
    const reply = await fetchAs(connectorB, tenantA, {
      tenantId: tenantA,
      contentId: whole.contentId,
      offset: 0,
      length: 10,
    });
    // NATS drops the publish (permission violation): no storage replica ever sees it.
    expect(reply.ok).toBe(false);
    expect(!reply.ok && ['timeout', 'unavailable'].includes(reply.error.code)).toBe(true);
    // Its own tenant's subject works, but the object is not B's.
    const own = await fetchAs(connectorB, tenantB, {
      tenantId: tenantB,
      contentId: whole.contentId,
      offset: 0,
      length: 10,
    });
    expect(!own.ok && own.error.code).toBe('not_found');
  });

  it('answers an internal error when the object store fails, and logs why', async () => {
    const reply = await fetchAs(connectorA, tenantA, {
      tenantId: tenantA,
      contentId: lost.contentId,
      offset: 0,
      length: 10,
    });
    expect(!reply.ok && reply.error.code).toBe('internal');
    const logged = logEntries().find((e) => e['event'] === 'object-fetch-failed' && e['contentId'] === lost.contentId);
    expect(logged).toMatchObject({ tenantId: tenantA, code: 'NOT_FOUND', level: 50 });
  });

  it('answers a batch: whole objects in the order asked, pack-mates byte for byte, and each failure on its own', async () => {
    const unknown = newContentId();
    const ids = [
      mates[2]!.contentId,
      unknown,
      mates[0]!.contentId,
      lost.contentId,
      mates[1]!.contentId,
      packed.contentId,
    ];
    const reply = await fetchBatchAs(connectorA, tenantA, { tenantId: tenantA, contentIds: ids });
    expect(reply.ok ? 'ok' : reply.error).toBe('ok');
    if (!reply.ok) return;
    const answers = reply.value.objects;
    expect(answers.map((a) => a.contentId)).toEqual(ids);
    const bytes = (i: number) => {
      const answer = answers[i];
      return answer && 'data' in answer && answer.data !== undefined ? Buffer.from(answer.data, 'base64') : undefined;
    };
    expect(bytes(0)?.equals(mates[2]!.sealed)).toBe(true);
    expect(bytes(2)?.equals(mates[0]!.sealed)).toBe(true);
    expect(bytes(4)?.equals(mates[1]!.sealed)).toBe(true);
    expect(bytes(5)?.equals(packed.sealed)).toBe(true);
    expect(answers[1]).toEqual({
      contentId: unknown,
      error: { code: 'not_found', message: expect.stringContaining(unknown) },
    });
    // S3's words stay in storage's log.
    expect(answers[3]).toEqual({ contentId: lost.contentId, error: { code: 'internal', message: expect.any(String) } });
    expect(JSON.stringify(answers[3])).not.toContain('never-written');
    expect(
      logEntries().some(
        (e) => e['event'] === 'object-fetch-failed' && e['key'] === `${tenantA}/never-written/${suffix}`,
      ),
    ).toBe(true);
  });

  it('answers a batch object larger than one reply with its size only, and the ones after it too', async () => {
    const reply = await fetchBatchAs(connectorA, tenantA, {
      tenantId: tenantA,
      contentIds: [mates[0]!.contentId, whole.contentId, mates[1]!.contentId],
    });
    expect(reply.ok && reply.value.objects.map((a) => ('error' in a ? 'error' : a.data !== undefined))).toEqual([
      true,
      false,
      false,
    ]);
    expect(reply.ok && reply.value.objects[1]).toEqual({
      contentId: whole.contentId,
      sealedSize: whole.sealed.length,
      keyId: 'key-2026',
    });
  });

  it("answers another tenant's content ids in a batch as not found, and refuses a malformed batch", async () => {
    const reply = await fetchBatchAs(connectorB, tenantB, { tenantId: tenantB, contentIds: [mates[0]!.contentId] });
    expect(reply.ok && reply.value.objects[0]).toMatchObject({ error: { code: 'not_found' } });
    const repeated = await fetchBatchAs(connectorA, tenantA, {
      tenantId: tenantA,
      contentIds: [mates[0]!.contentId, mates[0]!.contentId],
    });
    expect(!repeated.ok && repeated.error.code).toBe('invalid_request');
    const tooMany = await fetchBatchAs(connectorA, tenantA, {
      tenantId: tenantA,
      contentIds: Array.from({ length: 65 }, () => newContentId()),
    });
    expect(!tooMany.ok && tooMany.error.code).toBe('invalid_request');
  });
});
