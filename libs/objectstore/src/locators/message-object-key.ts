import { contentIdSchema, ID_PATTERN } from '@mlr/contracts';

/**
 * The S3 key of one sealed message: `tenants/<tenantId>/objects/<id[0..2]>/<id>`.
 * The two-character fan-out spreads keys over prefixes (S3 scales request rates per prefix) and
 * keeps listings of one tenant's objects cheap. This is the only place the scheme is spelled out:
 * readers never rebuild a key, they use the locator stored with the object.
 */
export function messageObjectKey(tenantId: string, contentId: string): string {
  if (!ID_PATTERN.test(tenantId)) {
    throw new RangeError(
      `messageObjectKey: "${tenantId}" is not a valid tenant id (lower-case letters, digits, dashes)`,
    );
  }
  if (!contentIdSchema.safeParse(contentId).success) {
    throw new RangeError(`messageObjectKey: "${contentId}" is not a content id (64 lower-case hex characters)`);
  }
  return `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`;
}

/** The prefix under which every message object of a tenant lives (for listings and tenant removal). */
export function tenantObjectsPrefix(tenantId: string): string {
  if (!ID_PATTERN.test(tenantId)) {
    throw new RangeError(
      `tenantObjectsPrefix: "${tenantId}" is not a valid tenant id (lower-case letters, digits, dashes)`,
    );
  }
  return `tenants/${tenantId}/objects/`;
}
