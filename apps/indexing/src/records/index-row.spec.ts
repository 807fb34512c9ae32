import { describe, expect, it } from 'vitest';
import { aStoredRecord } from '../../test/factories/stored-record.js';
import { roundsOfUniqueSightings, sightingKey, toIndexRow } from './index-row.js';

describe('toIndexRow', () => {
  it('maps every field of the record to its column', () => {
    const row = toIndexRow(aStoredRecord({ objectId: 'object-9' }));
    expect(row).toEqual({
      tenantId: 'acme',
      mailbox: 'Alice@Example.com',
      folder: 'INBOX/Projects',
      sightingSource: 'imap',
      sightingEpoch: '1700000000',
      sightingId: '7',
      contentId: 'c'.repeat(64),
      objectId: 'object-9',
      messageId: '<m1@example.com>',
      submissionDate: '2024-03-01T08:30:00.250Z',
      internalDate: '2024-03-01T08:31:02.000Z',
      sender: 'bob.sender@example.com',
      senderName: 'Bob Sender',
      toAddresses: ['alice@example.com'],
      ccAddresses: ['carl@example.org'],
      bccAddresses: [],
      subject: 'Quarterly figures',
      attachmentNames: ['figures.xlsx'],
      hasAttachment: true,
      followUp: false,
      importance: 'high',
      itemType: 'mail',
      form: 'rfc5322',
      kindFields: null,
      startsAt: null,
      endsAt: null,
      dueAt: null,
      completedAt: null,
      taskStatus: null,
      kindKeys: null,
      kindText: null,
      seen: true,
      answered: false,
      flagged: false,
      draft: false,
      deleted: false,
      keywords: ['$Forwarded'],
      observedAt: '2024-03-02T07:30:00.000Z',
      size: 4096,
      parseProblems: [],
      backupJobId: 'job-1',
    });
  });

  it('keeps the mailbox as the connector names it but lower-cases addresses', () => {
    const row = toIndexRow(aStoredRecord({ record: { from: null, bcc: [{ address: 'Hidden@EXAMPLE.net' }] } }));
    expect(row.mailbox).toBe('Alice@Example.com');
    expect(row.sender).toBeNull();
    expect(row.senderName).toBeNull();
    expect(row.bccAddresses).toEqual(['hidden@example.net']);
  });

  it('maps every item type and importance to the database enum', () => {
    for (const itemType of [
      'mail',
      'appointment',
      'task',
      'note',
      'contact',
      'notification',
      'phone_message',
      'other',
    ] as const)
      expect(toIndexRow(aStoredRecord({ record: { itemType } })).itemType).toBe(itemType);
    for (const importance of ['low', 'normal', 'high'] as const)
      expect(toIndexRow(aStoredRecord({ record: { importance } })).importance).toBe(importance);
  });

  it('treats keywords as a set, so that their order is not a change', () => {
    const a = toIndexRow(aStoredRecord({ record: { keywords: ['$Label2', '$Forwarded', '$Label2'] } }));
    const b = toIndexRow(aStoredRecord({ record: { keywords: ['$Forwarded', '$Label2'] } }));
    expect(a.keywords).toEqual(['$Forwarded', '$Label2']);
    expect(b.keywords).toEqual(a.keywords);
  });

  it('stores the observation time in UTC at the column’s millisecond precision', () => {
    const row = toIndexRow(aStoredRecord({ record: { observedAt: '2024-03-02T08:30:00.1239+01:00' } }));
    expect(row.observedAt).toBe('2024-03-02T07:30:00.123Z');
  });

  it("keeps the source's key as the source gave it (the adapter writes it canonically)", () => {
    const row = toIndexRow(
      aStoredRecord({ record: { sourceKey: { source: 'pst', epoch: 'file-7', id: '0x8000AB' } } }),
    );
    expect([row.sightingSource, row.sightingEpoch, row.sightingId]).toEqual(['pst', 'file-7', '0x8000AB']);
  });

  it('replaces characters PostgreSQL cannot store and says so in the parse problems', () => {
    const row = toIndexRow(
      aStoredRecord({
        record: {
          subject: 'bad\u0000subject',
          attachmentNames: ['a\uD800.pdf'],
          parseProblems: ['Date header unparseable'],
        },
      }),
    );
    expect(row.subject).toBe('bad\uFFFDsubject');
    expect(row.attachmentNames).toEqual(['a\uFFFD.pdf']);
    expect(row.parseProblems).toEqual([
      'Date header unparseable',
      'subject: characters that cannot be stored (NUL or unpaired surrogate) replaced by U+FFFD',
      'attachmentNames: characters that cannot be stored (NUL or unpaired surrogate) replaced by U+FFFD',
    ]);
    // A well-formed surrogate pair (an emoji) is not touched.
    expect(toIndexRow(aStoredRecord({ record: { subject: 'ok \u{1F600}' } })).subject).toBe('ok \u{1F600}');
  });

  it('keeps sizes beyond 32 bits', () => {
    expect(toIndexRow(aStoredRecord({ record: { size: 2 ** 33 + 5 } })).size).toBe(2 ** 33 + 5);
  });
});

describe('roundsOfUniqueSightings', () => {
  it('puts repeated sightings into later rounds, in arrival order', () => {
    const items = ['a1', 'b1', 'a2', 'c1', 'a3', 'b2'];
    expect(roundsOfUniqueSightings(items, (item) => item[0] as string)).toEqual([
      ['a1', 'b1', 'c1'],
      ['a2', 'b2'],
      ['a3'],
    ]);
  });

  it('keeps a batch without repeats in one round', () => {
    expect(roundsOfUniqueSightings([1, 2, 3], String)).toEqual([[1, 2, 3]]);
    expect(roundsOfUniqueSightings([], String)).toEqual([]);
  });

  it('keys on the whole sighting', () => {
    const a = toIndexRow(aStoredRecord());
    expect(sightingKey(a)).toBe(sightingKey({ ...a }));
    expect(sightingKey(a)).not.toBe(sightingKey({ ...a, sightingId: '8' }));
    expect(sightingKey(a)).not.toBe(sightingKey({ ...a, folder: 'INBOX' }));
    expect(sightingKey({ ...a, mailbox: 'a', folder: 'b/c' })).not.toBe(
      sightingKey({ ...a, mailbox: 'a/b', folder: 'c' }),
    );
  });
});
