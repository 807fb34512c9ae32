import { describe, expect, it } from 'vitest';
import { messageObjectKey, tenantObjectsPrefix } from './message-object-key.js';

const contentId = 'ab' + 'c'.repeat(62);

describe('messageObjectKey', () => {
  it('fans objects out by the first two characters of the content id', () => {
    expect(messageObjectKey('acme', contentId)).toBe(`tenants/acme/objects/ab/${contentId}`);
  });

  it('keeps every object of a tenant under its prefix', () => {
    expect(messageObjectKey('acme-2', contentId).startsWith(tenantObjectsPrefix('acme-2'))).toBe(true);
    expect(messageObjectKey('acme', contentId).startsWith(tenantObjectsPrefix('acme-2'))).toBe(false);
  });

  it('refuses ids that could escape their place in the key', () => {
    expect(() => messageObjectKey('../other', contentId)).toThrow(/not a valid tenant id/);
    expect(() => messageObjectKey('Acme', contentId)).toThrow(/not a valid tenant id/);
    expect(() => messageObjectKey('acme', 'ab/../x')).toThrow(/not a content id/);
    expect(() => messageObjectKey('acme', contentId.toUpperCase())).toThrow(/not a content id/);
    expect(() => tenantObjectsPrefix('')).toThrow(/not a valid tenant id/);
  });
});
