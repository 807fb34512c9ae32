/**
 * Sets up the backup bucket with the bucket owner's key, once before storage first starts and again
 * whenever the default retention or the services' user changes (idempotent):
 * creates it with Object Lock unless it exists, sets its default retention (every new object
 * version is kept that long; COMPLIANCE: by nobody shortened) and the bucket policy that lets the
 * services' S3 user write and read but never delete a version, bypass a retention or change the
 * bucket's settings. Storage refuses to start on a bucket without Object Lock and default retention.
 *
 *   setup-bucket.js [--json]
 *
 * Needs S3_ENDPOINT, S3_REGION, S3_BUCKET; S3_OWNER_ACCESS_KEY and S3_OWNER_SECRET_KEY (the bucket
 * owner's key: keep it away from the services, it can remove the policy and the rule); S3_SERVICE_USER
 * (the services' S3 user: an RGW user id, or a principal ARN); S3_COLLECTOR_USER (optional: the
 * collector's user, allowed to remove versions whose lock has ended); STORAGE_DEFAULT_RETENTION_DAYS
 * (default 30) and STORAGE_DEFAULT_RETENTION_MODE (COMPLIANCE, or GOVERNANCE).
 * Exit code 0 when the bucket is set up, 1 when S3 refused, 2 for a usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '@mlr/config';
import { createS3Client, setUpBackupBucket } from '@mlr/objectstore';
import { setupBucketConfigSchema } from './setup-bucket-config.js';

const USAGE = 'usage: setup-bucket [--json]';

async function main(): Promise<number> {
  let values: { json?: boolean };
  try {
    ({ values } = parseArgs({ options: { json: { type: 'boolean' } } }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig('setup-bucket', setupBucketConfigSchema, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const owner = createS3Client({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKey: config.S3_OWNER_ACCESS_KEY,
    secretKey: config.S3_OWNER_SECRET_KEY,
  });
  try {
    const report = await setUpBackupBucket(owner, {
      bucket: config.S3_BUCKET,
      serviceUser: config.S3_SERVICE_USER,
      collectorUser: config.S3_COLLECTOR_USER,
      defaultRetention: { mode: config.STORAGE_DEFAULT_RETENTION_MODE, days: config.STORAGE_DEFAULT_RETENTION_DAYS },
    });
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      const before = report.defaultRetention.before;
      console.log(
        [
          `bucket '${report.bucket}' ${report.created ? 'created with Object Lock' : 'exists with Object Lock'}`,
          `default retention: ${config.STORAGE_DEFAULT_RETENTION_DAYS} days ${config.STORAGE_DEFAULT_RETENTION_MODE}` +
            (before
              ? ` (was ${before.days ?? 0} days${before.years ? ` ${before.years} years` : ''} ${before.mode})`
              : ' (was none)'),
          `policy for ${report.servicePrincipal}: write, read and list; never delete, bypass a retention or change the bucket (${report.policy})`,
          ...(config.S3_COLLECTOR_USER
            ? [
                `policy for the collector ${config.S3_COLLECTOR_USER}: remove versions whose lock has ended; nothing else`,
              ]
            : []),
        ].join('\n'),
      );
    }
    return 0;
  } catch (error) {
    console.error(`setting up bucket '${config.S3_BUCKET}' failed: ${(error as Error).message}`);
    return 1;
  } finally {
    owner.destroy();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
