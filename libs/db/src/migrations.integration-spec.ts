import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDatabase, pgQuery, REPO_ROOT, startPostgres, type PostgresInfo, type ServiceHandle } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyMigrations,
  createMigration,
  createPrismaClient,
  DEFAULT_MIGRATIONS_DIR,
  DEFAULT_SCHEMA_PATH,
  diagnose,
  diffSchemaAgainstMigrations,
  loadMigrations,
  nextTimestamp,
} from './index.js';

const EXPECTED_TABLES = [
  'applied_reference_changes',
  'audit_events',
  'backup_plans',
  'connectors',
  'folder_checkpoints',
  'index_records',
  'job_item_errors',
  'jobs',
  'legal_holds',
  'licences',
  'mailboxes',
  'packs',
  'reference_changes',
  'restore_items',
  'stored_objects',
  'tenant_mlr_verdicts',
  'tenants',
  'unexpected_object_versions',
  'usage_samples',
];

let dir: string;
let postgres: ServiceHandle<PostgresInfo>;
let databaseUrl: string;
let migrationNames: string[];

const query = pgQuery;

beforeAll(async () => {
  mkdirSync(join(REPO_ROOT, 'tmp'), { recursive: true });
  dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'db-migrations-'));
  postgres = await startPostgres({ dir: join(dir, 'postgres') });
  await createDatabase(postgres.info, 'migrations_test');
  databaseUrl = postgres.info.url('migrations_test');
  migrationNames = (await loadMigrations()).migrationDirectories.map((d) => d.path);
});

afterAll(async () => {
  await postgres?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('migrations', () => {
  it('apply to an empty database, are recorded in _prisma_migrations, and a second run is a no-op', async () => {
    expect(migrationNames[0]).toBe('20261124000000_init_platform_schema');

    const before = await diagnose(databaseUrl);
    expect(before.hasMigrationsTable).toBe(false);
    expect(before.history).toEqual({ diagnostic: 'databaseIsBehind', unappliedMigrationNames: migrationNames });

    expect(await applyMigrations(databaseUrl)).toEqual(migrationNames);

    const tables = await query<{ table_name: string }>(
      databaseUrl,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual([...EXPECTED_TABLES, '_prisma_migrations'].sort());

    const recorded = await query<{ migration_name: string; finished: boolean; rolled_back: boolean }>(
      databaseUrl,
      `SELECT migration_name, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back
         FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(recorded).toEqual(
      migrationNames.map((name) => ({ migration_name: name, finished: true, rolled_back: false })),
    );

    expect(await applyMigrations(databaseUrl)).toEqual([]);
    const after = await diagnose(databaseUrl);
    expect(after).toMatchObject({
      hasMigrationsTable: true,
      history: null,
      failedMigrationNames: [],
      editedMigrationNames: [],
    });
    const count = await query<{ n: string }>(databaseUrl, 'SELECT count(*) AS n FROM _prisma_migrations');
    expect(Number(count[0]?.n)).toBe(migrationNames.length);
  });

  it('notice a migration edited after it was applied', async () => {
    const copy = join(dir, 'edited-migrations');
    cpSync(DEFAULT_MIGRATIONS_DIR, copy, { recursive: true });
    const file = join(copy, migrationNames[0] as string, 'migration.sql');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- edited\n`);
    const status = await diagnose(databaseUrl, { migrationsDir: copy });
    expect(status.editedMigrationNames).toEqual([migrationNames[0]]);
  });

  it('make index_records.search_vector a stored generated column with a GIN index', async () => {
    const column = await query<{ attgenerated: string }>(
      databaseUrl,
      "SELECT attgenerated FROM pg_attribute WHERE attrelid = 'index_records'::regclass AND attname = 'search_vector'",
    );
    expect(column).toEqual([{ attgenerated: 's' }]);
    const index = await query<{ indexdef: string }>(
      databaseUrl,
      "SELECT indexdef FROM pg_indexes WHERE indexname = 'index_records_search_vector_idx'",
    );
    expect(index[0]?.indexdef).toContain('USING gin (search_vector)');
  });
});

describe('drift between schema.prisma and the migrations', () => {
  it('is none', async () => {
    expect(await diffSchemaAgainstMigrations(postgres.info.adminUrl)).toBe('');
  });

  it('is found when the schema gains a field, and createMigration writes it as a new migration', async () => {
    const schema = readFileSync(DEFAULT_SCHEMA_PATH, 'utf8').replace(
      /(model Tenant \{\n)/,
      '$1  billingReference String? @map("billing_reference")\n',
    );
    const sql = await diffSchemaAgainstMigrations(postgres.info.adminUrl, { schema });
    expect(sql).toContain('ALTER TABLE "tenants" ADD COLUMN     "billing_reference" TEXT');

    const schemaPath = join(dir, 'changed.prisma');
    writeFileSync(schemaPath, schema);
    const migrationsDir = join(dir, 'create-migrations');
    cpSync(DEFAULT_MIGRATIONS_DIR, migrationsDir, { recursive: true });
    const created = await createMigration('add_tenant_billing_reference', postgres.info.adminUrl, {
      schemaPath,
      migrationsDir,
    });
    expect(created?.name).toMatch(/^\d{14}_add_tenant_billing_reference$/);
    expect(readFileSync(created?.path as string, 'utf8')).toBe(sql);
    expect(await diffSchemaAgainstMigrations(postgres.info.adminUrl, { schemaPath, migrationsDir })).toBe('');
    expect(await createMigration('nothing_changed', postgres.info.adminUrl, { schemaPath, migrationsDir })).toBe(
      undefined,
    );
  });

  it('leaves no shadow database behind', async () => {
    const leftovers = await query(
      postgres.info.adminUrl,
      "SELECT datname FROM pg_database WHERE datname LIKE 'mlr_shadow_%'",
    );
    expect(leftovers).toEqual([]);
  });

  it('names new migrations after the newest one even when the clock is behind', () => {
    expect(nextTimestamp(['20261124000000_init'], new Date('2026-11-24T06:30:05Z'))).toBe('20261124063005');
    expect(nextTimestamp(['20261124000000_init'], new Date('2026-01-01T00:00:00Z'))).toBe('20261124000001');
  });
});

describe('Prisma client', () => {
  it('round-trips a tenant and an index record, and finds the record by full-text search', async () => {
    const prisma = createPrismaClient(databaseUrl);
    try {
      const tenant = await prisma.tenant.create({ data: { name: 'Acme Ltd', slug: 'acme' } });
      const contentId = 'ab'.repeat(32);
      const object = await prisma.storedObject.create({
        data: {
          tenantId: tenant.id,
          contentId,
          bucket: 'mlr',
          key: `tenants/${tenant.id}/objects/ab/${contentId}`,
          plainSize: 5_000n,
          sealedSize: 3_100n,
          keyId: 'k1',
          refCount: 1,
        },
      });
      const record = await prisma.indexRecord.create({
        data: {
          tenantId: tenant.id,
          mailbox: 'alice@acme.example',
          folder: 'INBOX',
          sightingSource: 'imap',
          sightingEpoch: String(3_000_000_000n),
          sightingId: String(4_000_000_000n),
          contentId,
          objectId: object.id,
          submissionDate: new Date('2026-11-20T09:30:00Z'),
          sender: 'bob@partner.example',
          senderName: 'Bob Builder',
          toAddresses: ['alice@acme.example'],
          subject: 'Quarterly budget review',
          attachmentNames: ['forecast-2027.xlsx'],
          hasAttachment: true,
          importance: 'high',
          keywords: ['$Forwarded'],
          size: 5_000n,
        },
      });

      const read = await prisma.indexRecord.findUniqueOrThrow({
        where: {
          tenantId_mailbox_folder_sightingSource_sightingEpoch_sightingId: {
            tenantId: tenant.id,
            mailbox: 'alice@acme.example',
            folder: 'INBOX',
            sightingSource: 'imap',
            sightingEpoch: String(3_000_000_000n),
            sightingId: String(4_000_000_000n),
          },
        },
        include: { object: true },
      });
      expect(read).toMatchObject({
        id: record.id,
        subject: 'Quarterly budget review',
        importance: 'high',
        itemType: 'mail',
        seen: false,
        ccAddresses: [],
        parseProblems: [],
        keywords: ['$Forwarded'],
        object: { key: object.key, byteOffset: null },
      });

      const search = (words: string) =>
        prisma.$queryRaw<Array<{ id: string }>>`
          SELECT id FROM index_records
           WHERE tenant_id = ${tenant.id} AND search_vector @@ websearch_to_tsquery('simple', ${words})`;
      expect(await search('budget')).toEqual([{ id: record.id }]);
      expect(await search('BUDGET review')).toEqual([{ id: record.id }]);
      expect(await search('bob@partner.example')).toEqual([{ id: record.id }]);
      expect(await search('partner.example')).toEqual([{ id: record.id }]);
      expect(await search('forecast-2027.xlsx')).toEqual([{ id: record.id }]);
      expect(await search('holiday')).toEqual([]);

      // The column follows the row: changing the subject changes what it is found by.
      await prisma.indexRecord.update({ where: { id: record.id }, data: { subject: 'Holiday rota' } });
      expect(await search('holiday')).toEqual([{ id: record.id }]);
      expect(await search('budget')).toEqual([]);
    } finally {
      await prisma.$disconnect();
    }
  });
});
