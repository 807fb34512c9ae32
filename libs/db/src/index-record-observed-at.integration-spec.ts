import { createScratchDatabase, type ScratchDatabase } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const MIGRATION = '20261124142000_add_index_record_observed_at';
const DATABASE = `observed_at_${process.pid}`;
let db: ScratchDatabase;

beforeAll(async () => {
  const postgres = inject('infra').postgres;
  if (!postgres) throw new Error('the integration tier needs PostgreSQL');
  db = await createScratchDatabase(postgres.adminUrl, DATABASE);
});

afterAll(async () => {
  await db?.drop();
});

describe(`migration ${MIGRATION}`, () => {
  it('dates the records indexed before it as observed when they were last written', async () => {
    expect(await db.runMigrations((name) => name < MIGRATION)).not.toContain(MIGRATION);
    await db.query(
      `INSERT INTO tenants (id, name, slug, updated_at) VALUES ('acme', 'Acme', 'acme', now());
       INSERT INTO stored_objects (id, tenant_id, content_id, bucket, key, plain_size, sealed_size, key_id, ref_count)
         VALUES ('object-1', 'acme', 'c', 'mlr-objects', 'k', 1, 1, '0123456789abcdef', 2);
       INSERT INTO index_records (id, tenant_id, mailbox, folder, uid_validity, uid, content_id, object_id, size, updated_at)
         VALUES ('record-1', 'acme', 'alice', 'INBOX', 1, 1, 'c', 'object-1', 1, '2026-03-01T10:00:00.123Z'),
                ('record-2', 'acme', 'alice', 'INBOX', 1, 2, 'c', 'object-1', 1, '2026-05-02T11:30:00Z')`,
    );

    expect(await db.runMigrations((name) => name === MIGRATION)).toEqual([MIGRATION]);
    const rows = await db.query<{ id: string; observed_at: Date; updated_at: Date }>(
      'SELECT id, observed_at, updated_at FROM index_records ORDER BY id',
    );
    expect(rows.map((row) => [row.id, row.observed_at.toISOString()])).toEqual([
      ['record-1', '2026-03-01T10:00:00.123Z'],
      ['record-2', '2026-05-02T11:30:00.000Z'],
    ]);
    const [column] = await db.query<{
      is_nullable: string;
      column_default: string | null;
    }>(`SELECT is_nullable, column_default FROM information_schema.columns
       WHERE table_name = 'index_records' AND column_name = 'observed_at'`);
    expect(column).toEqual({ is_nullable: 'NO', column_default: 'CURRENT_TIMESTAMP' });
  });
});
