/**
 * Rebuilds the locators of a tenant's messages from its packs alone and compares them with what
 * PostgreSQL records; with --apply, records what PostgreSQL lacks (rows that exist are never changed).
 *
 *   rebuild-locators.ts --tenant <id> [--apply] [--json]
 *
 * Needs DATABASE_URL and S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET (as storage).
 * Exit code 0 when every packed object is recorded exactly where its pack's footer says (after
 * --apply: when nothing is left that needs a person), 1 when not, 2 for a usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { ConfigError, databaseEnvSchema, loadConfig, s3EnvSchema } from '@mlr/config';
import { ID_PATTERN } from '@mlr/contracts';
import { createPrismaClient } from '@mlr/db';
import { createS3ObjectStore } from '@mlr/objectstore';
import { PrismaStoredObjectRepository } from '../backup/stored-object.repository.js';
import { compareLocators, rebuildLocators, recordMissing } from '../packs/rebuild-locators.js';

const USAGE = 'usage: rebuild-locators --tenant <tenant id> [--apply] [--json]';

async function main(): Promise<number> {
  let values: { tenant?: string; apply?: boolean; json?: boolean };
  try {
    ({ values } = parseArgs({
      options: { tenant: { type: 'string' }, apply: { type: 'boolean' }, json: { type: 'boolean' } },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!values.tenant || !ID_PATTERN.test(values.tenant)) {
    console.error(`--tenant needs a tenant id (lower-case letters, digits, dashes)\n${USAGE}`);
    return 2;
  }
  const tenantId = values.tenant;
  let config;
  try {
    config = loadConfig('rebuild-locators', databaseEnvSchema.extend(s3EnvSchema.shape), process.env);
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
    const repository = new PrismaStoredObjectRepository(prisma);
    const rebuilt = await rebuildLocators(store, config.S3_BUCKET, tenantId);
    let comparison = compareLocators(rebuilt, await repository.recordedLocators(tenantId));
    let recorded = 0;
    if (values.apply && comparison.missing.length > 0) {
      recorded = await recordMissing(repository, tenantId, rebuilt, comparison.missing);
      comparison = compareLocators(rebuilt, await repository.recordedLocators(tenantId));
    }
    const summary = {
      tenantId,
      bucket: config.S3_BUCKET,
      packs: rebuilt.packs.length,
      members: rebuilt.locators.size + rebuilt.duplicates.length,
      matching: comparison.matching,
      recorded,
      missing: comparison.missing.map((l) => ({ contentId: l.contentId, key: l.key, versionId: l.versionId })),
      differing: comparison.differing.map(({ recorded: row, rebuilt: locator }) => ({
        contentId: row.contentId,
        recorded: row,
        rebuilt: locator,
      })),
      unlisted: comparison.unlisted.map((row) => ({
        contentId: row.contentId,
        key: row.key,
        versionId: row.versionId,
      })),
      duplicates: rebuilt.duplicates.map((l) => ({ contentId: l.contentId, key: l.key })),
      individual: comparison.individual,
      problems: rebuilt.problems,
    };
    if (values.json) {
      console.log(JSON.stringify(summary));
    } else {
      console.log(
        `tenant ${tenantId}: ${summary.packs} packs with ${summary.members} members in s3://${summary.bucket}; ` +
          `${summary.matching} recorded exactly where their footers say` +
          (values.apply ? `; ${recorded} missing objects recorded now` : ''),
      );
      for (const entry of summary.missing) {
        console.log(`missing in PostgreSQL: ${entry.contentId} in ${entry.key} (version ${entry.versionId})`);
      }
      for (const entry of summary.differing) {
        console.log(
          `recorded elsewhere: ${entry.contentId}: PostgreSQL ${JSON.stringify(entry.recorded)}, footer ${JSON.stringify(entry.rebuilt)}`,
        );
      }
      for (const entry of summary.unlisted) {
        console.log(`in no pack's footer: ${entry.contentId}, recorded in ${entry.key} (version ${entry.versionId})`);
      }
      if (summary.duplicates.length > 0) {
        console.log(`${summary.duplicates.length} members duplicate content an older pack holds (unreferenced)`);
      }
      if (summary.individual > 0)
        console.log(`${summary.individual} objects of their own (individual layout) are not in packs`);
      for (const problem of summary.problems) console.log(`problem: ${problem}`);
    }
    const clean =
      comparison.missing.length === 0 && comparison.differing.length === 0 && comparison.unlisted.length === 0;
    return clean ? 0 : 1;
  } finally {
    store.close();
    await prisma.$disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`rebuild-locators failed: ${(error as Error).message}`);
    process.exit(1);
  },
);
