import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expiryOf, run } from './licence-tool.js';

const now = new Date('2026-06-01T10:00:00.000Z');

function tool(...argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = run(argv, { out: (t) => (out += t), err: (t) => (err += t), now: () => now });
  return { code, out, err };
}

describe('licence tool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'licence-tool-'));
  const keys = join(dir, 'keys');

  it('makes a vendor key pair with a private key only its owner can read, and never overwrites one', () => {
    const made = tool('keygen', '--out', keys);
    expect(made.code).toBe(0);
    expect(statSync(join(keys, 'vendor-private.pem')).mode & 0o777).toBe(0o600);
    expect(made.out).toMatch(/^LICENSING_VENDOR_PUBLIC_KEY=[A-Za-z0-9+/=]+$/m);
    const again = tool('keygen', '--out', keys);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/exists already/);
  });

  it('signs a licence that verifies, and reports a changed one as tampered', () => {
    const signed = tool(
      'sign',
      '--key',
      join(keys, 'vendor-private.pem'),
      '--licensee',
      'Example MSP',
      '--features',
      'mlr,archive',
      '--max-tenants',
      '25',
      '--max-mailboxes',
      '1000',
      '--expires',
      '2027-05-31',
      '--serial',
      'MLR-42',
    );
    expect(signed.code).toBe(0);
    const licence = JSON.parse(signed.out) as { document: Record<string, unknown>; keyId: string };
    expect(licence.document).toEqual({
      format: 'mlr-licence/1',
      serial: 'MLR-42',
      licensee: 'Example MSP',
      features: ['mlr', 'archive'],
      maxTenants: 25,
      maxProtectedMailboxes: 1000,
      issuedAt: '2026-06-01T10:00:00.000Z',
      expiresAt: '2027-05-31T23:59:59.999Z',
      graceDays: 14,
    });
    const file = join(dir, 'licence.json');
    writeFileSync(file, signed.out);
    const verified = tool('verify', '--public-key', join(keys, 'vendor-public.pem'), file);
    expect(verified).toMatchObject({ code: 0, err: '' });
    expect(verified.out).toMatch(/licence MLR-42 for Example MSP is valid/);

    writeFileSync(file, readFileSync(file, 'utf8').replace('"maxTenants": 25', '"maxTenants": 26'));
    const tampered = tool('verify', '--public-key', join(keys, 'vendor-public.pem'), file);
    expect(tampered.code).toBe(1);
    expect(tampered.err).toMatch(/^tampered licence/);
  });

  it('refuses bad arguments with the usage', () => {
    const key = join(keys, 'vendor-private.pem');
    const base = ['sign', '--key', key, '--licensee', 'X', '--max-mailboxes', '1', '--expires', '2027-01-01'];
    expect(tool(...base).err).toMatch(/sign needs --max-tenants/);
    expect(tool(...base, '--max-tenants', 'ten').err).toMatch(/--max-tenants must be a whole number/);
    expect(tool(...base, '--max-tenants', '1', '--features', 'MLR').err).toMatch(/features.0: a feature code/);
    expect(tool('sign', '--bogus').code).toBe(2);
    expect(tool().err).toMatch(/no command given[\s\S]*usage:/);
  });

  it('reads an expiry date as the end of that day, a date-time as given', () => {
    expect(expiryOf('2027-02-28')).toBe('2027-02-28T23:59:59.999Z');
    expect(expiryOf('2027-02-28T12:00:00+02:00')).toBe('2027-02-28T10:00:00.000Z');
    expect(() => expiryOf('2027-02-30')).toThrow(/not a calendar date/);
    expect(() => expiryOf('next year')).toThrow(/must be a date/);
  });
});
