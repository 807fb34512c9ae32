import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { deriveTenantKeys, generateRootKey, type TenantKeys } from '@mlr/crypto';

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

const ROOT_KEY_BYTES = 32;

/**
 * The tenant's root key, kept on the customer's side only: a file readable by the connector alone.
 * Losing it (and its recovery kit) makes the backups unreadable: nobody, not the MSP and not the
 * vendor, can decrypt them.
 */
export function loadTenantKeys(path: string): TenantKeys {
  if (!existsSync(path)) {
    throw new KeyFileError(
      `tenant key file ${path} does not exist: create it with "connector init-key" (or restore it from the recovery kit)`,
    );
  }
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new KeyFileError(`tenant key file ${path} is damaged: expected ${ROOT_KEY_BYTES} bytes as 64 hex characters`);
  }
  return deriveTenantKeys(Buffer.from(hex, 'hex'));
}

/** Creates a new root key file (mode 0600); refuses to overwrite an existing key. */
export function createTenantKeyFile(path: string): TenantKeys {
  if (existsSync(path)) {
    throw new KeyFileError(
      `tenant key file ${path} already exists: refusing to replace it (backups sealed with it would become unreadable)`,
    );
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const root = generateRootKey();
  writeFileSync(path, `${root.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return deriveTenantKeys(root);
}
