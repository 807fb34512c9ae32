import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, type LicenceDocument } from '@mlr/contracts';
import { testVendor } from '../__tests__/licence-factory.js';
import { readStoredLicence, type LicenceRow } from './licence-in-force.js';

const vendor = testVendor();
const DAY = 86_400_000;

/** The row the repository stores for a signed licence, as an import writes it. */
function storedRow(terms: Partial<LicenceDocument> = {}): LicenceRow {
  const signed = vendor.issue({ serial: 'MLR-2026-0042', maxTenants: 5, maxProtectedMailboxes: 250, ...terms });
  const document = signed.document as unknown as LicenceDocument;
  return {
    id: 'row-1',
    serial: document.serial,
    document: canonicalJson(signed.document),
    signature: signed.signature,
    signingKeyId: signed.keyId,
    licensee: document.licensee,
    features: document.features,
    maxTenants: document.maxTenants,
    maxProtectedMailboxes: document.maxProtectedMailboxes,
    issuedAt: new Date(document.issuedAt),
    expiresAt: new Date(document.expiresAt),
    importedAt: new Date('2026-06-01T00:00:00.000Z'),
    importedBy: 'operator@msp',
    supersededAt: null,
  };
}

function problemOf(row: LicenceRow, trusted = vendor.trusted): string {
  const reading = readStoredLicence(row, trusted);
  if (reading.verified) throw new Error('expected the stored licence not to verify');
  return reading.problem;
}

describe('reading the stored licence', () => {
  it('takes every term from the signed document, verified with the vendor key', () => {
    const row = storedRow();
    const reading = readStoredLicence(row, vendor.trusted);
    expect(reading.verified).toBe(true);
    if (!reading.verified) return;
    expect(reading.licence).toMatchObject({
      serial: 'MLR-2026-0042',
      licensee: 'Example MSP Ltd',
      features: ['mlr'],
      maxTenants: 5,
      maxProtectedMailboxes: 250,
      graceDays: 14,
      issuedAt: row.issuedAt,
      expiresAt: row.expiresAt,
      keyId: vendor.trusted.keyId,
      importedBy: 'operator@msp',
      supersededAt: null,
    });
  });

  it('reads an expired licence (expiry is its status, not its integrity)', () => {
    const issuedAt = new Date(Date.now() - 400 * DAY).toISOString();
    const row = storedRow({ issuedAt, expiresAt: new Date(Date.now() - 100 * DAY).toISOString() });
    expect(readStoredLicence(row, vendor.trusted).verified).toBe(true);
  });

  it('refuses a document changed in the database, even by one term', () => {
    const row = storedRow();
    const edited = {
      ...row,
      document: row.document.replace('"maxProtectedMailboxes":250', '"maxProtectedMailboxes":9999'),
    };
    expect(edited.document).not.toBe(row.document);
    expect(problemOf(edited)).toBe(
      `the stored licence MLR-2026-0042 does not verify: the signature of vendor key ${vendor.trusted.keyId} does not match its document; the document was changed after it was signed; import the vendor's signed licence again (POST /v1/licence)`,
    );
  });

  it('refuses a row whose copied terms were edited, naming the columns', () => {
    const row = storedRow();
    expect(problemOf({ ...row, maxProtectedMailboxes: 1_000_000 })).toMatch(
      /^the stored licence MLR-2026-0042 does not verify: its max_protected_mailboxes column differs from its signed document, so the row was changed after the import; import the vendor's signed licence again/,
    );
    expect(
      problemOf({ ...row, features: ['mlr', 'archive'], expiresAt: new Date(row.expiresAt.getTime() + DAY) }),
    ).toMatch(/its features, expires_at columns differ from its signed document/);
    expect(problemOf({ ...row, maxTenants: null })).toMatch(/its max_tenants column differs/);
  });

  it('refuses a signature that was changed, a foreign vendor key, and no vendor key at all', () => {
    const row = storedRow();
    const signature = Buffer.from(row.signature, 'base64');
    signature[0] = (signature[0] ?? 0) ^ 0x01;
    expect(problemOf({ ...row, signature: signature.toString('base64') })).toMatch(
      /does not match its document; the document was changed after it was signed/,
    );
    expect(problemOf({ ...row, signature: 'not a signature' })).toMatch(
      /its signature is not the base64 of a 64-byte Ed25519 signature/,
    );
    const other = testVendor();
    expect(problemOf(row, other.trusted)).toMatch(
      new RegExp(
        `names vendor key "${vendor.trusted.keyId}", but this service trusts only vendor key ${other.trusted.keyId}`,
      ),
    );
    expect(problemOf(row, null as never)).toMatch(/has no vendor public key \(LICENSING_VENDOR_PUBLIC_KEY\)/);
  });

  it('refuses a signed text that is not a licence document', () => {
    // A genuine signature of the vendor key over other text: the text must still be a licence.
    const text = '{"format":"something-else"}';
    const signature = sign(null, Buffer.from(text, 'utf8'), vendor.privateKey).toString('base64');
    expect(problemOf({ ...storedRow(), document: text, signature })).toMatch(
      /its signed document is not a licence this service can read: document\.format/,
    );
    const notJson = 'licence';
    const signedNotJson = sign(null, Buffer.from(notJson, 'utf8'), vendor.privateKey).toString('base64');
    expect(problemOf({ ...storedRow(), document: notJson, signature: signedNotJson })).toMatch(
      /does not verify: its document is not JSON \(/,
    );
  });
});
