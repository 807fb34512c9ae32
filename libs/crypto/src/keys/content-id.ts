import { createHmac, type Hmac } from 'node:crypto';
import { contentIdSchema } from '@mlr/contracts';
import type { TenantKeys } from './tenant-keys.js';

/**
 * Content id of a message: hex HMAC-SHA256(K_id, raw message bytes). The same message of the same
 * tenant always gets the same id (single-instance storage); no other tenant can compute or confirm it.
 */
export function contentId(keys: TenantKeys, raw: Uint8Array): string {
  return createHmac('sha256', keys.idKey).update(raw).digest('hex');
}

/** Incremental content id, for messages read in chunks. */
export interface ContentIdHasher {
  update(chunk: Uint8Array): ContentIdHasher;
  /** The hex content id of everything passed to update(); the hasher cannot be used afterwards. */
  digest(): string;
}

export function createContentIdHasher(keys: TenantKeys): ContentIdHasher {
  const hmac: Hmac = createHmac('sha256', keys.idKey);
  const hasher: ContentIdHasher = {
    update(chunk) {
      hmac.update(chunk);
      return hasher;
    },
    digest: () => hmac.digest('hex'),
  };
  return hasher;
}

/** Content id of a message that arrives as a stream (a Node Readable is an async iterable). */
export async function contentIdOfStream(
  keys: TenantKeys,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<string> {
  const hasher = createContentIdHasher(keys);
  for await (const chunk of chunks) hasher.update(chunk);
  return hasher.digest();
}

export function isContentId(value: unknown): value is string {
  return contentIdSchema.safeParse(value).success;
}
