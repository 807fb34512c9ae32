import { Inject, Injectable } from '@nestjs/common';
import {
  resolveRecordsRequestSchema,
  SEARCH_LIMIT,
  type ResolveRecordsRequest,
  type ResolveRecordsResponse,
  type ResolvedRecord,
  type SearchRequest,
} from '@mlr/contracts';
import { formOf, itemTypeOf, toSearchFilter, MAX_REPLY_ITEM_BYTES } from '../search/record-search.js';
import { decodeCursor, encodeCursor, searchFingerprint, type SearchPosition } from '../search/search-cursor.js';
import { SearchException } from '../search/search.exception.js';
import { SEARCH_REPOSITORY, type SearchRepository } from '../search/repositories/search.repository.js';
import { RESOLVE_REPOSITORY, type ResolveRepository } from './repositories/resolve.repository.js';
import type { ResolveRow } from './resolve-sql.js';
import { parseResolveRequest, ResolveErrorCode, ResolveException } from './resolve.exception.js';

type ResolveRequest = ResolveRecordsRequest;

/** Rows read per page at most (a page is cut shorter when its items reach MAX_REPLY_ITEM_BYTES). */
export const RESOLVE_PAGE_ROWS = 1_000;

/** How many ids an error message lists before it says "and N more". */
const LISTED_IDS = 20;

function listIds(ids: readonly string[]): string {
  const shown = ids.slice(0, LISTED_IDS).join(', ');
  return ids.length > LISTED_IDS ? `${shown} and ${ids.length - LISTED_IDS} more` : shown;
}

export function toResolvedRecord(row: ResolveRow): ResolvedRecord {
  return {
    recordId: row.id,
    contentId: row.content_id,
    mailbox: row.mailbox,
    folder: row.folder,
    messageId: row.message_id,
    subject: row.subject,
    internalDate: row.internal_date?.toISOString() ?? null,
    flags: { seen: row.seen, answered: row.answered, flagged: row.flagged, draft: row.draft, deleted: row.deleted },
    keywords: row.keywords ?? [],
    size: Number(row.size),
    itemType: itemTypeOf(row.item_type),
    form: formOf(row.form),
  };
}

/** Where a row stands in the result order (message date descending, then id descending). */
function positionOf(row: ResolveRow): SearchPosition {
  return { date: (row.submission_date ?? row.internal_date)?.toISOString() ?? null, id: row.id };
}

/**
 * `records.resolve`: turns a restore's selection (record ids, or a search) into the items the
 * connector needs, page by page. The first page checks the whole selection, so that a restore that
 * cannot be done whole is refused before anything is written: every id must be a record of the
 * tenant (else not_found) in a mailbox the requester may see (else forbidden), and a search may match
 * at most `maxItems` records (else invalid_request).
 */
@Injectable()
export class RecordResolve {
  constructor(
    @Inject(RESOLVE_REPOSITORY) private readonly records: ResolveRepository,
    @Inject(SEARCH_REPOSITORY) private readonly search: SearchRepository,
  ) {}

  async resolve(data: unknown): Promise<ResolveRecordsResponse> {
    const request = parseResolveRequest('records.resolve request', resolveRecordsRequestSchema, data);
    const { selection } = request;
    const criteria =
      'recordIds' in selection
        ? { recordIds: selection.recordIds, visibleMailboxes: request.visibleMailboxes, maxItems: request.maxItems }
        : { ...selection.query, visibleMailboxes: request.visibleMailboxes, maxItems: request.maxItems };
    const fingerprint = searchFingerprint(request.tenantId, criteria);
    const after = request.cursor === undefined ? null : this.readCursor(request.cursor, fingerprint);
    return 'recordIds' in selection
      ? this.byIds(request, selection.recordIds, after, fingerprint)
      : this.byQuery(request, selection.query, after, fingerprint);
  }

  private async byIds(
    request: ResolveRequest,
    recordIds: readonly string[],
    after: SearchPosition | null,
    fingerprint: string,
  ): Promise<ResolveRecordsResponse> {
    const ids = [...new Set(recordIds)];
    const visible = request.visibleMailboxes;
    if (after === null) {
      if (ids.length > request.maxItems) {
        throw new ResolveException(
          ResolveErrorCode.TOO_MANY_RECORDS,
          `selection.recordIds: ${ids.length} records are more than the ${request.maxItems} one restore may have; split it`,
          'selection.recordIds',
        );
      }
      const found = await this.records.existing(request.tenantId, ids);
      const known = new Set(found.map((record) => record.id));
      const missing = ids.filter((id) => !known.has(id));
      if (missing.length > 0) {
        throw new ResolveException(
          ResolveErrorCode.RECORDS_NOT_FOUND,
          `selection.recordIds: tenant ${request.tenantId} has no index records ${listIds(missing)}`,
          'selection.recordIds',
        );
      }
      if (visible !== 'all') {
        const allowed = new Set(visible);
        const hidden = found.filter((record) => !allowed.has(record.mailbox)).map((record) => record.id);
        if (hidden.length > 0) {
          throw new ResolveException(
            ResolveErrorCode.RECORDS_NOT_VISIBLE,
            `selection.recordIds: records ${listIds(hidden)} are in mailboxes you may not restore from; nothing was resolved`,
            'selection.recordIds',
          );
        }
      }
    }
    // Later pages stay within the visible mailboxes too, whatever happened to the records meanwhile.
    const scope = visible === 'all' ? undefined : visible;
    const rows = await this.records.byIds(request.tenantId, ids, scope, after, RESOLVE_PAGE_ROWS + 1);
    return this.page(rows, fingerprint);
  }

  private async byQuery(
    request: ResolveRequest,
    query: Extract<ResolveRequest['selection'], { query: unknown }>['query'],
    after: SearchPosition | null,
    fingerprint: string,
  ): Promise<ResolveRecordsResponse> {
    const search: SearchRequest = {
      tenantId: request.tenantId,
      visibleMailboxes: request.visibleMailboxes,
      ...query,
      limit: SEARCH_LIMIT.max,
    };
    const filter = toSearchFilter(search);
    if (filter === null) return { items: [], nextCursor: null };
    if (after === null) {
      const count = await this.records.countUpTo(filter, request.maxItems + 1);
      if (count > request.maxItems) {
        throw new ResolveException(
          ResolveErrorCode.TOO_MANY_RECORDS,
          `selection.query: the search matches more than ${request.maxItems} messages, more than one restore may have; narrow it (by date, mailbox or folder) or split it`,
          'selection.query',
        );
      }
    }
    const rows = await this.search.page(filter, after, RESOLVE_PAGE_ROWS + 1);
    return this.page(rows, fingerprint);
  }

  /** Up to RESOLVE_PAGE_ROWS items of `rows` that fit in a reply; the cursor continues after the last. */
  private page(rows: readonly ResolveRow[], fingerprint: string): ResolveRecordsResponse {
    const items: ResolvedRecord[] = [];
    let last: ResolveRow | undefined;
    let bytes = 0;
    for (const row of rows.slice(0, RESOLVE_PAGE_ROWS)) {
      const item = toResolvedRecord(row);
      bytes += Buffer.byteLength(JSON.stringify(item));
      if (items.length > 0 && bytes > MAX_REPLY_ITEM_BYTES) break;
      items.push(item);
      last = row;
    }
    const more = rows.length > items.length;
    return { items, nextCursor: more && last ? encodeCursor(positionOf(last), fingerprint) : null };
  }

  private readCursor(cursor: string, fingerprint: string): SearchPosition {
    try {
      return decodeCursor(cursor, fingerprint);
    } catch (error) {
      if (error instanceof SearchException) {
        throw new ResolveException(ResolveErrorCode.INVALID_CURSOR, error.message, 'cursor');
      }
      throw error;
    }
  }
}
