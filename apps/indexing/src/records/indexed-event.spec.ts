import { sightingResultSchema } from '@mlr/contracts';
import { describe, expect, it } from 'vitest';
import { aStoredRecord } from '../../test/factories/stored-record.js';
import { toIndexRow } from './index-row.js';
import { indexedBatchMsgId, resultState, storedResultOf } from './indexed-event.js';

describe('storedResultOf', () => {
  it('acknowledges the sighting as the connector sent it', () => {
    const stored = aStoredRecord({
      objectStored: 'deduplicated',
      record: { sourceKey: { source: 'imap', epoch: '0042', id: '3' } },
    });
    expect(sightingResultSchema.parse(storedResultOf(stored, { recordStored: 'updated', recordId: 'r-1' }))).toEqual({
      contentId: 'c'.repeat(64),
      mailbox: 'Alice@Example.com',
      folder: 'INBOX/Projects',
      sourceKey: { source: 'imap', epoch: '0042', id: '3' },
      outcome: 'stored',
      objectStored: 'deduplicated',
      recordStored: 'updated',
      recordId: 'r-1',
    });
  });
});

describe('indexedBatchMsgId', () => {
  const msgId = (...records: Array<ReturnType<typeof aStoredRecord>>) => {
    const results = records.map((stored) => storedResultOf(stored, { recordStored: 'unchanged', recordId: 'r-1' }));
    const batch = { tenantId: 'acme', jobId: records[0]!.jobId, results };
    return indexedBatchMsgId(
      batch,
      records.map((stored, i) => resultState(stored, toIndexRow(stored), results[i]!)),
    );
  };

  it('is the same for a redelivery of the same records', () => {
    expect(msgId(aStoredRecord())).toBe(msgId(aStoredRecord()));
    expect(msgId(aStoredRecord())).toMatch(/^indexed-[0-9a-f]{64}$/);
  });

  it('changes with the state the index holds, with the job waiting for it and with the batch', () => {
    const base = msgId(aStoredRecord());
    const flags = { seen: false, answered: false, flagged: false, draft: false, deleted: false };
    expect(msgId(aStoredRecord({ record: { flags } }))).not.toBe(base);
    expect(msgId(aStoredRecord({ record: { keywords: ['$Junk'] } }))).not.toBe(base);
    expect(msgId(aStoredRecord({ record: { followUp: true } }))).not.toBe(base);
    expect(msgId(aStoredRecord({ record: { observedAt: '2024-03-03T07:30:00.000Z' } }))).not.toBe(base);
    expect(msgId(aStoredRecord({ jobId: 'job-2' }))).not.toBe(base);
    expect(msgId(aStoredRecord({ record: { sourceKey: { source: 'imap', epoch: '1700000000', id: '8' } } }))).not.toBe(
      base,
    );
    expect(
      msgId(aStoredRecord(), aStoredRecord({ record: { sourceKey: { source: 'imap', epoch: '1', id: '1' } } })),
    ).not.toBe(base);
  });
});
