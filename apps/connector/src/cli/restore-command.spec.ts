import { describe, expect, it } from 'vitest';
import { parseTarget } from './restore-command.js';
import { criteriaFromFlags } from './search-command.js';

describe('restore --target', () => {
  it('reads every kind of target', () => {
    expect(parseTarget(undefined)).toEqual({ kind: 'original' });
    expect(parseTarget('folder:Restored Items/2026-11-24')).toEqual({
      kind: 'folder',
      folder: 'Restored Items/2026-11-24',
    });
    expect(parseTarget('mailbox:bob@example.org')).toEqual({ kind: 'mailbox', mailbox: 'bob@example.org' });
    expect(parseTarget('mailbox:bob@example.org:From Alice')).toEqual({
      kind: 'mailbox',
      mailbox: 'bob@example.org',
      folder: 'From Alice',
    });
    expect(parseTarget('mbox:alice.mbox')).toEqual({ kind: 'export', format: 'mbox', fileName: 'alice.mbox' });
    expect(parseTarget('eml-zip:alice.zip')).toEqual({ kind: 'export', format: 'eml-zip', fileName: 'alice.zip' });
  });

  it('refuses an unknown kind and an export path outside the export directory', () => {
    expect(() => parseTarget('printer:x')).toThrow(/is not one of original/);
    expect(() => parseTarget('mbox:../../etc/passwd')).toThrow(/plain file name/);
    expect(() => parseTarget('folder:')).toThrow(/folder/);
  });
});

describe('search options', () => {
  it('turns flags into criteria; a day is read as a whole UTC day', () => {
    expect(
      criteriaFromFlags({
        'from-date': '2026-01-01',
        'to-date': '2026-01-31',
        from: 'example.com',
        mailbox: ['alice'],
        unread: true,
        'min-size': '1000',
      }),
    ).toEqual({
      fromDate: '2026-01-01T00:00:00.000Z',
      toDate: '2026-01-31T23:59:59.999Z',
      from: 'example.com',
      mailboxes: ['alice'],
      seen: false,
      minSize: 1000,
    });
  });

  it('names the bad option', () => {
    expect(() => criteriaFromFlags({ 'min-size': 'big' })).toThrow(/--min-size must be a whole number/);
    expect(() => criteriaFromFlags({ from: 'not an address' })).toThrow(/from/);
    expect(() => criteriaFromFlags({ 'from-date': '2026-02-01', 'to-date': '2026-01-01' })).toThrow(
      /toDate is before fromDate/,
    );
  });
});
