import { compressUsingDict, createCCtx, createDCtx, decompressUsingDict, init } from '@bokuweb/zstd-wasm';
import { ChunkQueue } from './chunk-queue.js';
import { SealedObjectError, SealedObjectErrorCode } from './sealed-object.error.js';

/**
 * zstd through @bokuweb/zstd-wasm: WebAssembly, so the same code runs on every connector platform
 * with nothing to build or download at install time. It compresses and decompresses whole frames
 * only, so messages are compressed one MiB at a time, each MiB an independent frame: memory stays
 * bounded however large the message, and the concatenation is still a standard zstd stream
 * (`zstd -d` reads it). Frames are found again on reading by walking the frame and block headers.
 */

export const DEFAULT_COMPRESSION_LEVEL = 3;
export const MIN_COMPRESSION_LEVEL = 1;
export const MAX_COMPRESSION_LEVEL = 19;
/** Raw bytes per zstd frame written. Level 3 uses a 2 MiB window; 1 MiB frames cost ~2% of ratio at most. */
export const FRAME_CONTENT_BYTES = 1024 * 1024;
/** Largest frame content a reader accepts: bounds the memory one frame may take. */
const MAX_FRAME_CONTENT_BYTES = 16 * 1024 * 1024;
/** RFC 8878 §3.1.1.2: Block_Maximum_Size is at most 128 KiB. */
const MAX_BLOCK_BYTES = 128 * 1024;
/** A frame never needs more room than its content plus block headers (raw blocks at worst). */
const MAX_FRAME_BYTES = MAX_FRAME_CONTENT_BYTES + (MAX_FRAME_CONTENT_BYTES / MAX_BLOCK_BYTES + 1) * 3 + 32;
const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/**
 * The WebAssembly instance of @bokuweb/zstd-wasm is one per process, and calling its `init` again
 * starts a new instance that takes the old one's place some time after `init` has already resolved:
 * contexts made in between belong to the old memory, and frames then fail to (de)compress. So the
 * instance and its contexts are shared by every copy of this module in the process (a test runner
 * loads it once per test file), and `init` runs once.
 */
interface SharedZstd {
  loading?: Promise<void>;
  /**
   * One compression and one decompression context, reused by every frame: creating them per frame
   * costs more than compressing a 50 KiB message. Calls are synchronous, so no two frames ever share
   * a context at the same time. (The *UsingDict entry points are the ones that take a context; with
   * an empty dictionary they are plain zstd.)
   */
  contexts?: { compression: number; decompression: number };
}
const shared: SharedZstd = ((globalThis as { [key: symbol]: SharedZstd | undefined })[Symbol.for('mlr.crypto.zstd')] ??=
  {});
const NO_DICTIONARY = new Uint8Array(0);

/** Loads the WebAssembly module once per process; every entry point awaits it. */
export function loadZstd(): Promise<void> {
  shared.loading ??= init().then(
    () => {
      shared.contexts = { compression: createCCtx(), decompression: createDCtx() };
    },
    (error: unknown) => {
      shared.loading = undefined;
      throw new Error(`could not load the zstd WebAssembly module: ${(error as Error).message}`, { cause: error });
    },
  );
  return shared.loading;
}

function loadedContexts(): { compression: number; decompression: number } {
  if (!shared.contexts) throw new Error('zstd is not loaded yet: await loadZstd() first');
  return shared.contexts;
}

export function assertCompressionLevel(level: number): void {
  if (!Number.isInteger(level) || level < MIN_COMPRESSION_LEVEL || level > MAX_COMPRESSION_LEVEL) {
    throw new RangeError(
      `compression level must be an integer from ${MIN_COMPRESSION_LEVEL} to ${MAX_COMPRESSION_LEVEL}, got ${level}`,
    );
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Turns raw message bytes into zstd frames of FRAME_CONTENT_BYTES each (the last one shorter). */
export class ZstdFrameEncoder {
  private readonly pending = new ChunkQueue();
  private frames = 0;

  constructor(private readonly level: number) {
    assertCompressionLevel(level);
    loadedContexts();
  }

  push(raw: Uint8Array): Buffer[] {
    this.pending.push(raw);
    const out: Buffer[] = [];
    while (this.pending.length >= FRAME_CONTENT_BYTES) out.push(this.frame(this.pending.take(FRAME_CONTENT_BYTES)));
    return out;
  }

  finish(): Buffer[] {
    // An empty message still gets one (empty) frame, so every payload is a valid zstd stream.
    if (this.pending.length === 0 && this.frames > 0) return [];
    return [this.frame(this.pending.takeAll())];
  }

  private frame(content: Buffer): Buffer {
    this.frames++;
    return asBuffer(compressUsingDict(loadedContexts().compression, content, NO_DICTIONARY, this.level));
  }
}

function corrupt(message: string, cause?: unknown): SealedObjectError {
  return new SealedObjectError(
    SealedObjectErrorCode.CorruptPayload,
    `authenticated payload is not a valid zstd stream: ${message}`,
    { cause },
  );
}

type FrameState =
  | { kind: 'start' }
  | { kind: 'zstd'; contentSize: number; checksum: boolean; cursor: number; end: number | undefined }
  | { kind: 'skippable'; end: number };

/**
 * Splits a zstd stream that arrives in arbitrary pieces into whole frames and decompresses each.
 * Only frames that declare their content size are accepted (every frame this library writes does),
 * which bounds the memory a frame can claim before it is decompressed.
 */
export class ZstdFrameDecoder {
  private readonly pending = new ChunkQueue();
  private state: FrameState = { kind: 'start' };

  constructor() {
    loadedContexts();
  }

  push(compressed: Uint8Array): Buffer[] {
    this.pending.push(compressed);
    const out: Buffer[] = [];
    for (;;) {
      const end = this.frameEnd();
      if (end === undefined || this.pending.length < end) return out;
      const frame = this.pending.take(end);
      const state = this.state;
      this.state = { kind: 'start' };
      if (state.kind === 'zstd') out.push(this.decompressFrame(frame, state.contentSize));
    }
  }

  finish(): void {
    if (this.pending.length > 0 || this.state.kind !== 'start') {
      throw corrupt(`stream ends inside a frame (${this.pending.length} bytes left over)`);
    }
  }

  private decompressFrame(frame: Buffer, contentSize: number): Buffer {
    let content: Uint8Array;
    try {
      content = decompressUsingDict(loadedContexts().decompression, frame, NO_DICTIONARY);
    } catch (error) {
      throw corrupt(`frame does not decompress (${(error as Error).message})`, error);
    }
    if (content.length !== contentSize) {
      throw corrupt(`frame declares ${contentSize} bytes but holds ${content.length}`);
    }
    return asBuffer(content);
  }

  /** Where the current frame ends, once enough of it has arrived to tell; undefined before that. */
  private frameEnd(): number | undefined {
    if (this.state.kind === 'start') {
      const header = this.readFrameHeader();
      if (!header) return undefined;
      this.state = header;
    }
    const state = this.state;
    if (state.kind === 'skippable') return state.end;
    if (state.kind !== 'zstd') return undefined;
    while (state.end === undefined) {
      const blockHeader = this.pending.peek(state.cursor, 3);
      if (!blockHeader) return undefined;
      const value = blockHeader.readUIntLE(0, 3);
      const last = (value & 1) === 1;
      const type = (value >> 1) & 3;
      const size = value >> 3;
      if (type === 3) throw corrupt('reserved block type');
      if (size > MAX_BLOCK_BYTES) throw corrupt(`block of ${size} bytes exceeds ${MAX_BLOCK_BYTES}`);
      state.cursor += 3 + (type === 1 ? 1 : size);
      if (state.cursor > MAX_FRAME_BYTES) throw corrupt(`frame is longer than ${MAX_FRAME_BYTES} bytes`);
      if (last) state.end = state.cursor + (state.checksum ? 4 : 0);
    }
    return state.end;
  }

  /** Parses the frame header at the front of the queue; undefined while it has not fully arrived. */
  private readFrameHeader(): FrameState | undefined {
    const magicBytes = this.pending.peek(0, 4);
    if (!magicBytes) return undefined;
    const magic = magicBytes.readUInt32LE(0);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      const sizeBytes = this.pending.peek(4, 4);
      if (!sizeBytes) return undefined;
      const end = 8 + sizeBytes.readUInt32LE(0);
      if (end > MAX_FRAME_BYTES) throw corrupt(`skippable frame is longer than ${MAX_FRAME_BYTES} bytes`);
      return { kind: 'skippable', end };
    }
    if (magic !== ZSTD_MAGIC) throw corrupt(`bad frame magic 0x${magic.toString(16)}`);
    const descriptorByte = this.pending.peek(4, 1);
    if (!descriptorByte) return undefined;
    const descriptor = descriptorByte.readUInt8(0);
    const fcsFlag = descriptor >> 6;
    const singleSegment = (descriptor & 0x20) !== 0;
    const dictionaryIdFlag = descriptor & 3;
    if ((descriptor & 0x08) !== 0) throw corrupt('reserved frame header bit set');
    if (dictionaryIdFlag !== 0) throw corrupt('frame needs a dictionary');
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
    if (fcsBytes === 0) throw corrupt('frame does not declare its content size');
    const fcsOffset = 5 + (singleSegment ? 0 : 1);
    const fcsField = this.pending.peek(fcsOffset, fcsBytes);
    if (!fcsField) return undefined;
    const contentSize =
      fcsBytes === 8
        ? Number(fcsField.readBigUInt64LE(0))
        : fcsField.readUIntLE(0, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
    if (contentSize > MAX_FRAME_CONTENT_BYTES) {
      throw corrupt(`frame declares ${contentSize} bytes, more than the ${MAX_FRAME_CONTENT_BYTES} accepted`);
    }
    const checksum = (descriptor & 0x04) !== 0;
    return { kind: 'zstd', contentSize, checksum, cursor: fcsOffset + fcsBytes, end: undefined };
  }
}
