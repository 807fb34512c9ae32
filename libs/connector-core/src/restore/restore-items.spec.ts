import { describe, expect, it } from 'vitest';
import type { RestoreItem } from '@mlr/contracts';
import { readAllItems, RESTORE_ITEMS_PAGE, RestoreItemsError, type RestoreItemSource } from './restore-items.js';

function makeItem(seq: number): RestoreItem {
  return {
    seq,
    recordId: `rec-${seq}`,
    contentId: seq.toString(16).padStart(64, '0'),
    mailbox: 'alice',
    folder: 'INBOX',
    messageId: null,
    subject: null,
    internalDate: null,
    flags: { seen: false, answered: false, flagged: false, draft: false, deleted: false },
    keywords: [],
    size: 10,
    itemType: 'mail',
    form: 'rfc5322',
  };
}

/** Serves `items` by seq like scheduling does, recording the pages asked for. */
function fakeSource(items: RestoreItem[], total = items.length) {
  const asked: Array<{ after: number; limit: number }> = [];
  const source: RestoreItemSource = {
    page: async (after, limit) => {
      asked.push({ after, limit });
      return { items: items.filter((i) => i.seq > after).slice(0, limit), total };
    },
  };
  return { source, asked };
}

describe('readAllItems', () => {
  it('pages 500 at a time until total items are read', async () => {
    const items = Array.from({ length: 1_203 }, (_, i) => makeItem(i));
    const { source, asked } = fakeSource(items);
    const read = await readAllItems(source, 1_203);
    expect(read.map((i) => i.seq)).toEqual(items.map((i) => i.seq));
    expect(asked).toEqual([
      { after: -1, limit: RESTORE_ITEMS_PAGE },
      { after: 499, limit: RESTORE_ITEMS_PAGE },
      { after: 999, limit: RESTORE_ITEMS_PAGE },
    ]);
  });

  it('refuses a job whose items end before total', async () => {
    const { source } = fakeSource([makeItem(0), makeItem(1)], 5);
    await expect(readAllItems(source, 5)).rejects.toThrow(/no items after seq 1, with 2 of 5 read/);
  });

  it('refuses items out of order', async () => {
    const source: RestoreItemSource = { page: async () => ({ items: [makeItem(2), makeItem(1)], total: 2 }) };
    await expect(readAllItems(source, 2)).rejects.toBeInstanceOf(RestoreItemsError);
  });

  it('refuses a count that differs from the job command', async () => {
    const { source } = fakeSource([makeItem(0), makeItem(1)]);
    await expect(readAllItems(source, 3)).rejects.toThrow(/has 2 items, the job command announced 3/);
  });

  it('passes on the failure to read a page', async () => {
    const source: RestoreItemSource = {
      page: async () => {
        throw new RestoreItemsError('cannot read the items of restore job j1 (after seq -1): not_found: no such job');
      },
    };
    await expect(readAllItems(source, 1)).rejects.toThrow(/not_found: no such job/);
  });
});
