import { beforeAll, describe, expect, it, vi } from 'vitest';
import { corpusText, pseudoRandom, repeatToLength } from '../__tests__/fixtures.js';
import { SealedObjectErrorCode } from './sealed-object.error.js';
import { FRAME_CONTENT_BYTES, loadZstd, ZstdFrameDecoder, ZstdFrameEncoder } from './zstd.js';

beforeAll(() => loadZstd());

function encode(raw: Buffer, level = 3): Buffer {
  const encoder = new ZstdFrameEncoder(level);
  return Buffer.concat([...encoder.push(raw), ...encoder.finish()]);
}

function decodeInPieces(stream: Buffer, pieceSize: number): Buffer {
  const decoder = new ZstdFrameDecoder();
  const out: Buffer[] = [];
  for (let offset = 0; offset < stream.length; offset += pieceSize) {
    out.push(...decoder.push(stream.subarray(offset, offset + pieceSize)));
  }
  decoder.finish();
  return Buffer.concat(out);
}

describe('zstd frames', () => {
  const text = repeatToLength(corpusText(), 2_500_000);

  it('writes one frame per MiB and finds the frames again however the stream is cut', () => {
    // text (compressed blocks), random bytes (raw blocks), zeros (RLE blocks)
    const raw = Buffer.concat([text, pseudoRandom(FRAME_CONTENT_BYTES + 5), Buffer.alloc(300_000)]);
    const stream = encode(raw);
    for (const pieceSize of [1, 3, 4096, 65_536, stream.length]) {
      if (pieceSize === 1 && stream.length > 2_000_000) continue;
      expect(decodeInPieces(stream, pieceSize).equals(raw), `pieces of ${pieceSize}`).toBe(true);
    }
    expect(decodeInPieces(encode(text.subarray(0, 70_000)), 1).equals(text.subarray(0, 70_000))).toBe(true);
  });

  it('gives an empty message one empty frame, and a message of exactly one frame no extra frame', () => {
    const empty = encode(Buffer.alloc(0));
    expect(empty.length).toBeGreaterThan(0);
    expect(decodeInPieces(empty, 1)).toHaveLength(0);
    const exact = text.subarray(0, FRAME_CONTENT_BYTES);
    const encoder = new ZstdFrameEncoder(3);
    expect(encoder.push(exact)).toHaveLength(1);
    expect(encoder.finish()).toHaveLength(0);
  });

  it('skips skippable frames', () => {
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const raw = text.subarray(0, 1000);
    expect(decodeInPieces(Buffer.concat([skippable, encode(raw)]), 2).equals(raw)).toBe(true);
  });

  it('refuses streams it did not write: no content size, bad magic, cut short', () => {
    const noContentSize = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x48, 0x01, 0x00, 0x00]);
    expect(() => decodeInPieces(noContentSize, 100)).toThrow(
      expect.objectContaining({ code: SealedObjectErrorCode.CorruptPayload }),
    );
    expect(() => decodeInPieces(Buffer.from('not zstd at all'), 100)).toThrow(/bad frame magic/);
    const cut = encode(text.subarray(0, 5000));
    expect(() => decodeInPieces(cut.subarray(0, cut.length - 1), 100)).toThrow(/ends inside a frame/);
  });
});

describe('zstd loaded twice in one process', () => {
  it('keeps working: two copies of this module (a test runner loads one per file) share one WebAssembly instance', async () => {
    const first = await import('./zstd.js');
    // A second copy of the module, as another test file of the same process gets it (the zstd
    // package itself stays loaded once, as Node caches it).
    vi.resetModules();
    const second = await import('./zstd.js');
    expect(second).not.toBe(first);
    await first.loadZstd();
    await second.loadZstd();
    // The WebAssembly instance a second `init` would start arrives after its promise resolved.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const raw = Buffer.from('a message that must survive both copies '.repeat(500));
    for (const [encoder, decoder] of [
      [first, second],
      [second, first],
    ] as const) {
      const frames = new encoder.ZstdFrameEncoder(3);
      const compressed = Buffer.concat([...frames.push(raw), ...frames.finish()]);
      const reader = new decoder.ZstdFrameDecoder();
      const out = Buffer.concat(reader.push(compressed));
      reader.finish();
      expect(out.equals(raw)).toBe(true);
    }
  });
});
