import { openSealedObject, SealedObjectError, SealedObjectErrorCode, type KeyRing } from '@mlr/crypto';
import type { RestoreItem } from '@mlr/contracts';

/** Where the sealed objects of a tenant come from (storage's `objects.fetch`, or a test fake). */
export interface SealedObjectSource {
  /** The whole sealed object of `contentId`; rejects when it cannot be fetched. */
  fetchSealed(contentId: string): Promise<Buffer>;
}

/** One item cannot be restored; the message says why, for the item's result. */
export class RestoreItemFailure extends Error {
  override readonly name = 'RestoreItemFailure';
}

const TAMPERED_CODES = new Set<SealedObjectErrorCode>([
  SealedObjectErrorCode.Tampered,
  SealedObjectErrorCode.ContentIdMismatch,
  SealedObjectErrorCode.Truncated,
  SealedObjectErrorCode.TrailingData,
  SealedObjectErrorCode.BadMagic,
  SealedObjectErrorCode.MalformedHeader,
  SealedObjectErrorCode.CorruptPayload,
]);

/**
 * Fetches, decrypts and decompresses the message of `item`, and proves it is the message the index
 * names: every segment authenticates under the tenant key and HMAC(K_id, bytes) equals
 * `item.contentId`. Anything else is a RestoreItemFailure with the reason; a restore never writes
 * bytes it could not verify.
 */
export async function openRestoreItem(
  objects: SealedObjectSource,
  keys: KeyRing,
  item: Pick<RestoreItem, 'contentId'>,
): Promise<Buffer> {
  let sealed: Buffer;
  try {
    sealed = await objects.fetchSealed(item.contentId);
  } catch (error) {
    throw new RestoreItemFailure(`cannot fetch the sealed object ${item.contentId}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let raw: Buffer;
  try {
    raw = await openSealedObject(keys, sealed, { expectedContentId: item.contentId });
  } catch (error) {
    if (error instanceof SealedObjectError && TAMPERED_CODES.has(error.code)) {
      throw new RestoreItemFailure(
        `object does not match its content id: tampered or wrong key (${error.code}: ${error.message})`,
        { cause: error },
      );
    }
    if (error instanceof SealedObjectError && error.code === SealedObjectErrorCode.KeyIdMismatch) {
      throw new RestoreItemFailure(`object cannot be opened with this connector's tenant key: ${error.message}`, {
        cause: error,
      });
    }
    throw new RestoreItemFailure(`cannot open the sealed object ${item.contentId}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // openSealedObject refused an object whose header names another id than `item.contentId`, and
  // bytes whose HMAC under the tenant key is not the header's id: the bytes are the indexed message.
  return raw;
}
