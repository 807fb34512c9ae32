import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from '@mlr/testing';

const MIGRATION = '20261124150000_add_tenant_key_id';
const DATABASE = `tenant_key_id_${process.pid}`;
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
  it('gives a tenant with backups the key of its first sealed object, unless another tenant has objects of that key', async () => {
    expect(await db.runMigrations((name) => name < MIGRATION)).not.toContain(MIGRATION);
    const object = (id: string, tenant: string, keyId: string, createdAt: string) =>
      `('${id}', '${tenant}', '${id}', 'mlr-objects', '${id}', 1, 1, '${keyId}', '${createdAt}')`;
    await db.query(
      `INSERT INTO tenants (id, name, slug, updated_at) VALUES
         ('acme', 'Acme', 'acme', now()), ('globex', 'Globex', 'globex', now()), ('initech', 'Initech', 'initech', now()),
         ('umbrella', 'Umbrella', 'umbrella', now()), ('empty', 'Empty', 'empty', now());
       INSERT INTO stored_objects (id, tenant_id, content_id, bucket, key, plain_size, sealed_size, key_id, created_at)
       VALUES ${[
         // Acme's first connector sealed with aaaa...; a second one (before this migration) with bbbb...
         object('acme-2', 'acme', 'bbbbbbbbbbbbbbbb', '2026-05-01T00:00:00Z'),
         object('acme-1', 'acme', 'aaaaaaaaaaaaaaaa', '2026-04-01T00:00:00Z'),
         object('acme-3', 'acme', 'aaaaaaaaaaaaaaaa', '2026-06-01T00:00:00Z'),
         object('globex-1', 'globex', 'cccccccccccccccc', '2026-04-01T00:00:00Z'),
         // One key under two tenants: neither is given it.
         object('initech-1', 'initech', 'dddddddddddddddd', '2026-04-01T00:00:00Z'),
         object('umbrella-1', 'umbrella', 'dddddddddddddddd', '2026-04-02T00:00:00Z'),
       ].join(', ')}`,
    );

    expect(await db.runMigrations((name) => name === MIGRATION)).toEqual([MIGRATION]);
    const rows = await db.query<{ id: string; tenant_key_id: string | null }>(
      'SELECT id, tenant_key_id FROM tenants ORDER BY id',
    );
    expect(rows).toEqual([
      { id: 'acme', tenant_key_id: 'aaaaaaaaaaaaaaaa' },
      { id: 'empty', tenant_key_id: null },
      { id: 'globex', tenant_key_id: 'cccccccccccccccc' },
      { id: 'initech', tenant_key_id: null },
      { id: 'umbrella', tenant_key_id: null },
    ]);

    // One key belongs to one tenant.
    await expect(db.query(`UPDATE tenants SET tenant_key_id = 'aaaaaaaaaaaaaaaa' WHERE id = 'empty'`)).rejects.toThrow(
      /tenants_tenant_key_id_key/,
    );
  });
});
