/** Why an object commit could not be stored (yet). */
export enum BackupErrorCode {
  /** Some chunks of the upload are not in the chunk stream yet; they may still be on their way. */
  ChunksMissing = 'CHUNKS_MISSING',
  /** Chunks are still missing after the chunk stream would have dropped them: they will never come. */
  ChunksExpired = 'CHUNKS_EXPIRED',
  /** The chunks contradict the commit or each other (content id, count, offsets, sizes). */
  ChunksInconsistent = 'CHUNKS_INCONSISTENT',
  /** A commit without upload names an object the tenant does not have. */
  ObjectNotStored = 'OBJECT_NOT_STORED',
  /** The commit's tenant does not exist. */
  TenantUnknown = 'TENANT_UNKNOWN',
  /** The object store holds something else than what was written (size differs). */
  StoredObjectMismatch = 'STORED_OBJECT_MISMATCH',
}

export class BackupError extends Error {
  override readonly name = 'BackupError';

  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled backup error code: ${String(value)}`);
}

/**
 * Whether retrying the same commit can never succeed. Missing chunks may still arrive and a bad
 * write may go better next time; the rest will fail the same way forever.
 */
export function isPermanent(code: BackupErrorCode): boolean {
  switch (code) {
    case BackupErrorCode.ChunksMissing:
    case BackupErrorCode.StoredObjectMismatch:
      return false;
    case BackupErrorCode.ChunksExpired:
    case BackupErrorCode.ChunksInconsistent:
    case BackupErrorCode.ObjectNotStored:
    case BackupErrorCode.TenantUnknown:
      return true;
    default:
      return assertUnreachable(code);
  }
}
