import { randomBytes } from 'node:crypto';
import type { IndexRecord } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient, type StoredObject } from '@mlr/db';
import { createScratchDatabase, type ScratchDatabase } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { aStoredRecord } from '../../../test/factories/stored-record.js';
import { toIndexRow, type IndexRow } from '../index-row.js';
import { PrismaIndexRecordRepository, type SightingOutcome } from './index-record.repository.js';

const infra = inject('infra');
const tenantId = `index-repo-it-${randomBytes(4).toString('hex')}`;

let scratch: ScratchDatabase;
let prisma: PrismaClient;
let repository: PrismaIndexRecordRepository;

/**
 * The references the index counts on the object: the sum of the changes in indexing's outbox (a
 * database of this file's own, which no relay drains: storage would apply them to its counts).
 */
async function references(object: StoredObject): Promise<number> {
  const [row] = await scratch.query<{ n: string }>(
    'SELECT coalesce(sum(delta), 0)::text AS n FROM reference_changes WHERE object_id = $1',
    [object.id],
  );
  return Number(row?.n);
}

async function storedObject(): Promise<StoredObject> {
  const contentId = randomBytes(32).toString('hex');
  return prisma.storedObject.create({
    data: {
      tenantId,
      contentId,
      bucket: 'mlr-objects',
      key: `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`,
      plainSize: 4096,
      sealedSize: 4200,
      keyId: '0123456789abcdef',
    },
  });
}

const unflagged = { seen: false, answered: false, flagged: false, draft: false, deleted: false };

/** The row of one reading of the flags of UID 1 (by default, under UIDVALIDITY 42) in `mailbox`'s INBOX. */
function reading(
  object: StoredObject,
  mailbox: string,
  backupJobId: string,
  observedAt: string,
  flags: Partial<IndexRecord['flags']>,
  sourceKey: IndexRecord['sourceKey'] = { source: 'imap', epoch: '42', id: '1' },
): IndexRow {
  return toIndexRow(
    aStoredRecord({
      tenantId,
      objectId: object.id,
      jobId: backupJobId,
      record: {
        contentId: object.contentId,
        mailbox,
        folder: 'INBOX',
        sourceKey,
        flags: { ...unflagged, ...flags },
        followUp: flags.flagged ?? false,
        observedAt,
        backupJobId,
      },
    }),
  );
}

const stored = (outcomes: SightingOutcome[]) =>
  outcomes.map((outcome) => (outcome.kind === 'stored' ? outcome.recordStored : outcome.kind));

const rowOf = (mailbox: string) => prisma.indexRecord.findFirstOrThrow({ where: { tenantId, mailbox } });

beforeAll(async () => {
  if (!infra.postgres) throw new Error('the integration tier needs PostgreSQL');
  scratch = await createScratchDatabase(infra.postgres.adminUrl, 'index_record_repository');
  await scratch.runMigrations(() => true);
  prisma = createPrismaClient(scratch.url);
  await prisma.tenant.create({ data: { id: tenantId, name: `Index repository IT ${tenantId}`, slug: tenantId } });
  repository = new PrismaIndexRecordRepository(prisma);
});

afterAll(async () => {
  await prisma?.$disconnect();
  await scratch?.drop();
});

describe('PrismaIndexRecordRepository.upsertBatch', () => {
  it('keeps the later reading when the earlier one comes after it in the same batch', async () => {
    const object = await storedObject();
    const later = reading(object, 'one.batch@example.com', 'job-2', '2026-11-20T10:00:00.000Z', { flagged: true });
    const earlier = reading(object, 'one.batch@example.com', 'job-1', '2026-11-19T10:00:00.000Z', { seen: true });
    expect(stored(await repository.upsertBatch([later, earlier]))).toEqual(['new', 'unchanged']);
    expect(await rowOf('one.batch@example.com')).toMatchObject({
      seen: false,
      flagged: true,
      followUp: true,
      backupJobId: 'job-2',
      observedAt: new Date('2026-11-20T10:00:00.000Z'),
    });
    // In arrival order the other way round, the later reading wins too.
    expect(stored(await repository.upsertBatch([earlier, later]))).toEqual(['unchanged', 'unchanged']);
    expect(await references(object)).toBe(1);
    // Storage's count is not indexing's to write: the outbox holds the change until storage applies it.
    expect((await prisma.storedObject.findUniqueOrThrow({ where: { id: object.id } })).refCount).toBe(0);
  });

  it('applies a reading as recent as the stored one, and writes nothing for the same reading again', async () => {
    const object = await storedObject();
    const mailbox = 'same.moment@example.com';
    const first = reading(object, mailbox, 'job-1', '2026-11-20T10:00:00.000Z', { seen: true });
    const sameMoment = reading(object, mailbox, 'job-1', '2026-11-20T10:00:00.000Z', { seen: true, answered: true });
    expect(stored(await repository.upsertBatch([first]))).toEqual(['new']);
    expect(stored(await repository.upsertBatch([sameMoment]))).toEqual(['updated']);
    const updated = await rowOf(mailbox);
    expect(updated).toMatchObject({ seen: true, answered: true });
    expect(stored(await repository.upsertBatch([sameMoment]))).toEqual(['unchanged']);
    expect(await rowOf(mailbox)).toEqual(updated);
  });

  it('keeps the sighting found after a folder reset when a reading from before the reset arrives later', async () => {
    const object = await storedObject();
    const mailbox = 'folder.reset@example.com';
    const before = reading(object, mailbox, 'job-1', '2026-11-19T10:00:00.000Z', { seen: true });
    const after = reading(
      object,
      mailbox,
      'job-2',
      '2026-11-20T10:00:00.000Z',
      { flagged: true },
      { source: 'imap', epoch: '43', id: '7' },
    );
    const [first] = await repository.upsertBatch([after]);
    expect(first).toMatchObject({ kind: 'stored', recordStored: 'new' });
    // Delivered late, on its own or beside the new sighting: acknowledged as the newer record.
    const late = await repository.upsertBatch([before]);
    expect(late).toEqual([{ ...first, recordStored: 'unchanged' }]);
    expect(stored(await repository.upsertBatch([before, after]))).toEqual(['unchanged', 'unchanged']);
    const records = await prisma.indexRecord.findMany({ where: { tenantId, mailbox } });
    expect(records.map((r) => [r.sightingEpoch, r.sightingId, r.flagged, r.backupJobId])).toEqual([
      ['43', '7', true, 'job-2'],
    ]);
    expect(await references(object)).toBe(1);
  });

  it('keeps the newer sighting when both readings arrive in one batch, the older first', async () => {
    const object = await storedObject();
    const mailbox = 'reset.one.batch@example.com';
    const before = reading(object, mailbox, 'job-1', '2026-11-19T10:00:00.000Z', { seen: true });
    const after = reading(
      object,
      mailbox,
      'job-2',
      '2026-11-20T10:00:00.000Z',
      {},
      { source: 'imap', epoch: '43', id: '7' },
    );
    const outcomes = await repository.upsertBatch([before, after]);
    expect(stored(outcomes)).toEqual(['unchanged', 'new']);
    const [stale, fresh] = outcomes;
    expect(stale?.kind === 'stored' && fresh?.kind === 'stored' && stale.recordId === fresh.recordId).toBe(true);
    const records = await prisma.indexRecord.findMany({ where: { tenantId, mailbox } });
    expect(records.map((r) => [r.sightingEpoch, r.sightingId])).toEqual([['43', '7']]);
    expect(await references(object)).toBe(1);
  });
});
