import { createScratchDatabase, type ScratchDatabase } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const MIGRATION = '20261207210000_source_neutral_cursors';
const DATABASE = `cursors_${process.pid}`;
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
  it("turns every IMAP checkpoint the earlier schema held into the IMAP adapter's cursor, losing none", async () => {
    expect(await db.runMigrations((name) => name < MIGRATION)).not.toContain(MIGRATION);
    // As the code before it wrote them: the largest UIDVALIDITY and UID IMAP allows, a 63-bit
    // HIGHESTMODSEQ, a server without CONDSTORE, and a folder of nothing yet.
    await db.query(
      `INSERT INTO tenants (id, name, slug, updated_at) VALUES ('acme', 'Acme', 'acme', now());
       INSERT INTO connectors (id, tenant_id, name, kind, updated_at) VALUES ('imap-1', 'acme', 'imap-1', 'imap', now());
       INSERT INTO folder_checkpoints (id, tenant_id, connector_id, mailbox, folder, uid_validity, last_uid, highest_mod_seq, updated_at)
         VALUES ('cp-1', 'acme', 'imap-1', 'alice', 'INBOX', 4294967295, 4294967295, 9223372036854775807, '2026-11-30T08:00:00Z'),
                ('cp-2', 'acme', 'imap-1', 'alice', 'Sent', 7, 42, NULL, '2026-11-30T08:00:00Z'),
                ('cp-3', 'acme', 'imap-1', 'bob', 'Archive/2026', 1, 0, 1, '2026-11-30T08:00:00Z')`,
    );

    expect(await db.runMigrations((name) => name === MIGRATION)).toEqual([MIGRATION]);
    const rows = await db.query<Record<string, unknown>>(
      `SELECT id, mailbox, folder, source, cursor_version, epoch, position::text AS position,
              changes::text AS changes, state, updated_at
         FROM folder_checkpoints ORDER BY id`,
    );
    const imap = { source: 'imap', cursor_version: 1, state: null, updated_at: new Date('2026-11-30T08:00:00Z') };
    expect(rows).toEqual([
      {
        id: 'cp-1',
        mailbox: 'alice',
        folder: 'INBOX',
        ...imap,
        epoch: '4294967295',
        position: '4294967295',
        changes: '9223372036854775807',
      },
      { id: 'cp-2', mailbox: 'alice', folder: 'Sent', ...imap, epoch: '7', position: '42', changes: null },
      { id: 'cp-3', mailbox: 'bob', folder: 'Archive/2026', ...imap, epoch: '1', position: '0', changes: '1' },
    ]);
    const columns = await db.query<{ column_name: string; is_nullable: string }>(
      `SELECT column_name, is_nullable FROM information_schema.columns
        WHERE table_name = 'folder_checkpoints' ORDER BY column_name`,
    );
    expect(columns.map((c) => c.column_name)).not.toEqual(expect.arrayContaining(['uid_validity']));
    expect(Object.fromEntries(columns.map((c) => [c.column_name, c.is_nullable]))).toMatchObject({
      source: 'NO',
      cursor_version: 'NO',
      epoch: 'NO',
      position: 'NO',
      changes: 'YES',
      state: 'YES',
    });
  });
});
