import type { IndexRecord, StoredRecord, StoredRecordBatch } from '@mlr/contracts';

/** A valid StoredRecord (as storage publishes it); `record` fields override the defaults. */
export function aStoredRecord(
  overrides: Partial<Omit<StoredRecord, 'record'>> & { record?: Partial<IndexRecord> } = {},
): StoredRecord {
  const tenantId = overrides.tenantId ?? 'acme';
  const contentId = overrides.record?.contentId ?? 'c'.repeat(64);
  return {
    tenantId,
    jobId: overrides.jobId ?? 'job-1',
    objectId: overrides.objectId ?? 'object-1',
    objectStored: overrides.objectStored ?? 'new',
    record: {
      tenantId,
      mailbox: 'Alice@Example.com',
      folder: 'INBOX/Projects',
      sourceKey: { source: 'imap', epoch: '1700000000', id: '7' },
      contentId,
      messageId: '<m1@example.com>',
      submissionDate: '2024-03-01T09:30:00.250+01:00',
      internalDate: '2024-03-01T08:31:02Z',
      from: { address: 'Bob.Sender@Example.COM', name: 'Bob Sender' },
      to: [{ address: 'Alice@Example.com', name: 'Alice' }],
      cc: [{ address: 'CARL@example.org' }],
      bcc: [],
      subject: 'Quarterly figures',
      attachmentNames: ['figures.xlsx'],
      hasAttachment: true,
      importance: 'high',
      followUp: false,
      itemType: 'mail',
      form: 'rfc5322',
      kindFields: null,
      flags: { seen: true, answered: false, flagged: false, draft: false, deleted: false },
      keywords: ['$Forwarded'],
      observedAt: '2024-03-02T07:30:00.000Z',
      size: 4096,
      parseProblems: [],
      backupJobId: 'job-1',
      ...overrides.record,
    },
  };
}

/** The records batch storage publishes for these records (of one tenant and job). */
export function aRecordBatch(records: StoredRecord[]): StoredRecordBatch {
  const first = records[0];
  if (!first) throw new Error('a records batch holds at least one record');
  return { tenantId: first.tenantId, jobId: first.jobId, records };
}
