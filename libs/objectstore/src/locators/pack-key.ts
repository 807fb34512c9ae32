import { ID_PATTERN } from '@mlr/contracts';

function tenantToken(what: string, tenantId: string): string {
  if (!ID_PATTERN.test(tenantId)) {
    throw new RangeError(`${what}: "${tenantId}" is not a valid tenant id (lower-case letters, digits, dashes)`);
  }
  return tenantId;
}

/**
 * The S3 key of one pack: `tenants/<tenantId>/packs/<yyyy>/<mm>/<packId>` (UTC month of writing).
 * Months keep listings of one tenant's packs short and let lifecycle work go month by month; pack ids
 * are unique, so a key is written once. Readers never rebuild a key: they use the stored locator.
 */
export function packObjectKey(tenantId: string, writtenAt: Date, packId: string): string {
  if (!ID_PATTERN.test(packId)) throw new RangeError(`packObjectKey: "${packId}" is not a valid pack id`);
  const year = writtenAt.getUTCFullYear().toString().padStart(4, '0');
  const month = (writtenAt.getUTCMonth() + 1).toString().padStart(2, '0');
  return `tenants/${tenantToken('packObjectKey', tenantId)}/packs/${year}/${month}/${packId}`;
}

/** The prefix under which every pack of a tenant lives. */
export function tenantPacksPrefix(tenantId: string): string {
  return `tenants/${tenantToken('tenantPacksPrefix', tenantId)}/packs/`;
}
