import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlr/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyMigrations, DEFAULT_MIGRATIONS_DIR } from './index.js';

const MIGRATION = '20261124142000_add_index_record_observed_at';
const DATABASE = `observed_at_${process.pid}`;

let dir: string;
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

/** A migrations directory holding the repository's migrations whose names sort before `before` (all without it). */
function migrationsDir(name: string, before?: string): string {
  const target = join(dir, name);
  mkdirSync(target);
  for (const entry of readdirSync(DEFAULT_MIGRATIONS_DIR)) {
    if (before === undefined || entry === 'migration_lock.toml' || entry < before) {
      cpSync(join(DEFAULT_MIGRATIONS_DIR, entry), join(target, entry), { recursive: true });
    }
  }
  return target;
}

beforeAll(async () => {
  const postgres = inject('infra').postgres;
  if (!postgres) throw new Error('the integration tier needs PostgreSQL');
  mkdirSync(join(REPO_ROOT, 'tmp'), { recursive: true });
  dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'observed-at-migration-'));
  adminUrl = postgres.adminUrl;
  const url = new URL(adminUrl);
  url.pathname = `/${DATABASE}`;
  databaseUrl = url.toString();
  await query(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE}`);
  await query(adminUrl, `CREATE DATABASE ${DATABASE}`);
});

afterAll(async () => {
  if (adminUrl) await query(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`migration ${MIGRATION}`, () => {
  it('dates the records indexed before it as observed when they were last written', async () => {
    const applied = await applyMigrations(databaseUrl, { migrationsDir: migrationsDir('before', MIGRATION) });
    expect(applied).not.toContain(MIGRATION);
    await query(
      databaseUrl,
      `INSERT INTO tenants (id, name, slug, updated_at) VALUES ('acme', 'Acme', 'acme', now());
       INSERT INTO stored_objects (id, tenant_id, content_id, bucket, key, plain_size, sealed_size, key_id, ref_count)
         VALUES ('object-1', 'acme', 'c', 'mlr-objects', 'k', 1, 1, '0123456789abcdef', 2);
       INSERT INTO index_records (id, tenant_id, mailbox, folder, uid_validity, uid, content_id, object_id, size, updated_at)
         VALUES ('record-1', 'acme', 'alice', 'INBOX', 1, 1, 'c', 'object-1', 1, '2026-03-01T10:00:00.123Z'),
                ('record-2', 'acme', 'alice', 'INBOX', 1, 2, 'c', 'object-1', 1, '2026-05-02T11:30:00Z')`,
    );

    expect(await applyMigrations(databaseUrl, { migrationsDir: migrationsDir('all') })).toContain(MIGRATION);
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
