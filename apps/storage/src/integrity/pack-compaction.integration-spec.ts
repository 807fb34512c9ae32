import { randomBytes, randomUUID } from 'node:crypto';
import { CreateBucketCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import {
  backupBucketPolicy,
  createS3Client,
  createS3ObjectStore,
  encodePack,
  packObjectKey,
  type ObjectStore,
} from '@mlr/objectstore';
import { servicesS3 } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { collectOrphans } from './orphan-collector.js';
import { compactPacks } from './pack-compaction.js';
import { collectReleased } from './released-collector.js';

const DAY_MS = 24 * 60 * 60_000;

/**
 * Compaction on real Ceph and PostgreSQL: a pack most of whose bytes expiry released has its live
 * members rewritten into a new pack and their locators switched at once; a crash between the new
 * pack's write and the switch changes no locator and leaves an orphan the collector removes; the
 * old pack, left with released members only, is then removed whole by the collector.
 */
describe('pack compaction', () => {
  const infra = inject('infra');
  const s3 = infra.s3!;
  const tenantId = `compact-${randomBytes(4).toString('hex')}`;
  const bucket = `mlr-compact-${randomBytes(4).toString('hex')}`;
  let prisma: PrismaClient;
  let services: ObjectStore;
  let collector: ObjectStore;
  const packId = randomUUID();
  const oldKey = packObjectKey(tenantId, new Date(), packId);
  let oldVersion: string;
  /** Members: live (referenced), two dead (released, mark passed), one released with its mark not passed yet. */
  const members = [
    { name: 'live', bytes: randomBytes(1_000), refCount: 1, collectAfter: null as Date | null },
    { name: 'dead-1', bytes: randomBytes(4_000), refCount: 0, collectAfter: new Date(Date.now() - 60_000) },
    { name: 'dead-2', bytes: randomBytes(4_000), refCount: 0, collectAfter: new Date(Date.now() - 60_000) },
    { name: 'marked', bytes: randomBytes(500), refCount: 0, collectAfter: new Date(Date.now() + DAY_MS) },
  ].map((member) => ({ ...member, contentId: randomBytes(32).toString('hex'), id: '' }));
  const row = (name: string) =>
    prisma.storedObject.findUniqueOrThrow({ where: { id: members.find((m) => m.name === name)!.id } });
  const read = async (name: string) => {
    const r = await row(name);
    return services.getBuffer({
      bucket,
      key: r.key,
      versionId: r.versionId!,
      range: { offset: Number(r.byteOffset), length: Number(r.byteLength) },
    });
  };

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl);
    const owner = createS3Client(s3);
    try {
      await owner.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
      await owner.send(
        new PutBucketPolicyCommand({
          Bucket: bucket,
          Policy: JSON.stringify(backupBucketPolicy(bucket, s3.service.user, s3.collector.user)),
        }),
      );
    } finally {
      owner.destroy();
    }
    services = createS3ObjectStore(servicesS3(infra));
    collector = createS3ObjectStore({ ...s3, accessKey: s3.collector.accessKey, secretKey: s3.collector.secretKey });
    await prisma.tenant.create({ data: { id: tenantId, name: tenantId, slug: tenantId } });

    const { bytes, footer } = encodePack(
      { packId, tenantId, createdAt: new Date().toISOString() },
      members.map((m) => ({ contentId: m.contentId, keyId: '0123456789abcdef', plainSize: 10, sealed: m.bytes })),
    );
    oldVersion = (await services.put({ bucket, key: oldKey }, bytes)).versionId!;
    await prisma.pack.create({
      data: {
        id: packId,
        tenantId,
        bucket,
        key: oldKey,
        versionId: oldVersion,
        size: BigInt(bytes.length),
        memberCount: members.length,
        createdAt: new Date(Date.now() - DAY_MS),
      },
    });
    for (const [index, member] of members.entries()) {
      const created = await prisma.storedObject.create({
        data: {
          tenantId,
          contentId: member.contentId,
          bucket,
          key: oldKey,
          versionId: oldVersion,
          packId,
          byteOffset: BigInt(footer.members[index]!.offset),
          byteLength: BigInt(footer.members[index]!.length),
          plainSize: 10n,
          sealedSize: BigInt(member.bytes.length),
          keyId: '0123456789abcdef',
          refCount: member.refCount,
          collectAfter: member.collectAfter,
        },
      });
      member.id = created.id;
      if (member.refCount > 0) {
        await prisma.indexRecord.create({
          data: {
            tenantId,
            mailbox: 'alice',
            folder: 'INBOX',
            sightingSource: 'imap',
            sightingEpoch: String(1),
            sightingId: String(index + 1),
            contentId: member.contentId,
            objectId: created.id,
            size: 10,
          },
        });
      }
    }
  });

  afterAll(async () => {
    services?.close();
    collector?.close();
    await prisma?.$disconnect();
  });

  it('changes no locator when it stops between writing the new pack and the switch, and the new pack is an orphan', async () => {
    let written = '';
    await expect(
      compactPacks(services, prisma, {
        bucket,
        belowLiveShare: 0.5,
        dryRun: false,
        afterWrite: async (key) => {
          written = key;
          throw new Error('killed after the write');
        },
      }),
    ).rejects.toThrow('killed after the write');
    expect(written).not.toBe('');
    for (const name of ['live', 'marked']) expect((await row(name)).packId).toBe(packId);
    expect(await prisma.pack.count({ where: { tenantId } })).toBe(1);
    const orphans = await collectOrphans(collector, prisma, { bucket, minAgeMs: 0, dryRun: false });
    expect(orphans.removed.map((version) => version.key)).toEqual([written]);
  });

  it('rewrites the live members into a new pack and switches their locators; reads give the same bytes', async () => {
    const outcome = await compactPacks(services, prisma, { bucket, belowLiveShare: 0.5, dryRun: false });
    expect(outcome).toEqual({ candidates: 1, compacted: 1, moved: 2, bytesWritten: 1_500, bytesReleased: 8_000 });
    for (const name of ['live', 'marked']) {
      const moved = await row(name);
      expect(moved.packId).not.toBe(packId);
      expect(moved.key).not.toBe(oldKey);
      expect(await read(name)).toEqual(members.find((m) => m.name === name)!.bytes);
    }
    for (const name of ['dead-1', 'dead-2']) expect((await row(name)).packId).toBe(packId);
    // Nothing left to compact.
    expect((await compactPacks(services, prisma, { bucket, belowLiveShare: 0.5, dryRun: false })).candidates).toBe(0);
  });

  it('leaves the old pack with released members only, which the collector removes whole', async () => {
    const outcome = await collectReleased(collector, prisma, {
      bucket,
      graceMs: 0,
      dryRun: false,
      busy: async () => false,
    });
    expect(outcome).toMatchObject({ packs: 1 });
    expect(await prisma.pack.findUnique({ where: { id: packId } })).toBeNull();
    const left: string[] = [];
    for await (const version of services.listVersions(bucket, `tenants/${tenantId}/`)) left.push(version.key);
    expect(left).toHaveLength(1);
    expect(left[0]).not.toBe(oldKey);
    expect(await read('live')).toEqual(members[0]!.bytes);
  });
});
