import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkEnvelope } from '@mlr/envelope';
import { sealedShape } from './sealed-shape.js';

describe('sealedShape', () => {
  it('is one well-formed sealed object of the asked ids, about the asked size', () => {
    const contentId = randomBytes(32).toString('hex');
    for (const size of [0, 100, 65_536, 300_000, 3 * 1024 * 1024]) {
      const bytes = sealedShape(contentId, size, 'fedcba9876543210');
      expect(checkEnvelope(bytes, { contentId, keyId: 'fedcba9876543210' }).sealedSize).toBe(bytes.length);
      expect(Math.abs(bytes.length - size)).toBeLessThan(200);
    }
  });
});
