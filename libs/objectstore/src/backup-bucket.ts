import {
  CreateBucketCommand,
  GetBucketPolicyCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  PutBucketPolicyCommand,
  PutObjectLockConfigurationCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { RetentionMode } from './object-store.js';

/**
 * The backup bucket's protection, set up once with the bucket owner's key (never the services'):
 * - Object Lock with a default retention rule, so that every object version written — pack,
 *   individual object, multipart or not, with or without explicit retention headers from storage —
 *   cannot be deleted or overwritten in place before its retention ends (COMPLIANCE: by nobody);
 * - a bucket policy for the services' user that allows writing, reading and listing, and explicitly
 *   denies every form of delete, the governance bypass (Ceph RGW honours a GOVERNANCE bypass for
 *   anyone allowed DeleteObjectVersion unless it is denied by name) and every change of the
 *   bucket's settings (policy, Object Lock rule, versioning, lifecycle, ACLs).
 * Whoever holds the owner's key can still remove the policy or the rule: keep it out of the services.
 */
export interface BackupBucketSettings {
  bucket: string;
  /** The services' S3 user: an RGW user id (`svc`) or a full principal ARN (`arn:aws:iam::...`). */
  serviceUser: string;
  /** The collector's S3 user, when there is one: it may remove versions whose lock has ended, nothing else. */
  collectorUser?: string | undefined;
  /** Default retention of every new object version. */
  defaultRetention: { mode: RetentionMode; days: number };
}

/** What the bucket's settings were before and are after `setUpBackupBucket`. */
export interface BackupBucketReport {
  bucket: string;
  created: boolean;
  servicePrincipal: string;
  defaultRetention: { before: DefaultRetention | undefined; after: DefaultRetention };
  policy: 'created' | 'replaced' | 'unchanged';
}

export interface DefaultRetention {
  mode: RetentionMode;
  days?: number;
  years?: number;
}

/** What the services' key may do to objects of the bucket. */
const SERVICE_OBJECT_ACTIONS = [
  's3:PutObject',
  's3:GetObject',
  's3:GetObjectVersion',
  's3:GetObjectRetention',
  // Extending a version's retention (never shortening it: COMPLIANCE refuses that to everyone).
  's3:PutObjectRetention',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
];
/** ... and to the bucket itself: listing and reading (not changing) its protection. */
const SERVICE_BUCKET_ACTIONS = [
  's3:ListBucket',
  's3:ListBucketVersions',
  's3:ListBucketMultipartUploads',
  's3:GetBucketObjectLockConfiguration',
  's3:GetBucketVersioning',
];
/** Denied by name, whatever else allows them: an explicit Deny wins over every Allow. */
const SERVICE_DENIED_ACTIONS = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:BypassGovernanceRetention',
  's3:DeleteBucket',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutBucketObjectLockConfiguration',
  's3:PutBucketVersioning',
  's3:PutLifecycleConfiguration',
  's3:PutBucketAcl',
  's3:PutObjectAcl',
  's3:PutObjectVersionAcl',
];

/** The principal of the services' user as a bucket policy names it (RGW: `arn:aws:iam:::user/<uid>`). */
export function servicePrincipal(serviceUser: string): string {
  return serviceUser.startsWith('arn:') ? serviceUser : `arn:aws:iam:::user/${serviceUser}`;
}

/**
 * What the collector's key may do: list versions and remove a version whose lock has ended — never
 * bypass a retention, read or write an object, leave a delete marker, or change the bucket.
 */
const COLLECTOR_OBJECT_ACTIONS = ['s3:DeleteObjectVersion', 's3:GetObjectRetention'];
const COLLECTOR_BUCKET_ACTIONS = ['s3:ListBucket', 's3:ListBucketVersions'];
const COLLECTOR_DENIED_ACTIONS = [
  ...SERVICE_DENIED_ACTIONS.filter((action) => action !== 's3:DeleteObjectVersion'),
  's3:PutObject',
  's3:GetObject',
  's3:GetObjectVersion',
  's3:PutObjectRetention',
];

/**
 * The bucket policy that lets the services' user write and read but never delete or reconfigure,
 * and, when there is one, the collector's user remove versions whose lock has ended and do nothing else.
 */
export function backupBucketPolicy(
  bucket: string,
  serviceUser: string,
  collectorUser?: string,
): Record<string, unknown> {
  const principal = { AWS: [servicePrincipal(serviceUser)] };
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const collector = collectorUser ? { AWS: [servicePrincipal(collectorUser)] } : undefined;
  const collectorStatements = collector
    ? [
        {
          Sid: 'MlrCollectorRemovesUnlocked',
          Effect: 'Allow',
          Principal: collector,
          Action: COLLECTOR_OBJECT_ACTIONS,
          // Only what MLR writes: the tenants' packs and objects.
          Resource: [`${bucketArn}/tenants/*`],
        },
        {
          Sid: 'MlrCollectorList',
          Effect: 'Allow',
          Principal: collector,
          Action: COLLECTOR_BUCKET_ACTIONS,
          Resource: [bucketArn],
        },
        {
          Sid: 'MlrCollectorNothingElse',
          Effect: 'Deny',
          Principal: collector,
          Action: COLLECTOR_DENIED_ACTIONS,
          Resource: [bucketArn, `${bucketArn}/*`],
        },
      ]
    : [];
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'MlrServicesWriteAndRead',
        Effect: 'Allow',
        Principal: principal,
        Action: SERVICE_OBJECT_ACTIONS,
        Resource: [`${bucketArn}/*`],
      },
      {
        Sid: 'MlrServicesList',
        Effect: 'Allow',
        Principal: principal,
        Action: SERVICE_BUCKET_ACTIONS,
        Resource: [bucketArn],
      },
      {
        Sid: 'MlrServicesNeverDelete',
        Effect: 'Deny',
        Principal: principal,
        Action: SERVICE_DENIED_ACTIONS,
        Resource: [bucketArn, `${bucketArn}/*`],
      },
      ...collectorStatements,
    ],
  };
}

function errorName(error: unknown): string | undefined {
  return (error as { name?: string; Code?: string } | undefined)?.name;
}

/** The bucket's default retention rule; undefined when it has none; throws when Object Lock is off. */
export async function readDefaultRetention(client: S3Client, bucket: string): Promise<DefaultRetention | undefined> {
  let configuration;
  try {
    configuration = (await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket })))
      .ObjectLockConfiguration;
  } catch (error) {
    if (errorName(error) === 'ObjectLockConfigurationNotFoundError') configuration = undefined;
    else throw error;
  }
  if (configuration?.ObjectLockEnabled !== 'Enabled') {
    throw new BackupBucketError(
      `bucket '${bucket}' has no Object Lock; it can only be enabled when a bucket is created, so use a new bucket`,
    );
  }
  const rule = configuration.Rule?.DefaultRetention;
  if (!rule?.Mode) return undefined;
  return {
    mode: rule.Mode,
    ...(rule.Days !== undefined ? { days: rule.Days } : {}),
    ...(rule.Years !== undefined ? { years: rule.Years } : {}),
  };
}

/** A backup bucket that is missing or not protected as MLR requires. */
export class BackupBucketError extends Error {
  override readonly name = 'BackupBucketError';
}

/**
 * Creates the backup bucket with Object Lock unless it exists, and sets its default retention and
 * the services' bucket policy; idempotent. `owner` must be a client with the bucket owner's key.
 */
export async function setUpBackupBucket(owner: S3Client, settings: BackupBucketSettings): Promise<BackupBucketReport> {
  const { bucket, serviceUser, collectorUser, defaultRetention } = settings;
  if (!Number.isInteger(defaultRetention.days) || defaultRetention.days < 1 || defaultRetention.days > 36_500) {
    throw new RangeError(`default retention must be 1 to 36500 days, got ${defaultRetention.days}`);
  }
  for (const user of [serviceUser, ...(collectorUser ? [collectorUser] : [])]) {
    if (!/^[A-Za-z0-9_.@:/=+,-]+$/.test(user)) throw new RangeError(`'${user}' is not an S3 user id or principal ARN`);
  }
  if (collectorUser === serviceUser) {
    throw new RangeError('the collector needs an S3 user of its own: the services must never be allowed to delete');
  }
  // Ceph (like AWS in us-east-1) answers CreateBucket of a bucket one owns with success: ask first.
  const foreign = () =>
    new BackupBucketError(`bucket '${bucket}' exists and belongs to another user: set it up with its owner's key`);
  let created = false;
  try {
    await owner.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 403) throw foreign();
    if (status !== 404) throw error;
    created = true;
  }
  if (created) {
    try {
      await owner.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    } catch (error) {
      throw errorName(error) === 'BucketAlreadyExists' ? foreign() : error;
    }
  }
  const before = await readDefaultRetention(owner, bucket);
  const after: DefaultRetention = { mode: defaultRetention.mode, days: defaultRetention.days };
  await owner.send(
    new PutObjectLockConfigurationCommand({
      Bucket: bucket,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: defaultRetention.mode, Days: defaultRetention.days } },
      },
    }),
  );
  const wanted = backupBucketPolicy(bucket, serviceUser, collectorUser);
  let current: string | undefined;
  try {
    current = (await owner.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy;
  } catch (error) {
    if (errorName(error) !== 'NoSuchBucketPolicy') throw error;
  }
  const unchanged = current !== undefined && sameJson(current, wanted);
  if (!unchanged) await owner.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(wanted) }));
  return {
    bucket,
    created,
    servicePrincipal: servicePrincipal(serviceUser),
    defaultRetention: { before, after },
    policy: unchanged ? 'unchanged' : current === undefined ? 'created' : 'replaced',
  };
}

function sameJson(text: string, value: unknown): boolean {
  try {
    return JSON.stringify(JSON.parse(text)) === JSON.stringify(value);
  } catch {
    return false;
  }
}
