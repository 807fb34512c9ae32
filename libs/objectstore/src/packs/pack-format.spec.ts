import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkPackHeader,
  decodePackFooter,
  decodePackTrailer,
  encodePack,
  PACK_HEADER_BYTES,
  PACK_TRAILER_BYTES,
  PackFormatError,
} from './pack-format.js';
import { packObjectKey, tenantPacksPrefix } from '../locators/pack-key.js';

const meta = {
  packId: '01900000-0000-7000-8000-000000000001',
  tenantId: 'acme',
  createdAt: '2026-12-06T10:00:00.000Z',
};
const member = (size: number) => ({
  contentId: randomBytes(32).toString('hex'),
  keyId: '0123456789abcdef',
  plainSize: size * 2,
  sealed: randomBytes(size),
});

function read(bytes: Buffer) {
  checkPackHeader(bytes.subarray(0, PACK_HEADER_BYTES));
  const trailer = decodePackTrailer(bytes.subarray(bytes.length - PACK_TRAILER_BYTES), bytes.length);
  return decodePackFooter(bytes.subarray(trailer.footerOffset, trailer.footerOffset + trailer.footerLength), trailer);
}

describe('pack format', () => {
  it('finds every member from the footer alone, byte for byte', () => {
    const members = [member(100), member(70_000), member(1)];
    const { bytes, footer } = encodePack(meta, members);
    expect(read(bytes)).toEqual(footer);
    for (const [index, entry] of footer.members.entries()) {
      expect(bytes.subarray(entry.offset, entry.offset + entry.length)).toEqual(members[index]!.sealed);
      expect(entry).toMatchObject({ contentId: members[index]!.contentId, plainSize: members[index]!.plainSize });
    }
    expect(footer.members[0]!.offset).toBe(PACK_HEADER_BYTES);
  });

  it('refuses an altered footer, a cut pack and bytes that are no pack', () => {
    const { bytes } = encodePack(meta, [member(10), member(20)]);
    const trailer = decodePackTrailer(bytes.subarray(bytes.length - PACK_TRAILER_BYTES), bytes.length);
    const altered = Buffer.from(bytes);
    altered.writeUInt8(altered.readUInt8(trailer.footerOffset + 5) ^ 1, trailer.footerOffset + 5);
    expect(() => read(altered)).toThrow(/does not match its checksum/);
    expect(() => read(bytes.subarray(0, bytes.length - 1))).toThrow(PackFormatError);
    expect(() => read(randomBytes(200))).toThrow(/not a pack/);
    expect(() => decodePackTrailer(bytes.subarray(bytes.length - PACK_TRAILER_BYTES), bytes.length + 1)).toThrow(
      /do not end the/,
    );
  });

  it('keys packs by tenant and month, and refuses ids that could escape the prefix', () => {
    expect(packObjectKey('acme', new Date('2026-02-03T00:00:00Z'), meta.packId)).toBe(
      `tenants/acme/packs/2026/02/${meta.packId}`,
    );
    expect(tenantPacksPrefix('acme')).toBe('tenants/acme/packs/');
    expect(() => packObjectKey('../x', new Date(), meta.packId)).toThrow(RangeError);
    expect(() => packObjectKey('acme', new Date(), 'a/b')).toThrow(RangeError);
  });
});
