import { indexRecordSchema } from '@mlr/contracts';
import { describe, expect, it } from 'vitest';
import { simpleMail } from '../test/factories/messages.js';
import { aSighting } from '../test/factories/sighting.js';
import { buildIndexRecord, extractMessageFacts, InvalidSightingError, type MessageFacts } from './index.js';

function facts(overrides: Partial<MessageFacts> = {}): MessageFacts {
  return { ...extractMessageFacts(simpleMail()), ...overrides };
}

describe('buildIndexRecord', () => {
  it('builds a valid record from the facts and the sighting', () => {
    const raw = simpleMail();
    const record = buildIndexRecord(extractMessageFacts(raw), aSighting(raw));
    expect(indexRecordSchema.parse(record)).toEqual(record);
    expect(record).toMatchObject({
      tenantId: 'acme',
      mailbox: 'bob@acme.example',
      folder: 'INBOX',
      sourceKey: { source: 'imap', epoch: '1700000000', id: '42' },
      messageId: '<lunch-1@example.com>',
      submissionDate: '2003-07-01T08:52:37.000Z',
      internalDate: '2024-03-01T10:00:00.000Z',
      from: { address: 'alice@example.com', name: 'Alice Example' },
      subject: 'Lunch',
      flags: { seen: true, answered: false, flagged: false, draft: false, deleted: false },
      followUp: false,
      keywords: [],
      observedAt: '2024-03-02T07:30:00.123Z',
      itemType: 'mail',
      size: raw.length,
      parseProblems: [],
      backupJobId: 'job-1',
    });
  });

  it('maps IMAP system flags case-insensitively and keeps the rest as keywords', () => {
    const record = buildIndexRecord(
      facts(),
      aSighting('', {
        flags: ['\\Seen', '\\answered', '\\FLAGGED', '\\Draft', '\\Deleted', '\\Recent', '$Forwarded', '$Junk'],
        keywords: ['$forwarded', 'Project X', '', '  '],
      }),
    );
    expect(record.flags).toEqual({ seen: true, answered: true, flagged: true, draft: true, deleted: true });
    expect(record.keywords).toEqual(['$Forwarded', '$Junk', 'Project X']);
  });

  it('takes a user’s $Important mark as high importance, and keeps it as a keyword', () => {
    const record = buildIndexRecord(facts({ importance: 'low' }), aSighting('', { keywords: ['$Important'] }));
    expect(record.importance).toBe('high');
    expect(record.keywords).toEqual(['$Important']);
  });

  it('marks follow-up from X-Message-Flag or \\Flagged, without inventing an IMAP \\Flagged flag', () => {
    const fromHeader = buildIndexRecord(facts({ followUp: 'Follow up' }), aSighting('', { flags: [] }));
    expect(fromHeader.followUp).toBe(true);
    expect(fromHeader.flags.flagged).toBe(false);
    const fromFlag = buildIndexRecord(facts({ followUp: null }), aSighting('', { flags: ['\\Flagged'] }));
    expect(fromFlag.followUp).toBe(true);
    expect(buildIndexRecord(facts({ followUp: null }), aSighting('', { flags: [] })).followUp).toBe(false);
  });

  it('cuts over-long values to the contract’s limits and says so', () => {
    const long = (n: number) => 'a'.repeat(n);
    const record = buildIndexRecord(
      facts({
        messageId: `<${long(2000)}@x>`,
        subject: long(10_000),
        from: { address: `${long(1200)}@example.com`, name: long(1500) },
        to: [{ address: 'ok@example.com', name: long(999) }],
        attachmentNames: [long(3000)],
        parseProblems: [long(5000)],
      }),
      aSighting('', { keywords: [long(300)] }),
    );
    expect(() => indexRecordSchema.parse(record)).not.toThrow();
    expect(record.subject).toHaveLength(8192);
    expect(record.messageId).toHaveLength(998);
    expect(record.from?.address).toHaveLength(998);
    expect(record.attachmentNames[0]).toHaveLength(1024);
    expect(record.keywords[0]).toHaveLength(256);
    expect(record.parseProblems[0]).toHaveLength(2048);
    expect(record.parseProblems).toEqual(
      expect.arrayContaining([
        'Subject truncated to 8192 characters (was 10000)',
        'Message-ID truncated to 998 characters (was 2004)',
        'From address truncated to 998 characters (was 1212)',
        'To display name truncated to 998 characters (was 999)',
        'attachment name truncated to 1024 characters (was 3000)',
        'keyword truncated to 256 characters (was 300)',
      ]),
    );
  });

  it('never cuts a surrogate pair in half, and drops NULs PostgreSQL cannot store', () => {
    const subject = `${'a'.repeat(8191)}😀tail`;
    const record = buildIndexRecord(facts({ subject, to: [{ address: 'a\u0000b@example.com' }] }), aSighting());
    expect(record.subject).toBe('a'.repeat(8191));
    expect(record.to[0]?.address).toBe('ab@example.com');
    expect(() => indexRecordSchema.parse(record)).not.toThrow();
  });

  it('caps very long lists', () => {
    const to = Array.from({ length: 1500 }, (_, i) => ({ address: `u${i}@example.com` }));
    const record = buildIndexRecord(facts({ to }), aSighting());
    expect(record.to).toHaveLength(1000);
    expect(record.parseProblems).toContain('To: only the first 1000 of 1500 addresses indexed');
  });

  it('records an invalid internal date as unknown', () => {
    const record = buildIndexRecord(facts(), aSighting('', { internalDate: new Date('not a date') }));
    expect(record.internalDate).toBeNull();
    expect(record.parseProblems).toContain('internal date from the mail server is not a valid date; not indexed');
  });

  it('builds a valid record from the facts of an empty message', () => {
    const record = buildIndexRecord(extractMessageFacts(Buffer.alloc(0)), aSighting('', { internalDate: null }));
    expect(() => indexRecordSchema.parse(record)).not.toThrow();
    expect(record.parseProblems).toEqual(['empty message (0 bytes)']);
  });

  it.each([
    ['tenantId', { tenantId: 'Acme Corp' }],
    ['mailbox', { mailbox: '' }],
    ['folder', { folder: 'x'.repeat(1025) }],
    ['sourceKey', { sourceKey: { source: 'IMAP', epoch: '1', id: '1' } }],
    ['sourceKey', { sourceKey: { source: 'imap', epoch: '', id: '1' } }],
    ['sourceKey', { sourceKey: { source: 'imap', epoch: '1', id: '' } }],
    ['contentId', { contentId: 'abc' }],
    ['backupJobId', { backupJobId: 'Job 1' }],
    ['observedAt', { observedAt: new Date('not a date') }],
    ['observedAt', { observedAt: '2024-03-02T07:30:00Z' as unknown as Date }],
  ] as const)('refuses a sighting with an invalid %s rather than altering it', (field, overrides) => {
    const build = () => buildIndexRecord(facts(), aSighting('', overrides));
    expect(build).toThrow(InvalidSightingError);
    expect(build).toThrow(new RegExp(`^invalid message sighting: ${field}: `));
  });
});
