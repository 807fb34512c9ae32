import { Prisma } from '@mlr/db';
import type { Importance, ItemForm, ItemType, KindFields, TaskStatus } from '@mlr/contracts';
import type { SearchPosition } from './search-cursor.js';

/**
 * A search as the database runs it: the request's criteria resolved against what the requester may
 * see (the mailboxes are already the intersection of requested and visible ones), addresses in lower
 * case, "contains" texts as LIKE patterns.
 */
export interface SearchFilter {
  tenantId: string;
  /** Only these mailboxes (at least one); undefined = every mailbox of the tenant. */
  mailboxes?: readonly string[];
  /** Inclusive bounds on the message date; ISO 8601. */
  fromDate?: string;
  toDate?: string;
  /** The sender's exact address. */
  sender?: string;
  /** Keys that must all be in `participant_keys` (see `mlr_participant_keys`): `from:@d`, `to:a`, `to:@d`. */
  participantKeys?: readonly string[];
  /** ILIKE patterns (wildcards of the user's text escaped). */
  subjectPattern?: string;
  attachmentPattern?: string;
  folder?: string;
  itemType?: ItemType;
  /** One of these kinds (what the kind criteria allow, when `itemType` is not given). */
  kinds?: readonly ItemType[];
  form?: ItemForm;
  /** Inclusive bounds on appointments' and tasks' start, tasks' due time; ISO 8601. */
  startsFrom?: string;
  startsTo?: string;
  dueFrom?: string;
  dueTo?: string;
  taskStatus?: TaskStatus;
  /** Keys that must all be in `kind_keys` (see apps/indexing/src/records/kind-columns.ts), and keys that must not. */
  kindKeys?: readonly string[];
  absentKindKeys?: readonly string[];
  /** Keys of which at least one must be in `kind_keys` (a phone number's suffixes). */
  anyKindKeys?: readonly string[];
  /** LIKE patterns (in lower case, as `kind_text` is stored) that `kind_text` must all match (location, names, caller). */
  kindTextPatterns?: readonly string[];
  seen?: boolean;
  answered?: boolean;
  flagged?: boolean;
  followUp?: boolean;
  importance?: Importance;
  minSize?: number;
  maxSize?: number;
  hasAttachment?: boolean;
  backupJobId?: string;
  /** Web-search syntax for `websearch_to_tsquery('simple', ...)`. */
  text?: string;
}

/** A row as the search statement returns it. */
export interface SearchRow {
  id: string;
  mailbox: string;
  folder: string;
  content_id: string;
  message_id: string | null;
  submission_date: Date | null;
  internal_date: Date | null;
  sender: string | null;
  sender_name: string | null;
  to_addresses: string[] | null;
  cc_addresses: string[] | null;
  bcc_addresses: string[] | null;
  subject: string | null;
  attachment_names: string[] | null;
  has_attachment: boolean;
  seen: boolean;
  answered: boolean;
  flagged: boolean;
  draft: boolean;
  deleted: boolean;
  follow_up: boolean;
  keywords: string[] | null;
  importance: string;
  item_type: string;
  form: string;
  kind_fields: KindFields | null;
  /** bigint through Prisma, a string through pg (int8). */
  size: bigint | number | string;
  backup_job_id: string | null;
}

/** Escapes LIKE's wildcards (and its escape character) so that the text matches literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** ILIKE pattern for "contains `text`". */
export const containsPattern = (text: string): string => `%${escapeLike(text)}%`;

/*
 * The expressions below must be spelled exactly as in the indexes of migration
 * 20261124073000_add_search_indexes, or PostgreSQL cannot use those indexes.
 */

/** The message date results are ordered by: Date header, else INTERNALDATE, else last (-infinity). */
const MESSAGE_DATE = Prisma.sql`coalesce(r.submission_date, r.internal_date, '-infinity'::timestamptz)`;
const ATTACHMENT_WORDS = Prisma.sql`mlr_search_words(r.attachment_names)`;

const COLUMNS = Prisma.sql`
  r.id, r.mailbox, r.folder, r.content_id, r.message_id, r.submission_date, r.internal_date,
  r.sender, r.sender_name, r.to_addresses, r.cc_addresses, r.bcc_addresses, r.subject, r.attachment_names,
  r.has_attachment, r.seen, r.answered, r.flagged, r.draft, r.deleted, r.follow_up, r.keywords,
  r.importance::text AS importance, r.item_type::text AS item_type, r.form::text AS form, r.kind_fields,
  r.size, r.backup_job_id`;

/** The WHERE conditions of a filter (every value a bound parameter). */
export function searchConditions(filter: SearchFilter): Prisma.Sql[] {
  const { order, rows } = conditionsOf(filter);
  return [...order, ...rows];
}

/**
 * A filter's conditions in two parts: those the (tenant[, mailbox], date) indexes walk in result
 * order (tenant, one mailbox, the date range) and the others, checked row by row.
 */
function conditionsOf(filter: SearchFilter): { order: Prisma.Sql[]; rows: Prisma.Sql[] } {
  const order: Prisma.Sql[] = [Prisma.sql`r.tenant_id = ${filter.tenantId}`];
  const where: Prisma.Sql[] = [];
  const { mailboxes } = filter;
  if (mailboxes !== undefined) {
    // One mailbox as an equality, so that the planner sees the (tenant, mailbox, date) index's order.
    if (mailboxes.length === 1) order.push(Prisma.sql`r.mailbox = ${mailboxes[0]}`);
    else where.push(Prisma.sql`r.mailbox = ANY(${[...mailboxes]}::text[])`);
  }
  if (filter.fromDate !== undefined) order.push(Prisma.sql`${MESSAGE_DATE} >= ${filter.fromDate}::timestamptz`);
  if (filter.toDate !== undefined) {
    order.push(Prisma.sql`${MESSAGE_DATE} <= ${filter.toDate}::timestamptz`);
    // An undated record (-infinity) is before every bound, yet matches no date criterion.
    if (filter.fromDate === undefined) order.push(Prisma.sql`${MESSAGE_DATE} > '-infinity'::timestamptz`);
  }
  if (filter.sender !== undefined) where.push(Prisma.sql`r.sender = ${filter.sender}`);
  if (filter.participantKeys !== undefined && filter.participantKeys.length > 0) {
    where.push(Prisma.sql`r.participant_keys @> ${[...filter.participantKeys]}::text[]`);
  }
  if (filter.subjectPattern !== undefined) where.push(Prisma.sql`r.subject ILIKE ${filter.subjectPattern}`);
  if (filter.attachmentPattern !== undefined) {
    // The joined names find candidates through the trigram index; a pattern with a space could match
    // across two names, so each name is checked on its own as well.
    where.push(
      Prisma.sql`${ATTACHMENT_WORDS} ILIKE ${filter.attachmentPattern}`,
      Prisma.sql`EXISTS (SELECT 1 FROM unnest(r.attachment_names) AS a(name) WHERE a.name ILIKE ${filter.attachmentPattern})`,
    );
  }
  if (filter.folder !== undefined) where.push(Prisma.sql`r.folder = ${filter.folder}`);
  if (filter.itemType !== undefined) where.push(Prisma.sql`r.item_type = ${filter.itemType}::item_type`);
  if (filter.kinds !== undefined) where.push(Prisma.sql`r.item_type = ANY(${[...filter.kinds]}::item_type[])`);
  if (filter.form !== undefined) where.push(Prisma.sql`r.form = ${filter.form}::item_form`);
  if (filter.startsFrom !== undefined) where.push(Prisma.sql`r.starts_at >= ${filter.startsFrom}::timestamptz`);
  if (filter.startsTo !== undefined) where.push(Prisma.sql`r.starts_at <= ${filter.startsTo}::timestamptz`);
  if (filter.dueFrom !== undefined) where.push(Prisma.sql`r.due_at >= ${filter.dueFrom}::timestamptz`);
  if (filter.dueTo !== undefined) where.push(Prisma.sql`r.due_at <= ${filter.dueTo}::timestamptz`);
  if (filter.taskStatus !== undefined) where.push(Prisma.sql`r.task_status = ${filter.taskStatus}`);
  if (filter.kindKeys !== undefined && filter.kindKeys.length > 0) {
    where.push(Prisma.sql`r.kind_keys @> ${[...filter.kindKeys]}::text[]`);
  }
  if (filter.anyKindKeys !== undefined && filter.anyKindKeys.length > 0) {
    where.push(Prisma.sql`r.kind_keys && ${[...filter.anyKindKeys]}::text[]`);
  }
  for (const key of filter.absentKindKeys ?? []) where.push(Prisma.sql`NOT (r.kind_keys @> ARRAY[${key}]::text[])`);
  for (const pattern of filter.kindTextPatterns ?? []) where.push(Prisma.sql`r.kind_text LIKE ${pattern}`);
  if (filter.seen !== undefined) where.push(Prisma.sql`r.seen = ${filter.seen}`);
  if (filter.answered !== undefined) where.push(Prisma.sql`r.answered = ${filter.answered}`);
  if (filter.flagged !== undefined) where.push(Prisma.sql`r.flagged = ${filter.flagged}`);
  if (filter.followUp !== undefined) where.push(Prisma.sql`r.follow_up = ${filter.followUp}`);
  if (filter.importance !== undefined) where.push(Prisma.sql`r.importance = ${filter.importance}::importance`);
  if (filter.minSize !== undefined) where.push(Prisma.sql`r.size >= ${filter.minSize}::bigint`);
  if (filter.maxSize !== undefined) where.push(Prisma.sql`r.size <= ${filter.maxSize}::bigint`);
  if (filter.hasAttachment !== undefined) where.push(Prisma.sql`r.has_attachment = ${filter.hasAttachment}`);
  if (filter.backupJobId !== undefined) where.push(Prisma.sql`r.backup_job_id = ${filter.backupJobId}`);
  if (filter.text !== undefined) {
    where.push(Prisma.sql`r.search_vector @@ websearch_to_tsquery('simple', ${filter.text})`);
  }
  return { order, rows: where };
}

/**
 * One page of a search: rows after `after` in the result order (message date descending, then id
 * descending), at most `take` of them. Keyset pagination: the row comparison continues exactly after
 * the last row of the previous page, so pages neither repeat nor skip rows, equal dates included,
 * and a page costs the same however deep it is.
 */
export function searchStatement(filter: SearchFilter, after: SearchPosition | null, take: number): Prisma.Sql {
  const where = searchConditions(filter);
  if (after !== null) where.push(afterCondition(after));
  return Prisma.sql`
SELECT ${COLUMNS}
FROM index_records r
WHERE ${Prisma.join(where, ' AND ')}
ORDER BY ${MESSAGE_DATE} DESC, r.id DESC
LIMIT ${take}`;
}

const afterCondition = (after: SearchPosition) =>
  Prisma.sql`(${MESSAGE_DATE}, r.id) < (${after.date ?? '-infinity'}::timestamptz, ${after.id})`;

/** Rows, newest first, that the probe of a search looks at before the search runs in full. */
export const PROBE_ROWS = 2_000;

/**
 * Whether a page of this search may come from its newest rows: it has a "contains" condition (on the
 * subject or an attachment name), no full-text one (the text index finds rare words at once, and
 * reading the search vectors of thousands of rows costs more than it saves) and no sender (its own
 * index gives the order), and its order is one the indexes walk (the whole tenant, or one mailbox).
 * A common word then finds a full page among the newest few thousand rows in milliseconds, where
 * the planner — which cannot tell how common a "contains" pattern is — would gather every match
 * through the trigram index and sort them all.
 */
export function probeable(filter: SearchFilter): boolean {
  const contains = filter.subjectPattern !== undefined || filter.attachmentPattern !== undefined;
  const oneOrder = filter.mailboxes === undefined || filter.mailboxes.length === 1;
  return contains && oneOrder && filter.text === undefined && filter.sender === undefined;
}

/**
 * A page of the search from its newest `window` rows (after `after`) alone. Exact whenever it comes
 * back full: every row past the window is older than every row in it, so no match there could be on
 * the page. Shorter, it proves nothing, and the search runs in full (`searchStatement`).
 */
export function probeStatement(
  filter: SearchFilter,
  after: SearchPosition | null,
  take: number,
  window = PROBE_ROWS,
): Prisma.Sql {
  const { order, rows } = conditionsOf(filter);
  if (after !== null) order.push(afterCondition(after));
  return Prisma.sql`
SELECT ${COLUMNS}
FROM (
  SELECT * FROM index_records r
  WHERE ${Prisma.join(order, ' AND ')}
  ORDER BY ${MESSAGE_DATE} DESC, r.id DESC
  LIMIT ${window}
) r
WHERE ${Prisma.join(rows, ' AND ')}
ORDER BY ${MESSAGE_DATE} DESC, r.id DESC
LIMIT ${take}`;
}
