export enum RecoveryKitErrorCode {
  /** Refused on export: passphrases must be at least 12 characters. */
  WeakPassphrase = 'WeakPassphrase',
  /** The kit is intact but the passphrase does not open it. */
  WrongPassphrase = 'WrongPassphrase',
  /** The kit is not valid JSON, misses fields, or fails its checksum: altered, cut off or mistyped. */
  Damaged = 'Damaged',
  /** A kit written by newer software. */
  UnsupportedVersion = 'UnsupportedVersion',
}

export class RecoveryKitError extends Error {
  override readonly name = 'RecoveryKitError';

  constructor(
    readonly code: RecoveryKitErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`recovery kit: ${message}`, options);
  }
}
