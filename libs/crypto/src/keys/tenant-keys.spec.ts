import { createHmac, hkdfSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { corpusText } from '../__tests__/fixtures.js';
import { contentId, contentIdOfStream, createContentIdHasher, isContentId } from './content-id.js';
import { deriveTenantKeys, generateRootKey, rootKeyId } from './tenant-keys.js';

describe('tenant keys', () => {
  it('derives the same keys from the same root, other keys from another root', () => {
    const root = generateRootKey();
    expect(root).toHaveLength(32);
    const a = deriveTenantKeys(root);
    const b = deriveTenantKeys(Buffer.from(root));
    const other = deriveTenantKeys(generateRootKey());
    expect(a.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.keyId).toBe(b.keyId);
    expect(a.keyId).toBe(rootKeyId(root));
    expect(other.keyId).not.toBe(a.keyId);
    expect(a.encKey.export().equals(b.encKey.export())).toBe(true);
    expect(a.encKey.export().equals(a.idKey.export())).toBe(false);
  });

  it('follows the documented derivation: K_id = HKDF-SHA256(K_root, "mlr/id/v1")', () => {
    const root = generateRootKey();
    const idKey = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), 'mlr/id/v1', 32));
    const encKey = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), 'mlr/enc/v1', 32));
    const keys = deriveTenantKeys(root);
    expect(keys.idKey.export().equals(idKey)).toBe(true);
    expect(keys.encKey.export().equals(encKey)).toBe(true);
    const message = Buffer.from('Subject: hi\r\n\r\nhello\r\n');
    expect(contentId(keys, message)).toBe(createHmac('sha256', idKey).update(message).digest('hex'));
  });

  it('never prints key material', () => {
    const root = generateRootKey();
    const keys = deriveTenantKeys(root);
    const printed = JSON.stringify(keys);
    expect(printed).toContain(keys.keyId);
    expect(printed).not.toContain(keys.idKey.export().toString('hex'));
    expect(printed).not.toContain(keys.idKey.export().toString('base64'));
  });

  it('refuses a root key that is not 32 bytes', () => {
    expect(() => deriveTenantKeys(Buffer.alloc(16))).toThrow(/32 bytes, got 16/);
    expect(() => deriveTenantKeys('x'.repeat(32) as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('content id', () => {
  const message = corpusText().subarray(0, 50_000);

  it('is the same for the same message and tenant, different for another tenant', () => {
    const root = generateRootKey();
    const tenant = deriveTenantKeys(root);
    const again = deriveTenantKeys(Buffer.from(root));
    const otherTenant = deriveTenantKeys(generateRootKey());
    const id = contentId(tenant, message);
    expect(isContentId(id)).toBe(true);
    expect(contentId(again, Buffer.from(message))).toBe(id);
    expect(contentId(otherTenant, message)).not.toBe(id);
    expect(contentId(tenant, message.subarray(1))).not.toBe(id);
  });

  it('computes the same id incrementally and from a stream', async () => {
    const keys = deriveTenantKeys(generateRootKey());
    const hasher = createContentIdHasher(keys);
    for (let offset = 0; offset < message.length; offset += 777) hasher.update(message.subarray(offset, offset + 777));
    expect(hasher.digest()).toBe(contentId(keys, message));
    const stream = Readable.from([message.subarray(0, 10), message.subarray(10)]);
    expect(await contentIdOfStream(keys, stream)).toBe(contentId(keys, message));
    expect(await contentIdOfStream(keys, [])).toBe(contentId(keys, new Uint8Array(0)));
  });
});
