import { Inject, Injectable } from '@nestjs/common';
import {
  IMPORTANCE,
  ITEM_FORMS,
  ITEM_TYPES,
  kindsSelected,
  parseAddressCriterion,
  type ItemForm,
  searchRequestSchema,
  type Importance,
  type ItemType,
  type SearchHit,
  type SearchRequest,
  type SearchResult,
} from '@mlr/contracts';
import { decodeCursor, encodeCursor, searchFingerprint, type SearchPosition } from './search-cursor.js';
import { SEARCH_REPOSITORY, type SearchRepository } from './repositories/search.repository.js';
import { phoneCriterionKeys } from '../records/kind-columns.js';
import { containsPattern, type SearchFilter, type SearchRow } from './search-sql.js';
import { parseRequest } from './search.exception.js';

/**
 * Most bytes of JSON items in one reply. NATS refuses messages above 1 MiB (max_payload), and Nest
 * wraps the reply in an envelope: a page of large records is cut short here and the cursor continues
 * after the last item sent, so nothing is lost and the client just sees a shorter page.
 */
export const MAX_REPLY_ITEM_BYTES = 768 * 1024;

type Criteria = Omit<SearchRequest, 'tenantId' | 'visibleMailboxes' | 'limit' | 'cursor'>;

/** The mailboxes to search: the requested ones the requester may see; null when that leaves none. */
export function mailboxScope(
  requested: readonly string[] | undefined,
  visible: SearchRequest['visibleMailboxes'],
): readonly string[] | undefined | null {
  if (visible === 'all') return requested === undefined ? undefined : [...new Set(requested)];
  const allowed = new Set(visible);
  const scope = requested === undefined ? [...allowed] : [...new Set(requested)].filter((m) => allowed.has(m));
  return scope.length === 0 ? null : scope;
}

/** The database filter of a validated request, or null when it can match nothing. */
export function toSearchFilter(request: SearchRequest): SearchFilter | null {
  const mailboxes = mailboxScope(request.mailboxes, request.visibleMailboxes);
  if (mailboxes === null) return null;
  const filter: SearchFilter = { tenantId: request.tenantId };
  if (mailboxes !== undefined) filter.mailboxes = mailboxes;
  if (request.fromDate !== undefined) filter.fromDate = new Date(request.fromDate).toISOString();
  if (request.toDate !== undefined) filter.toDate = new Date(request.toDate).toISOString();
  const keys: string[] = [];
  if (request.from !== undefined) {
    // The schema has checked it; a criterion that does not parse would be a contract bug.
    const from = parseAddressCriterion(request.from);
    if (from?.kind === 'address') filter.sender = from.address;
    else if (from?.kind === 'domain') keys.push(`from:@${from.domain}`);
  }
  if (request.to !== undefined) {
    const to = parseAddressCriterion(request.to);
    if (to?.kind === 'address') keys.push(`to:${to.address}`);
    else if (to?.kind === 'domain') keys.push(`to:@${to.domain}`);
  }
  if (keys.length > 0) filter.participantKeys = keys;
  applyKindCriteria(request, filter);
  if (request.subject !== undefined) filter.subjectPattern = containsPattern(request.subject);
  if (request.attachmentName !== undefined) filter.attachmentPattern = containsPattern(request.attachmentName);
  const copied = [
    'folder',
    'itemType',
    'seen',
    'answered',
    'flagged',
    'followUp',
    'importance',
    'minSize',
    'maxSize',
    'hasAttachment',
    'backupJobId',
    'text',
  ] as const satisfies ReadonlyArray<keyof SearchFilter & keyof Criteria>;
  for (const key of copied) {
    if (request[key] !== undefined) Object.assign(filter, { [key]: request[key] });
  }
  return filter;
}

/** The criteria of item kinds (appointments, tasks, contacts, phone messages) as database conditions. */
function applyKindCriteria(request: SearchRequest, filter: SearchFilter): void {
  // The kind criteria name the kinds they apply to; the schema has refused criteria that contradict.
  const kinds = kindsSelected(request);
  if (request.itemType === undefined && kinds !== null) filter.kinds = kinds;
  if (request.form !== undefined) filter.form = request.form;
  for (const key of ['startsFrom', 'startsTo', 'dueFrom', 'dueTo'] as const) {
    const value = request[key];
    if (value !== undefined) filter[key] = new Date(value).toISOString();
  }
  if (request.taskStatus !== undefined) filter.taskStatus = request.taskStatus;
  const present: string[] = [];
  const absent: string[] = [];
  const address = (prefix: string, value: string | undefined) => {
    if (value === undefined) return;
    const parsed = parseAddressCriterion(value);
    if (parsed?.kind === 'address') present.push(`${prefix}:${parsed.address}`);
    else if (parsed?.kind === 'domain') present.push(`${prefix}:@${parsed.domain}`);
  };
  address('attendee', request.attendee);
  address('email', request.email);
  if (request.phone !== undefined) {
    // The stored number ends in the criterion's digits, or the criterion ends in all of the stored
    // number's (555-1234 is found by +1 212 555 1234), at least 6 digits either way.
    filter.anyKindKeys = phoneCriterionKeys(request.phone);
  }
  for (const [field, key] of [
    ['recurring', 'recurring'],
    ['callback', 'callback'],
    ['urgent', 'urgent'],
  ] as const) {
    const value = request[field];
    if (value === true) present.push(key);
    else if (value === false) absent.push(key);
  }
  if (present.length > 0) filter.kindKeys = present;
  if (absent.length > 0) filter.absentKindKeys = absent;
  // kind_text is stored in lower case (by JavaScript's rules, for every script): the criterion is
  // lowered the same way and compared with LIKE, whatever the database's locale makes of ILIKE.
  const patterns = [request.location, request.name, request.caller]
    .filter((text): text is string => text !== undefined)
    .map((text) => containsPattern(text.toLowerCase()));
  if (patterns.length > 0) filter.kindTextPatterns = patterns;
}

const importanceOf = (value: string): Importance =>
  (IMPORTANCE as readonly string[]).includes(value) ? (value as Importance) : 'normal';
export const itemTypeOf = (value: string): ItemType =>
  (ITEM_TYPES as readonly string[]).includes(value) ? (value as ItemType) : 'other';
export const formOf = (value: string): ItemForm =>
  (ITEM_FORMS as readonly string[]).includes(value) ? (value as ItemForm) : 'rfc5322';

export function toSearchHit(row: SearchRow): SearchHit {
  const submissionDate = row.submission_date?.toISOString() ?? null;
  const internalDate = row.internal_date?.toISOString() ?? null;
  return {
    id: row.id,
    mailbox: row.mailbox,
    folder: row.folder,
    contentId: row.content_id,
    messageId: row.message_id,
    date: submissionDate ?? internalDate,
    submissionDate,
    internalDate,
    from: row.sender === null ? null : { address: row.sender, name: row.sender_name },
    to: row.to_addresses ?? [],
    cc: row.cc_addresses ?? [],
    bcc: row.bcc_addresses ?? [],
    subject: row.subject,
    attachmentNames: row.attachment_names ?? [],
    hasAttachment: row.has_attachment,
    flags: { seen: row.seen, answered: row.answered, flagged: row.flagged, draft: row.draft, deleted: row.deleted },
    followUp: row.follow_up,
    keywords: row.keywords ?? [],
    importance: importanceOf(row.importance),
    itemType: itemTypeOf(row.item_type),
    form: formOf(row.form),
    kindFields: row.kind_fields ?? null,
    size: Number(row.size),
    backupJobId: row.backup_job_id,
  };
}

function criteriaOf(request: SearchRequest): Criteria {
  const { tenantId: _tenant, visibleMailboxes: _visible, limit: _limit, cursor: _cursor, ...criteria } = request;
  return criteria;
}

/** `records.search`: validates the request, scopes it to what the requester may see, reads one page. */
@Injectable()
export class RecordSearch {
  constructor(@Inject(SEARCH_REPOSITORY) private readonly repository: SearchRepository) {}

  async search(data: unknown): Promise<SearchResult> {
    const request = parseRequest('records.search request', searchRequestSchema, data);
    const fingerprint = searchFingerprint(request.tenantId, criteriaOf(request));
    const after = request.cursor === undefined ? null : decodeCursor(request.cursor, fingerprint);
    const filter = toSearchFilter(request);
    if (filter === null) return { items: [], nextCursor: null };
    // One row more than asked tells whether another page exists.
    const rows = await this.repository.page(filter, after, request.limit + 1);
    const items: SearchHit[] = [];
    let bytes = 0;
    for (const row of rows.slice(0, request.limit)) {
      const hit = toSearchHit(row);
      bytes += Buffer.byteLength(JSON.stringify(hit));
      if (items.length > 0 && bytes > MAX_REPLY_ITEM_BYTES) break;
      items.push(hit);
    }
    const last = items.at(-1);
    const more = rows.length > items.length;
    const position: SearchPosition | null = last ? { date: last.date, id: last.id } : null;
    return { items, nextCursor: more && position ? encodeCursor(position, fingerprint) : null };
  }
}
