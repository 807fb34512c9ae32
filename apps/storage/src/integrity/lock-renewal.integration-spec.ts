import { randomBytes, randomUUID } from 'node:crypto';
import { CreateBucketCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { backupBucketPolicy, createS3Client, createS3ObjectStore, type ObjectStore } from '@mlr/objectstore';
import { servicesS3 } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { renewLocks } from './lock-renewal.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * On real Ceph and PostgreSQL, with the services' key: referenced objects and packs whose lock ends
 * soon are locked again, in the mode they have; released, far-locked and vanished ones are left.
 * GOVERNANCE locks a day or two long, so that the test bucket does not keep its bytes for long.
 */
describe('lock renewal keeps every referenced byte locked', () => {
  const infra = inject('infra');
  const tenantId = `renew-${randomBytes(4).toString('hex')}`;
  const bucket = `mlr-renew-${randomBytes(4).toString('hex')}`;
  let prisma: PrismaClient;
  let services: ObjectStore;

  const put = async (key: string, lockedFor: number) =>
    (
      await services.put({ bucket, key }, randomBytes(200), {
        retainUntil: new Date(Date.now() + lockedFor),
        retentionMode: 'GOVERNANCE',
      })
    ).versionId!;
  const object = async (refCount: number, lockedFor: number) => {
    const contentId = randomBytes(32).toString('hex');
    const key = `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`;
    const versionId = await put(key, lockedFor);
    return prisma.storedObject.create({
      data: {
        tenantId,
        contentId,
        bucket,
        key,
        versionId,
        plainSize: 100n,
        sealedSize: 200n,
        keyId: 'k1',
        refCount,
        retainUntil: new Date(Date.now() + lockedFor),
      },
    });
  };
  const pack = async (refCounts: number[], lockedFor: number) => {
    const id = randomUUID();
    const key = `tenants/${tenantId}/packs/2026/12/${id}`;
    const versionId = await put(key, lockedFor);
    const retainUntil = new Date(Date.now() + lockedFor);
    await prisma.pack.create({
      data: { id, tenantId, bucket, key, versionId, size: 200n, memberCount: refCounts.length, retainUntil },
    });
    for (const [index, refCount] of refCounts.entries()) {
      await prisma.storedObject.create({
        data: {
          tenantId,
          contentId: randomBytes(32).toString('hex'),
          bucket,
          key,
          versionId,
          packId: id,
          byteOffset: BigInt(index * 10),
          byteLength: 10n,
          plainSize: 10n,
          sealedSize: 10n,
          keyId: 'k1',
          refCount,
          retainUntil,
        },
      });
    }
    return { id, key, versionId };
  };
  const lockOf = (key: string, versionId: string) => services.retention({ bucket, key, versionId });

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl);
    await prisma.tenant.create({ data: { id: tenantId, name: tenantId, slug: tenantId } });
    const owner = createS3Client(infra.s3!);
    try {
      await owner.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
      await owner.send(
        new PutBucketPolicyCommand({
          Bucket: bucket,
          Policy: JSON.stringify(backupBucketPolicy(bucket, infra.s3!.service.user)),
        }),
      );
    } finally {
      owner.destroy();
    }
    services = createS3ObjectStore(servicesS3(infra));
  });

  afterAll(async () => {
    services?.close();
    await prisma?.$disconnect();
  });

  it('locks again what is referenced and ends soon, in its mode, and records the new date', async () => {
    const referenced = await object(1, HOUR_MS);
    const released = await object(0, HOUR_MS);
    const lockedLong = await object(2, 10 * DAY_MS);
    const livePack = await pack([0, 1, 0], HOUR_MS);
    const deadPack = await pack([0, 0], HOUR_MS);
    const vanished = await object(1, HOUR_MS);
    await prisma.storedObject.update({ where: { id: vanished.id }, data: { versionId: 'no-such-version' } });

    const asked: string[] = [];
    const started = Date.now();
    const outcome = await renewLocks(services, prisma, {
      bucket,
      withinMs: 2 * DAY_MS,
      bucketDefaultDays: () => undefined,
      renewDays: async (tenant) => {
        asked.push(tenant);
        return 3;
      },
      mode: 'COMPLIANCE',
    });
    expect(outcome).toEqual({ objects: 1, packs: 1, failed: 1, failedIds: [vanished.id] });
    expect(asked).toEqual([tenantId]);

    const renewed = await lockOf(referenced.key, referenced.versionId!);
    // The version's own mode (GOVERNANCE), not the storage's default for versions without one.
    expect(renewed?.mode).toBe('GOVERNANCE');
    expect(renewed!.retainUntil.getTime()).toBeGreaterThanOrEqual(started + 3 * DAY_MS - 1_000);
    const row = await prisma.storedObject.findUniqueOrThrow({ where: { id: referenced.id } });
    expect(Math.abs(row.retainUntil!.getTime() - renewed!.retainUntil.getTime())).toBeLessThan(1_000);

    const packLock = await lockOf(livePack.key, livePack.versionId);
    expect(packLock!.retainUntil.getTime()).toBeGreaterThanOrEqual(started + 3 * DAY_MS - 1_000);
    const members = await prisma.storedObject.findMany({ where: { packId: livePack.id } });
    expect(members.every((m) => Math.abs(m.retainUntil!.getTime() - packLock!.retainUntil.getTime()) < 1_000)).toBe(
      true,
    );

    // Left as they were: what nothing references, what is locked long enough, what S3 has not.
    for (const [key, versionId] of [
      [released.key, released.versionId!],
      [deadPack.key, deadPack.versionId],
    ] as const) {
      expect((await lockOf(key, versionId))!.retainUntil.getTime()).toBeLessThan(started + 2 * HOUR_MS);
    }
    expect((await lockOf(lockedLong.key, lockedLong.versionId!))!.retainUntil.getTime()).toBeLessThan(
      started + 11 * DAY_MS,
    );
    expect((await prisma.storedObject.findUniqueOrThrow({ where: { id: vanished.id } })).retainUntil!.getTime()).toBe(
      vanished.retainUntil!.getTime(),
    );

    // A second run finds nothing left to do but the vanished version, which the service leaves out
    // for a few runs once it failed.
    const again = {
      bucket,
      withinMs: 2 * DAY_MS,
      bucketDefaultDays: () => undefined,
      renewDays: async () => 3,
      mode: 'COMPLIANCE' as const,
    };
    expect(await renewLocks(services, prisma, again)).toMatchObject({ objects: 0, packs: 0, failed: 1 });
    expect(await renewLocks(services, prisma, { ...again, skip: new Set([vanished.id]) })).toMatchObject({
      objects: 0,
      packs: 0,
      failed: 0,
    });
  });

  it('never shortens a lock: a renewal shorter than the lock in place keeps it and records it', async () => {
    const referenced = await object(1, 2 * DAY_MS);
    // The row says it ends soon (recorded before an extension elsewhere): S3's longer lock stays.
    await prisma.storedObject.update({
      where: { id: referenced.id },
      data: { retainUntil: new Date(Date.now() + HOUR_MS) },
    });
    const before = await lockOf(referenced.key, referenced.versionId!);
    await renewLocks(services, prisma, {
      bucket,
      withinMs: DAY_MS,
      bucketDefaultDays: () => undefined,
      renewDays: async () => 1,
      mode: 'COMPLIANCE',
    });
    const after = await lockOf(referenced.key, referenced.versionId!);
    expect(after!.retainUntil.getTime()).toBeGreaterThanOrEqual(before!.retainUntil.getTime());
    const row = await prisma.storedObject.findUniqueOrThrow({ where: { id: referenced.id } });
    expect(row.retainUntil!.getTime()).toBeGreaterThanOrEqual(before!.retainUntil.getTime() - 1_000);
  });
});
