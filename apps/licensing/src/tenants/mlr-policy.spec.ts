import { describe, expect, it } from 'vitest';
import { LicensingErrorCode } from '../common/licensing.exception.js';
import type { LicenceRecord } from '../licences/licence.js';
import { mlrEnableRefusal, mlrStatus, tenantCreationRefusal, type LimitsSnapshot } from './mlr-policy.js';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00.000Z');

function licence(terms: Partial<LicenceRecord> = {}): LicenceRecord {
  return {
    serial: 'MLR-1',
    licensee: 'Example MSP',
    features: ['mlr'],
    maxTenants: 3,
    maxProtectedMailboxes: 100,
    issuedAt: new Date('2026-01-01T00:00:00.000Z'),
    expiresAt: new Date('2027-01-01T00:00:00.000Z'),
    graceDays: 14,
    document: '{}',
    signature: 'x',
    keyId: 'k',
    importedAt: new Date('2026-01-02T00:00:00.000Z'),
    importedBy: 'operator',
    ...terms,
  };
}
const lapsed = licence({ expiresAt: new Date(now.getTime() - 15 * DAY) });
const inGrace = licence({ expiresAt: new Date(now.getTime() - 13 * DAY) });
const tenant = { id: 't-1', slug: 'acme', mlrEnabled: false };
const snapshot = (terms: Partial<LimitsSnapshot> = {}): LimitsSnapshot => ({
  licence: licence(),
  licenceProblem: null,
  tenants: 1,
  mlrTenants: 1,
  protectedMailboxes: 10,
  ...terms,
});

describe('enabling MLR', () => {
  it('is allowed with the feature, in force (or in grace) and below the limit', () => {
    expect(mlrEnableRefusal(tenant, snapshot({ mlrTenants: 2 }), now)).toBeNull();
    expect(mlrEnableRefusal(tenant, snapshot({ licence: inGrace }), now)).toBeNull();
  });

  it.each([
    ['no licence', snapshot({ licence: null }), LicensingErrorCode.NO_LICENCE, /no licence has been imported/],
    [
      'the licence lacks the mlr feature',
      snapshot({ licence: licence({ features: ['archive'] }) }),
      LicensingErrorCode.LICENCE_LACKS_FEATURE,
      /MLR cannot be enabled for tenant acme: licence MLR-1 \(Example MSP\) does not include the "mlr" feature \(it has: archive\)/,
    ],
    [
      'the licence expired past its grace period',
      snapshot({ licence: lapsed }),
      LicensingErrorCode.LICENCE_LAPSED,
      /MLR cannot be enabled for tenant acme: licence MLR-1 \(Example MSP\) expired on .*; its grace period ended on/,
    ],
    [
      'the MLR tenant limit is reached',
      snapshot({ mlrTenants: 3 }),
      LicensingErrorCode.TENANT_LIMIT_REACHED,
      /allows MLR for 3 tenants and 3 already have it enabled/,
    ],
    [
      'every protected mailbox of the licence is in use',
      snapshot({ protectedMailboxes: 100 }),
      LicensingErrorCode.MAILBOX_LIMIT_REACHED,
      /allows 100 protected mailboxes and 100 are already protected/,
    ],
  ])('is refused when %s', (_what, limits, code, message) => {
    const refusal = mlrEnableRefusal(tenant, limits, now);
    expect(refusal?.code).toBe(code);
    expect(refusal?.message).toMatch(message);
  });

  it('is refused, saying why, when the stored licence does not verify', () => {
    const problem = 'the stored licence MLR-1 does not verify: the signature does not match its document';
    const refusal = mlrEnableRefusal(tenant, snapshot({ licence: null, licenceProblem: problem }), now);
    expect(refusal?.code).toBe(LicensingErrorCode.NO_LICENCE);
    expect(refusal?.message).toBe(`MLR cannot be enabled for tenant acme: no valid licence is in force: ${problem}`);
    const creation = tenantCreationRefusal(snapshot({ licence: null, licenceProblem: problem }), now);
    expect(creation?.message).toBe(`tenants cannot be created: no valid licence is in force: ${problem}`);
  });

  it('is a no-op for an enabled tenant at the limit, but not once the licence no longer allows MLR', () => {
    const enabled = { ...tenant, mlrEnabled: true };
    expect(mlrEnableRefusal(enabled, snapshot({ mlrTenants: 3 }), now)).toBeNull();
    expect(mlrEnableRefusal(enabled, snapshot({ licence: lapsed }), now)?.code).toBe(LicensingErrorCode.LICENCE_LAPSED);
  });
});

describe('creating tenants', () => {
  it('is allowed below the tenant limit, also in grace', () => {
    expect(tenantCreationRefusal(snapshot({ tenants: 2 }), now)).toBeNull();
    expect(tenantCreationRefusal(snapshot({ tenants: 2, licence: inGrace }), now)).toBeNull();
  });

  it('is refused without a licence, past grace, and at the limit', () => {
    expect(tenantCreationRefusal(snapshot({ licence: null }), now)?.code).toBe(LicensingErrorCode.NO_LICENCE);
    expect(tenantCreationRefusal(snapshot({ licence: lapsed }), now)?.code).toBe(LicensingErrorCode.LICENCE_LAPSED);
    const full = tenantCreationRefusal(snapshot({ tenants: 3 }), now);
    expect(full?.code).toBe(LicensingErrorCode.TENANT_LIMIT_REACHED);
    expect(full?.message).toBe(
      'tenant limit reached: licence MLR-1 (Example MSP) allows 3 tenants and there are already 3',
    );
  });
});

describe('tenant status for jobs', () => {
  const enabled = { ...tenant, mlrEnabled: true };

  it('allows an enabled tenant under a licence in force or in grace', () => {
    expect(mlrStatus('t-1', enabled, licence(), now, 100)).toEqual({
      tenantId: 't-1',
      mlrEnabled: true,
      allowed: true,
      backupAllowed: true,
      reason: null,
      licence: 'valid',
      protectedMailboxes: { count: 100, limit: 100 },
      message: 'MLR is enabled for tenant acme',
    });
    const grace = mlrStatus('t-1', enabled, inGrace, now);
    expect(grace).toMatchObject({ allowed: true, licence: 'in_grace' });
    expect(grace.message).toMatch(/grace period until/);
  });

  it.each([
    ['an unknown tenant', null, licence(), 'tenant_not_found', /tenant t-1 does not exist/],
    [
      'MLR disabled',
      tenant,
      licence(),
      'mlr_disabled',
      /MLR is not enabled for tenant acme: an operator must enable it/,
    ],
    ['an expired licence', enabled, lapsed, 'licence_expired', /MLR is enabled for tenant acme, but licence MLR-1/],
    [
      'a licence without the feature',
      enabled,
      licence({ features: [] }),
      'licence_lacks_mlr',
      /does not include the "mlr" feature/,
    ],
  ])('refuses jobs for %s', (_what, who, terms, reason, message) => {
    const status = mlrStatus('t-1', who, terms, now);
    expect(status).toMatchObject({ allowed: false, reason });
    expect(status.message).toMatch(message);
  });

  it('refuses backups but not restores beyond the protected-mailbox limit', () => {
    const status = mlrStatus('t-1', enabled, licence(), now, 101);
    expect(status).toMatchObject({ allowed: true, backupAllowed: false, reason: 'mailbox_limit_exceeded' });
    expect(status.message).toMatch(
      /101 mailboxes are protected and licence MLR-1 \(Example MSP\) allows 100; restores still run/,
    );
  });

  it('decides by the tenant flag alone when no licence was ever imported', () => {
    expect(mlrStatus('t-1', enabled, null, now)).toMatchObject({ allowed: true, licence: 'none' });
    expect(mlrStatus('t-1', tenant, null, now)).toMatchObject({ allowed: false, reason: 'mlr_disabled' });
  });

  it('refuses every job when the stored licence does not verify: an unreadable licence lifts no limit', () => {
    const problem = 'the stored licence MLR-1 does not verify: its max_tenants column differs from its signed document';
    const status = mlrStatus('t-1', enabled, null, now, 0, problem);
    expect(status).toEqual({
      tenantId: 't-1',
      mlrEnabled: true,
      allowed: false,
      backupAllowed: false,
      reason: 'licence_lacks_mlr',
      licence: 'none',
      protectedMailboxes: { count: 0, limit: null },
      message: `MLR is enabled for tenant acme, but no valid licence is in force: ${problem}`,
    });
    expect(mlrStatus('t-1', tenant, null, now, 0, problem)).toMatchObject({ reason: 'mlr_disabled' });
  });
});
