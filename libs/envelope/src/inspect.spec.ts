import { describe, expect, it } from 'vitest';
import { checkEnvelope, EnvelopeError, EnvelopeWalker, inspectEnvelope } from './inspect.js';
import { DESCRIPTOR_BYTES, FINAL_SEGMENT_BIT, HEADER_BYTES, HEADER_OFFSET, MAGIC, TAG_BYTES } from './layout.js';

const KEY_ID = '0123456789abcdef';
const CONTENT_ID = 'ab'.repeat(32);

/** A sealed object's shape with `lengths` as its segments' plaintext lengths (contents are zeros). */
function envelope(lengths: number[], segmentSize = 1024): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[HEADER_OFFSET.version] = 1;
  header[HEADER_OFFSET.aead] = 1;
  header[HEADER_OFFSET.compression] = 1;
  header.writeUInt32BE(segmentSize, HEADER_OFFSET.segmentSize);
  Buffer.from(KEY_ID, 'hex').copy(header, HEADER_OFFSET.keyId);
  Buffer.from(CONTENT_ID, 'hex').copy(header, HEADER_OFFSET.contentId);
  const segments = lengths.map((length, index) => {
    const segment = Buffer.alloc(DESCRIPTOR_BYTES + length + TAG_BYTES);
    segment.writeUInt32BE((index === lengths.length - 1 ? FINAL_SEGMENT_BIT : 0) + length, 0);
    return segment;
  });
  return Buffer.concat([header, ...segments]);
}

describe('inspectEnvelope', () => {
  it('finds the end of an object among other bytes, and reads its ids', () => {
    const object = envelope([1024, 1024, 17]);
    const packed = Buffer.concat([Buffer.from('before'), object, Buffer.from('after')]);
    expect(inspectEnvelope(packed, 6)).toEqual({
      keyId: KEY_ID,
      contentId: CONTENT_ID,
      segmentSize: 1024,
      segments: 3,
      sealedSize: object.length,
    });
  });

  it('takes an empty final segment', () => {
    expect(inspectEnvelope(envelope([1024, 0])).segments).toBe(2);
  });

  it.each([
    ['bad magic', (b: Buffer) => b.write('XXXX', 0, 'latin1'), /bad magic/],
    ['another version', (b: Buffer) => (b[HEADER_OFFSET.version] = 2), /format version 2/],
    ['reserved flags', (b: Buffer) => (b[HEADER_OFFSET.flags] = 1), /reserved flags/],
    ['a tiny segment size', (b: Buffer) => b.writeUInt32BE(16, HEADER_OFFSET.segmentSize), /segment size 16/],
    ['a short middle segment', (b: Buffer) => b.writeUInt32BE(1000, HEADER_BYTES), /segment 0 claims 1000 bytes/],
  ])('refuses %s', (_what, damage, reason) => {
    const bytes = envelope([1024, 10]);
    damage(bytes);
    expect(() => inspectEnvelope(bytes)).toThrow(reason);
  });

  it('refuses an object without its final segment or cut inside one', () => {
    const whole = envelope([1024, 10]);
    expect(() => inspectEnvelope(whole.subarray(0, HEADER_BYTES + DESCRIPTOR_BYTES + 1024 + TAG_BYTES))).toThrow(
      /without its final segment/,
    );
    expect(() => inspectEnvelope(whole.subarray(0, whole.length - 1))).toThrow(/runs 1 bytes past the end/);
    expect(() => inspectEnvelope(whole.subarray(0, 20))).toThrow(EnvelopeError);
  });
});

describe('checkEnvelope', () => {
  it('accepts exactly one object of the expected ids', () => {
    expect(checkEnvelope(envelope([5]), { contentId: CONTENT_ID, keyId: KEY_ID }).segments).toBe(1);
  });

  it('refuses trailing bytes and other ids, saying which', () => {
    const object = envelope([5]);
    expect(() =>
      checkEnvelope(Buffer.concat([object, Buffer.alloc(3)]), { contentId: CONTENT_ID, keyId: KEY_ID }),
    ).toThrow(/3 bytes after its final segment/);
    expect(() => checkEnvelope(object, { contentId: 'cd'.repeat(32), keyId: KEY_ID })).toThrow(/names content id ab/);
    expect(() => checkEnvelope(object, { contentId: CONTENT_ID, keyId: 'fedcba9876543210' })).toThrow(/names key id/);
  });
});

describe('EnvelopeWalker', () => {
  it('walks an object given in pieces of any size, and says where it ends', () => {
    const object = envelope([1024, 1024, 300]);
    const tail = Buffer.from('next object');
    const whole = Buffer.concat([object, tail]);
    for (const size of [1, 3, 75, 1000, whole.length]) {
      const walker = new EnvelopeWalker();
      let taken = 0;
      for (let at = 0; at < whole.length; at += size) taken += walker.push(whole.subarray(at, at + size));
      expect(taken).toBe(object.length);
      expect(walker.finish()).toMatchObject({ segments: 3, sealedSize: object.length, contentId: CONTENT_ID });
    }
  });

  it('says what is missing when the pieces end early', () => {
    const walker = new EnvelopeWalker();
    walker.push(envelope([1024, 10]).subarray(0, 100));
    expect(() => walker.finish()).toThrow(/runs \d+ bytes past the end/);
  });
});
