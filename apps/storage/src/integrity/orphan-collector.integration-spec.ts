import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { backupBucketPolicy, createS3Client, createS3ObjectStore, type ObjectStore } from '@mlr/objectstore';
import { REPO_ROOT, cloudCommand, ensureBuilt, servicesS3 } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { collectOrphans } from './orphan-collector.js';

const execFileAsync = promisify(execFile);
const DAY_MS = 24 * 60 * 60_000;

/**
 * The orphan collector on real Ceph and PostgreSQL, with the collector's own key under the bucket's
 * policy. The bucket here has Object Lock without a default retention, so that orphans can be
 * unlocked (the production bucket locks every version for at least a day: the collector then
 * removes orphans only once that has passed).
 */
describe('the collector removes unrecorded versions once unlocked, and never a recorded or locked one', () => {
  const infra = inject('infra');
  const s3 = infra.s3!;
  const tenantId = `collect-${randomBytes(4).toString('hex')}`;
  const bucket = `mlr-collect-${randomBytes(4).toString('hex')}`;
  let prisma: PrismaClient;
  let services: ObjectStore;
  let owner: ObjectStore;
  let ownerClient: S3Client;
  let collectorClient: S3Client;
  let collector: ObjectStore;
  const key = {
    recordedPack: `tenants/${tenantId}/packs/2026/12/${randomUUID()}`,
    orphanPack: `tenants/${tenantId}/packs/2026/12/${randomUUID()}`,
    lockedOrphan: `tenants/${tenantId}/packs/2026/12/${randomUUID()}`,
    recordedObject: '',
    orphanObject: '',
  };
  let recordedPackVersion = '';
  const versions = async (prefix: string) => {
    const found: Array<[string, string]> = [];
    for await (const version of owner.listVersions(bucket, prefix)) found.push([version.key, version.versionId]);
    return found;
  };

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl);
    ownerClient = createS3Client(s3);
    await ownerClient.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    await ownerClient.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify(backupBucketPolicy(bucket, s3.service.user, s3.collector.user)),
      }),
    );
    services = createS3ObjectStore(servicesS3(infra));
    owner = createS3ObjectStore(s3);
    const collectorS3 = { ...s3, accessKey: s3.collector.accessKey, secretKey: s3.collector.secretKey };
    collector = createS3ObjectStore(collectorS3);
    collectorClient = createS3Client(collectorS3);
    await prisma.tenant.create({ data: { id: tenantId, name: tenantId, slug: tenantId } });

    const packVersion = (await services.put({ bucket, key: key.recordedPack }, randomBytes(1_000))).versionId!;
    recordedPackVersion = packVersion;
    await prisma.pack.create({
      data: {
        id: key.recordedPack.split('/').at(-1)!,
        tenantId,
        bucket,
        key: key.recordedPack,
        versionId: packVersion,
        size: 1_000n,
        memberCount: 0,
      },
    });
    // Somebody wrote over the recorded pack: that version is recorded nowhere, the pack's is.
    await owner.put({ bucket, key: key.recordedPack }, randomBytes(10));
    const contentId = randomBytes(32).toString('hex');
    key.recordedObject = `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`;
    const objectVersion = (await services.put({ bucket, key: key.recordedObject }, randomBytes(300))).versionId!;
    await prisma.storedObject.create({
      data: {
        tenantId,
        contentId,
        bucket,
        key: key.recordedObject,
        versionId: objectVersion,
        plainSize: 200n,
        sealedSize: 300n,
        keyId: 'k1',
        refCount: 1,
      },
    });
    // Written, never recorded (a crash before the row): orphans.
    await services.put({ bucket, key: key.orphanPack }, randomBytes(2_000));
    const orphanId = randomBytes(32).toString('hex');
    key.orphanObject = `tenants/${tenantId}/objects/${orphanId.slice(0, 2)}/${orphanId}`;
    await services.put({ bucket, key: key.orphanObject }, randomBytes(400));
    await services.put({ bucket, key: key.lockedOrphan }, randomBytes(500), {
      retainUntil: new Date(Date.now() + DAY_MS),
      retentionMode: 'GOVERNANCE',
    });
  });

  afterAll(async () => {
    for (const store of [services, owner, collector]) store?.close();
    ownerClient?.destroy();
    collectorClient?.destroy();
    await prisma?.$disconnect();
  });

  it('leaves orphans younger than the minimum age, and lists candidates on a dry run without removing any', async () => {
    const young = await collectOrphans(collector, prisma, { bucket, minAgeMs: 60 * 60_000, dryRun: false });
    expect(young).toMatchObject({ versions: 6, recorded: 2, young: 4, locked: 0, removed: [] });
    const dry = await collectOrphans(collector, prisma, { bucket, minAgeMs: 0, dryRun: true });
    expect(dry.removed.map((version) => version.key).sort()).toEqual(
      [key.orphanPack, key.orphanObject, key.lockedOrphan, key.recordedPack].sort(),
    );
    expect(await versions(`tenants/${tenantId}/`)).toHaveLength(6);
  });

  it('removes unlocked orphans with the compiled command, and keeps recorded and locked versions', async () => {
    ensureBuilt();
    const [, ...args] = cloudCommand('dist/apps/storage/src/cli/collect.js', '--min-age-hours', '0', '--json');
    const { stdout } = await execFileAsync(process.execPath, args, {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        NATS_URL: infra.nats!.url,
        NATS_CREDS: infra.nats!.servicesCredsFile,
        DATABASE_URL: infra.postgres!.serviceUrls.storage,
        S3_ENDPOINT: s3.endpoint,
        S3_REGION: s3.region,
        S3_BUCKET: bucket,
        S3_ACCESS_KEY: s3.collector.accessKey,
        S3_SECRET_KEY: s3.collector.secretKey,
      },
    });
    const outcome = JSON.parse(stdout) as { removed: Array<{ key: string }>; locked: number; recorded: number };
    // The version written over the recorded pack goes too; the recorded one stays.
    expect(outcome.removed.map((version) => version.key).sort()).toEqual(
      [key.orphanPack, key.orphanObject, key.recordedPack].sort(),
    );
    expect(outcome).toMatchObject({ locked: 1, recorded: 2 });
    const left = (await versions(`tenants/${tenantId}/`)).map(([k]) => k).sort();
    expect(left).toEqual([key.recordedPack, key.recordedObject, key.lockedOrphan].sort());
    expect((await versions(key.recordedPack)).map(([, id]) => id)).toEqual([recordedPackVersion]);
  });

  it("gives the collector's key nothing but listing and removing unlocked versions", async () => {
    const refused = async (request: () => Promise<unknown>) =>
      request().then(
        () => 'accepted',
        (error: { $metadata?: { httpStatusCode?: number } }) => error.$metadata?.httpStatusCode,
      );
    const [lockedVersion] = (await versions(key.lockedOrphan)).map(([, id]) => id);
    expect({
      put: await refused(() =>
        collectorClient.send(new PutObjectCommand({ Bucket: bucket, Key: key.orphanPack, Body: 'x' })),
      ),
      read: await refused(() =>
        collectorClient.send(new GetObjectCommand({ Bucket: bucket, Key: key.recordedObject })),
      ),
      deleteMarker: await refused(() =>
        collectorClient.send(new DeleteObjectCommand({ Bucket: bucket, Key: key.recordedObject })),
      ),
      bypass: await refused(() =>
        collectorClient.send(
          new DeleteObjectCommand({
            Bucket: bucket,
            Key: key.lockedOrphan,
            VersionId: lockedVersion,
            BypassGovernanceRetention: true,
          }),
        ),
      ),
    }).toEqual({ put: 403, read: 403, deleteMarker: 403, bypass: 403 });
    expect(await versions(key.lockedOrphan)).toHaveLength(1);
  });
});
