import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketAclCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3Client, createS3ObjectStore, setUpBackupBucket } from '@mlr/objectstore';
import { REPO_ROOT, startApp } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const DAY_MS = 24 * 60 * 60_000;

/** The HTTP status S3 answered a refused request with (or the test fails when it was not refused). */
async function refusal(request: Promise<unknown>): Promise<{ status: number | undefined; name: string | undefined }> {
  const error = await request.then(
    () => undefined,
    (reason: unknown) => reason as { name?: string; $metadata?: { httpStatusCode?: number } },
  );
  expect(error, 'S3 accepted a request the services must never be allowed').toBeDefined();
  return { status: error?.$metadata?.httpStatusCode, name: error?.name };
}

/**
 * The backup bucket as the local infrastructure sets it up (with the owner's key, through storage's
 * `setup-bucket` command): the services' key writes, reads and lists, and is refused every delete
 * and every change of the bucket; every new object version is locked by the default rule.
 */
describe('the backup bucket protects what storage writes, even from storage', () => {
  const infra = inject('infra');
  const s3 = infra.s3!;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'bucket-protection-'));
  let owner: S3Client;
  let service: S3Client;

  beforeAll(() => {
    owner = createS3Client(s3);
    service = createS3Client({ ...s3, accessKey: s3.service.accessKey, secretKey: s3.service.secretKey });
  });

  afterAll(async () => {
    // Scratch buckets hold locked versions: they stay (memstore), only their names are random.
    owner?.destroy();
    service?.destroy();
  });

  it("takes the services' writes, reads, listings and extended retention, and locks every version by default", async () => {
    const key = `protection-test/${randomBytes(6).toString('hex')}`;
    const put = await service.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'sealed bytes' }));
    expect(put.VersionId).toBeTruthy();
    const head = await service.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key, VersionId: put.VersionId }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    const lockedFor = head.ObjectLockRetainUntilDate!.getTime() - Date.now();
    expect(lockedFor).toBeGreaterThan((s3.defaultRetention.days - 1) * DAY_MS);
    expect(lockedFor).toBeLessThanOrEqual((s3.defaultRetention.days + 1) * DAY_MS);

    const body = await service.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key, VersionId: put.VersionId }));
    expect(await body.Body!.transformToString()).toBe('sealed bytes');
    const versions = await service.send(new ListObjectVersionsCommand({ Bucket: s3.bucket, Prefix: key }));
    expect(versions.Versions?.map((v) => v.VersionId)).toEqual([put.VersionId]);
    const later = new Date(Date.now() + (s3.defaultRetention.days + 10) * DAY_MS);
    await service.send(
      new PutObjectRetentionCommand({
        Bucket: s3.bucket,
        Key: key,
        VersionId: put.VersionId,
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later },
      }),
    );

    // Storage checks the protection at start with its own key.
    const store = createS3ObjectStore({ ...s3, accessKey: s3.service.accessKey, secretKey: s3.service.secretKey });
    try {
      expect(await store.defaultRetention(s3.bucket)).toEqual({ mode: 'COMPLIANCE', days: s3.defaultRetention.days });
    } finally {
      store.close();
    }
  });

  it("refuses the services' key every delete, the governance bypass and every change of the bucket", async () => {
    const key = `protection-test/${randomBytes(6).toString('hex')}`;
    const { VersionId } = await service.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'keep me' }));
    const Bucket = s3.bucket;
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['DeleteObject (a delete marker)', () => service.send(new DeleteObjectCommand({ Bucket, Key: key }))],
      ['DeleteObject of the version', () => service.send(new DeleteObjectCommand({ Bucket, Key: key, VersionId }))],
      [
        'DeleteObject of the version, bypassing governance',
        () => service.send(new DeleteObjectCommand({ Bucket, Key: key, VersionId, BypassGovernanceRetention: true })),
      ],
      [
        'PutObjectRetention shortening it',
        () =>
          service.send(
            new PutObjectRetentionCommand({
              Bucket,
              Key: key,
              VersionId,
              Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + DAY_MS) },
            }),
          ),
      ],
      ['DeleteBucket', () => service.send(new DeleteBucketCommand({ Bucket }))],
      [
        'PutBucketPolicy (allow everything)',
        () =>
          service.send(
            new PutBucketPolicyCommand({
              Bucket,
              Policy: JSON.stringify({
                Version: '2012-10-17',
                Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${Bucket}/*` }],
              }),
            }),
          ),
      ],
      ['DeleteBucketPolicy', () => service.send(new DeleteBucketPolicyCommand({ Bucket }))],
      [
        'PutObjectLockConfiguration without a default rule',
        () =>
          service.send(
            new PutObjectLockConfigurationCommand({
              Bucket,
              ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
            }),
          ),
      ],
      [
        'PutBucketVersioning (suspend)',
        () =>
          service.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } })),
      ],
      [
        'PutBucketLifecycleConfiguration (expire everything after a day)',
        () =>
          service.send(
            new PutBucketLifecycleConfigurationCommand({
              Bucket,
              LifecycleConfiguration: {
                Rules: [{ ID: 'expire', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }],
              },
            }),
          ),
      ],
      ['PutBucketAcl (public read)', () => service.send(new PutBucketAclCommand({ Bucket, ACL: 'public-read' }))],
      [
        'PutObjectAcl (public read)',
        () => service.send(new PutObjectAclCommand({ Bucket, Key: key, ACL: 'public-read' })),
      ],
    ];
    const answers = [];
    for (const [what, request] of attempts) answers.push({ what, ...(await refusal(request())) });
    expect(answers.filter((answer) => answer.status !== 403)).toEqual([]);

    // A multi-object delete: refused as a whole, or per key.
    const batch = await service
      .send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: key }, { Key: key, VersionId }] } }))
      .then(
        (output) => ({ deleted: output.Deleted ?? [], refused: output.Errors?.map((error) => error.Code) ?? [] }),
        (error: { $metadata?: { httpStatusCode?: number } }) => ({
          deleted: [],
          refused: [`whole request: ${error.$metadata?.httpStatusCode}`],
        }),
      );
    expect(batch.deleted).toEqual([]);
    expect([['AccessDenied', 'AccessDenied'], ['whole request: 403']]).toContainEqual(batch.refused);

    // Nothing happened: one version, no delete marker, still readable.
    const versions = await owner.send(new ListObjectVersionsCommand({ Bucket, Prefix: key }));
    expect(versions.Versions?.map((v) => v.VersionId)).toEqual([VersionId]);
    expect(versions.DeleteMarkers ?? []).toEqual([]);
    const body = await service.send(new GetObjectCommand({ Bucket, Key: key, VersionId }));
    expect(await body.Body!.transformToString()).toBe('keep me');
  });

  it("keeps even a GOVERNANCE version from the services' key, which the owner could bypass", async () => {
    const Bucket = `mlr-governance-${randomBytes(4).toString('hex')}`;
    const report = await setUpBackupBucket(owner, {
      bucket: Bucket,
      serviceUser: s3.service.user,
      defaultRetention: { mode: 'GOVERNANCE', days: 1 },
    });
    expect(report).toMatchObject({ created: true, policy: 'created', defaultRetention: { before: undefined } });
    const { VersionId } = await service.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
    const refused = await refusal(
      service.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId, BypassGovernanceRetention: true })),
    );
    expect(refused.status).toBe(403);
    // The Deny is what stops it: the owner, whom it does not name, may bypass GOVERNANCE.
    await owner.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId, BypassGovernanceRetention: true }));

    // Set up again: nothing to change but what was asked.
    const again = await setUpBackupBucket(owner, {
      bucket: Bucket,
      serviceUser: s3.service.user,
      defaultRetention: { mode: 'COMPLIANCE', days: 2 },
    });
    expect(again).toMatchObject({
      created: false,
      policy: 'unchanged',
      defaultRetention: { before: { mode: 'GOVERNANCE', days: 1 }, after: { mode: 'COMPLIANCE', days: 2 } },
    });
  });

  it('storage refuses to start on a bucket that is missing or has no default retention, and says what to run', async () => {
    /** Starts storage on `bucket` and waits for it to give up; returns how it ended and what it said. */
    const startOn = async (bucket: string) => {
      const app = await startApp({
        app: 'storage',
        env: { ...infra.serviceEnv, S3_BUCKET: bucket },
        logDir: join(logDir, bucket),
        waitHealthy: false,
      });
      const ended = await Promise.race([app.exited, sleep(45_000).then(() => 'still running' as const)]);
      if (ended === 'still running') await app.kill();
      return { ended, log: readFileSync(app.logFile, 'utf8') };
    };

    const missing = await startOn(`mlr-missing-${randomBytes(4).toString('hex')}`);
    expect(missing.ended).toEqual({ code: 1, signal: null });
    expect(missing.log).toMatch(/bucket 'mlr-missing-[0-9a-f]+' does not exist: set it up with the bucket owner's key/);

    const unprotected = `mlr-unprotected-${randomBytes(4).toString('hex')}`;
    await owner.send(new CreateBucketCommand({ Bucket: unprotected, ObjectLockEnabledForBucket: true }));
    await owner.send(
      new PutBucketPolicyCommand({
        Bucket: unprotected,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: [`arn:aws:iam:::user/${s3.service.user}`] },
              Action: ['s3:GetBucketObjectLockConfiguration'],
              Resource: [`arn:aws:s3:::${unprotected}`],
            },
          ],
        }),
      }),
    );
    const bare = await startOn(unprotected);
    expect(bare.ended).toEqual({ code: 1, signal: null });
    expect(bare.log).toMatch(/has no default retention, so objects could be deleted as soon as they are written/);
  });
});
