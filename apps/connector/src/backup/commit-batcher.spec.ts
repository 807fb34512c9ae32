import { describe, expect, it } from 'vitest';
import { indexRecordSchema, type IndexRecord } from '@mlr/contracts';
import { fitRecord } from './commit-batcher.js';

const record = (recipients: number): IndexRecord => ({
  tenantId: 'acme',
  mailbox: 'alice',
  folder: 'INBOX',
  sourceKey: { source: 'imap', epoch: '1', id: '1' },
  contentId: 'c'.repeat(64),
  messageId: null,
  submissionDate: null,
  internalDate: null,
  from: null,
  to: Array.from({ length: recipients }, (_, i) => ({ address: `member${i}@lists.example.org`, name: `Member ${i}` })),
  cc: [{ address: 'boss@example.org' }],
  bcc: [],
  subject: 'To everyone',
  attachmentNames: ['minutes.pdf'],
  hasAttachment: true,
  importance: 'normal',
  followUp: false,
  itemType: 'mail',
  form: 'rfc5322',
  kindFields: null,
  flags: { seen: false, answered: false, flagged: false, draft: false, deleted: false },
  keywords: [],
  observedAt: '2026-12-06T10:00:00.000Z',
  size: 100,
  parseProblems: [],
  backupJobId: null,
});

describe('fitRecord', () => {
  it('leaves a record that fits as it is', () => {
    const small = record(3);
    expect(fitRecord(small, 100_000)).toBe(small);
  });

  it('shortens the longest lists of a record that does not fit, and says so in parseProblems', () => {
    const huge = record(20_000);
    const fitted = fitRecord(huge, 200_000);
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThanOrEqual(200_000);
    expect(fitted.to.length).toBeLessThan(20_000);
    expect(fitted.to).toEqual(huge.to.slice(0, fitted.to.length));
    expect(fitted.cc).toEqual(huge.cc);
    expect(fitted.parseProblems).toEqual([
      `index record shortened to fit a commit: ${fitted.to.length} of 20000 to kept`,
    ]);
    expect(indexRecordSchema.parse(fitted)).toEqual(fitted);
  });
});
