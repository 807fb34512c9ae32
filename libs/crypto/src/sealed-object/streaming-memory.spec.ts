import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { corpusText, pseudoRandom, repeatToLength } from '../__tests__/fixtures.js';
import { contentIdOfStream } from '../keys/content-id.js';
import { deriveTenantKeys, generateRootKey } from '../keys/tenant-keys.js';
import { createOpenStream } from './open.js';
import { createSealStream } from './seal.js';

const MESSAGE_BYTES = 50 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/**
 * A 50 MiB message that never exists in memory as a whole: mail text with pseudo-random
 * "attachment" stretches, produced chunk by chunk (the same bytes on every run).
 */
function largeMessage(): Readable {
  const text = repeatToLength(corpusText(), 1024 * 1024);
  const noise = pseudoRandom(CHUNK_BYTES, 'attachment');
  return Readable.from(
    (function* () {
      for (let offset = 0, i = 0; offset < MESSAGE_BYTES; offset += CHUNK_BYTES, i++) {
        const length = Math.min(CHUNK_BYTES, MESSAGE_BYTES - offset);
        if (i % 4 === 3) {
          yield Buffer.from(noise.subarray(0, length));
        } else {
          const start = (i * 7919) % (text.length - CHUNK_BYTES);
          yield Buffer.from(text.subarray(start, start + length));
        }
      }
    })(),
  );
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Memory still reachable: what the pipeline holds on to, not garbage waiting for collection. */
function retainedMemory(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

describe('streaming a 50 MiB message', () => {
  it('round-trips through seal and open streams without holding the message', { timeout: 120_000 }, async () => {
    const keys = deriveTenantKeys(generateRootKey());
    const expectedHash = createHash('sha256');
    for await (const chunk of largeMessage()) expectedHash.update(chunk as Buffer);
    // First pass: the per-object key depends on the content id, so it is computed before sealing.
    const id = await contentIdOfStream(keys, largeMessage());

    const baseline = retainedMemory();
    let peak = 0;
    const seal = createSealStream(keys, { contentId: id });
    const open = createOpenStream(keys, { expectedContentId: id });
    const actualHash = createHash('sha256');
    let plainBytes = 0;
    await pipeline(
      largeMessage(),
      seal,
      open,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          plainBytes += chunk.length;
          actualHash.update(chunk);
          // After each chunk (the open stream passes on 1 MiB frames): what every stage holds then.
          peak = Math.max(peak, retainedMemory() - baseline);
          done();
        },
      }),
    );

    expect(plainBytes).toBe(MESSAGE_BYTES);
    expect(seal.plainSize).toBe(MESSAGE_BYTES);
    expect(actualHash.digest('hex')).toBe(expectedHash.digest('hex'));
    expect(seal.sealedSize).toBeLessThan(MESSAGE_BYTES / 2);
    // Bounded: about a 1 MiB frame and a few 64 KiB segments per stage plus stream buffers (5-10 MiB
    // measured), never the message.
    expect(peak).toBeLessThan(32 * 1024 * 1024);
  });
});
