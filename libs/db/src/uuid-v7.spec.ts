import { describe, expect, it } from 'vitest';
import { uuidV7 } from './uuid-v7.js';

describe('uuidV7', () => {
  it('puts the time first, then version 7 and the random bits of the v4 source', () => {
    expect(uuidV7(0x0123456789ab, 'ffffffff-ffff-4fff-bfff-ffffffffffff')).toBe('01234567-89ab-7fff-bfff-ffffffffffff');
    expect(uuidV7(0, '00000000-0000-4000-8000-000000000000')).toBe('00000000-0000-7000-8000-000000000000');
  });

  it('orders by creation time and is well formed', () => {
    const earlier = uuidV7(1_700_000_000_000);
    const later = uuidV7(1_700_000_000_001);
    expect(earlier < later).toBe(true);
    expect(later).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidV7()).not.toBe(uuidV7());
  });

  it('refuses a time it cannot encode', () => {
    expect(() => uuidV7(-1)).toThrow(RangeError);
    expect(() => uuidV7(2 ** 48)).toThrow(RangeError);
  });
});
