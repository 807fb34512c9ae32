import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { LICENCE_FORMAT, type LicenceDocument, type SignedLicence } from '@mlr/contracts';
import { signLicence, vendorKeyId, type VendorKey } from '../licences/licence-signature.js';

const DAY_MS = 86_400_000;

/** A vendor key pair for tests, with the public key in the form the service is configured with. */
export interface TestVendor {
  privateKey: KeyObject;
  trusted: VendorKey;
  /** LICENSING_VENDOR_PUBLIC_KEY value (base64 SPKI DER). */
  publicKeyEnv: string;
  /** Signs a licence; unspecified terms are generous (MLR, 1000 tenants, a year, 14 days grace). */
  issue(terms?: Partial<LicenceDocument>): SignedLicence;
}

/** A fresh vendor, or the one whose private key (PKCS#8 PEM) is given, e.g. the local infrastructure's. */
export function testVendor(privateKeyPem?: string): TestVendor {
  const { publicKey, privateKey } = privateKeyPem
    ? (() => {
        const key = createPrivateKey(privateKeyPem);
        return { privateKey: key, publicKey: createPublicKey(key) };
      })()
    : generateKeyPairSync('ed25519');
  return {
    privateKey,
    trusted: { key: publicKey, keyId: vendorKeyId(publicKey) },
    publicKeyEnv: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    issue: (terms = {}) => {
      const issuedAt = terms.issuedAt ?? new Date().toISOString();
      return signLicence(
        {
          format: LICENCE_FORMAT,
          serial: `TEST-${randomBytes(6).toString('hex')}`,
          licensee: 'Example MSP Ltd',
          features: ['mlr'],
          maxTenants: 1_000,
          maxProtectedMailboxes: 100_000,
          issuedAt,
          expiresAt: new Date(Date.parse(issuedAt) + 365 * DAY_MS).toISOString(),
          graceDays: 14,
          ...terms,
        },
        privateKey,
      );
    },
  };
}
