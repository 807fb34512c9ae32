import { describe, expect, it } from 'vitest';
import { objectRetention, retentionFor } from './object-writer.js';

describe("objectRetention: a tenant's default retention lengthens the platform's, never shortens it", () => {
  const platform = { days: 60, mode: 'GOVERNANCE' as const };

  it("keeps the platform's when the tenant has none", () => {
    expect(objectRetention(platform, 30, null, 'COMPLIANCE')).toBe(platform);
    expect(objectRetention(undefined, 30, undefined, 'COMPLIANCE')).toBeUndefined();
  });

  it("takes the tenant's when longer than both the platform's and the bucket's default", () => {
    expect(objectRetention(platform, 30, 365, 'COMPLIANCE')).toEqual({ days: 365, mode: 'GOVERNANCE' });
    // Without a platform retention, in the storage's mode.
    expect(objectRetention(undefined, 30, 90, 'COMPLIANCE')).toEqual({ days: 90, mode: 'COMPLIANCE' });
  });

  it("leaves the bucket's default (or the platform's) when the tenant's is not longer", () => {
    expect(objectRetention(undefined, 30, 10, 'COMPLIANCE')).toBeUndefined();
    expect(objectRetention(undefined, 30, 30, 'COMPLIANCE')).toBeUndefined();
    expect(objectRetention(platform, 30, 45, 'COMPLIANCE')).toBe(platform);
    // A bucket default not read yet counts as none: the platform's still wins when longer.
    expect(objectRetention(undefined, undefined, 5, 'COMPLIANCE')).toEqual({ days: 5, mode: 'COMPLIANCE' });
  });

  it('asks per tenant when given a function', () => {
    const perTenant = (tenantId: string) => (tenantId === 'acme' ? platform : undefined);
    expect(retentionFor(perTenant, 'acme')).toBe(platform);
    expect(retentionFor(perTenant, 'globex')).toBeUndefined();
    expect(retentionFor(platform, 'globex')).toBe(platform);
  });
});
