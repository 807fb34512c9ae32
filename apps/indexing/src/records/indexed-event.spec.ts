import { indexedEventSchema } from '@mlr/contracts';
import { describe, expect, it } from 'vitest';
import { aStoredRecord } from '../../test/factories/stored-record.js';
import { toIndexRow } from './index-row.js';
import { indexedEventMsgId, indexedEventOf } from './indexed-event.js';

describe('indexedEventOf', () => {
  it('acknowledges the sighting as the connector sent it', () => {
    const stored = aStoredRecord({
      objectStored: 'deduplicated',
      record: { sourceKey: { uidValidity: '0042', uid: 3 } },
    });
    const event = indexedEventOf(stored, toIndexRow(stored), { recordStored: 'updated', recordId: 'r-1' });
    expect(indexedEventSchema.parse(event)).toEqual({
      tenantId: 'acme',
      jobId: 'job-1',
      contentId: 'c'.repeat(64),
      mailbox: 'Alice@Example.com',
      folder: 'INBOX/Projects',
      uidValidity: '0042',
      uid: 3,
      objectStored: 'deduplicated',
      recordStored: 'updated',
      recordId: 'r-1',
    });
  });
});

describe('indexedEventMsgId', () => {
  const msgId = (stored: ReturnType<typeof aStoredRecord>) => indexedEventMsgId(stored, toIndexRow(stored));

  it('is the same for a redelivery of the same record', () => {
    expect(msgId(aStoredRecord())).toBe(msgId(aStoredRecord()));
    expect(msgId(aStoredRecord())).toMatch(/^indexed-[0-9a-f]{64}$/);
  });

  it('changes with the state the index holds and with the job waiting for it', () => {
    const base = msgId(aStoredRecord());
    const flags = { seen: false, answered: false, flagged: false, draft: false, deleted: false };
    expect(msgId(aStoredRecord({ record: { flags } }))).not.toBe(base);
    expect(msgId(aStoredRecord({ record: { keywords: ['$Junk'] } }))).not.toBe(base);
    expect(msgId(aStoredRecord({ record: { followUp: true } }))).not.toBe(base);
    expect(msgId(aStoredRecord({ record: { observedAt: '2024-03-03T07:30:00.000Z' } }))).not.toBe(base);
    expect(msgId(aStoredRecord({ jobId: 'job-2' }))).not.toBe(base);
    expect(msgId(aStoredRecord({ record: { sourceKey: { uidValidity: '1700000000', uid: 8 } } }))).not.toBe(base);
  });
});
