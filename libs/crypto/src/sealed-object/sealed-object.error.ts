/** Why a sealed object could not be opened (or sealed). */
export enum SealedObjectErrorCode {
  /** The bytes do not start with the sealed-object magic: not an MLR object at all. */
  BadMagic = 'BadMagic',
  /** A format version this code does not read (written by newer software?). */
  UnsupportedVersion = 'UnsupportedVersion',
  /** An encryption or compression algorithm id this code does not know. */
  UnsupportedAlgorithm = 'UnsupportedAlgorithm',
  /** A header field holds a value no writer produces (reserved bits, segment size). */
  MalformedHeader = 'MalformedHeader',
  /** The object was sealed under another key id: another tenant's key, or a rotated-out key. */
  KeyIdMismatch = 'KeyIdMismatch',
  /** A segment failed authentication: modified, reordered, or taken from another object. */
  Tampered = 'Tampered',
  /** The object ends early: the header is cut off or the final segment is missing. */
  Truncated = 'Truncated',
  /** Bytes follow the final segment: the object was extended. */
  TrailingData = 'TrailingData',
  /** The message is not the one asked for, or its bytes do not match the content id. */
  ContentIdMismatch = 'ContentIdMismatch',
  /** Authenticated bytes that do not decompress: written by a faulty sealer holding the key. */
  CorruptPayload = 'CorruptPayload',
  /** The object is too large for the format (2^32 segments). */
  TooLarge = 'TooLarge',
}

export class SealedObjectError extends Error {
  override readonly name = 'SealedObjectError';

  constructor(
    readonly code: SealedObjectErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`sealed object: ${message}`, options);
  }
}
