/**
 * Removes orphans from the backup bucket: object versions of keys storage recorded nothing for (a
 * pack or an object written just before a crash, before its row), once older than --min-age-hours
 * (default 24) and no longer locked. Never a version of a recorded key, never a locked one.
 *
 *   collect.js [--min-age-hours N] [--dry-run] [--json]
 *
 * Needs DATABASE_URL and S3_ENDPOINT, S3_REGION, S3_BUCKET with the COLLECTOR's key in S3_ACCESS_KEY
 * and S3_SECRET_KEY (its own S3 user, named in the bucket policy by setup-bucket's S3_COLLECTOR_USER:
 * it may list and remove unlocked versions, nothing else; the services' key may not delete at all).
 * Exit code 0 when the pass completed, 1 when S3 or PostgreSQL failed, 2 for a usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { ConfigError, databaseEnvSchema, loadConfig, s3EnvSchema } from '@mlr/config';
import { createPrismaClient } from '@mlr/db';
import { createS3ObjectStore } from '@mlr/objectstore';
import { collectOrphans } from '../integrity/orphan-collector.js';

const USAGE = 'usage: collect [--min-age-hours N] [--dry-run] [--json]';
const HOUR_MS = 60 * 60_000;

async function main(): Promise<number> {
  let values: { 'min-age-hours'?: string; 'dry-run'?: boolean; json?: boolean };
  try {
    ({ values } = parseArgs({
      options: { 'min-age-hours': { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const minAgeHours = Number(values['min-age-hours'] ?? '24');
  if (!Number.isFinite(minAgeHours) || minAgeHours < 0) {
    console.error(`--min-age-hours must be a number of hours, 0 or more\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig('collect', databaseEnvSchema.extend(s3EnvSchema.shape), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const prisma = createPrismaClient(config.DATABASE_URL);
  const store = createS3ObjectStore({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKey: config.S3_ACCESS_KEY,
    secretKey: config.S3_SECRET_KEY,
  });
  try {
    const outcome = await collectOrphans(store, prisma, {
      bucket: config.S3_BUCKET,
      minAgeMs: minAgeHours * HOUR_MS,
      dryRun: values['dry-run'] ?? false,
    });
    if (values.json)
      console.log(
        JSON.stringify({ bucket: config.S3_BUCKET, dryRun: values['dry-run'] ?? false, ...outcome }, null, 2),
      );
    else {
      const bytes = outcome.removed.reduce((sum, version) => sum + version.size, 0);
      console.log(
        [
          `bucket '${config.S3_BUCKET}': ${outcome.versions} object versions, ${outcome.recorded} of recorded keys (kept)`,
          `orphans ${values['dry-run'] ? 'that would be removed (unless still locked)' : 'removed'}: ${outcome.removed.length} (${bytes} bytes)`,
          `orphans kept for now: ${outcome.young} younger than ${minAgeHours} h, ${outcome.locked} still locked`,
        ].join('\n'),
      );
    }
    return 0;
  } catch (error) {
    console.error(`collecting orphans in '${config.S3_BUCKET}' failed: ${(error as Error).message}`);
    return 1;
  } finally {
    store.close();
    await prisma.$disconnect();
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
