import { createScratchDatabase, type ScratchDatabase } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const MIGRATION = '20261207220000_source_neutral_sighting_keys';
const DATABASE = `sighting_keys_${process.pid}`;
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
  it('gives every record and item error of the earlier schema the key the IMAP adapter now sends, losing none', async () => {
    expect(await db.runMigrations((name) => name < MIGRATION)).not.toContain(MIGRATION);
    await db.query(
      `INSERT INTO tenants (id, name, slug, updated_at) VALUES ('acme', 'Acme', 'acme', now());
       INSERT INTO stored_objects (id, tenant_id, content_id, bucket, key, plain_size, sealed_size, key_id, ref_count)
         VALUES ('object-1', 'acme', 'c', 'mlr-objects', 'k', 1, 1, '0123456789abcdef', 3);
       INSERT INTO index_records (id, tenant_id, mailbox, folder, uid_validity, uid, content_id, object_id, size, updated_at)
         VALUES ('record-1', 'acme', 'alice', 'INBOX', 4294967295, 4294967295, 'c', 'object-1', 1, now()),
                ('record-2', 'acme', 'alice', 'INBOX', 7, 1, 'c', 'object-1', 1, now()),
                ('record-3', 'acme', 'alice', 'Sent', 7, 1, 'c', 'object-1', 1, now());
       INSERT INTO connectors (id, tenant_id, name, kind, updated_at) VALUES ('imap-1', 'acme', 'imap-1', 'imap', now());
       INSERT INTO jobs (id, tenant_id, connector_id, kind, state, request, requested_by, updated_at)
         VALUES ('job-1', 'acme', 'imap-1', 'backup', 'partially_failed', '{}', 'admin', now());
       INSERT INTO job_item_errors (job_id, tenant_id, scope, mailbox, folder, uid_validity, uid, target, message)
         VALUES ('job-1', 'acme', 'message', 'alice', 'INBOX', 7, 12, 'alice/INBOX UID 12', 'too large'),
                ('job-1', 'acme', 'folder', 'alice', 'Junk', NULL, NULL, 'alice/Junk', 'vanished')`,
    );

    expect(await db.runMigrations((name) => name === MIGRATION)).toEqual([MIGRATION]);
    expect(
      await db.query('SELECT id, sighting_source, sighting_epoch, sighting_id FROM index_records ORDER BY id'),
    ).toEqual([
      { id: 'record-1', sighting_source: 'imap', sighting_epoch: '4294967295', sighting_id: '4294967295' },
      { id: 'record-2', sighting_source: 'imap', sighting_epoch: '7', sighting_id: '1' },
      { id: 'record-3', sighting_source: 'imap', sighting_epoch: '7', sighting_id: '1' },
    ]);
    expect(
      await db.query(
        'SELECT target, sighting_source, sighting_epoch, sighting_id FROM job_item_errors ORDER BY target',
      ),
    ).toEqual([
      { target: 'alice/INBOX UID 12', sighting_source: 'imap', sighting_epoch: '7', sighting_id: '12' },
      { target: 'alice/Junk', sighting_source: null, sighting_epoch: null, sighting_id: null },
    ]);
    // The sighting key is the table's unique key now: the same sighting cannot be written twice.
    await expect(
      db.query(
        `INSERT INTO index_records (id, tenant_id, mailbox, folder, sighting_source, sighting_epoch, sighting_id,
           content_id, object_id, size, updated_at)
         VALUES ('record-4', 'acme', 'alice', 'INBOX', 'imap', '7', '1', 'c', 'object-1', 1, now())`,
      ),
    ).rejects.toThrow(/index_records_sighting_key/);
  });
});
