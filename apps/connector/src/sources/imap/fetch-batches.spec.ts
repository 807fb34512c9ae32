import { describe, expect, it } from 'vitest';
import { planFetchBatches } from './imap-mail-source.js';

describe('fetch batches', () => {
  it('groups at most 50 messages and 32 MiB per batch, a larger message alone', () => {
    const uids = Array.from({ length: 120 }, (_, i) => i + 1);
    const small = new Map(uids.map((uid) => [uid, 50_000]));
    expect(planFetchBatches(uids, small).map((b) => b.length)).toEqual([50, 50, 20]);
    const mixed = new Map([
      [1, 20 * 1024 * 1024],
      [2, 20 * 1024 * 1024],
      [3, 60 * 1024 * 1024],
      [4, 1000],
    ]);
    expect(planFetchBatches([1, 2, 3, 4], mixed)).toEqual([[1], [2], [3], [4]]);
  });
});
