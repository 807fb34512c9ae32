import { randomBytes, randomUUID } from 'node:crypto';
import type { AuditEventInput } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { createS3Client, createS3ObjectStore, setUpBackupBucket, type ObjectStore } from '@mlr/objectstore';
import { servicesS3 } from '@mlr/testing';
import { createLogger } from '@mlr/telemetry';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { VersionWatch, type AuditRecorder } from './version-watch.js';

/**
 * The version watch on real Ceph and PostgreSQL, in a bucket of its own set up as production sets
 * it up: the services write (their key), someone else writes over what they recorded (the owner's
 * key here; any key that may write), and the watch reports exactly those versions, once each.
 */
describe('the version watch reports versions written over recorded packs and objects, once each', () => {
  const infra = inject('infra');
  const s3 = infra.s3!;
  const tenantId = `versions-${randomBytes(4).toString('hex')}`;
  const bucket = `mlr-versions-${randomBytes(4).toString('hex')}`;
  let prisma: PrismaClient;
  let services: ObjectStore;
  let owner: ObjectStore;
  const audited: AuditEventInput[] = [];
  let refuseAudit = false;
  const audit: AuditRecorder = async (event) => {
    if (refuseAudit) throw new Error('licensing did not answer');
    audited.push(event);
  };
  let watch: VersionWatch;
  const packKey = `tenants/${tenantId}/packs/2026/12/${randomUUID()}`;
  const contentId = randomBytes(32).toString('hex');
  const objectKey = `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`;
  const orphanKey = `tenants/${tenantId}/packs/2026/12/${randomUUID()}`;
  let packVersion: string;
  let objectVersion: string;

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl);
    const ownerClient = createS3Client(s3);
    try {
      await setUpBackupBucket(ownerClient, {
        bucket,
        serviceUser: s3.service.user,
        defaultRetention: { mode: 'COMPLIANCE', days: 1 },
      });
    } finally {
      ownerClient.destroy();
    }
    services = createS3ObjectStore(servicesS3(infra));
    owner = createS3ObjectStore(s3);
    await prisma.tenant.create({ data: { id: tenantId, name: tenantId, slug: tenantId } });

    // What storage writes and records: a pack, an object of its own; and a pack it never recorded.
    packVersion = (await services.put({ bucket, key: packKey }, randomBytes(2_000))).versionId!;
    await prisma.pack.create({
      data: {
        id: packKey.split('/').at(-1)!,
        tenantId,
        bucket,
        key: packKey,
        versionId: packVersion,
        size: 2_000n,
        memberCount: 0,
      },
    });
    objectVersion = (await services.put({ bucket, key: objectKey }, randomBytes(500))).versionId!;
    await prisma.storedObject.create({
      data: {
        tenantId,
        contentId,
        bucket,
        key: objectKey,
        versionId: objectVersion,
        plainSize: 400n,
        sealedSize: 500n,
        keyId: 'k1',
      },
    });
    await services.put({ bucket, key: orphanKey }, randomBytes(100));

    watch = new VersionWatch(
      { store: services, prisma, audit, logger: createLogger({ service: 'storage', level: 'silent' }) },
      { bucket, everyMs: 60_000 },
    );
  });

  afterAll(async () => {
    services?.close();
    owner?.close();
    await prisma?.$disconnect();
  });

  it('finds nothing while every key holds only what was recorded (an unrecorded orphan is no overwrite)', async () => {
    await services.put({ bucket, key: orphanKey }, randomBytes(100));
    expect(await watch.check()).toEqual({
      recordedKeys: 2,
      versions: 4,
      unexpected: 0,
      newlyFound: 0,
      ownDuplicates: 0,
      audited: 0,
    });
    expect(audited).toEqual([]);
  });

  it('reports a version written over a pack and over an object, with what reads still use', async () => {
    const overPack = (await owner.put({ bucket, key: packKey }, randomBytes(50))).versionId!;
    const overObject = (await owner.put({ bucket, key: objectKey }, randomBytes(50))).versionId!;
    expect(await watch.check()).toEqual({
      recordedKeys: 2,
      versions: 6,
      unexpected: 2,
      newlyFound: 2,
      ownDuplicates: 0,
      audited: 2,
    });
    expect(audited.map((event) => [event.target, (event.detail as { versionId: string }).versionId]).sort()).toEqual(
      [
        [`object:${objectKey}`, overObject],
        [`object:${packKey}`, overPack],
      ].sort(),
    );
    const event = audited.find((e) => e.target === `object:${packKey}`)!;
    expect(event).toMatchObject({
      tenantId,
      actor: 'storage',
      role: 'system',
      action: 'object.version.unexpected',
      outcome: 'failure',
      detail: { bucket, key: packKey, recordedVersionIds: [packVersion], size: 50 },
    });
    // Who wrote it, as the bucket names them: not the services' user.
    expect((event.detail as { writtenBy: string }).writtenBy).toBeTruthy();
    expect((event.detail as { writtenBy: string }).writtenBy).not.toBe(s3.service.user);
  });

  it('reports each version once, and keeps counting it while it is there', async () => {
    expect(await watch.check()).toEqual({
      recordedKeys: 2,
      versions: 6,
      unexpected: 2,
      newlyFound: 0,
      ownDuplicates: 0,
      audited: 0,
    });
    expect(audited).toHaveLength(2);
  });

  it('counts a second version storage itself wrote of an object of its own as its own, not as tampering', async () => {
    await services.put({ bucket, key: objectKey }, randomBytes(500));
    expect(await watch.check()).toMatchObject({ unexpected: 2, newlyFound: 0, ownDuplicates: 1, audited: 0 });
  });

  it('reports a version the audit trail could not take at the next check', async () => {
    const later = (await owner.put({ bucket, key: packKey }, randomBytes(60))).versionId!;
    refuseAudit = true;
    expect(await watch.check()).toMatchObject({ unexpected: 3, newlyFound: 1, audited: 0 });
    refuseAudit = false;
    expect(await watch.check()).toMatchObject({ unexpected: 3, newlyFound: 0, audited: 1 });
    expect((audited.at(-1)?.detail as { versionId: string }).versionId).toBe(later);
    const rows = await prisma.unexpectedObjectVersion.findMany({ where: { bucket } });
    expect(rows.map((row) => row.auditedAt !== null)).toEqual([true, true, true]);
  });
});
