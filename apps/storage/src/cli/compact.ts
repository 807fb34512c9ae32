/**
 * Compacts packs most of whose bytes expiry released: their live members are rewritten into a new
 * pack and their locators switched in one transaction; the old pack, left with released members
 * only, is removed by the collector (`collect`) once its marks have passed and its lock has ended.
 *
 *   compact.js [--below-live-share 0.5] [--dry-run] [--json]
 *
 * Needs DATABASE_URL and S3_ENDPOINT, S3_REGION, S3_BUCKET with the SERVICES' key in S3_ACCESS_KEY
 * and S3_SECRET_KEY (as storage: it reads and writes packs, and deletes nothing).
 * Exit code 0 when the pass completed, 1 when S3 or PostgreSQL failed, 2 for a usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { ConfigError, databaseEnvSchema, loadConfig, s3EnvSchema } from '@mlr/config';
import { createPrismaClient } from '@mlr/db';
import { createS3ObjectStore } from '@mlr/objectstore';
import { compactPacks } from '../integrity/pack-compaction.js';

const USAGE = 'usage: compact [--below-live-share 0.5] [--dry-run] [--json]';

async function main(): Promise<number> {
  let values: { 'below-live-share'?: string; 'dry-run'?: boolean; json?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        'below-live-share': { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const below = Number(values['below-live-share'] ?? '0.5');
  if (!(below > 0 && below < 1)) {
    console.error(`--below-live-share must be a share between 0 and 1 (exclusive), e.g. 0.5\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig('compact', databaseEnvSchema.extend(s3EnvSchema.shape), process.env);
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
    const dryRun = values['dry-run'] ?? false;
    const outcome = await compactPacks(store, prisma, { bucket: config.S3_BUCKET, belowLiveShare: below, dryRun });
    if (values.json) console.log(JSON.stringify({ bucket: config.S3_BUCKET, dryRun, ...outcome }, null, 2));
    else {
      console.log(
        `bucket '${config.S3_BUCKET}': ${outcome.candidates} packs below ${below} live; ${dryRun ? 'would compact' : 'compacted'} ${outcome.compacted}, moving ${outcome.moved} live members (${outcome.bytesWritten} bytes written); ${outcome.bytesReleased} bytes for the collector to free`,
      );
    }
    return 0;
  } catch (error) {
    console.error(`compacting packs in '${config.S3_BUCKET}' failed: ${(error as Error).message}`);
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
