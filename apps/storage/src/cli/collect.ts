/**
 * Collects the backup bucket's garbage, never a referenced or locked byte:
 * - orphans: object versions of keys storage recorded nothing for (a pack or an object written just
 *   before a crash, before its row), once older than --min-age-hours (default 24) and unlocked;
 * - what expiry released: objects without references (and packs all of whose members are), marked
 *   first and removed at a later pass once --grace-hours (default 24) have passed without a new
 *   sighting finding them again (integrity/released-collector.ts), and their lock has ended.
 *
 *   collect.js [--min-age-hours N] [--grace-hours N] [--dry-run] [--json]
 *
 * Needs NATS_URL (and NATS_CREDS: it asks JetStream whether a tenant's backups are on their way),
 * DATABASE_URL, and S3_ENDPOINT, S3_REGION, S3_BUCKET with the COLLECTOR's key in S3_ACCESS_KEY
 * and S3_SECRET_KEY (its own S3 user, named in the bucket policy by setup-bucket's S3_COLLECTOR_USER:
 * it may list and remove unlocked versions, nothing else; the services' key may not delete at all).
 * Exit code 0 when the pass completed, 1 when S3 or PostgreSQL failed, 2 for a usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { ConfigError, databaseEnvSchema, loadConfig, natsEnvSchema, s3EnvSchema } from '@mlr/config';
import { referenceCallSchemas, serviceSubject, STREAMS, subjects } from '@mlr/contracts';
import { createPrismaClient } from '@mlr/db';
import { connectMessaging, requestNestVerb } from '@mlr/messaging';
import { createS3ObjectStore } from '@mlr/objectstore';
import { natsCredentials } from '@mlr/runtime';
import { collectOrphans } from '../integrity/orphan-collector.js';
import { collectReleased } from '../integrity/released-collector.js';

const USAGE = 'usage: collect [--min-age-hours N] [--grace-hours N] [--dry-run] [--json]';
const HOUR_MS = 60 * 60_000;

async function main(): Promise<number> {
  let values: { 'min-age-hours'?: string; 'grace-hours'?: string; 'dry-run'?: boolean; json?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        'min-age-hours': { type: 'string' },
        'grace-hours': { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const minAgeHours = Number(values['min-age-hours'] ?? '24');
  const graceHours = Number(values['grace-hours'] ?? '24');
  for (const [flag, hours] of [
    ['--min-age-hours', minAgeHours],
    ['--grace-hours', graceHours],
  ] as const) {
    if (!Number.isFinite(hours) || hours < 0) {
      console.error(`${flag} must be a number of hours, 0 or more\n${USAGE}`);
      return 2;
    }
  }
  if (graceHours < 1) {
    console.error(`--grace-hours must be at least 1: a backup must have time to take back what it finds\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(
      'collect',
      natsEnvSchema.extend(databaseEnvSchema.shape).extend(s3EnvSchema.shape),
      process.env,
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  let messaging;
  try {
    messaging = await connectMessaging({
      servers: [config.NATS_URL],
      name: 'mlr-storage-collect',
      credentials: natsCredentials(config),
      waitOnFirstConnect: false,
    });
  } catch (error) {
    console.error(`cannot reach NATS at ${config.NATS_URL}: ${(error as Error).message}`);
    return 1;
  }
  const connection = messaging;
  /**
   * Commits of the tenant not yet stored, records not yet indexed, or reference changes indexing has
   * not brought to storage yet: a backup (or an expiry) on its way, whose counts are not final. When
   * indexing cannot say, the tenant counts as busy: nothing of it is removed this time.
   */
  const busy = async (tenantId: string) => {
    const jsm = await connection.manager();
    for (const [stream, subject] of [
      [STREAMS.objects.name, subjects.objects(tenantId)],
      [STREAMS.records.name, subjects.records(tenantId)],
    ] as const) {
      const info = await jsm.streams.info(stream, { subjects_filter: subject });
      if ((info.state.subjects?.[subject] ?? 0) > 0) return true;
    }
    try {
      const pending = referenceCallSchemas['references.pending'].response.parse(
        await requestNestVerb(
          connection.nc,
          serviceSubject('indexing', 'references.pending'),
          { tenantIds: [tenantId] },
          10_000,
        ),
      );
      return pending.tenants.includes(tenantId);
    } catch (error) {
      console.error(
        `indexing cannot say whether tenant ${tenantId} has reference changes on their way (${(error as Error).message}): nothing of it is removed this time`,
      );
      return true;
    }
  };
  const prisma = createPrismaClient(config.DATABASE_URL);
  const store = createS3ObjectStore({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKey: config.S3_ACCESS_KEY,
    secretKey: config.S3_SECRET_KEY,
  });
  try {
    const dryRun = values['dry-run'] ?? false;
    const outcome = await collectOrphans(store, prisma, {
      bucket: config.S3_BUCKET,
      minAgeMs: minAgeHours * HOUR_MS,
      dryRun,
    });
    const released = await collectReleased(store, prisma, {
      bucket: config.S3_BUCKET,
      graceMs: graceHours * HOUR_MS,
      dryRun,
      busy,
    });
    if (values.json) console.log(JSON.stringify({ bucket: config.S3_BUCKET, dryRun, ...outcome, released }, null, 2));
    else {
      const bytes = outcome.removed.reduce((sum, version) => sum + version.size, 0);
      console.log(
        [
          `bucket '${config.S3_BUCKET}': ${outcome.versions} object versions, ${outcome.recorded} of recorded keys (kept)`,
          `orphans ${values['dry-run'] ? 'that would be removed (unless still locked)' : 'removed'}: ${outcome.removed.length} (${bytes} bytes)`,
          `orphans kept for now: ${outcome.young} younger than ${minAgeHours} h, ${outcome.locked} still locked`,
          `released (no references): ${released.marked} newly marked; ${dryRun ? 'would remove' : 'removed'} ${released.objects} objects and ${released.packs} whole packs (${released.bytes} bytes); ${released.locked} still locked`,
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
    await connection.close();
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
