import { describe, expect, it } from 'vitest';
import { uidSet } from './uid-set.js';

describe('uidSet', () => {
  it('writes runs as ranges and single UIDs as they are, in ascending order', () => {
    expect(uidSet([5, 1, 2, 3, 9, 10, 12])).toBe('1:3,5,9:10,12');
    expect(uidSet([7])).toBe('7');
    expect(uidSet([4, 4, 5])).toBe('4:5');
  });

  it('keeps a folder of 20,000 new messages to a few bytes', () => {
    const uids = Array.from({ length: 20_000 }, (_, i) => i + 1).filter((uid) => uid % 5_000 !== 0);
    expect(uidSet(uids)).toBe('1:4999,5001:9999,10001:14999,15001:19999');
  });

  it('refuses an empty set', () => {
    expect(() => uidSet([])).toThrow(RangeError);
  });
});
