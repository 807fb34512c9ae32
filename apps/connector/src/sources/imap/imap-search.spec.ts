import { describe, expect, it } from 'vitest';
import { imapSearchQuery } from './imap-search.js';

describe('IMAP search narrowing', () => {
  it('asks the server for a wider day range than the filter (IMAP dates are days)', () => {
    const query = imapSearchQuery(
      { fromDate: '2026-03-10T12:00:00Z', toDate: '2026-03-10T13:00:00Z', minSize: 1000, maxSize: 2000 },
      '5:*',
    );
    expect(query.uid).toBe('5:*');
    expect(query.sentSince?.toISOString()).toBe('2026-03-09T00:00:00.000Z');
    expect(query.sentBefore?.toISOString()).toBe('2026-03-12T00:00:00.000Z');
    expect(query.larger).toBe(999);
    expect(query.smaller).toBe(2001);
  });
});
