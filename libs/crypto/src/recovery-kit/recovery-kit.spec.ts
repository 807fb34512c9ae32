import { describe, expect, it } from 'vitest';
import { generateRootKey, rootKeyId } from '../keys/tenant-keys.js';
import { RecoveryKitErrorCode } from './recovery-kit.error.js';
import { exportRecoveryKit, importRecoveryKit, SCRYPT_PARAMS } from './recovery-kit.js';

const passphrase = 'correct horse battery staple';

async function importError(kit: string, phrase = passphrase): Promise<{ code: string; message: string }> {
  const error: unknown = await importRecoveryKit(kit, phrase).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'import should have failed').toMatchObject({ name: 'RecoveryKitError' });
  return error as { code: string; message: string };
}

/** The fields of a kit the tests read or change. */
interface KitJson {
  version: number;
  keyId: string;
  kdf: { N: number; salt: string };
  cipher: { nonce: string; ciphertext: string; tag?: string };
}

function edit(kit: string, change: (json: KitJson) => void): string {
  const json = JSON.parse(kit) as KitJson;
  change(json);
  return JSON.stringify(json);
}

describe('recovery kit', { timeout: 60_000 }, () => {
  const root = generateRootKey();
  let kitPromise: Promise<string> | undefined;
  const kit = () => (kitPromise ??= exportRecoveryKit(root, passphrase));

  it('round-trips the root key and records what is needed to open it', async () => {
    const text = await kit();
    const json = JSON.parse(text) as KitJson;
    expect(json).toMatchObject({
      format: 'mlr-recovery-kit',
      version: 1,
      keyId: rootKeyId(root),
      kdf: { name: 'scrypt', N: 2 ** 17, r: 8, p: 1 },
      cipher: { name: 'aes-256-gcm' },
    });
    expect(SCRYPT_PARAMS.N).toBeGreaterThanOrEqual(2 ** 15);
    expect(Buffer.from(json.kdf.salt, 'base64')).toHaveLength(16);
    expect(text).not.toContain(root.toString('hex'));
    expect(text).not.toContain(root.toString('base64'));
    expect((await importRecoveryKit(text, passphrase)).equals(root)).toBe(true);
    // Reformatted (e.g. pasted through an editor) still opens.
    expect((await importRecoveryKit(JSON.stringify(json), passphrase)).equals(root)).toBe(true);
  });

  it('treats the passphrase as text, whatever its Unicode normal form', async () => {
    const accented = 'Grüße aus Köln, Zürich!';
    const text = await exportRecoveryKit(root, accented.normalize('NFD'));
    expect((await importRecoveryKit(text, accented.normalize('NFC'))).equals(root)).toBe(true);
  });

  it('says so when the passphrase is wrong', async () => {
    const error = await importError(await kit(), 'correct horse battery stapler');
    expect(error.code).toBe(RecoveryKitErrorCode.WrongPassphrase);
    expect(error.message).toMatch(/wrong passphrase: the kit is intact/);
    expect((await importError(await kit(), 'short')).code).toBe(RecoveryKitErrorCode.WrongPassphrase);
  });

  it('says so when the kit is damaged, before trying the passphrase', async () => {
    const text = await kit();
    const json = JSON.parse(text) as KitJson;
    const ciphertext = Buffer.from(json.cipher.ciphertext, 'base64');
    ciphertext[0] = ciphertext[0]! ^ 1;
    const cases: Array<[string, string, RegExp]> = [
      ['cut off', text.slice(0, text.length / 2), /not valid JSON/],
      ['ciphertext altered', edit(text, (j) => (j.cipher.ciphertext = ciphertext.toString('base64'))), /checksum/],
      ['salt altered', edit(text, (j) => (j.kdf.salt = Buffer.alloc(16, 1).toString('base64'))), /checksum/],
      ['key id altered', edit(text, (j) => (j.keyId = '0'.repeat(16))), /checksum/],
      ['field missing', edit(text, (j) => delete j.cipher.tag), /cipher\.tag/],
      ['not base64', edit(text, (j) => (j.cipher.nonce = '!!!')), /cipher\.nonce: must be base64/],
      ['weak scrypt', edit(text, (j) => (j.kdf.N = 1024)), /kdf\.N/],
      ['greedy scrypt', edit(text, (j) => (j.kdf.N = 2 ** 30)), /kdf\.N/],
      ['another document', JSON.stringify({ hello: 'world' }), /not an MLR recovery kit/],
    ];
    for (const [what, damaged, message] of cases) {
      const error = await importError(damaged);
      expect(error.code, what).toBe(RecoveryKitErrorCode.Damaged);
      expect(error.message, what).toMatch(message);
    }
  });

  it('refuses kits of a newer version', async () => {
    const error = await importError(edit(await kit(), (j) => (j.version = 2)));
    expect(error.code).toBe(RecoveryKitErrorCode.UnsupportedVersion);
  });

  it('refuses passphrases shorter than 12 characters', async () => {
    await expect(exportRecoveryKit(root, 'elevenchars')).rejects.toMatchObject({
      code: RecoveryKitErrorCode.WeakPassphrase,
      message: expect.stringMatching(/11 characters; at least 12/),
    });
    // Counted in characters, not bytes or UTF-16 units.
    await expect(exportRecoveryKit(root, '🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑')).rejects.toMatchObject({
      code: RecoveryKitErrorCode.WeakPassphrase,
    });
  });
});
