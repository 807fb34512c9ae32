import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { corpusFiles, corpusText, pseudoRandom } from '../__tests__/fixtures.js';
import { flipByte, HEADER_BYTES, joinSealed, splitSealed } from '../__tests__/sealed-layout.js';
import { contentId } from '../keys/content-id.js';
import { deriveTenantKeys, generateRootKey, type TenantKeys } from '../keys/tenant-keys.js';
import { createOpenStream, openSealedObject, type OpenOptions } from './open.js';
import { createSealStream, sealMessage } from './seal.js';
import { SealedObjectError, SealedObjectErrorCode } from './sealed-object.error.js';
import { readSealedHeader } from './header.js';
import { checkEnvelope } from '@mlr/envelope';

const tenantRoot = generateRootKey();
const tenant = deriveTenantKeys(tenantRoot);
const otherTenant = deriveTenantKeys(generateRootKey());

async function openError(
  sealed: Buffer,
  keys: TenantKeys | readonly TenantKeys[] = tenant,
  options?: OpenOptions,
): Promise<SealedObjectError> {
  const error: unknown = await openSealedObject(keys, sealed, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'opening should have failed').toBeInstanceOf(SealedObjectError);
  return error as SealedObjectError;
}

async function expectCode(sealed: Buffer, code: SealedObjectErrorCode, options?: OpenOptions): Promise<string> {
  const error = await openError(sealed, tenant, options);
  expect(error.code).toBe(code);
  return error.message;
}

function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) out.push(bytes.subarray(offset, offset + size));
  return out;
}

describe('sealMessage / openSealedObject', () => {
  it.each([0, 1, 65_535, 65_536, 65_537, 5 * 1024 * 1024])('round-trips %i random bytes', async (size) => {
    const raw = randomBytes(size);
    const result = await sealMessage(tenant, raw);
    expect(result.contentId).toBe(contentId(tenant, raw));
    expect(result.keyId).toBe(tenant.keyId);
    expect(result.plainSize).toBe(size);
    expect(result.sealedSize).toBe(result.sealed.length);
    const opened = await openSealedObject(tenant, result.sealed, { expectedContentId: result.contentId });
    expect(opened.equals(raw)).toBe(true);
  });

  it('round-trips every message of the cpython test_email corpus, and compresses them', async () => {
    const files = corpusFiles('cpython-test_email');
    expect(files.length).toBeGreaterThan(40);
    for (const file of files) {
      const raw = readFileSync(file);
      const { sealed, contentId: id } = await sealMessage(tenant, raw);
      expect((await openSealedObject(tenant, sealed, { expectedContentId: id })).equals(raw), file).toBe(true);
    }
    const text = corpusText();
    const { sealedSize } = await sealMessage(tenant, text);
    expect(sealedSize).toBeLessThan(text.length / 2);
  });

  it('round-trips the whole shared corpus', async () => {
    for (const file of corpusFiles()) {
      const raw = readFileSync(file);
      const { sealed } = await sealMessage(tenant, raw, { compressionLevel: 1 });
      expect((await openSealedObject(tenant, sealed)).equals(raw), file).toBe(true);
    }
  });

  it('gives the same content id for the same message and tenant, but never the same bytes', async () => {
    const raw = corpusText().subarray(0, 20_000);
    const first = await sealMessage(tenant, raw);
    const again = await sealMessage(deriveTenantKeys(Buffer.from(tenantRoot)), raw);
    expect(again.contentId).toBe(first.contentId);
    expect(again.sealed.equals(first.sealed)).toBe(false);
    expect((await openSealedObject(tenant, again.sealed)).equals(raw)).toBe(true);
    const other = await sealMessage(otherTenant, raw);
    expect(other.contentId).not.toBe(first.contentId);
  });

  it('accepts a content id computed beforehand and refuses a wrong one', async () => {
    const raw = Buffer.from('Subject: a\r\n\r\nbody\r\n');
    const id = contentId(tenant, raw);
    expect((await sealMessage(tenant, raw, { contentId: id })).contentId).toBe(id);
    const wrong = contentId(tenant, Buffer.from('another message'));
    await expect(sealMessage(tenant, raw, { contentId: wrong })).rejects.toMatchObject({
      code: SealedObjectErrorCode.ContentIdMismatch,
    });
    await expect(sealMessage(tenant, raw, { contentId: 'ABC' })).rejects.toThrow(/64 lower-case hex/);
  });

  it('takes a compression level and refuses levels out of range', async () => {
    const raw = corpusText();
    const fast = await sealMessage(tenant, raw, { compressionLevel: 1 });
    const strong = await sealMessage(tenant, raw, { compressionLevel: 19 });
    expect(strong.sealedSize).toBeLessThan(fast.sealedSize);
    expect((await openSealedObject(tenant, strong.sealed)).equals(raw)).toBe(true);
    await expect(sealMessage(tenant, raw, { compressionLevel: 0 })).rejects.toThrow(RangeError);
    await expect(sealMessage(tenant, raw, { compressionLevel: 2.5 })).rejects.toThrow(/integer from 1 to 19/);
  });

  it('names the key and the message in a header anyone can read', async () => {
    const { sealed, contentId: id } = await sealMessage(tenant, Buffer.from('x'));
    expect(readSealedHeader(sealed)).toEqual({
      formatVersion: 1,
      keyId: tenant.keyId,
      contentId: id,
      segmentSize: 65_536,
    });
  });

  it('opens objects of rotated keys from a key ring', async () => {
    const raw = Buffer.from('old mail');
    const { sealed } = await sealMessage(otherTenant, raw);
    expect((await openSealedObject([tenant, otherTenant], sealed)).equals(raw)).toBe(true);
  });
});

describe('tampering is detected with the right code', () => {
  // Incompressible, so it spans four segments: 3 × 64 KiB + the rest.
  const raw = pseudoRandom(200_000, 'tamper');
  let sealedPromise: Promise<Buffer> | undefined;
  const sealed = () => (sealedPromise ??= sealMessage(tenant, raw).then((r) => r.sealed));

  it('has four segments to play with', async () => {
    const parts = splitSealed(await sealed());
    expect(parts.segments).toHaveLength(4);
    expect(joinSealed(parts).equals(await sealed())).toBe(true);
  });

  it('header: every byte flipped is refused, each with its own code', async () => {
    const object = await sealed();
    const expected = (offset: number): SealedObjectErrorCode => {
      if (offset < 4) return SealedObjectErrorCode.BadMagic;
      if (offset === 4) return SealedObjectErrorCode.UnsupportedVersion;
      if (offset === 5 || offset === 6) return SealedObjectErrorCode.UnsupportedAlgorithm;
      // the segment size becomes 16 MiB + 64 KiB (offset 8) or 0 (offset 9): out of range
      if (offset >= 7 && offset <= 9) return SealedObjectErrorCode.MalformedHeader;
      if (offset >= 12 && offset < 20) return SealedObjectErrorCode.KeyIdMismatch;
      // segment size, content id, key salt, nonce prefix: authentication fails
      return SealedObjectErrorCode.Tampered;
    };
    for (let offset = 0; offset < HEADER_BYTES; offset++) {
      const error = await openError(flipByte(object, offset));
      expect(error.code, `header byte ${offset}`).toBe(expected(offset));
    }
    expect(await expectCode(flipByte(object, 0), SealedObjectErrorCode.BadMagic)).toMatch(/not an MLR sealed object/);
    expect(await expectCode(flipByte(object, 4), SealedObjectErrorCode.UnsupportedVersion)).toMatch(
      /format version 0 is not supported/,
    );
  });

  it('header: a changed content id is refused before decryption when the caller expects one', async () => {
    const { contentId: id } = await sealMessage(tenant, raw);
    const message = await expectCode(flipByte(await sealed(), 30), SealedObjectErrorCode.ContentIdMismatch, {
      expectedContentId: id,
    });
    expect(message).toContain(id);
  });

  it('a byte flipped in a segment, its tag or its descriptor', async () => {
    const object = await sealed();
    const parts = splitSealed(object);
    const secondSegment = HEADER_BYTES + parts.segments[0]!.length;
    expect(await expectCode(flipByte(object, secondSegment + 100), SealedObjectErrorCode.Tampered)).toMatch(
      /segment 1 failed authentication/,
    );
    expect(await expectCode(flipByte(object, object.length - 1), SealedObjectErrorCode.Tampered)).toMatch(
      /segment 3 failed authentication/,
    );
    await expectCode(flipByte(object, secondSegment, 0x80), SealedObjectErrorCode.Tampered);
    await expectCode(flipByte(object, secondSegment + 3), SealedObjectErrorCode.Tampered);
  });

  it('any single byte flipped anywhere is refused', async () => {
    const small = (await sealMessage(tenant, corpusText().subarray(0, 3000))).sealed;
    for (let offset = 0; offset < small.length; offset++) {
      await openError(flipByte(small, offset));
    }
    const object = await sealed();
    for (let offset = 0; offset < object.length; offset += 997) {
      await openError(flipByte(object, offset, 0x40));
    }
  });

  it('two segments swapped', async () => {
    const parts = splitSealed(await sealed());
    const [s0, s1, s2, s3] = parts.segments as [Buffer, Buffer, Buffer, Buffer];
    const swapped = joinSealed({ header: parts.header, segments: [s0, s2, s1, s3] });
    expect(await expectCode(swapped, SealedObjectErrorCode.Tampered)).toMatch(
      /segment 2 found at position 1: segments were reordered/,
    );
    const finalMoved = joinSealed({ header: parts.header, segments: [s0, s1, s3, s2] });
    await expectCode(finalMoved, SealedObjectErrorCode.Tampered);
  });

  it('the final segment dropped, or the object cut anywhere', async () => {
    const object = await sealed();
    const parts = splitSealed(object);
    const dropped = joinSealed({ header: parts.header, segments: parts.segments.slice(0, 3) });
    expect(await expectCode(dropped, SealedObjectErrorCode.Truncated)).toMatch(
      /ends after segment 2 without its final segment/,
    );
    await expectCode(object.subarray(0, object.length - 1), SealedObjectErrorCode.Truncated);
    await expectCode(object.subarray(0, HEADER_BYTES + 2), SealedObjectErrorCode.Truncated);
    await expectCode(object.subarray(0, HEADER_BYTES), SealedObjectErrorCode.Truncated);
    expect(await expectCode(object.subarray(0, 30), SealedObjectErrorCode.Truncated)).toMatch(/shorter than its/);
    await expectCode(Buffer.alloc(0), SealedObjectErrorCode.Truncated);
  });

  it('a segment or bytes appended', async () => {
    const object = await sealed();
    const parts = splitSealed(object);
    const extended = joinSealed({ header: parts.header, segments: [...parts.segments, parts.segments[1]!] });
    expect(await expectCode(extended, SealedObjectErrorCode.TrailingData)).toMatch(/follow the final segment/);
    await expectCode(Buffer.concat([object, Buffer.from([0])]), SealedObjectErrorCode.TrailingData);
    await expectCode(Buffer.concat([object, object]), SealedObjectErrorCode.TrailingData);
  });

  it("another tenant's key", async () => {
    const error = await openError(await sealed(), otherTenant);
    expect(error.code).toBe(SealedObjectErrorCode.KeyIdMismatch);
    expect(error.message).toContain(tenant.keyId);
    expect(error.message).toContain(otherTenant.keyId);
  });

  it("another tenant's object relabelled with this tenant's key id", async () => {
    const { sealed: foreign } = await sealMessage(otherTenant, raw);
    const relabelled = Buffer.from(foreign);
    Buffer.from(tenant.keyId, 'hex').copy(relabelled, 12);
    await expectCode(relabelled, SealedObjectErrorCode.Tampered);
  });

  it('a segment taken from another object of the same tenant', async () => {
    const parts = splitSealed(await sealed());
    const donor = splitSealed((await sealMessage(tenant, raw)).sealed);
    const mixed = joinSealed({
      header: parts.header,
      segments: [parts.segments[0]!, donor.segments[1]!, ...parts.segments.slice(2)],
    });
    await expectCode(mixed, SealedObjectErrorCode.Tampered);
  });

  it('another message than the one expected', async () => {
    const { contentId: otherId } = await sealMessage(tenant, Buffer.from('a different message'));
    const message = await expectCode(await sealed(), SealedObjectErrorCode.ContentIdMismatch, {
      expectedContentId: otherId,
    });
    expect(message).toMatch(/not the expected/);
  });

  it('something that is not a sealed object at all', async () => {
    await expectCode(Buffer.from('From: someone@example.com\r\n'), SealedObjectErrorCode.BadMagic);
  });
});

describe('streaming', () => {
  it('seals with a stream and opens in a buffer, and the other way round, in any chunking', async () => {
    const raw = Buffer.concat([corpusText(), pseudoRandom(300_000)]);
    const id = contentId(tenant, raw);
    for (const chunkSize of [1_000, 65_536, 1_000_000]) {
      const sealed = await collect(
        Readable.from(pieces(raw, chunkSize)).pipe(createSealStream(tenant, { contentId: id })),
      );
      expect((await openSealedObject(tenant, sealed, { expectedContentId: id })).equals(raw)).toBe(true);
      const opened = await collect(Readable.from(pieces(sealed, chunkSize + 7)).pipe(createOpenStream(tenant)));
      expect(opened.equals(raw)).toBe(true);
    }
  });

  it('opens a small object fed one byte at a time, including an empty message', async () => {
    for (const raw of [Buffer.alloc(0), Buffer.from('Subject: tiny\r\n\r\n.\r\n')]) {
      const { sealed } = await sealMessage(tenant, raw);
      const stream = createOpenStream(tenant);
      const opened = await collect(Readable.from(pieces(sealed, 1)).pipe(stream));
      expect(opened.equals(raw)).toBe(true);
      expect(stream.header?.keyId).toBe(tenant.keyId);
      expect(stream.plainSize).toBe(raw.length);
    }
  });

  it('seals an empty message through a stream', async () => {
    const id = contentId(tenant, Buffer.alloc(0));
    const sealed = await collect(Readable.from([]).pipe(createSealStream(tenant, { contentId: id })));
    expect(await openSealedObject(tenant, sealed, { expectedContentId: id })).toHaveLength(0);
  });

  it('reports sizes once sealed', async () => {
    const raw = corpusText();
    const stream = createSealStream(tenant, { contentId: contentId(tenant, raw) });
    const sealed = await collect(Readable.from(pieces(raw, 4096)).pipe(stream));
    expect(stream.plainSize).toBe(raw.length);
    expect(stream.sealedSize).toBe(sealed.length);
    expect(stream.keyId).toBe(tenant.keyId);
  });

  it('fails the seal stream at its end when the content id is wrong', async () => {
    const wrongId = contentId(tenant, Buffer.from('not this'));
    const failure = pipeline(
      Readable.from([Buffer.from('this')]),
      createSealStream(tenant, { contentId: wrongId }),
      async function* (source) {
        for await (const _chunk of source) yield* [];
      },
    );
    await expect(failure).rejects.toMatchObject({ code: SealedObjectErrorCode.ContentIdMismatch });
  });

  it('fails the open stream with the same codes as the buffer API', async () => {
    const { sealed } = await sealMessage(tenant, pseudoRandom(150_000));
    const parts = splitSealed(sealed);
    const drain = async (input: Buffer, keys: TenantKeys = tenant) =>
      pipeline(Readable.from(pieces(input, 10_000)), createOpenStream(keys), async function* (source) {
        for await (const _chunk of source) yield* [];
      });
    const truncated = joinSealed({ header: parts.header, segments: parts.segments.slice(0, -1) });
    await expect(drain(truncated)).rejects.toMatchObject({ code: SealedObjectErrorCode.Truncated });
    await expect(drain(Buffer.concat([sealed, Buffer.alloc(5)]))).rejects.toMatchObject({
      code: SealedObjectErrorCode.TrailingData,
    });
    await expect(drain(flipByte(sealed, 1000))).rejects.toMatchObject({ code: SealedObjectErrorCode.Tampered });
    await expect(drain(sealed, otherTenant)).rejects.toMatchObject({ code: SealedObjectErrorCode.KeyIdMismatch });
  });
});

describe('the public envelope of a sealed object', () => {
  it('is what @mlr/envelope reads without a key, for small and multi-segment messages', async () => {
    for (const size of [0, 1_000, 300_000]) {
      const raw = pseudoRandom(size, `envelope-${size}`);
      const sealed = await sealMessage(tenant, raw);
      const facts = checkEnvelope(sealed.sealed, { contentId: sealed.contentId, keyId: tenant.keyId });
      expect(facts.sealedSize).toBe(sealed.sealed.length);
    }
  });
});
