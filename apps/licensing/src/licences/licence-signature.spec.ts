import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, type SignedLicence } from '@mlr/contracts';
import { testVendor } from '../__tests__/licence-factory.js';
import { parseVendorPublicKey, verifyLicence } from './licence-signature.js';

const now = new Date('2026-06-01T12:00:00.000Z');
const vendor = testVendor();
const terms = {
  serial: 'MLR-2026-0001',
  issuedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2027-01-01T00:00:00.000Z',
};

function refusal(input: unknown, at = now) {
  const result = verifyLicence(input, vendor.trusted, at);
  if (result.ok) throw new Error(`expected a refusal, the licence was accepted: ${JSON.stringify(input)}`);
  return result;
}

describe('canonical JSON', () => {
  it('sorts keys at every level and drops insignificant white space', () => {
    const a = JSON.parse('{ "b": 1, "a": { "y": [3, {"d": true, "c": null}], "x": "é\\u00e9" } }') as unknown;
    const b = { a: { x: 'éé', y: [3, { c: null, d: true }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"x":"éé","y":[3,{"c":null,"d":true}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it('orders keys by UTF-16 code units, not by locale', () => {
    expect(canonicalJson({ b: 1, B: 2, ä: 3, a: 4, '10': 5, '9': 6 })).toBe('{"10":5,"9":6,"B":2,"a":4,"b":1,"ä":3}');
  });

  it('writes numbers and escapes the way JSON.stringify does', () => {
    expect(canonicalJson([1e21, 0.1, -0, 'a"b\\c\n\u2028'])).toBe('[1e+21,0.1,0,"a\\"b\\\\c\\n\u2028"]');
  });

  it('refuses what JSON cannot carry', () => {
    expect(() => canonicalJson({ a: undefined })).toThrow(/undefined/);
    expect(() => canonicalJson(Number.NaN)).toThrow(/NaN/);
    expect(() => canonicalJson(new Date())).toThrow(/plain objects/);
    expect(() => canonicalJson(1n)).toThrow(/bigint/);
  });
});

describe('licence verification', () => {
  const licence = vendor.issue(terms);

  it('accepts the licence as signed, whatever key order and spacing it travels in', () => {
    const result = verifyLicence(licence, vendor.trusted, now);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.licence.document).toMatchObject({ ...terms, features: ['mlr'], graceDays: 14 });
    expect(result.licence.canonical).toBe(canonicalJson(licence.document));

    const reordered = JSON.parse(
      JSON.stringify(
        {
          keyId: licence.keyId,
          signature: licence.signature,
          document: Object.fromEntries(Object.entries(licence.document).reverse()),
        },
        null,
        4,
      ),
    ) as unknown;
    expect(verifyLicence(reordered, vendor.trusted, now).ok).toBe(true);
  });

  it('refuses every single changed byte of the licence file', () => {
    const text = JSON.stringify(licence);
    let accepted = 0;
    const reasons = new Set<string>();
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      // Another printable character at the same place (keeps the file text, changes the byte).
      const flipped = String.fromCharCode(code === 0x7e ? 0x21 : code + 1);
      const mutated = text.slice(0, i) + flipped + text.slice(i + 1);
      let input: unknown;
      try {
        input = JSON.parse(mutated);
      } catch {
        reasons.add('malformed (not JSON)');
        continue;
      }
      const result = verifyLicence(input, vendor.trusted, now);
      if (result.ok) accepted++;
      else reasons.add(result.reason);
    }
    expect(accepted).toBe(0);
    expect([...reasons].sort()).toEqual(['malformed', 'malformed (not JSON)', 'tampered', 'wrong_vendor_key']);
  });

  it('says tampered when a term of the document was changed', () => {
    const changed = { ...licence, document: { ...licence.document, maxTenants: 1_000_000 } };
    expect(refusal(changed)).toMatchObject({ reason: 'tampered', field: 'signature' });
    expect(refusal(changed).message).toMatch(/changed after it was signed/);
    const extra = { ...licence, document: { ...licence.document, features: ['mlr', 'unlimited'] } };
    expect(refusal(extra).reason).toBe('tampered');
  });

  it('says tampered when a bit of the signature was flipped', () => {
    const bytes = Buffer.from(licence.signature, 'base64');
    for (const index of [0, 31, 63]) {
      const copy = Buffer.from(bytes);
      copy[index] = (copy[index] ?? 0) ^ 0x01;
      expect(refusal({ ...licence, signature: copy.toString('base64') }).reason).toBe('tampered');
    }
  });

  it('refuses a signature spelled in a non-canonical base64 form as malformed', () => {
    // The last character carries 4 unused bits: another spelling of the same bytes is still a change.
    const last = licence.signature.at(-3) as string;
    const sibling = String.fromCharCode(last.charCodeAt(0) + 1);
    const respelled = `${licence.signature.slice(0, -3)}${sibling}==`;
    expect(Buffer.from(respelled, 'base64').equals(Buffer.from(licence.signature, 'base64'))).toBe(true);
    expect(refusal({ ...licence, signature: respelled })).toMatchObject({ reason: 'malformed', field: 'signature' });
  });

  it('says wrong vendor key for a licence signed by another vendor key, naming both keys', () => {
    const other = testVendor().issue(terms);
    const result = refusal(other);
    expect(result).toMatchObject({ reason: 'wrong_vendor_key', field: 'keyId' });
    expect(result.message).toContain(other.keyId);
    expect(result.message).toContain(vendor.trusted.keyId);
    // Claiming the trusted key id does not help: the signature is not that key's.
    expect(refusal({ ...other, keyId: vendor.trusted.keyId }).reason).toBe('tampered');
  });

  it('says malformed for what is not a signed licence, naming the field', () => {
    expect(refusal({ document: licence.document, signature: licence.signature })).toMatchObject({
      reason: 'malformed',
      field: 'keyId',
    });
    expect(refusal('licence').reason).toBe('malformed');
    expect(refusal({ ...licence, extra: 1 }).message).toMatch(/malformed licence/);
    // Only a document built in code can hold what JSON cannot carry: it has no canonical form to verify.
    expect(refusal({ ...licence, document: { ...licence.document, maxTenants: Number.NaN } })).toMatchObject({
      reason: 'malformed',
      field: 'document',
      message: expect.stringMatching(/^malformed licence: .*NaN/) as unknown,
    });
  });

  it('says malformed for a correctly signed document of an unknown format', () => {
    const document = { ...licence.document, format: 'mlr-licence/9' };
    const signed: SignedLicence = {
      document,
      signature: sign(null, Buffer.from(canonicalJson(document)), vendor.privateKey).toString('base64'),
      keyId: licence.keyId,
    };
    expect(refusal(signed)).toMatchObject({ reason: 'malformed', field: 'document.format' });
  });

  it('accepts a licence in its grace period and refuses it once the grace period has ended', () => {
    const expiry = new Date(terms.expiresAt).getTime();
    expect(verifyLicence(licence, vendor.trusted, new Date(expiry + 13 * 86_400_000)).ok).toBe(true);
    const ended = refusal(licence, new Date(expiry + 14 * 86_400_000));
    expect(ended).toMatchObject({ reason: 'expired', field: 'document.expiresAt' });
    expect(ended.message).toBe(
      'expired licence: licence MLR-2026-0001 expired on 2027-01-01T00:00:00.000Z and its 14-day grace period ended on 2027-01-15T00:00:00.000Z',
    );
  });
});

describe('vendor public key configuration', () => {
  it('reads PEM (also with escaped line breaks) and base64 SPKI, with the same key id', () => {
    const pem = vendor.trusted.key.export({ type: 'spki', format: 'pem' }) as string;
    expect(parseVendorPublicKey(pem).keyId).toBe(vendor.trusted.keyId);
    expect(parseVendorPublicKey(pem.replace(/\n/g, '\\n')).keyId).toBe(vendor.trusted.keyId);
    expect(parseVendorPublicKey(vendor.publicKeyEnv).keyId).toBe(vendor.trusted.keyId);
  });

  it('refuses what is not an Ed25519 public key, saying why', () => {
    expect(() => parseVendorPublicKey('hello')).toThrow(/not a PEM or base64 SPKI public key/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    expect(() => parseVendorPublicKey(ec as string)).toThrow(/ec key, not an Ed25519 key/);
  });
});
