import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportRecoveryKit, generateRootKey, importRecoveryKit, rootKeyId } from '@mlr/crypto';
import { KeyFileError } from '../keys/key-file.js';

/** Said wherever a tenant key is made or exported: it is the only way to read the backups. */
export const KEY_LOSS_WARNING =
  'IMPORTANT: the backups of this tenant can be read only with this tenant key. Keep the key file and a ' +
  'recovery kit (connector export-recovery-kit) in separate safe places. If both the key file and the ' +
  'recovery kit are lost, the backups cannot be read by anyone: not by you, not by your service ' +
  'provider, not by the vendor.';

/** The root key in a key file, as bytes (errors name the file). */
export function readRootKey(path: string): Buffer {
  if (!existsSync(path)) {
    throw new KeyFileError(
      `tenant key file ${path} does not exist: enrol the connector first (or restore the key from its recovery kit)`,
    );
  }
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new KeyFileError(`tenant key file ${path} is damaged: expected 32 bytes as 64 hex characters`);
  }
  return Buffer.from(hex, 'hex');
}

/** Writes a root key file (mode 0600); never replaces an existing file. */
export function writeRootKey(path: string, root: Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${root.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

/** What enrolment will do with the tenant key, decided (and checked) before the token is used. */
export type TenantKeyPlan =
  | { action: 'create'; root: Buffer; keyId: string }
  | { action: 'import'; root: Buffer; keyId: string }
  | { action: 'keep'; keyId: string };

/**
 * With a recovery kit: the key it holds (a wrong passphrase or a damaged kit fails here, before the
 * enrolment token is used); an existing key file must hold the same key. Without: the existing key
 * file is kept, or a new key is made.
 */
export async function planTenantKey(
  keyFile: string,
  recoveryKit?: { text: string; passphrase: string },
): Promise<TenantKeyPlan> {
  const existing = existsSync(keyFile) ? readRootKey(keyFile) : undefined;
  if (recoveryKit) {
    const root = await importRecoveryKit(recoveryKit.text, recoveryKit.passphrase);
    const keyId = rootKeyId(root);
    if (existing) {
      if (!existing.equals(root)) {
        throw new KeyFileError(
          `tenant key file ${keyFile} holds key ${rootKeyId(existing)}, but the recovery kit holds key ${keyId}: ` +
            'refusing to replace it (backups sealed with it would become unreadable); move the file away first if it is wrong',
        );
      }
      return { action: 'keep', keyId };
    }
    return { action: 'import', root, keyId };
  }
  if (existing) return { action: 'keep', keyId: rootKeyId(existing) };
  const root = generateRootKey();
  return { action: 'create', root, keyId: rootKeyId(root) };
}

export function applyTenantKeyPlan(keyFile: string, plan: TenantKeyPlan): void {
  if (plan.action !== 'keep') writeRootKey(keyFile, plan.root);
}

/** Writes a recovery kit of the key in `keyFile` to `out` (mode 0600, never over an existing file). */
export async function writeRecoveryKit(keyFile: string, out: string, passphrase: string): Promise<string> {
  const root = readRootKey(keyFile);
  const kit = await exportRecoveryKit(root, passphrase);
  mkdirSync(dirname(out), { recursive: true });
  try {
    writeFileSync(out, kit, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') {
      throw new KeyFileError(`${out} already exists: choose another file for the recovery kit`);
    }
    throw error;
  }
  return rootKeyId(root);
}
