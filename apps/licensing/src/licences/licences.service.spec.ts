import { describe, expect, it } from 'vitest';
import { LicensingErrorCode, LicensingException } from '../common/licensing.exception.js';
import type { LicenceRecord } from './licence.js';
import { decideImport } from './licences.service.js';

function licence(serial: string, issuedAt: string, document = `{"serial":"${serial}"}`): LicenceRecord {
  return {
    serial,
    licensee: 'Example MSP',
    features: ['mlr'],
    maxTenants: 3,
    maxProtectedMailboxes: 100,
    issuedAt: new Date(issuedAt),
    expiresAt: new Date('2030-01-01T00:00:00.000Z'),
    graceDays: 14,
    document,
    signature: `sig-${document}`,
    keyId: 'k',
    importedAt: new Date('2026-06-01T00:00:00.000Z'),
    importedBy: 'operator',
  };
}

function refusedWith(run: () => unknown): LicensingException {
  try {
    run();
  } catch (error) {
    if (error instanceof LicensingException) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('importing a licence', () => {
  const current = licence('A', '2026-01-01T00:00:00.000Z');

  it('imports the first licence and one issued later than the licence in force', () => {
    expect(decideImport(current, null, null)).toBe('import');
    expect(decideImport(licence('B', '2026-02-01T00:00:00.000Z'), current, null)).toBe('import');
  });

  it('changes nothing when the licence in force is imported again', () => {
    expect(decideImport(current, current, { ...current, supersededAt: null })).toBe('unchanged');
  });

  it('refuses a licence issued before the licence in force', () => {
    const older = refusedWith(() => decideImport(licence('Z', '2025-12-01T00:00:00.000Z'), current, null));
    expect(older.code).toBe(LicensingErrorCode.LICENCE_SUPERSEDED);
    expect(older.message).toMatch(/issued on 2025-12-01T00:00:00.000Z, before licence A in force/);
  });

  it('refuses a superseded licence and a serial reused with other content', () => {
    const superseded = { ...current, supersededAt: new Date('2026-03-01T00:00:00.000Z') };
    expect(refusedWith(() => decideImport(current, null, superseded)).message).toMatch(
      /superseded on 2026-03-01T00:00:00.000Z; import a newer licence/,
    );
    const reused = licence('A', '2026-01-01T00:00:00.000Z', '{"serial":"A","maxTenants":9}');
    expect(refusedWith(() => decideImport(reused, current, { ...current, supersededAt: null })).message).toMatch(
      /serial A was already imported with different content/,
    );
  });
});
