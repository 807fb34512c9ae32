import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { UsageReport } from '@mlr/contracts';
import { contentId, deriveTenantKeys, openSealedObject, type TenantKeys } from '@mlr/crypto';
import {
  REPO_ROOT,
  corpusMessages,
  fetchFolder,
  freePort,
  imapSessionAs,
  provisionConnector,
  seedFolder,
  type ProvisionedConnector,
} from '@mlr/testing';
import { runConnectorCli } from './support/connector-cli.js';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-backup';
const CONNECTOR = 'imap-e2e';
const PUBLIC_FOLDER = 'Public/Announcements';
const PUBLIC_MAILBOX = '#public';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The backup flow across real processes: Dovecot → connector → NATS JetStream → storage (Ceph S3,
 * PostgreSQL; two replicas) → indexing (PostgreSQL; two replicas) → acknowledgement → checkpoints in
 * scheduling.
 */
describe('backup pipeline end to end, on the whole corpus', () => {
  const infra = inject('infra');
  const imap = infra.imap!;
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-backup-'));
  const platform = new PlatformFixture(infra, dir);
  let connector: ProvisionedConnector;
  let keys: TenantKeys;
  let planId: string;
  const s3 = infra.s3!;
  const s3Client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    // The services' key: only their user may read what storage wrote.
    credentials: { accessKeyId: s3.service.accessKey, secretAccessKey: s3.service.secretKey },
    forcePathStyle: true,
  });
  const sightingCount = async () => platform.prisma.indexRecord.count({ where: { tenantId: TENANT } });

  /** Every object S3 holds under `prefix` in the platform's bucket (current versions), with its size. */
  async function listS3Objects(prefix: string): Promise<Array<{ key: string; size: number }>> {
    const objects: Array<{ key: string; size: number }> = [];
    let continuationToken: string | undefined;
    do {
      const page = await s3Client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: continuationToken }),
      );
      for (const object of page.Contents ?? []) objects.push({ key: object.Key!, size: object.Size! });
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return objects;
  }
  const objectCount = async () => platform.prisma.storedObject.count({ where: { tenantId: TENANT } });

  /** The sealed bytes of a stored object, read through its locator: key, pinned version, byte range. */
  async function readSealed(object: {
    bucket: string;
    key: string;
    versionId: string | null;
    byteOffset: bigint | null;
    byteLength: bigint | null;
  }): Promise<Buffer> {
    return platform.store.getBuffer({
      bucket: object.bucket,
      key: object.key,
      ...(object.versionId ? { versionId: object.versionId } : {}),
      ...(object.byteOffset !== null && object.byteLength !== null
        ? { range: { offset: Number(object.byteOffset), length: Number(object.byteLength) } }
        : {}),
    });
  }

  /** What IMAP serves now, per mailbox and folder: the truth the backup must match. */
  async function served(): Promise<Map<string, Map<number, { bytes: Buffer; flags: string[] }>>> {
    return new Map([
      ['alice/INBOX', await fetchFolder(imap, 'alice', 'INBOX')],
      ['bob/INBOX', await fetchFolder(imap, 'bob', 'INBOX')],
      [`${PUBLIC_MAILBOX}/${PUBLIC_FOLDER}`, await fetchFolder(imap, 'alice', PUBLIC_FOLDER)],
    ]);
  }

  beforeAll(async () => {
    const corpus = corpusMessages();
    const alice = corpus.filter((_, i) => i % 2 === 0);
    // Bob has the other half, plus five of Alice's messages: those are stored once.
    const bob = [...corpus.filter((_, i) => i % 2 === 1), ...alice.slice(0, 5)];
    await seedFolder(
      imap,
      'alice',
      'INBOX',
      alice.map((m, i) => ({ bytes: m.bytes, flags: i % 3 === 0 ? ['\\Seen'] : [] })),
    );
    await seedFolder(
      imap,
      'bob',
      'INBOX',
      bob.map((m) => ({ bytes: m.bytes, flags: ['\\Seen', '$Label1'] })),
    );
    await seedFolder(
      imap,
      'alice',
      PUBLIC_FOLDER,
      corpus.slice(0, 10).map((m) => ({ bytes: m.bytes, internalDate: new Date('2024-02-29T10:00:00Z') })),
    );

    // Two storage and two indexing processes side by side, as a cluster runs them: they share the
    // work, and a message is still stored and indexed once.
    await platform.startPlatform();
    await platform.startReplica('storage', 'storage-2');
    await platform.startReplica('indexing', 'indexing-2');
    const healthPort = await freePort();
    connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir,
      mailboxes: ['alice', 'bob'],
      healthPort,
    });
    keys = deriveTenantKeys(Buffer.from(connector.rootKeyHex, 'hex'));
    await platform.startConnector(connector.configFile, healthPort);

    planId = await platform.createPlan(TENANT, {
      name: 'everything',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'all' },
    });
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
    s3Client.destroy();
  });

  it('backs up every message sighting, each object byte-exact and stored once', async () => {
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');

    const truth = await served();
    const expectedSightings = [...truth.values()].reduce((n, folder) => n + folder.size, 0);
    const distinct = new Set(
      [...truth.values()].flatMap((folder) => [...folder.values()].map((m) => contentId(keys, m.bytes))),
    );
    expect(job.counters.seen).toBe(expectedSightings);
    expect(job.counters.new + job.counters.deduplicated).toBe(expectedSightings);
    expect(await sightingCount()).toBe(expectedSightings);
    expect(await objectCount()).toBe(distinct.size);

    // Every record points at an object that opens to exactly what IMAP served for that UID.
    const records = await platform.prisma.indexRecord.findMany({
      where: { tenantId: TENANT },
      include: { object: true },
    });
    for (const record of records) {
      const served = truth.get(`${record.mailbox}/${record.folder}`)?.get(Number(record.sightingId));
      expect(served, `${record.mailbox}/${record.folder} UID ${record.sightingId}`).toBeDefined();
      const opened = await openSealedObject(keys, await readSealed(record.object), {
        expectedContentId: record.contentId,
      });
      expect(sha256(opened)).toBe(sha256(served!.bytes));
      expect(record.seen).toBe(served!.flags.includes('\\Seen'));
    }
  });

  it('stores a message found in two mailboxes once, with a record for each sighting', async () => {
    const truth = await served();
    const aliceIds = new Set([...truth.get('alice/INBOX')!.values()].map((m) => contentId(keys, m.bytes)));
    const shared = [...truth.get('bob/INBOX')!.values()]
      .map((m) => contentId(keys, m.bytes))
      .filter((id) => aliceIds.has(id));
    expect(shared.length).toBeGreaterThanOrEqual(5);
    for (const id of shared.slice(0, 5)) {
      expect(await platform.prisma.storedObject.count({ where: { tenantId: TENANT, contentId: id } })).toBe(1);
      const records = await platform.prisma.indexRecord.findMany({ where: { tenantId: TENANT, contentId: id } });
      expect(new Set(records.map((r) => r.mailbox))).toEqual(new Set(['alice', 'bob']));
    }
  });

  it('a second run stores nothing new and adds no record', async () => {
    const [sightings, objects] = [await sightingCount(), await objectCount()];
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    expect(job.state).toBe('succeeded');
    expect(job.counters.new).toBe(0);
    expect(job.counters.seen).toBe(0);
    expect(await sightingCount()).toBe(sightings);
    expect(await objectCount()).toBe(objects);
  });

  it('the next run picks up exactly 10 new messages and 3 flag changes', async () => {
    const [sightings, objects] = [await sightingCount(), await objectCount()];
    const fresh = Array.from({ length: 10 }, (_, i) => ({
      bytes: Buffer.from(
        `From: carol@example.org\r\nTo: alice@example.org\r\nSubject: new message ${i} ${Date.now()}\r\n` +
          `Message-ID: <fresh-${i}-${Date.now()}@example.org>\r\nDate: Tue, 24 Nov 2026 08:00:0${i} +0000\r\n\r\nBody ${i}\r\n`,
      ),
    }));
    await seedFolder(imap, 'alice', 'INBOX', fresh);
    const before = await fetchFolder(imap, 'alice', 'INBOX');
    const flaggedUids = [...before.keys()].slice(0, 3);
    const flaggedWhere = {
      tenantId: TENANT,
      mailbox: 'alice',
      folder: 'INBOX',
      sightingId: { in: flaggedUids.map(String) },
    };
    const observedBefore = await platform.prisma.indexRecord.findMany({ where: flaggedWhere, orderBy: { id: 'asc' } });
    const session = await imapSessionAs(imap, 'alice');
    await session.mailboxOpen('INBOX');
    await session.messageFlagsAdd(flaggedUids.join(','), ['\\Flagged'], { uid: true });
    await session.logout();

    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    expect(job.state).toBe('succeeded');
    expect(job.counters.new).toBe(10);
    expect(job.counters.seen).toBe(13);
    expect(await sightingCount()).toBe(sightings + 10);
    expect(await objectCount()).toBe(objects + 10);
    const flagged = await platform.prisma.indexRecord.findMany({ where: flaggedWhere, orderBy: { id: 'asc' } });
    expect(flagged.map((r) => r.flagged)).toEqual([true, true, true]);
    // Each record now carries the later reading of its flags: an older record delivered late cannot undo them.
    expect(observedBefore).toHaveLength(3);
    for (const [i, record] of flagged.entries()) {
      expect(record.observedAt.getTime()).toBeGreaterThan(observedBefore[i]!.observedAt.getTime());
    }
  });

  it('records a clear error for a mailbox it cannot open and backs up the others', async () => {
    const planWithGhost = await platform.createPlan(TENANT, {
      name: 'with a mailbox that does not exist',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: ['ghost', 'bob'] },
    });
    await seedFolder(imap, 'bob', 'INBOX', [
      {
        bytes: Buffer.from(
          `From: dave@example.org\r\nSubject: for bob ${Date.now()}\r\nMessage-ID: <bob-${Date.now()}@example.org>\r\n\r\nhi\r\n`,
        ),
      },
    ]);
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planWithGhost));
    expect(job.state).toBe('partially_failed');
    expect(job.errors).toEqual([
      expect.objectContaining({
        scope: 'mailbox',
        target: 'ghost',
        message: expect.stringMatching(/IMAP login for mailbox ghost/),
      }),
    ]);
    expect(job.counters.new).toBe(1);
  });

  it('backs up a 50 MB message byte for byte', async () => {
    const attachment = randomBytes(37 * 1024 * 1024)
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
    const large = Buffer.from(
      'From: big@example.org\r\nTo: alice@example.org\r\nSubject: a very large message\r\n' +
        'Message-ID: <large@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n' +
        'Content-Transfer-Encoding: base64\r\n\r\n' +
        attachment,
    );
    expect(large.length).toBeGreaterThan(50 * 1000 * 1000);
    await seedFolder(imap, 'alice', 'Large', [{ bytes: large }]);
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    expect(job.state).toBe('succeeded');
    const record = await platform.prisma.indexRecord.findFirstOrThrow({
      where: { tenantId: TENANT, mailbox: 'alice', folder: 'Large' },
      include: { object: true },
    });
    expect(Number(record.size)).toBe(large.length);
    const opened = await openSealedObject(keys, await readSealed(record.object), {
      expectedContentId: record.contentId,
    });
    expect(sha256(opened)).toBe(sha256(large));
  });

  it('runs a one-off backup from the connector command line', async () => {
    const cli = await runConnectorCli(['backup', '--config', connector.configFile, '--mailbox', 'bob', '--json']);
    const { stdout, stderr, code } = cli;
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as {
      state: string;
      counters: { seen: number; new: number };
    };
    expect(summary.state).toBe('succeeded');
    expect(summary.counters.seen).toBe((await fetchFolder(imap, 'bob', 'INBOX')).size);
    // Everything of Bob's is stored already: the objects are deduplicated, no record is added.
    expect(summary.counters.new).toBe(0);
  });

  it('refuses a one-off backup of a tenant without MLR before any mail is read', async () => {
    const sightings = await sightingCount();
    await platform.prisma.tenant.update({ where: { id: TENANT }, data: { mlrEnabled: false } });
    try {
      const { stdout, stderr, code } = await runConnectorCli(['backup', '--config', connector.configFile, '--json']);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/backup refused before any mail was read: MLR is not enabled for tenant/);
      expect(await sightingCount()).toBe(sightings);
    } finally {
      await platform.prisma.tenant.update({ where: { id: TENANT }, data: { mlrEnabled: true } });
    }
  });
  it('reports usage through the gateway that matches what was backed up and what S3 holds', async () => {
    // A month passes in which every night's backup finds nothing new: the index records and folder
    // checkpoints stand still, and the backups so far fall out of the 30-day window.
    const db = platform.prisma;
    await db.$executeRaw`UPDATE index_records SET created_at = created_at - interval '40 days',
      updated_at = updated_at - interval '40 days', observed_at = observed_at - interval '40 days'
      WHERE tenant_id = ${TENANT}`;
    await db.$executeRaw`UPDATE folder_checkpoints SET updated_at = updated_at - interval '40 days'
      WHERE tenant_id = ${TENANT}`;
    await db.$executeRaw`UPDATE jobs SET created_at = created_at - interval '40 days',
      started_at = started_at - interval '40 days', finished_at = finished_at - interval '40 days'
      WHERE tenant_id = ${TENANT}`;
    const usage = async () => {
      const { status, body } = await platform.http<UsageReport>('GET', `/v1/usage?tenantId=${TENANT}`);
      expect(status).toBe(200);
      expect(body.tenants).toHaveLength(1);
      return body.tenants[0]!;
    };
    expect((await usage()).protectedMailboxes).toBe(0);

    // Tonight's run: nothing new, nothing indexed, no checkpoint moves; every mailbox was backed up.
    const checkpointsBefore = await db.folderCheckpoint.findMany({
      where: { tenantId: TENANT },
      orderBy: { id: 'asc' },
    });
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    expect(job.state).toBe('succeeded');
    expect(job.counters.new).toBe(0);
    expect(await db.folderCheckpoint.findMany({ where: { tenantId: TENANT }, orderBy: { id: 'asc' } })).toEqual(
      checkpointsBefore,
    );
    const windowStart = new Date(Date.now() - 30 * 86_400_000);
    expect(await db.indexRecord.count({ where: { tenantId: TENANT, updatedAt: { gte: windowStart } } })).toBe(0);

    // What was backed up: Alice's and Bob's mailboxes and the public folders; what S3 holds under
    // the tenant's prefix: the packs that hold one member per distinct message.
    const backedUp = new Set(
      (
        await db.indexRecord.findMany({ where: { tenantId: TENANT }, select: { mailbox: true }, distinct: ['mailbox'] })
      ).map((record) => record.mailbox),
    );
    expect(backedUp).toEqual(new Set(['alice', 'bob', PUBLIC_MAILBOX]));
    const distinctContent = (
      await db.indexRecord.findMany({
        where: { tenantId: TENANT },
        select: { contentId: true },
        distinct: ['contentId'],
      })
    ).length;
    const inS3 = await listS3Objects(`tenants/${TENANT}/`);
    expect(await objectCount()).toBe(distinctContent);
    const packs = await db.pack.findMany({ where: { tenantId: TENANT } });
    expect(inS3.map((object) => object.key).sort()).toEqual(packs.map((pack) => pack.key).sort());
    expect(inS3.length).toBeLessThan(distinctContent);
    const bytesInS3 = inS3.reduce((sum, object) => sum + object.size, 0);

    // The tenant fixture names the tenant by its id.
    const row = await usage();
    expect(row).toEqual({
      tenantId: TENANT,
      slug: TENANT,
      name: TENANT,
      mlrEnabled: true,
      protectedMailboxes: backedUp.size,
      storedObjects: distinctContent,
      storedBytes: bytesInS3,
    });

    const response = await fetch(`http://127.0.0.1:${platform.app('gateway').port}/v1/usage.csv?tenantId=${TENANT}`, {
      headers: { authorization: `Bearer ${await platform.token({ sub: 'billing@e2e', role: 'operator' })}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, line, ...rest] = (await response.text()).split('\r\n');
    expect(header).toBe('generatedAt,tenantId,slug,name,mlrEnabled,protectedMailboxes,storedObjects,storedBytes');
    expect(rest).toEqual(['']);
    expect(line).toMatch(
      new RegExp(`^[^,]+,${TENANT},${TENANT},${TENANT},true,${backedUp.size},${distinctContent},${bytesInS3}$`),
    );
  });
});
