import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The local platform's licence vendor: an Ed25519 key pair laid out as `npm run licence -- keygen`
 * writes it (`<dir>/licence-vendor/vendor-private.pem`, 0600, and `vendor-public.pem`), created once
 * per directory. Licensing verifies licences with it (`publicKeyEnv`), so that a licence imported by
 * one test, the demo or by hand (`npm run licence -- sign --key <keyDir>/vendor-private.pem ...`) is
 * the licence in force for every licensing process of this infrastructure.
 */
export interface LocalLicenceVendor {
  keyDir: string;
  /** LICENSING_VENDOR_PUBLIC_KEY (base64 SPKI DER). */
  publicKeyEnv: string;
}

export function localLicenceVendor(dir: string): LocalLicenceVendor {
  const keyDir = join(dir, 'licence-vendor');
  const privateFile = join(keyDir, 'vendor-private.pem');
  const publicFile = join(keyDir, 'vendor-public.pem');
  if (!existsSync(privateFile)) {
    mkdirSync(keyDir, { recursive: true });
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const publicKey = createPublicKey(createPrivateKey(readFileSync(privateFile, 'utf8')));
  return { keyDir, publicKeyEnv: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}
