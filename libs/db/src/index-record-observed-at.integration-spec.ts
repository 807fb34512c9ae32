import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlr/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const MIGRATION = '20261124142000_add_index_record_observed_at';
const DATABASE = `observed_at_${process.pid}`;
const MIGRATIONS_DIR = join(REPO_ROOT, 'prisma', 'migrations');

let adminUrl: string;
let databaseUrl: string;

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Runs the repository's migration scripts that `select` picks, in order. Plain SQL through `pg`, not
 * the Prisma schema engine: its WebAssembly build breaks when a second test file of the same process
 * uses it (migrations.integration-spec.ts does).
 */
async function runMigrations(select: (name: string) => boolean): Promise<string[]> {
  const names = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && select(entry.name))
    .map((entry) => entry.name)
    .sort();
  for (const name of names) {
    await query(databaseUrl, readFileSync(join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8'));
  }
  return names;
}

beforeAll(async () => {
  const postgres = inject('infra').postgres;
  if (!postgres) throw new Error('the integration tier needs PostgreSQL');
  adminUrl = postgres.adminUrl;
  const url = new URL(adminUrl);
  url.pathname = `/${DATABASE}`;
  databaseUrl = url.toString();
  await query(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE}`);
  await query(adminUrl, `CREATE DATABASE ${DATABASE}`);
});

afterAll(async () => {
  if (adminUrl) await query(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
});

describe(`migration ${MIGRATION}`, () => {
  it('dates the records indexed before it as observed when they were last written', async () => {
    expect(await runMigrations((name) => name < MIGRATION)).not.toContain(MIGRATION);
    await query(
      databaseUrl,
      `INSERT INTO tenants (id, name, slug, updated_at) VALUES ('acme', 'Acme', 'acme', now());
       INSERT INTO stored_objects (id, tenant_id, content_id, bucket, key, plain_size, sealed_size, key_id, ref_count)
         VALUES ('object-1', 'acme', 'c', 'mlr-objects', 'k', 1, 1, '0123456789abcdef', 2);
       INSERT INTO index_records (id, tenant_id, mailbox, folder, uid_validity, uid, content_id, object_id, size, updated_at)
         VALUES ('record-1', 'acme', 'alice', 'INBOX', 1, 1, 'c', 'object-1', 1, '2026-03-01T10:00:00.123Z'),
                ('record-2', 'acme', 'alice', 'INBOX', 1, 2, 'c', 'object-1', 1, '2026-05-02T11:30:00Z')`,
    );

    expect(await runMigrations((name) => name === MIGRATION)).toEqual([MIGRATION]);
    const rows = await query<{ id: string; observed_at: Date; updated_at: Date }>(
      databaseUrl,
      'SELECT id, observed_at, updated_at FROM index_records ORDER BY id',
    );
    expect(rows.map((row) => [row.id, row.observed_at.toISOString()])).toEqual([
      ['record-1', '2026-03-01T10:00:00.123Z'],
      ['record-2', '2026-05-02T11:30:00.000Z'],
    ]);
    const [column] = await query<{ is_nullable: string; column_default: string | null }>(
      databaseUrl,
      `SELECT is_nullable, column_default FROM information_schema.columns
       WHERE table_name = 'index_records' AND column_name = 'observed_at'`,
    );
    expect(column).toEqual({ is_nullable: 'NO', column_default: 'CURRENT_TIMESTAMP' });
  });
});
