import type { KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createContentIdHasher, isContentId, type ContentIdHasher } from '../keys/content-id.js';
import type { TenantKeys } from '../keys/tenant-keys.js';
import { ChunkQueue } from './chunk-queue.js';
import {
  decodeDescriptor,
  decodeHeader,
  DESCRIPTOR_BYTES,
  HEADER_BYTES,
  MAX_SEGMENTS,
  TAG_BYTES,
  type SealedHeader,
} from './format.js';
import { SealedObjectError, SealedObjectErrorCode } from './sealed-object.error.js';
import { deriveObjectKey, openSegment } from './segment-cipher.js';
import { loadZstd, ZstdFrameDecoder } from './zstd.js';

/** The keys to open with: one tenant's current keys, or several (after a rotation), picked by key id. */
export type KeyRing = TenantKeys | readonly TenantKeys[];

export interface OpenOptions {
  /** The content id the caller asked for (from the index): an object holding another message is refused. */
  expectedContentId?: string;
}

/** How far back and forward a failed segment is tried under other counters, to report reordering. */
const REORDER_SEARCH = 64;

function findKeys(ring: KeyRing, keyId: string): TenantKeys {
  const candidates: readonly TenantKeys[] = Array.isArray(ring) ? ring : [ring as TenantKeys];
  const keys = candidates.find((k) => k.keyId === keyId);
  if (!keys) {
    throw new SealedObjectError(
      SealedObjectErrorCode.KeyIdMismatch,
      `object was sealed with key ${keyId}, not with ${candidates.map((k) => k.keyId).join(', ') || 'any key given'}` +
        ' (another tenant, or a key rotated out of the key ring)',
    );
  }
  return keys;
}

type Phase =
  | { name: 'header' }
  | { name: 'segments'; header: SealedHeader; key: KeyObject; hasher: ContentIdHasher }
  | { name: 'done' };

/**
 * Opens one sealed object pushed in pieces; synchronous, driven by both the buffer and the stream
 * API. Every segment is authenticated before its bytes are decompressed; the content id is checked
 * when the final segment has been read.
 */
class OpenEngine {
  plainSize = 0;
  header: SealedHeader | undefined;
  private phase: Phase = { name: 'header' };
  private readonly input = new ChunkQueue();
  private readonly decoder = new ZstdFrameDecoder();
  private index = 0;

  constructor(
    private readonly ring: KeyRing,
    private readonly expectedContentId: string | undefined,
  ) {}

  push(chunk: Uint8Array): Buffer[] {
    this.input.push(chunk);
    const out: Buffer[] = [];
    if (this.phase.name === 'header') this.readHeader(false);
    while (this.phase.name === 'segments' && this.readSegment(this.phase, out));
    if (this.phase.name === 'done' && this.input.length > 0) {
      throw new SealedObjectError(
        SealedObjectErrorCode.TrailingData,
        `${this.input.length} bytes follow the final segment (object was extended)`,
      );
    }
    return out;
  }

  finish(): void {
    if (this.phase.name === 'header') this.readHeader(true);
    if (this.phase.name === 'segments') {
      throw new SealedObjectError(
        SealedObjectErrorCode.Truncated,
        this.input.length > 0
          ? `object ends inside segment ${this.index} (${this.input.length} bytes of it present)`
          : `object ends after segment ${this.index - 1} without its final segment`,
      );
    }
  }

  private readHeader(complete: boolean): void {
    const header = decodeHeader(this.input.peekUpTo(HEADER_BYTES), complete);
    if (!header) return;
    this.input.take(HEADER_BYTES);
    const keys = findKeys(this.ring, header.keyId);
    if (this.expectedContentId !== undefined && header.contentId !== this.expectedContentId) {
      throw new SealedObjectError(
        SealedObjectErrorCode.ContentIdMismatch,
        `object holds message ${header.contentId}, not the expected ${this.expectedContentId}`,
      );
    }
    this.header = header;
    this.phase = {
      name: 'segments',
      header,
      key: deriveObjectKey(keys.encKey, header),
      hasher: createContentIdHasher(keys),
    };
  }

  /** Reads one segment if it has fully arrived; false when more input is needed. */
  private readSegment(phase: Extract<Phase, { name: 'segments' }>, out: Buffer[]): boolean {
    const descriptorBytes = this.input.peek(0, DESCRIPTOR_BYTES);
    if (!descriptorBytes) return false;
    const { length, final } = decodeDescriptor(descriptorBytes.readUInt32BE(0));
    const { segmentSize } = phase.header;
    if (length > segmentSize || (!final && length !== segmentSize)) {
      throw new SealedObjectError(
        SealedObjectErrorCode.Tampered,
        `segment ${this.index} declares ${length} bytes${final ? ' (final)' : ''}, impossible with ${segmentSize}-byte segments`,
      );
    }
    if (this.input.length < DESCRIPTOR_BYTES + length + TAG_BYTES) return false;
    if (this.index >= MAX_SEGMENTS) {
      throw new SealedObjectError(SealedObjectErrorCode.TooLarge, `object has more than ${MAX_SEGMENTS} segments`);
    }
    this.input.take(DESCRIPTOR_BYTES);
    const sealed = this.input.take(length + TAG_BYTES);
    const plaintext = openSegment(phase.key, phase.header, this.index, final, sealed);
    if (!plaintext) throw this.tampered(phase, final, sealed);
    this.index++;
    for (const content of this.decoder.push(plaintext)) {
      phase.hasher.update(content);
      this.plainSize += content.length;
      out.push(content);
    }
    if (final) this.complete(phase);
    return true;
  }

  private complete(phase: Extract<Phase, { name: 'segments' }>): void {
    this.decoder.finish();
    const actual = phase.hasher.digest();
    if (actual !== phase.header.contentId) {
      throw new SealedObjectError(
        SealedObjectErrorCode.ContentIdMismatch,
        `decrypted message has content id ${actual}, object says ${phase.header.contentId}`,
      );
    }
    this.phase = { name: 'done' };
  }

  /** A segment failed authentication; say whether it belongs elsewhere in this object. */
  private tampered(phase: Extract<Phase, { name: 'segments' }>, final: boolean, sealed: Buffer): SealedObjectError {
    const from = Math.max(0, this.index - REORDER_SEARCH);
    const to = Math.min(MAX_SEGMENTS - 1, this.index + REORDER_SEARCH);
    for (let other = from; other <= to; other++) {
      if (other !== this.index && openSegment(phase.key, phase.header, other, final, sealed)) {
        return new SealedObjectError(
          SealedObjectErrorCode.Tampered,
          `segment ${other} found at position ${this.index}: segments were reordered`,
        );
      }
    }
    return new SealedObjectError(
      SealedObjectErrorCode.Tampered,
      `segment ${this.index} failed authentication: modified, or not sealed with these keys for this header`,
    );
  }
}

function assertExpectedContentId(value: string | undefined): void {
  if (value !== undefined && !isContentId(value)) {
    throw new TypeError('expected content id must be 64 lower-case hex characters');
  }
}

/**
 * Opens a whole sealed object held in memory and returns the original message bytes, checked
 * against the object's content id (and `expectedContentId`, when given).
 */
export async function openSealedObject(ring: KeyRing, sealed: Uint8Array, options: OpenOptions = {}): Promise<Buffer> {
  assertExpectedContentId(options.expectedContentId);
  await loadZstd();
  const engine = new OpenEngine(ring, options.expectedContentId);
  const parts = engine.push(sealed);
  engine.finish();
  return Buffer.concat(parts, engine.plainSize);
}

/**
 * Sealed object bytes in, original message bytes out, with bounded memory. Each segment is
 * authenticated before anything of it is passed on, but truncation and a content id mismatch show
 * only at the end: treat the output as valid only once the stream has finished without error.
 */
export class OpenStream extends Transform {
  private engine: OpenEngine | undefined;

  constructor(
    private readonly ring: KeyRing,
    private readonly options: OpenOptions = {},
  ) {
    super();
    assertExpectedContentId(options.expectedContentId);
  }

  /** The object's header, once its first bytes have been read. */
  get header(): Pick<SealedHeader, 'keyId' | 'contentId' | 'segmentSize'> | undefined {
    return this.engine?.header;
  }

  /** Bytes of message produced so far. */
  get plainSize(): number {
    return this.engine?.plainSize ?? 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.withEngine((engine) => engine.push(chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.withEngine((engine) => {
      engine.finish();
      return [];
    }, callback);
  }

  private withEngine(step: (engine: OpenEngine) => Buffer[], callback: TransformCallback): void {
    const run = (): void => {
      try {
        this.engine ??= new OpenEngine(this.ring, this.options.expectedContentId);
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

export function createOpenStream(ring: KeyRing, options: OpenOptions = {}): OpenStream {
  return new OpenStream(ring, options);
}
