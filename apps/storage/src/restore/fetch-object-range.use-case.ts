import type { ObjectRangeFetchRequest, ObjectRangeFetchResponse } from '@mlr/contracts';
import { ServiceError } from '@mlr/messaging';
import { isObjectStoreError, type ObjectStore } from '@mlr/objectstore';
import type { Logger } from '@mlr/telemetry';
import type { StoredObjectRepository } from '../backup/stored-object.repository.js';

export interface FetchObjectRangeDeps {
  objects: Pick<StoredObjectRepository, 'findByContentId'>;
  store: Pick<ObjectStore, 'getBuffer'>;
  logger: Logger;
}

/**
 * `objects.fetch`: a byte range of the sealed object a tenant stored under a content id, for a
 * connector that restores it. Offsets are relative to the sealed object; where several objects
 * share one S3 object (`byteOffset`/`byteLength` of the row) the range is moved into it and never
 * runs past the object's end. The bytes stay sealed: only the connector holds the tenant key.
 */
export class FetchObjectRange {
  constructor(private readonly deps: FetchObjectRangeDeps) {}

  async execute(request: ObjectRangeFetchRequest): Promise<ObjectRangeFetchResponse> {
    const { tenantId, contentId, offset, length } = request;
    const stored = await this.deps.objects.findByContentId(tenantId, contentId);
    if (!stored) {
      throw new ServiceError('not_found', `tenant ${tenantId} has no stored object with content id ${contentId}`);
    }
    const extent = stored.locator.range?.length ?? stored.sealedSize;
    if (extent !== stored.sealedSize) {
      // The row contradicts itself: reading would return bytes of a neighbour or too few.
      throw new Error(
        `stored object ${contentId} of tenant ${tenantId} has sealed size ${stored.sealedSize} but a byte range of ${extent} bytes in s3://${stored.locator.bucket}/${stored.locator.key}`,
      );
    }
    const sealedSize = stored.sealedSize;
    const base = { contentId, sealedSize, keyId: stored.keyId, offset };
    if (offset === sealedSize && sealedSize === 0) return { ...base, data: '' };
    if (offset >= sealedSize) {
      throw new ServiceError(
        'invalid_request',
        `offset ${offset} is beyond the end of sealed object ${contentId} (${sealedSize} bytes; valid offsets are 0 to ${sealedSize - 1})`,
      );
    }
    const take = Math.min(length, sealedSize - offset);
    const start = (stored.locator.range?.offset ?? 0) + offset;
    let data: Buffer;
    try {
      data = await this.deps.store.getBuffer({
        bucket: stored.locator.bucket,
        key: stored.locator.key,
        ...(stored.locator.versionId ? { versionId: stored.locator.versionId } : {}),
        range: { offset: start, length: take },
      });
    } catch (error) {
      this.deps.logger.error(
        {
          event: 'object-fetch-failed',
          tenantId,
          contentId,
          bucket: stored.locator.bucket,
          key: stored.locator.key,
          offset,
          length: take,
          code: isObjectStoreError(error) ? error.code : undefined,
          reason: error instanceof Error ? error.message : String(error),
        },
        'reading a stored object for a restore failed',
      );
      throw error;
    }
    if (data.length !== take) {
      throw new Error(
        `s3://${stored.locator.bucket}/${stored.locator.key} returned ${data.length} bytes for range ${start}+${take} of stored object ${contentId}`,
      );
    }
    return { ...base, data: data.toString('base64') };
  }
}
