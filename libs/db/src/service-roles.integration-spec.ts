import { createScratchDatabase, pgQuery, required, serviceDatabaseUrls, type ScratchDatabase } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DATABASE_SERVICES, TABLE_OWNERS, applyServiceRoles, serviceLogins } from './index.js';

/*
 * The global set-up applied the migrations with every service's URL, so the platform's database
 * already has the roles the services run as in every integration and end-to-end test. These tests
 * connect as each role and try every table.
 */
const infra = inject('infra');
const postgres = required(infra, 'postgres');
const TABLES = Object.keys(TABLE_OWNERS);

async function attempt(url: string, sql: string): Promise<'allowed' | string> {
  try {
    await pgQuery(url, sql);
    return 'allowed';
  } catch (error) {
    return (error as Error).message;
  }
}

async function firstColumn(table: string): Promise<string> {
  const rows = await pgQuery<{ column_name: string }>(
    postgres.databaseUrl,
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position LIMIT 1",
    [table],
  );
  return rows[0]!.column_name;
}

describe('each service connects as a role of its own that may touch only its own tables', () => {
  it.each(DATABASE_SERVICES)('%s reads and writes its own tables and is refused every other', async (service) => {
    const url = postgres.serviceUrls[service];
    for (const table of TABLES) {
      const ownership = TABLE_OWNERS[table]!;
      // Writes in a transaction that is rolled back: the privilege check comes before any row.
      const write = (sql: string) => attempt(url, `BEGIN; ${sql}; ROLLBACK`);
      const read = await attempt(url, `SELECT * FROM ${table} LIMIT 0`);
      const remove = await write(`DELETE FROM ${table} WHERE false`);
      if (ownership.owner === service) {
        expect({ table, read }).toEqual({ table, read: 'allowed' });
        expect({ table, remove }).toEqual({
          table,
          remove: ownership.privileges.includes('DELETE') ? 'allowed' : `permission denied for table ${table}`,
        });
      } else {
        expect({ table, read }).toEqual({ table, read: `permission denied for table ${table}` });
        expect({ table, remove }).toEqual({ table, remove: `permission denied for table ${table}` });
        const column = await firstColumn(table);
        const update = await write(`UPDATE ${table} SET ${column} = ${column} WHERE false`);
        expect({ table, update }).toEqual({ table, update: `permission denied for table ${table}` });
        const insert = await write(`INSERT INTO ${table} DEFAULT VALUES`);
        expect({ table, insert }).toEqual({ table, insert: `permission denied for table ${table}` });
      }
    }
    expect(await attempt(url, 'SELECT * FROM _prisma_migrations LIMIT 0')).toBe(
      'permission denied for table _prisma_migrations',
    );
    expect(await attempt(url, 'CREATE TABLE intruder (id int)')).toMatch(/permission denied for schema public/);
  });

  it('keeps the audit trail append-only, even for licensing', async () => {
    const url = postgres.serviceUrls.licensing;
    expect(await attempt(url, 'BEGIN; UPDATE audit_events SET action = action WHERE false; ROLLBACK')).toBe(
      'permission denied for table audit_events',
    );
    expect(await attempt(url, 'TRUNCATE audit_events')).toBe('permission denied for table audit_events');
  });
});

describe('applyServiceRoles', () => {
  let scratch: ScratchDatabase;
  const urls = () => serviceDatabaseUrls(scratch.url);

  beforeAll(async () => {
    scratch = await createScratchDatabase(postgres.adminUrl, 'service_roles');
    await scratch.runMigrations(() => true);
  });

  afterAll(async () => {
    await scratch?.drop();
    for (const role of ['mlr_test_super', 'mlr_test_created', 'mlr_test_reader']) {
      await pgQuery(postgres.adminUrl, `DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('grants again from scratch: a privilege granted by hand does not survive the next run', async () => {
    await scratch.query('GRANT SELECT ON index_records TO mlr_storage');
    await applyServiceRoles(scratch.url, serviceLogins(urls()));
    expect(await attempt(urls().storage, 'SELECT * FROM index_records LIMIT 0')).toBe(
      'permission denied for table index_records',
    );
    expect(await attempt(urls().storage, 'SELECT * FROM stored_objects LIMIT 0')).toBe('allowed');
  });

  it("creates a missing role with the password of its URL, as a verifier, and leaves an existing role's alone", async () => {
    const withPassword = {
      ...urls(),
      indexing: urls().indexing.replace('mlr_indexing@', 'mlr_test_created:s%3Dcr%27et@'),
      storage: urls().storage.replace('mlr_storage@', 'mlr_storage:ignored@'),
    };
    const applied = await applyServiceRoles(scratch.url, serviceLogins(withPassword));
    expect(applied.created).toEqual(['mlr_test_created']);
    const rows = await pgQuery<{ rolname: string; verifier: string | null }>(
      postgres.adminUrl,
      "SELECT rolname, rolpassword AS verifier FROM pg_authid WHERE rolname IN ('mlr_test_created', 'mlr_storage') ORDER BY rolname",
    );
    expect(rows).toEqual([
      { rolname: 'mlr_storage', verifier: null },
      { rolname: 'mlr_test_created', verifier: expect.stringMatching(/^SCRAM-SHA-256\$4096:/) },
    ]);
    // The new role has its service's tables, nothing else.
    expect(
      await attempt(withPassword.indexing.replace(':s%3Dcr%27et', ''), 'SELECT * FROM index_records LIMIT 0'),
    ).toBe('allowed');
  });

  it('refuses a table nobody owns, a superuser role, the owner itself and two services sharing a role', async () => {
    await scratch.query('CREATE TABLE rogue_table (id int)');
    await expect(applyServiceRoles(scratch.url, serviceLogins(urls()))).rejects.toThrow(
      /tables without an owner .*: rogue_table/,
    );
    await scratch.query('DROP TABLE rogue_table');

    await pgQuery(postgres.adminUrl, 'CREATE ROLE mlr_test_super LOGIN SUPERUSER');
    const superUrls = { ...urls(), storage: urls().storage.replace('mlr_storage@', 'mlr_test_super@') };
    await expect(applyServiceRoles(scratch.url, serviceLogins(superUrls))).rejects.toThrow(
      /role 'mlr_test_super' of storage is a superuser/,
    );

    await pgQuery(postgres.adminUrl, 'CREATE ROLE mlr_test_reader LOGIN IN ROLE pg_read_all_data');
    const readerUrls = { ...urls(), scheduling: urls().scheduling.replace('mlr_scheduling@', 'mlr_test_reader@') };
    await expect(applyServiceRoles(scratch.url, serviceLogins(readerUrls))).rejects.toThrow(
      /role 'mlr_test_reader' of scheduling is a member of 'pg_read_all_data'/,
    );

    const ownerUrls = { ...urls(), licensing: scratch.url };
    await expect(applyServiceRoles(scratch.url, serviceLogins(ownerUrls))).rejects.toThrow(
      /licensing would connect as 'postgres', the owner/,
    );

    expect(() => serviceLogins({ ...urls(), indexing: urls().storage })).toThrow(
      /indexing and storage would both connect as 'mlr_storage'/,
    );
    expect(() => serviceLogins({ ...urls(), indexing: 'mysql://x@h/db' })).toThrow(
      /INDEXING_DATABASE_URL is not a postgresql/,
    );
  });
});
