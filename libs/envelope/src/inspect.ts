import {
  AEAD_AES_256_GCM,
  COMPRESSION_ZSTD,
  CONTENT_ID_BYTES,
  decodeDescriptor,
  DESCRIPTOR_BYTES,
  FORMAT_VERSION,
  HEADER_BYTES,
  HEADER_OFFSET,
  KEY_ID_BYTES,
  MAGIC,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  TAG_BYTES,
} from './layout.js';

/** The bytes are not one well-formed sealed object; the message says where and why. */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

/** What a sealed object says about itself without a key. */
export interface EnvelopeFacts {
  /** Hex, 16 characters. */
  keyId: string;
  /** Hex, 64 characters. */
  contentId: string;
  segmentSize: number;
  segments: number;
  /** Bytes from the magic to the end of the final segment's tag. */
  sealedSize: number;
}

function readHeader(header: Buffer): Omit<EnvelopeFacts, 'segments' | 'sealedSize'> {
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new EnvelopeError('not a sealed object (bad magic bytes)');
  const at = (field: keyof typeof HEADER_OFFSET) => HEADER_OFFSET[field];
  const version = header[at('version')];
  if (version !== FORMAT_VERSION) throw new EnvelopeError(`format version ${version} is not ${FORMAT_VERSION}`);
  if (header[at('aead')] !== AEAD_AES_256_GCM) throw new EnvelopeError(`unknown encryption id ${header[at('aead')]}`);
  if (header[at('compression')] !== COMPRESSION_ZSTD) {
    throw new EnvelopeError(`unknown compression id ${header[at('compression')]}`);
  }
  if (header[at('flags')] !== 0) throw new EnvelopeError(`reserved flags are ${header[at('flags')]}, not 0`);
  const segmentSize = header.readUInt32BE(at('segmentSize'));
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw new EnvelopeError(`segment size ${segmentSize} lies outside ${MIN_SEGMENT_SIZE}..${MAX_SEGMENT_SIZE}`);
  }
  return {
    keyId: header.subarray(at('keyId'), at('keyId') + KEY_ID_BYTES).toString('hex'),
    contentId: header.subarray(at('contentId'), at('contentId') + CONTENT_ID_BYTES).toString('hex'),
    segmentSize,
  };
}

/**
 * Walks a sealed object given in pieces of any size: the header must be one this format writes,
 * every segment but the last exactly the segment size, and the final segment must end the object.
 * Nothing is decrypted, so this proves the shape, not the contents: a cloud service can refuse
 * bytes that are no sealed object, or that end elsewhere than they say, before storing them next to
 * others — also an object too large to hold in memory, piece by piece.
 */
export class EnvelopeWalker {
  private header: Omit<EnvelopeFacts, 'segments' | 'sealedSize'> | undefined;
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current segment's body and tag still to skip. */
  private skip = 0;
  private segments = 0;
  /** The current segment is the final one: the object ends with its tag. */
  private finalSeen = false;
  private done = false;
  private consumed = 0;

  /**
   * Takes the next piece; returns how many of its bytes belong to the object (fewer than the piece
   * only once the final segment has ended inside it).
   */
  push(piece: Uint8Array): number {
    const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    let position = 0;
    while (position < bytes.length && !this.done) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, bytes.length - position);
        this.skip -= step;
        position += step;
        if (this.skip === 0 && this.finalSeen) this.done = true;
        continue;
      }
      const need = (this.header ? DESCRIPTOR_BYTES : HEADER_BYTES) - this.pendingBytes;
      const step = Math.min(need, bytes.length - position);
      this.pending.push(bytes.subarray(position, position + step));
      this.pendingBytes += step;
      position += step;
      if (step < need) break;
      const field = Buffer.concat(this.pending, this.pendingBytes);
      this.pending.length = 0;
      this.pendingBytes = 0;
      if (!this.header) {
        this.header = readHeader(field);
        continue;
      }
      const { length, final } = decodeDescriptor(field.readUInt32BE(0));
      const { segmentSize } = this.header;
      if (length > segmentSize || (!final && length !== segmentSize)) {
        throw new EnvelopeError(
          `segment ${this.segments} claims ${length} bytes; segments hold ${final ? 'at most' : 'exactly'} ${segmentSize}`,
        );
      }
      this.segments++;
      this.skip = length + TAG_BYTES;
      this.finalSeen = final;
    }
    this.consumed += position;
    return position;
  }

  /** The facts once every piece was pushed; throws when the object has not ended. */
  finish(): EnvelopeFacts {
    if (!this.done) {
      if (!this.header) {
        throw new EnvelopeError(
          `${this.pendingBytes} bytes are fewer than a sealed object's ${HEADER_BYTES}-byte header`,
        );
      }
      if (this.skip > 0) {
        throw new EnvelopeError(`segment ${this.segments - 1} runs ${this.skip} bytes past the end of the data`);
      }
      throw new EnvelopeError(`the object ends after ${this.segments} segments without its final segment`);
    }
    return { ...(this.header as NonNullable<typeof this.header>), segments: this.segments, sealedSize: this.consumed };
  }
}

/** Walks the sealed object that starts at `offset` of `bytes` (see EnvelopeWalker). */
export function inspectEnvelope(bytes: Uint8Array, offset = 0): EnvelopeFacts {
  const walker = new EnvelopeWalker();
  walker.push(bytes.subarray(offset));
  return walker.finish();
}

/** Checks the facts of exactly one sealed object of the given ids, `size` bytes long. */
export function expectEnvelope(
  facts: EnvelopeFacts,
  expected: { contentId: string; keyId: string; size: number },
): EnvelopeFacts {
  if (facts.sealedSize !== expected.size) {
    throw new EnvelopeError(
      `the sealed object ends at byte ${facts.sealedSize} but ${expected.size} bytes were sent (${expected.size - facts.sealedSize} bytes after its final segment)`,
    );
  }
  if (facts.contentId !== expected.contentId) {
    throw new EnvelopeError(
      `the sealed object's header names content id ${facts.contentId}, not ${expected.contentId}`,
    );
  }
  if (facts.keyId !== expected.keyId) {
    throw new EnvelopeError(`the sealed object's header names key id ${facts.keyId}, not ${expected.keyId}`);
  }
  return facts;
}

/**
 * `inspectEnvelope` for bytes that must be exactly one sealed object of the given content id and key
 * id: anything before or after it, or another id in its header, is an error.
 */
export function checkEnvelope(bytes: Uint8Array, expected: { contentId: string; keyId: string }): EnvelopeFacts {
  return expectEnvelope(inspectEnvelope(bytes), { ...expected, size: bytes.byteLength });
}
