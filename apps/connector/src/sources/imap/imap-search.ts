import type { BackupFilter } from '@mlr/contracts';

/** The search criteria imapflow's `search()` takes (the subset we use). */
export interface ImapSearchQuery {
  uid?: string;
  sentSince?: Date;
  sentBefore?: Date;
  from?: string;
  to?: string;
  subject?: string;
  larger?: number;
  smaller?: number;
}

const DAY_MS = 86_400_000;

function startOfUtcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

/**
 * Narrows a folder on the server: IMAP SEARCH is day-granular and substring-based, so the server
 * search is deliberately wider than the filter (a day either side) and `matchesFilter` decides.
 */
export function imapSearchQuery(filter: BackupFilter, uidRange: string): ImapSearchQuery {
  const query: ImapSearchQuery = { uid: uidRange };
  if (filter.fromDate) query.sentSince = new Date(startOfUtcDay(new Date(filter.fromDate)).getTime() - DAY_MS);
  if (filter.toDate) query.sentBefore = new Date(startOfUtcDay(new Date(filter.toDate)).getTime() + 2 * DAY_MS);
  if (filter.fromAddress) query.from = filter.fromAddress;
  if (filter.toAddress) query.to = filter.toAddress;
  if (filter.subjectContains) query.subject = filter.subjectContains;
  if (filter.minSize !== undefined && filter.minSize > 0) query.larger = filter.minSize - 1;
  if (filter.maxSize !== undefined) query.smaller = filter.maxSize + 1;
  return query;
}
