import type { BackupFilter } from '@mlr/contracts';

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
