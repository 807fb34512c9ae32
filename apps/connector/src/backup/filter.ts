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

/** What the local check needs to know about a message. */
export interface FilterableMessage {
  submissionDate: string | null;
  internalDate: Date | null;
  from: string | null;
  recipients: string[];
  subject: string | null;
  size: number;
  hasAttachment: boolean;
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

const contains = (haystack: string | null, needle: string) =>
  (haystack ?? '').toLowerCase().includes(needle.toLowerCase());

/**
 * The exact check on a fetched message. Dates compare with the Date header, or INTERNALDATE for a
 * message without a usable Date header; a message with neither matches no date criterion.
 */
export function matchesFilter(filter: BackupFilter, message: FilterableMessage): boolean {
  if (filter.fromDate || filter.toDate) {
    const when = message.submissionDate
      ? Date.parse(message.submissionDate)
      : (message.internalDate?.getTime() ?? Number.NaN);
    if (Number.isNaN(when)) return false;
    if (filter.fromDate && when < Date.parse(filter.fromDate)) return false;
    if (filter.toDate && when > Date.parse(filter.toDate)) return false;
  }
  if (filter.fromAddress && !contains(message.from, filter.fromAddress)) return false;
  if (filter.toAddress && !message.recipients.some((r) => contains(r, filter.toAddress ?? ''))) return false;
  if (filter.subjectContains && !contains(message.subject, filter.subjectContains)) return false;
  if (filter.minSize !== undefined && message.size < filter.minSize) return false;
  if (filter.maxSize !== undefined && message.size > filter.maxSize) return false;
  if (filter.hasAttachment !== undefined && message.hasAttachment !== filter.hasAttachment) return false;
  return true;
}

/** `*` matches any run of characters (folder separators included); matching ignores case. */
function folderPattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i');
}

/** Whether a folder is selected by the filter's include/exclude lists (exclude wins). */
export function folderSelected(filter: BackupFilter, folder: string): boolean {
  if (filter.excludeFolders?.some((p) => folderPattern(p).test(folder))) return false;
  if (filter.includeFolders && filter.includeFolders.length > 0) {
    return filter.includeFolders.some((p) => folderPattern(p).test(folder));
  }
  return true;
}
