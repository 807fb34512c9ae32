import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, searchFingerprint } from './search-cursor.js';
import { SearchErrorCode, SearchException } from './search.exception.js';

const fingerprint = searchFingerprint('acme', { from: 'alice@example.com', mailboxes: ['b', 'a'] });

function refusal(cursor: string, expected = fingerprint): SearchException {
  try {
    decodeCursor(cursor, expected);
  } catch (error) {
    if (error instanceof SearchException) return error;
    throw error;
  }
  throw new Error('expected the cursor to be refused');
}

const raw = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('search cursors', () => {
  it('round-trips a position, dated or not', () => {
    for (const position of [
      { date: '2024-03-01T08:30:00.250Z', id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' },
      { date: null, id: 'x' },
    ]) {
      const cursor = encodeCursor(position, fingerprint);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor, fingerprint)).toEqual(position);
    }
  });

  it('ties the cursor to the tenant and criteria, not to their order', () => {
    expect(searchFingerprint('acme', { mailboxes: ['a', 'b'], from: 'alice@example.com' })).toBe(fingerprint);
    expect(searchFingerprint('acme', { from: 'alice@example.com', mailboxes: ['a', 'b'], text: undefined })).toBe(
      fingerprint,
    );
    expect(searchFingerprint('other', { from: 'alice@example.com', mailboxes: ['a', 'b'] })).not.toBe(fingerprint);
    expect(searchFingerprint('acme', { from: 'bob@example.com', mailboxes: ['a', 'b'] })).not.toBe(fingerprint);
    const cursor = encodeCursor({ date: null, id: 'x' }, fingerprint);
    const error = refusal(cursor, searchFingerprint('acme', {}));
    expect(error.message).toMatch(/^cursor: belongs to a search with other criteria/);
  });

  it.each([
    ['not base64url', 'abc$%'],
    ['not JSON', Buffer.from('{nope').toString('base64url')],
    ['an array', raw([1, 2])],
    ['another version', raw({ v: 2, d: null, i: 'x', f: fingerprint })],
    ['without id', raw({ v: 1, d: null, f: fingerprint })],
    ['an impossible date', raw({ v: 1, d: '2024-02-30T00:00:00.000Z', i: 'x', f: fingerprint })],
    ['a date in another format', raw({ v: 1, d: '2024-02-01', i: 'x', f: fingerprint })],
  ])('refuses a cursor that is %s', (_what, cursor) => {
    const error = refusal(cursor);
    expect(error.code).toBe(SearchErrorCode.INVALID_CURSOR);
    expect(error.field).toBe('cursor');
    expect(error.message).toMatch(/^cursor: is not a cursor of this search API/);
  });
});
