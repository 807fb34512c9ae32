import { Prisma } from '@mlr/db';
import type { SearchPosition } from '../search/search-cursor.js';
import { searchConditions, type SearchFilter, type SearchRow } from '../search/search-sql.js';

/** The columns of an index record a restore item is made of (a subset of a search row). */
export type ResolveRow = Pick<
  SearchRow,
  | 'id'
  | 'mailbox'
  | 'folder'
  | 'content_id'
  | 'message_id'
  | 'submission_date'
  | 'internal_date'
  | 'subject'
  | 'seen'
  | 'answered'
  | 'flagged'
  | 'draft'
  | 'deleted'
  | 'keywords'
  | 'size'
  | 'item_type'
  | 'form'
>;

/** The message date, spelled as in search-sql.ts (and the search indexes): Date header, else INTERNALDATE. */
const MESSAGE_DATE = Prisma.sql`coalesce(r.submission_date, r.internal_date, '-infinity'::timestamptz)`;

const COLUMNS = Prisma.sql`
  r.id, r.mailbox, r.folder, r.content_id, r.message_id, r.submission_date, r.internal_date, r.subject,
  r.seen, r.answered, r.flagged, r.draft, r.deleted, r.keywords, r.size,
  r.item_type::text AS item_type, r.form::text AS form`;

/** Which of `ids` are records of the tenant, and in which mailbox. */
export function existingRecordsStatement(tenantId: string, ids: readonly string[]): Prisma.Sql {
  return Prisma.sql`
SELECT r.id, r.mailbox
FROM index_records r
WHERE r.tenant_id = ${tenantId} AND r.id = ANY(${[...ids]}::text[])`;
}

/**
 * One page of the records `ids` (in `mailboxes` when given), after `after` in the search order
 * (message date descending, then id descending), at most `take` of them.
 */
export function recordsByIdStatement(
  tenantId: string,
  ids: readonly string[],
  mailboxes: readonly string[] | undefined,
  after: SearchPosition | null,
  take: number,
): Prisma.Sql {
  const where: Prisma.Sql[] = [Prisma.sql`r.tenant_id = ${tenantId}`, Prisma.sql`r.id = ANY(${[...ids]}::text[])`];
  if (mailboxes !== undefined) where.push(Prisma.sql`r.mailbox = ANY(${[...mailboxes]}::text[])`);
  if (after !== null) {
    where.push(Prisma.sql`(${MESSAGE_DATE}, r.id) < (${after.date ?? '-infinity'}::timestamptz, ${after.id})`);
  }
  return Prisma.sql`
SELECT ${COLUMNS}
FROM index_records r
WHERE ${Prisma.join(where, ' AND ')}
ORDER BY ${MESSAGE_DATE} DESC, r.id DESC
LIMIT ${take}`;
}

/** How many records match a search, counting no further than `limit` (enough to know "too many"). */
export function boundedCountStatement(filter: SearchFilter, limit: number): Prisma.Sql {
  return Prisma.sql`
SELECT count(*)::int AS count FROM (
  SELECT 1 FROM index_records r
  WHERE ${Prisma.join(searchConditions(filter), ' AND ')}
  LIMIT ${limit}
) matches`;
}
