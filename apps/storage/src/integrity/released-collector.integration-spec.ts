import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { backupBucketPolicy, createS3Client, createS3ObjectStore, type ObjectStore } from '@mlr/objectstore';
import { servicesS3 } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PrismaStoredObjectRepository } from '../backup/stored-object.repository.js';
import { collectReleased } from './released-collector.js';

const DAY_MS = 24 * 60 * 60_000;
const GRACE_MS = 2_000;

/**
 * What expiry released, collected on real Ceph and PostgreSQL with the collector's own key: objects
 * and whole packs without references go after their mark has passed; a backup that finds an object
 * again in the meantime (storage's single-instance check) keeps it; referenced, half-live and locked
 * ones stay. The bucket has Object Lock without a default retention, so that released objects can
 * be unlocked here.
 */
describe('the collector removes released objects and packs, never one a backup finds again', () => {
  const infra = inject('infra');
  const s3 = infra.s3!;
  const tenantId = `released-${randomBytes(4).toString('hex')}`;
  const bucket = `mlr-released-${randomBytes(4).toString('hex')}`;
  let prisma: PrismaClient;
  let services: ObjectStore;
  let collector: ObjectStore;
  let uid = 0;

  /** An object of its own, with `references` index records pointing at it and its count saying so. */
  const individual = async (references: number, options: { locked?: boolean; refCount?: number } = {}) => {
    const contentId = randomBytes(32).toString('hex');
    const key = `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`;
    const { versionId } = await services.put(
      { bucket, key },
      randomBytes(300),
      options.locked ? { retainUntil: new Date(Date.now() + DAY_MS), retentionMode: 'GOVERNANCE' } : {},
    );
    const row = await prisma.storedObject.create({
      data: {
        tenantId,
        contentId,
        bucket,
        key,
        versionId: versionId!,
        plainSize: 200n,
        sealedSize: 300n,
        keyId: 'k1',
        refCount: options.refCount ?? references,
      },
    });
    for (let i = 0; i < references; i++) await reference(row.id, contentId);
    return { id: row.id, contentId, key, versionId: versionId! };
  };
  const reference = (objectId: string, contentId: string) =>
    prisma.indexRecord.create({
      data: {
        tenantId,
        mailbox: 'alice',
        folder: 'INBOX',
        sightingSource: 'imap',
        sightingEpoch: String(1),
        sightingId: String(++uid),
        contentId,
        objectId,
        size: 200,
      },
    });
  /** A pack with a member per entry of `references` (each member referenced that often). */
  const pack = async (references: number[]) => {
    const id = randomUUID();
    const key = `tenants/${tenantId}/packs/2026/12/${id}`;
    const { versionId } = await services.put({ bucket, key }, randomBytes(1_000));
    await prisma.pack.create({
      data: {
        id,
        tenantId,
        bucket,
        key,
        versionId: versionId!,
        size: 1_000n,
        memberCount: references.length,
        createdAt: new Date(Date.now() - DAY_MS),
      },
    });
    for (const [index, count] of references.entries()) {
      const contentId = randomBytes(32).toString('hex');
      const member = await prisma.storedObject.create({
        data: {
          tenantId,
          contentId,
          bucket,
          key,
          versionId: versionId!,
          packId: id,
          byteOffset: BigInt(index * 100),
          byteLength: 100n,
          plainSize: 90n,
          sealedSize: 100n,
          keyId: 'k1',
          refCount: count,
        },
      });
      for (let i = 0; i < count; i++) await reference(member.id, contentId);
    }
    return { id, key, versionId: versionId! };
  };
  const exists = async (key: string, versionId: string) => {
    for await (const version of services.listVersions(bucket, key)) if (version.versionId === versionId) return true;
    return false;
  };
  let busy = false;
  const collect = () =>
    collectReleased(collector, prisma, { bucket, graceMs: GRACE_MS, dryRun: false, busy: async () => busy });

  let released: Awaited<ReturnType<typeof individual>>;
  let referenced: Awaited<ReturnType<typeof individual>>;
  let foundAgain: Awaited<ReturnType<typeof individual>>;
  let locked: Awaited<ReturnType<typeof individual>>;
  let miscounted: Awaited<ReturnType<typeof individual>>;
  let deadPack: Awaited<ReturnType<typeof pack>>;
  let halfLivePack: Awaited<ReturnType<typeof pack>>;

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
    released = await individual(0);
    referenced = await individual(1);
    foundAgain = await individual(0);
    locked = await individual(0, { locked: true });
    // Its count says 0, but an index record still points at it: the foreign key keeps it.
    miscounted = await individual(1, { refCount: 0 });
    deadPack = await pack([0, 0]);
    halfLivePack = await pack([0, 1]);
  });

  afterAll(async () => {
    services?.close();
    collector?.close();
    await prisma?.$disconnect();
  });

  it('only marks on the first pass: nothing goes before the grace has passed', async () => {
    const first = await collect();
    // released, foundAgain, locked, miscounted, and 3 released pack members.
    expect(first).toEqual({ marked: 7, objects: 0, packs: 0, bytes: 0, locked: 0, leftLocked: 0, tenantsBusy: 0 });
  });

  it('keeps what a backup found again, and removes what stayed released, whole packs included', async () => {
    // A backup brings foundAgain's content again: storage's single-instance check takes it back.
    const repository = new PrismaStoredObjectRepository(prisma);
    expect(await repository.findIdsByContentIds(tenantId, [foundAgain.contentId])).toEqual(
      new Map([[foundAgain.contentId, foundAgain.id]]),
    );
    await sleep(GRACE_MS + 200);
    // While a backup of the tenant is on its way (commits or records in NATS), nothing of it goes.
    busy = true;
    expect(await collect()).toMatchObject({ objects: 0, packs: 0, tenantsBusy: 1 });
    busy = false;
    const second = await collect();
    expect(second).toMatchObject({ marked: 0, objects: 1, packs: 1, locked: 1 });
    expect(second.bytes).toBe(300 + 1_000);

    const rows = new Set(
      (await prisma.storedObject.findMany({ where: { tenantId }, select: { id: true } })).map((r) => r.id),
    );
    expect({
      released: rows.has(released.id),
      referenced: rows.has(referenced.id),
      foundAgain: rows.has(foundAgain.id),
      locked: rows.has(locked.id),
      miscounted: rows.has(miscounted.id),
    }).toEqual({ released: false, referenced: true, foundAgain: true, locked: true, miscounted: true });
    expect(await prisma.pack.findUnique({ where: { id: deadPack.id } })).toBeNull();
    expect(await prisma.storedObject.count({ where: { packId: deadPack.id } })).toBe(0);
    expect(await prisma.storedObject.count({ where: { packId: halfLivePack.id } })).toBe(2);

    expect({
      released: await exists(released.key, released.versionId),
      referenced: await exists(referenced.key, referenced.versionId),
      foundAgain: await exists(foundAgain.key, foundAgain.versionId),
      locked: await exists(locked.key, locked.versionId),
      deadPack: await exists(deadPack.key, deadPack.versionId),
      halfLivePack: await exists(halfLivePack.key, halfLivePack.versionId),
    }).toEqual({
      released: false,
      referenced: true,
      foundAgain: true,
      locked: true,
      deadPack: false,
      halfLivePack: true,
    });
    // The locked one is not looked at again before its lock ends.
    const lockedRow = await prisma.storedObject.findUnique({ where: { id: locked.id } });
    expect(lockedRow!.collectAfter!.getTime()).toBeGreaterThan(Date.now() + DAY_MS - 60_000);
  });
});
