import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';
import { assertRootKey, KEY_ID_BYTES, ROOT_KEY_BYTES, rootKeyId } from '../keys/tenant-keys.js';
import { RecoveryKitError, RecoveryKitErrorCode } from './recovery-kit.error.js';

/*
 * A recovery kit is the tenant root key encrypted under a passphrase, as JSON that can be printed,
 * stored in a password manager or typed back in:
 *
 *   { "format": "mlr-recovery-kit", "version": 1, "keyId": "<16 hex>",
 *     "kdf":    { "name": "scrypt", "N": 131072, "r": 8, "p": 1, "salt": "<base64, 16 bytes>" },
 *     "cipher": { "name": "aes-256-gcm", "nonce": "<base64, 12>", "ciphertext": "<base64, 32>", "tag": "<base64, 16>" },
 *     "checksum": "<16 hex>" }
 *
 * The AES key is scrypt(NFC(passphrase), salt, N, r, p); the GCM AAD binds format, version, key id
 * and KDF parameters. The checksum (SHA-256 over all other fields, truncated) is not a secret: it
 * tells a damaged kit (checksum fails) from a wrong passphrase (checksum holds, GCM fails).
 */

export const RECOVERY_KIT_FORMAT = 'mlr-recovery-kit';
export const RECOVERY_KIT_VERSION = 1;
export const MIN_PASSPHRASE_CHARACTERS = 12;
/** scrypt cost: N = 2^17, r = 8, p = 1 (128 MiB, a few hundred milliseconds), above the 2^15 floor. */
export const SCRYPT_PARAMS = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
const SCRYPT_MIN_N = 2 ** 15;
const SCRYPT_MAX_N = 2 ** 20;
/** Refuse kits that would make scrypt take more than 1 GiB: a damaged or hostile kit must not exhaust memory. */
const SCRYPT_MAX_MEMORY = 1024 * 1024 * 1024;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function base64Of(bytes: number) {
  return z
    .string()
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
    .transform((value) => Buffer.from(value, 'base64'))
    .refine((value) => value.length === bytes, `must hold ${bytes} bytes`);
}

const kitSchema = z.strictObject({
  format: z.literal(RECOVERY_KIT_FORMAT),
  version: z.number().int(),
  keyId: z.string().regex(new RegExp(`^[0-9a-f]{${KEY_ID_BYTES * 2}}$`), 'must be 16 lower-case hex characters'),
  kdf: z
    .strictObject({
      name: z.literal('scrypt'),
      N: z
        .number()
        .int()
        .min(SCRYPT_MIN_N)
        .max(SCRYPT_MAX_N)
        .refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
      r: z.number().int().min(8).max(32),
      p: z.number().int().min(1).max(16),
      salt: base64Of(SALT_BYTES),
    })
    .refine((kdf) => scryptMemory(kdf) <= SCRYPT_MAX_MEMORY, 'asks scrypt for more than 1 GiB of memory'),
  cipher: z.strictObject({
    name: z.literal('aes-256-gcm'),
    nonce: base64Of(NONCE_BYTES),
    ciphertext: base64Of(ROOT_KEY_BYTES),
    tag: base64Of(TAG_BYTES),
  }),
  checksum: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex characters'),
});

type ParsedKit = z.output<typeof kitSchema>;
type KitFields = Omit<ParsedKit, 'checksum'>;

function scryptMemory(params: { N: number; r: number; p: number }): number {
  return 128 * params.N * params.r * params.p;
}

function normalisePassphrase(passphrase: string): string {
  if (typeof passphrase !== 'string') throw new TypeError('passphrase must be a string');
  return passphrase.normalize('NFC');
}

function characterCount(text: string): number {
  return [...text].length;
}

function aad(kit: KitFields): Buffer {
  const { N, r, p, salt } = kit.kdf;
  return Buffer.from(
    JSON.stringify([kit.format, kit.version, kit.keyId, kit.kdf.name, N, r, p, salt.toString('base64')]),
    'utf8',
  );
}

function checksumOf(kit: KitFields): string {
  const { nonce, ciphertext, tag } = kit.cipher;
  const fields = JSON.stringify([
    aad(kit).toString('utf8'),
    kit.cipher.name,
    nonce.toString('base64'),
    ciphertext.toString('base64'),
    tag.toString('base64'),
  ]);
  return createHash('sha256').update(fields).digest().subarray(0, 8).toString('hex');
}

function deriveKitKey(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: scryptMemory(params) * 2 };
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, 32, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/**
 * Encrypts a tenant root key under a passphrase (at least 12 characters; compared after Unicode
 * NFC normalisation, so the same passphrase typed on another system still opens the kit).
 */
export async function exportRecoveryKit(root: Uint8Array, passphrase: string): Promise<string> {
  assertRootKey(root);
  const normalised = normalisePassphrase(passphrase);
  if (characterCount(normalised) < MIN_PASSPHRASE_CHARACTERS) {
    throw new RecoveryKitError(
      RecoveryKitErrorCode.WeakPassphrase,
      `passphrase has ${characterCount(normalised)} characters; at least ${MIN_PASSPHRASE_CHARACTERS} are required`,
    );
  }
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const fields: KitFields = {
    format: RECOVERY_KIT_FORMAT,
    version: RECOVERY_KIT_VERSION,
    keyId: rootKeyId(root),
    kdf: { name: 'scrypt', ...SCRYPT_PARAMS, salt },
    cipher: { name: 'aes-256-gcm', nonce, ciphertext: Buffer.alloc(0), tag: Buffer.alloc(0) },
  };
  const key = await deriveKitKey(normalised, salt, SCRYPT_PARAMS);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(fields));
  fields.cipher.ciphertext = Buffer.concat([cipher.update(root), cipher.final()]);
  fields.cipher.tag = cipher.getAuthTag();
  key.fill(0);
  const kit = {
    format: fields.format,
    version: fields.version,
    keyId: fields.keyId,
    kdf: { ...fields.kdf, salt: salt.toString('base64') },
    cipher: {
      name: fields.cipher.name,
      nonce: nonce.toString('base64'),
      ciphertext: fields.cipher.ciphertext.toString('base64'),
      tag: fields.cipher.tag.toString('base64'),
    },
    checksum: checksumOf(fields),
  };
  return `${JSON.stringify(kit, null, 2)}\n`;
}

function damaged(message: string, cause?: unknown): RecoveryKitError {
  return new RecoveryKitError(RecoveryKitErrorCode.Damaged, message, { cause });
}

function parseKit(text: string): ParsedKit {
  if (typeof text !== 'string') throw new TypeError('recovery kit must be a string');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw damaged(`not valid JSON (${(error as Error).message}): the kit was cut off or altered`, error);
  }
  if (typeof json !== 'object' || json === null || (json as { format?: unknown }).format !== RECOVERY_KIT_FORMAT) {
    throw damaged(`not an MLR recovery kit (no "format": "${RECOVERY_KIT_FORMAT}")`);
  }
  const version = (json as { version?: unknown }).version;
  if (typeof version === 'number' && version !== RECOVERY_KIT_VERSION) {
    throw new RecoveryKitError(
      RecoveryKitErrorCode.UnsupportedVersion,
      `kit version ${version} is not supported (this code reads version ${RECOVERY_KIT_VERSION})`,
    );
  }
  const result = kitSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(kit)'}: ${issue.message}`);
    throw damaged(`invalid fields: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Recovers the tenant root key from a kit; tells a wrong passphrase from a damaged kit. */
export async function importRecoveryKit(kit: string, passphrase: string): Promise<Buffer> {
  const parsed = parseKit(kit);
  if (checksumOf(parsed) !== parsed.checksum) {
    throw damaged('checksum does not match: the kit was altered or mistyped');
  }
  const normalised = normalisePassphrase(passphrase);
  if (characterCount(normalised) < MIN_PASSPHRASE_CHARACTERS) {
    throw new RecoveryKitError(
      RecoveryKitErrorCode.WrongPassphrase,
      `wrong passphrase: it has ${characterCount(normalised)} characters, and kit passphrases have at least ${MIN_PASSPHRASE_CHARACTERS}`,
    );
  }
  const { salt, N, r, p } = parsed.kdf;
  const key = await deriveKitKey(normalised, salt, { N, r, p });
  const decipher = createDecipheriv('aes-256-gcm', key, parsed.cipher.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(parsed));
  decipher.setAuthTag(parsed.cipher.tag);
  let root: Buffer;
  try {
    root = Buffer.concat([decipher.update(parsed.cipher.ciphertext), decipher.final()]);
  } catch {
    throw new RecoveryKitError(
      RecoveryKitErrorCode.WrongPassphrase,
      'wrong passphrase: the kit is intact but does not open',
    );
  } finally {
    key.fill(0);
  }
  if (rootKeyId(root) !== parsed.keyId) {
    throw damaged(`kit names key ${parsed.keyId} but holds key ${rootKeyId(root)}`);
  }
  return root;
}
