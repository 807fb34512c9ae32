import type { RecordedLocator, StoredObjectRepository } from '../backup/stored-object.repository.js';
import {
  checkPackHeader,
  decodePackFooter,
  decodePackTrailer,
  PACK_HEADER_BYTES,
  PACK_TRAILER_BYTES,
  tenantPacksPrefix,
  type ObjectStore,
  type ObjectVersion,
  type PackFooter,
} from '@mlr/objectstore';

/** Where one sealed message is, as a pack's footer tells it. */
export interface RebuiltLocator {
  contentId: string;
  keyId: string;
  plainSize: number;
  packId: string;
  bucket: string;
  key: string;
  versionId: string;
  offset: number;
  length: number;
}

/** A pack as S3 lists it, with the footer read from it. */
export interface FoundPack {
  packId: string;
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  lastModified: Date;
  memberCount: number;
  retainUntil: Date | null;
}

export interface RebuildResult {
  packs: FoundPack[];
  /** One locator per content id: the member in the oldest pack that holds it. */
  locators: Map<string, RebuiltLocator>;
  /** Members of later packs whose content an older pack already holds (garbage for the collector). */
  duplicates: RebuiltLocator[];
  /** Objects under the packs prefix that are not readable packs, and versions written over a pack. */
  problems: string[];
}

/** Reads what the footer of one pack version lists. */
async function readFooter(
  store: Pick<ObjectStore, 'getBuffer'>,
  bucket: string,
  version: ObjectVersion,
): Promise<PackFooter> {
  const locator = { bucket, key: version.key, versionId: version.versionId };
  if (version.size < PACK_HEADER_BYTES + PACK_TRAILER_BYTES) {
    throw new Error(`${version.size} bytes are too few for a pack`);
  }
  checkPackHeader(await store.getBuffer({ ...locator, range: { offset: 0, length: PACK_HEADER_BYTES } }));
  const trailer = decodePackTrailer(
    await store.getBuffer({
      ...locator,
      range: { offset: version.size - PACK_TRAILER_BYTES, length: PACK_TRAILER_BYTES },
    }),
    version.size,
  );
  return decodePackFooter(
    await store.getBuffer({ ...locator, range: { offset: trailer.footerOffset, length: trailer.footerLength } }),
    trailer,
  );
}

/**
 * The locators of every message of a tenant, rebuilt from its packs alone: every pack under the
 * tenant's prefix is listed with its versions, its footer read (three ranged GETs: header, trailer,
 * footer) and checked. A pack key is written once; a later version over it (written by mistake or
 * malice) is reported and ignored, as reads ignore it. Where two packs hold the same content (two
 * replicas packed it at once), the older one's member is the locator and the other a duplicate.
 */
export async function rebuildLocators(
  store: Pick<ObjectStore, 'getBuffer' | 'head' | 'listVersions'>,
  bucket: string,
  tenantId: string,
): Promise<RebuildResult> {
  const versionsByKey = new Map<string, ObjectVersion[]>();
  for await (const version of store.listVersions(bucket, tenantPacksPrefix(tenantId))) {
    versionsByKey.set(version.key, [...(versionsByKey.get(version.key) ?? []), version]);
  }
  const packs: FoundPack[] = [];
  const members: RebuiltLocator[] = [];
  const problems: string[] = [];
  for (const [key, versions] of [...versionsByKey].sort(([a], [b]) => a.localeCompare(b))) {
    const [original, ...later] = versions.sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime());
    if (!original) continue;
    for (const version of later) {
      problems.push(`${key}: version ${version.versionId} was written over the pack and is ignored`);
    }
    let footer: PackFooter;
    try {
      footer = await readFooter(store, bucket, original);
    } catch (error) {
      problems.push(`${key} (version ${original.versionId}) is not a readable pack: ${(error as Error).message}`);
      continue;
    }
    if (footer.tenantId !== tenantId || !key.endsWith(`/${footer.packId}`)) {
      problems.push(
        `${key} (version ${original.versionId}) holds the footer of pack ${footer.packId} of tenant ${footer.tenantId}`,
      );
      continue;
    }
    const head = await store.head({ bucket, key, versionId: original.versionId });
    packs.push({
      packId: footer.packId,
      bucket,
      key,
      versionId: original.versionId,
      size: original.size,
      lastModified: original.lastModified,
      memberCount: footer.members.length,
      retainUntil: head?.retainUntil ?? null,
    });
    for (const member of footer.members) {
      members.push({ ...member, packId: footer.packId, bucket, key, versionId: original.versionId });
    }
  }
  const written = new Map(packs.map((pack) => [pack.packId, pack.lastModified.getTime()]));
  members.sort((a, b) => (written.get(a.packId) ?? 0) - (written.get(b.packId) ?? 0) || a.key.localeCompare(b.key));
  const locators = new Map<string, RebuiltLocator>();
  const duplicates: RebuiltLocator[] = [];
  for (const member of members) {
    if (locators.has(member.contentId)) duplicates.push(member);
    else locators.set(member.contentId, member);
  }
  return { packs, locators, duplicates, problems };
}

export interface LocatorComparison {
  matching: number;
  /** In a pack, but PostgreSQL has no row for the content. */
  missing: RebuiltLocator[];
  /** PostgreSQL's row says something else than the footer. */
  differing: Array<{ recorded: RecordedLocator; rebuilt: RebuiltLocator }>;
  /** Rows of packed objects that no pack lists. */
  unlisted: RecordedLocator[];
  /** Rows of objects of their own (`individual` layout): not in packs, not compared. */
  individual: number;
}

const FIELDS = ['keyId', 'plainSize', 'packId', 'bucket', 'key', 'versionId', 'offset', 'length'] as const;

export function compareLocators(rebuilt: RebuildResult, recorded: readonly RecordedLocator[]): LocatorComparison {
  const comparison: LocatorComparison = { matching: 0, missing: [], differing: [], unlisted: [], individual: 0 };
  const seen = new Set(recorded.map((row) => row.contentId));
  for (const row of recorded) {
    if (row.packId === null) {
      comparison.individual++;
      continue;
    }
    const locator = rebuilt.locators.get(row.contentId);
    if (!locator) comparison.unlisted.push(row);
    else if (FIELDS.some((field) => row[field] !== locator[field]))
      comparison.differing.push({ recorded: row, rebuilt: locator });
    else comparison.matching++;
  }
  for (const [contentId, locator] of rebuilt.locators) {
    if (!seen.has(contentId)) comparison.missing.push(locator);
  }
  return comparison;
}

/**
 * Records the members PostgreSQL lacks (their packs too, where missing), exactly where the footers
 * say they are. Rows that exist are never changed: a difference is reported for a person to look at.
 * Returns how many objects were recorded.
 */
export async function recordMissing(
  repository: Pick<StoredObjectRepository, 'recordObjects'>,
  tenantId: string,
  rebuilt: RebuildResult,
  missing: readonly RebuiltLocator[],
): Promise<number> {
  let recorded = 0;
  const byPack = new Map<string, RebuiltLocator[]>();
  for (const locator of missing) byPack.set(locator.packId, [...(byPack.get(locator.packId) ?? []), locator]);
  for (const [packId, members] of byPack) {
    const pack = rebuilt.packs.find((found) => found.packId === packId);
    if (!pack) throw new Error(`pack ${packId} of a rebuilt locator was not found among the packs read`);
    const rows = await repository.recordObjects(
      tenantId,
      members.map((member) => ({
        contentId: member.contentId,
        bucket: member.bucket,
        key: member.key,
        versionId: member.versionId,
        range: { offset: member.offset, length: member.length },
        plainSize: member.plainSize,
        sealedSize: member.length,
        keyId: member.keyId,
        retainUntil: pack.retainUntil,
      })),
      {
        id: pack.packId,
        tenantId,
        bucket: pack.bucket,
        key: pack.key,
        versionId: pack.versionId,
        size: pack.size,
        memberCount: pack.memberCount,
        retainUntil: pack.retainUntil,
      },
    );
    recorded += [...rows.values()].filter((row) => row.inserted).length;
  }
  return recorded;
}
