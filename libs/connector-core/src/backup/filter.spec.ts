import { describe, expect, it } from 'vitest';
import { folderSelected, matchesFilter, type FilterableMessage } from './filter.js';

const message: FilterableMessage = {
  submissionDate: '2026-03-10T12:00:00.000Z',
  internalDate: new Date('2026-03-10T12:05:00Z'),
  from: 'Alice@Example.com',
  recipients: ['bob@example.org', 'carol@example.net'],
  subject: 'Quarterly Report',
  size: 52_000,
  hasAttachment: true,
};

describe('backup filter', () => {
  it('matches when every given criterion holds', () => {
    expect(matchesFilter({}, message)).toBe(true);
    expect(
      matchesFilter(
        {
          fromDate: '2026-03-01T00:00:00Z',
          toDate: '2026-03-31T23:59:59Z',
          fromAddress: 'alice@example.com',
          toAddress: 'carol@',
          subjectContains: 'quarterly',
          minSize: 50_000,
          maxSize: 60_000,
          hasAttachment: true,
        },
        message,
      ),
    ).toBe(true);
  });

  it('refuses on each criterion', () => {
    expect(matchesFilter({ fromDate: '2026-03-11T00:00:00Z' }, message)).toBe(false);
    expect(matchesFilter({ toDate: '2026-03-10T11:59:59Z' }, message)).toBe(false);
    expect(matchesFilter({ fromAddress: 'mallory@' }, message)).toBe(false);
    expect(matchesFilter({ toAddress: 'dave@' }, message)).toBe(false);
    expect(matchesFilter({ subjectContains: 'invoice' }, message)).toBe(false);
    expect(matchesFilter({ minSize: 60_000 }, message)).toBe(false);
    expect(matchesFilter({ maxSize: 10_000 }, message)).toBe(false);
    expect(matchesFilter({ hasAttachment: false }, message)).toBe(false);
  });

  it('uses INTERNALDATE when the Date header is missing, and no date matches no date criterion', () => {
    expect(matchesFilter({ fromDate: '2026-03-10T12:01:00Z' }, { ...message, submissionDate: null })).toBe(true);
    expect(
      matchesFilter({ fromDate: '2026-01-01T00:00:00Z' }, { ...message, submissionDate: null, internalDate: null }),
    ).toBe(false);
  });

  it('selects folders by include and exclude patterns, exclude first', () => {
    expect(folderSelected({}, 'INBOX')).toBe(true);
    expect(folderSelected({ includeFolders: ['INBOX', 'Projects/*'] }, 'Projects/2026')).toBe(true);
    expect(folderSelected({ includeFolders: ['INBOX'] }, 'Sent')).toBe(false);
    expect(folderSelected({ excludeFolders: ['Junk', 'trash'] }, 'Trash')).toBe(false);
    expect(folderSelected({ includeFolders: ['*'], excludeFolders: ['Public/*'] }, 'Public/Announcements')).toBe(false);
  });
});
