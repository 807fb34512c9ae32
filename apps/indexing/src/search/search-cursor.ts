import { createHash } from 'node:crypto';
import { SearchErrorCode, SearchException } from './search.exception.js';

/**
 * Where a page ended, in the result order (message date descending, then id descending). A record
 * without any date has `date` null and sorts after every dated one.
 */
export interface SearchPosition {
  /** ISO 8601, UTC, millisecond precision (the columns' precision). */
  date: string | null;
  id: string;
}

const CURSOR_VERSION = 1;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * A short digest of the search (tenant and criteria, not the page size): a cursor carries it, so that
 * a cursor reused with other criteria is refused instead of silently continuing a different list.
 * Keys are sorted so that the order in which a client wrote them does not matter.
 */
export function searchFingerprint(tenantId: string, criteria: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(criteria)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]): [string, unknown] => [key, Array.isArray(value) ? [...new Set(value)].sort() : value])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([tenantId, entries]))
    .digest('base64url')
    .slice(0, 16);
}

/** The opaque `nextCursor` for the page that ended at `position`. */
export function encodeCursor(position: SearchPosition, fingerprint: string): string {
  return Buffer.from(
    JSON.stringify({ v: CURSOR_VERSION, d: position.date, i: position.id, f: fingerprint }),
    'utf8',
  ).toString('base64url');
}

/** True for a real instant written as Date#toISOString writes it (no 30 February). */
function roundTrips(iso: string): boolean {
  const date = new Date(iso);
  return !Number.isNaN(date.getTime()) && date.toISOString() === iso;
}

const refuse = (why: string): never => {
  throw new SearchException(SearchErrorCode.INVALID_CURSOR, `cursor: ${why}`, 'cursor', [
    { path: 'cursor', message: why },
  ]);
};

/** Reads a cursor this service handed out for the same search; anything else is INVALID_CURSOR. */
export function decodeCursor(cursor: string, fingerprint: string): SearchPosition {
  const malformed = 'is not a cursor of this search API (pass nextCursor of the previous page unchanged)';
  if (!BASE64URL.test(cursor)) return refuse(malformed);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return refuse(malformed);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refuse(malformed);
  const { v, d, i, f } = parsed as Record<string, unknown>;
  if (v !== CURSOR_VERSION) return refuse(malformed);
  if (typeof i !== 'string' || i.length === 0 || i.length > 64) return refuse(malformed);
  if (d !== null && (typeof d !== 'string' || !ISO_MILLIS.test(d) || !roundTrips(d))) {
    return refuse(malformed);
  }
  if (f !== fingerprint) {
    return refuse('belongs to a search with other criteria; repeat the search without a cursor');
  }
  return { date: d, id: i };
}
