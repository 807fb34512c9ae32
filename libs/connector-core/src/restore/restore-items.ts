import type { RestoreItem } from '@mlr/contracts';

/** Items per `restore.items` page (the contract's maximum). */
export const RESTORE_ITEMS_PAGE = 500;

export interface RestoreItemPage {
  items: RestoreItem[];
  /** How many items the job has in all. */
  total: number;
}

/** Pages of one restore job's items, by `seq`. */
export interface RestoreItemSource {
  /** Items with `seq` greater than `after` (-1 for the first page), at most `limit`. */
  page(after: number, limit: number): Promise<RestoreItemPage>;
}

/** The items of a job could not be read: the job cannot run. */
export class RestoreItemsError extends Error {
  override readonly name = 'RestoreItemsError';
}

/**
 * Every item of the job, in `seq` order: pages of RESTORE_ITEMS_PAGE until `total` items are read.
 * A job holds at most RESTORE_MAX_ITEMS (10 000) items of about half a kilobyte each, so they are
 * read up front: the runner can then group them by mailbox, and a job whose items cannot be read
 * fails before it has changed any mailbox.
 */
export async function readAllItems(source: RestoreItemSource, expected: number): Promise<RestoreItem[]> {
  const items: RestoreItem[] = [];
  let after = -1;
  let total = expected;
  while (items.length < total) {
    const page = await source.page(after, RESTORE_ITEMS_PAGE);
    total = page.total;
    if (page.items.length === 0) {
      if (items.length < total) {
        throw new RestoreItemsError(
          `restore.items returned no items after seq ${after}, with ${items.length} of ${total} read`,
        );
      }
      break;
    }
    for (const item of page.items) {
      if (item.seq <= after) {
        throw new RestoreItemsError(`restore.items returned seq ${item.seq} out of order (after ${after})`);
      }
      after = item.seq;
      items.push(item);
    }
  }
  if (items.length > total) {
    throw new RestoreItemsError(`restore.items returned ${items.length} items, more than the job's ${total}`);
  }
  if (items.length !== expected) {
    throw new RestoreItemsError(`restore job has ${items.length} items, the job command announced ${expected}`);
  }
  return items;
}
