import { randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  contentId as computeContentId,
  createContentIdHasher,
  isContentId,
  type ContentIdHasher,
} from '../keys/content-id.js';
import type { TenantKeys } from '../keys/tenant-keys.js';
import { ChunkQueue } from './chunk-queue.js';
import {
  encodeDescriptor,
  encodeHeader,
  KEY_SALT_BYTES,
  MAX_SEGMENTS,
  NONCE_PREFIX_BYTES,
  SEGMENT_SIZE,
  type SealedHeader,
} from './format.js';
import { SealedObjectError, SealedObjectErrorCode } from './sealed-object.error.js';
import { deriveObjectKey, sealSegment } from './segment-cipher.js';
import { assertCompressionLevel, DEFAULT_COMPRESSION_LEVEL, loadZstd, ZstdFrameEncoder } from './zstd.js';

export interface SealOptions {
  /** The message's content id, when the caller has it already; it is verified while sealing. */
  contentId?: string;
  /** zstd level, 1..19; default 3. */
  compressionLevel?: number;
}

export interface SealedMessage {
  sealed: Buffer;
  contentId: string;
  plainSize: number;
  sealedSize: number;
  keyId: string;
}

function assertContentId(value: string): void {
  if (!isContentId(value)) throw new TypeError('content id must be 64 lower-case hex characters');
}

/**
 * Seals one message pushed in pieces: zstd frames, cut into segments, each encrypted as it fills.
 * Synchronous; the buffer and stream APIs both drive it. At most one frame of raw bytes and one
 * segment of compressed bytes are held at a time.
 */
class SealEngine {
  readonly header: SealedHeader;
  plainSize = 0;
  sealedSize = 0;
  private readonly key: KeyObject;
  private readonly encoder: ZstdFrameEncoder;
  private readonly payload = new ChunkQueue();
  private readonly hasher: ContentIdHasher | undefined;
  private index = 0;

  constructor(keys: TenantKeys, contentId: string, level: number, verifyContentId: boolean) {
    const random = randomBytes(KEY_SALT_BYTES + NONCE_PREFIX_BYTES);
    this.header = encodeHeader({
      keyId: keys.keyId,
      contentId,
      keySalt: random.subarray(0, KEY_SALT_BYTES),
      noncePrefix: random.subarray(KEY_SALT_BYTES),
      segmentSize: SEGMENT_SIZE,
    });
    this.key = deriveObjectKey(keys.encKey, this.header);
    this.encoder = new ZstdFrameEncoder(level);
    this.hasher = verifyContentId ? createContentIdHasher(keys) : undefined;
  }

  start(): Buffer[] {
    this.sealedSize += this.header.bytes.length;
    return [this.header.bytes];
  }

  push(raw: Uint8Array): Buffer[] {
    this.hasher?.update(raw);
    this.plainSize += raw.length;
    for (const frame of this.encoder.push(raw)) this.payload.push(frame);
    return this.drain(false);
  }

  finish(): Buffer[] {
    for (const frame of this.encoder.finish()) this.payload.push(frame);
    const out = this.drain(true);
    if (this.hasher) {
      const actual = this.hasher.digest();
      if (actual !== this.header.contentId) {
        throw new SealedObjectError(
          SealedObjectErrorCode.ContentIdMismatch,
          `content id given for sealing (${this.header.contentId}) is not the message's (${actual})`,
        );
      }
    }
    return out;
  }

  private drain(final: boolean): Buffer[] {
    const out: Buffer[] = [];
    // A full segment is sealed only once more bytes follow it: until then it may be the final one.
    while (this.payload.length > SEGMENT_SIZE) this.seal(this.payload.take(SEGMENT_SIZE), false, out);
    if (final) this.seal(this.payload.takeAll(), true, out);
    return out;
  }

  private seal(plaintext: Buffer, final: boolean, out: Buffer[]): void {
    if (this.index >= MAX_SEGMENTS) {
      throw new SealedObjectError(SealedObjectErrorCode.TooLarge, `message needs more than ${MAX_SEGMENTS} segments`);
    }
    const descriptor = encodeDescriptor(plaintext.length, final);
    const [ciphertext, tag] = sealSegment(this.key, this.header, this.index++, final, plaintext);
    out.push(descriptor, ciphertext, tag);
    this.sealedSize += descriptor.length + ciphertext.length + tag.length;
  }
}

/**
 * Seals a whole message held in memory. Computes the content id unless given (and then checks it).
 * Holds the message, its sealed form and, briefly, the sealed pieces before they are joined.
 */
export async function sealMessage(
  keys: TenantKeys,
  raw: Uint8Array,
  options: SealOptions = {},
): Promise<SealedMessage> {
  const level = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  assertCompressionLevel(level);
  if (options.contentId !== undefined) assertContentId(options.contentId);
  await loadZstd();
  const id = options.contentId ?? computeContentId(keys, raw);
  const engine = new SealEngine(keys, id, level, options.contentId !== undefined);
  const parts = engine.start();
  for (const part of engine.push(raw)) parts.push(part);
  for (const part of engine.finish()) parts.push(part);
  const sealed = Buffer.concat(parts, engine.sealedSize);
  return { sealed, contentId: id, plainSize: engine.plainSize, sealedSize: sealed.length, keyId: keys.keyId };
}

export interface SealStreamOptions {
  /**
   * Required: the per-object key is derived from the content id, so it must be known before the
   * first byte is encrypted (compute it in a first pass with createContentIdHasher). It is verified
   * against the bytes sealed: a wrong one makes the stream fail at its end.
   */
  contentId: string;
  compressionLevel?: number;
}

/**
 * Raw message bytes in, sealed object bytes out. Memory stays bounded (about one MiB frame and one
 * segment) whatever the message size. The stream fails with a SealedObjectError at its end if the
 * bytes do not match `contentId`: never keep the output of a stream that errored.
 */
export class SealStream extends Transform {
  readonly contentId: string;
  readonly keyId: string;
  private readonly level: number;
  private engine: SealEngine | undefined;

  constructor(
    private readonly keys: TenantKeys,
    options: SealStreamOptions,
  ) {
    super();
    assertContentId(options.contentId);
    this.level = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
    assertCompressionLevel(this.level);
    this.contentId = options.contentId;
    this.keyId = keys.keyId;
  }

  /** Bytes of message read so far (all of them once the stream has ended). */
  get plainSize(): number {
    return this.engine?.plainSize ?? 0;
  }

  /** Bytes of sealed object written so far. */
  get sealedSize(): number {
    return this.engine?.sealedSize ?? 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.withEngine((engine) => engine.push(chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.withEngine((engine) => engine.finish(), callback);
  }

  private withEngine(step: (engine: SealEngine) => Buffer[], callback: TransformCallback): void {
    const run = (): void => {
      try {
        if (!this.engine) {
          this.engine = new SealEngine(this.keys, this.contentId, this.level, true);
          for (const part of this.engine.start()) this.push(part);
        }
        for (const part of step(this.engine)) this.push(part);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    };
    if (this.engine) run();
    else loadZstd().then(run, (error: unknown) => callback(error as Error));
  }
}

export function createSealStream(keys: TenantKeys, options: SealStreamOptions): SealStream {
  return new SealStream(keys, options);
}
