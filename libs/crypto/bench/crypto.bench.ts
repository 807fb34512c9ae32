/**
 * Throughput of sealing and opening (zstd level 3 + AES-256-GCM), on one core:
 *   node --import @swc-node/register/esm-register libs/crypto/bench/crypto.bench.ts
 * Prints MB/s (10^6 bytes of message per second). Figures only: nothing here asserts a timing.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { corpusText, pseudoRandom, repeatToLength } from '../src/__tests__/fixtures.js';
import {
  contentId,
  createOpenStream,
  createSealStream,
  deriveTenantKeys,
  generateRootKey,
  openSealedObject,
  sealMessage,
  type TenantKeys,
} from '../src/index.js';

const keys = deriveTenantKeys(generateRootKey());
const MB = 1e6;

function report(what: string, bytes: number, started: number, extra = ''): void {
  const seconds = (performance.now() - started) / 1000;
  console.log(`${what.padEnd(44)} ${(bytes / MB / seconds).toFixed(1).padStart(8)} MB/s${extra}`);
}

/** `count` different 50 KiB messages cut from real mail text. */
function mailLikeMessages(count: number, size: number): Buffer[] {
  const text = repeatToLength(corpusText(), 4 * 1024 * 1024);
  return Array.from({ length: count }, (_, i) => {
    const start = (i * 104_729) % (text.length - size);
    return Buffer.from(text.subarray(start, start + size));
  });
}

async function benchSmall(): Promise<void> {
  const size = 50 * 1024;
  const messages = mailLikeMessages(1000, size);
  const total = messages.length * size;
  for (const message of messages.slice(0, 50)) await openSealedObject(keys, (await sealMessage(keys, message)).sealed);

  let started = performance.now();
  for (const message of messages) contentId(keys, message);
  report('content id (HMAC-SHA256), 50 KiB messages', total, started);

  started = performance.now();
  const sealed: Buffer[] = [];
  for (const message of messages) sealed.push((await sealMessage(keys, message)).sealed);
  const sealedTotal = sealed.reduce((sum, s) => sum + s.length, 0);
  const seconds = (performance.now() - started) / 1000;
  report(
    'seal 50 KiB mail-like messages',
    total,
    started,
    `  (${(messages.length / seconds).toFixed(0)} msg/s, ratio ${(total / sealedTotal).toFixed(2)})`,
  );

  started = performance.now();
  for (const object of sealed) await openSealedObject(keys, object);
  report('open 50 KiB mail-like messages', total, started);
}

/** 50 MiB: mail text with a quarter of incompressible "attachment" bytes. */
function largeMessage(): Buffer {
  const size = 50 * 1024 * 1024;
  const text = repeatToLength(corpusText(), size);
  const noise = pseudoRandom(1024 * 1024, 'attachment');
  for (let offset = 3 * 1024 * 1024; offset < size; offset += 4 * 1024 * 1024) noise.copy(text, offset);
  return text;
}

function chunksOf(bytes: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
    })(),
  );
}

async function drainInto(counter: { bytes: number }): Promise<Writable> {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      counter.bytes += chunk.length;
      done();
    },
  });
}

async function benchLarge(tenant: TenantKeys): Promise<void> {
  const message = largeMessage();
  let started = performance.now();
  const result = await sealMessage(tenant, message);
  report(
    'seal 50 MiB message (buffer API)',
    message.length,
    started,
    `  (ratio ${(message.length / result.sealedSize).toFixed(2)})`,
  );

  started = performance.now();
  await openSealedObject(tenant, result.sealed, { expectedContentId: result.contentId });
  report('open 50 MiB message (buffer API)', message.length, started);

  const sealedCount = { bytes: 0 };
  started = performance.now();
  await pipeline(
    chunksOf(message, 64 * 1024),
    createSealStream(tenant, { contentId: result.contentId }),
    await drainInto(sealedCount),
  );
  report('seal 50 MiB message (stream, 64 KiB chunks)', message.length, started);

  const plainCount = { bytes: 0 };
  started = performance.now();
  await pipeline(chunksOf(result.sealed, 64 * 1024), createOpenStream(tenant), await drainInto(plainCount));
  report('open 50 MiB message (stream, 64 KiB chunks)', message.length, started);
  if (plainCount.bytes !== message.length) throw new Error('stream round trip lost bytes');
}

console.log(`node ${process.version}, ${process.arch}; zstd level 3, AES-256-GCM, 64 KiB segments`);
await benchSmall();
await benchLarge(keys);
