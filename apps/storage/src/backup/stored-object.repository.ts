import { Prisma, uuidV7, type PrismaClient, type StoredObject as StoredObjectRow } from '@mlr/db';
import type { ObjectLocator } from '@mlr/objectstore';

/** One sealed message the platform stores for a tenant (single instance per tenant and content id). */
export interface StoredObject {
  id: string;
  tenantId: string;
  contentId: string;
  /** Where the sealed bytes are (key, pinned version, byte range): everything that reads the object goes through it. */
  locator: ObjectLocator;
  /** The pack it is a member of; null for an object of its own. */
  packId: string | null;
  plainSize: number;
  sealedSize: number;
  keyId: string;
  retainUntil: Date | null;
  createdAt: Date;
}

/** A pack about to be recorded, after its PUT. */
export interface NewPack {
  id: string;
  tenantId: string;
  bucket: string;
  key: string;
  versionId: string | undefined;
  size: number;
  /** Members written into it (its footer lists them all; some may be duplicates of other packs' members). */
  memberCount: number;
  retainUntil: Date | null;
}

/** A sealed object just written, as a member of a pack (`packId`, offset) or as an S3 object of its own. */
export interface NewStoredObject {
  contentId: string;
  bucket: string;
  key: string;
  versionId: string | undefined;
  /** Its place in the pack; absent for an object of its own. */
  range?: { offset: number; length: number };
  plainSize: number;
  sealedSize: number;
  keyId: string;
  retainUntil: Date | null;
}

/** What recording did for one content id: the row that is there, and whether this write made it. */
export interface RecordedObject {
  objectId: string;
  inserted: boolean;
}

export interface StoredObjectRepository {
  findByContentId(tenantId: string, contentId: string): Promise<StoredObject | null>;
  /** Those of `contentIds` the tenant stores (one query; in no particular order). */
  findByContentIds(tenantId: string, contentIds: readonly string[]): Promise<StoredObject[]>;
  /** The object ids of those of `contentIds` the tenant already stores. */
  findIdsByContentIds(tenantId: string, contentIds: readonly string[]): Promise<Map<string, string>>;
  /**
   * Records the objects of one tenant (with their pack, when given) in one transaction. A content id
   * the tenant already has keeps its row (another replica stored it first): its member here is an
   * unreferenced duplicate, and the answer names the row that stands.
   */
  recordObjects(
    tenantId: string,
    objects: readonly NewStoredObject[],
    pack?: NewPack,
  ): Promise<Map<string, RecordedObject>>;
  /** Where every object of the tenant is, as recorded (for the locator rebuild to compare with). */
  recordedLocators(tenantId: string): Promise<RecordedLocator[]>;
}

/** A stored object's locator as PostgreSQL records it. */
export interface RecordedLocator {
  contentId: string;
  keyId: string;
  plainSize: number;
  packId: string | null;
  bucket: string;
  key: string;
  versionId: string | null;
  offset: number | null;
  length: number | null;
}

function toStoredObject(row: StoredObjectRow): StoredObject {
  const range =
    row.byteOffset !== null && row.byteLength !== null
      ? { range: { offset: Number(row.byteOffset), length: Number(row.byteLength) } }
      : {};
  return {
    id: row.id,
    tenantId: row.tenantId,
    contentId: row.contentId,
    locator: { bucket: row.bucket, key: row.key, ...(row.versionId ? { versionId: row.versionId } : {}), ...range },
    packId: row.packId,
    plainSize: Number(row.plainSize),
    sealedSize: Number(row.sealedSize),
    keyId: row.keyId,
    retainUntil: row.retainUntil,
    createdAt: row.createdAt,
  };
}

/*
 * Every new object of the call in one statement: the rows travel as one jsonb parameter (the text
 * is the same for every batch size; no parameter limit). ON CONFLICT leaves a content id the tenant
 * already has as it is; RETURNING names the rows this statement made.
 */
const INSERT_OBJECTS = (rows: string) => Prisma.sql`
INSERT INTO stored_objects (id, tenant_id, content_id, bucket, key, version_id, pack_id, byte_offset, byte_length,
  plain_size, sealed_size, key_id, retain_until)
SELECT id, tenant_id, content_id, bucket, key, version_id, pack_id, byte_offset, byte_length,
  plain_size, sealed_size, key_id, retain_until
FROM jsonb_to_recordset(${rows}::jsonb) AS t(id text, tenant_id text, content_id text, bucket text, key text,
  version_id text, pack_id text, byte_offset bigint, byte_length bigint, plain_size bigint, sealed_size bigint,
  key_id text, retain_until timestamptz)
ORDER BY content_id
ON CONFLICT (tenant_id, content_id) DO NOTHING
RETURNING content_id, id`;

export class PrismaStoredObjectRepository implements StoredObjectRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly newId: () => string = () => uuidV7(),
  ) {}

  async findByContentId(tenantId: string, contentId: string): Promise<StoredObject | null> {
    const row = await this.prisma.storedObject.findUnique({ where: { tenantId_contentId: { tenantId, contentId } } });
    return row ? toStoredObject(row) : null;
  }

  async findByContentIds(tenantId: string, contentIds: readonly string[]): Promise<StoredObject[]> {
    if (contentIds.length === 0) return [];
    const rows = await this.prisma.storedObject.findMany({ where: { tenantId, contentId: { in: [...contentIds] } } });
    return rows.map(toStoredObject);
  }

  async findIdsByContentIds(tenantId: string, contentIds: readonly string[]): Promise<Map<string, string>> {
    if (contentIds.length === 0) return new Map();
    // A new sighting is about to reference them. An object the collector marked (it has no
    // references) is taken back in the same statement: its mark is cleared, and only if that
    // succeeds is it returned — the update waits for a collector removing it, and skips it once
    // removed, so the sighting then stores the content anew. Unmarked objects cannot be removed
    // (the collector removes only objects whose mark has passed), so they are read without a lock.
    const ids = [...contentIds];
    const rows = await this.prisma.$queryRaw<Array<{ id: string; content_id: string }>>`
      WITH found AS (
        SELECT id, content_id, collect_after FROM stored_objects
        WHERE tenant_id = ${tenantId} AND content_id = ANY(${ids}::text[])
      ),
      kept AS (
        UPDATE stored_objects s SET collect_after = NULL
        WHERE s.id IN (SELECT id FROM found WHERE collect_after IS NOT NULL)
        RETURNING s.id
      )
      SELECT f.id, f.content_id FROM found f
      WHERE f.collect_after IS NULL OR f.id IN (SELECT id FROM kept)`;
    return new Map(rows.map((row) => [row.content_id, row.id]));
  }

  async recordedLocators(tenantId: string): Promise<RecordedLocator[]> {
    const rows = await this.prisma.storedObject.findMany({
      where: { tenantId },
      select: {
        contentId: true,
        keyId: true,
        plainSize: true,
        packId: true,
        bucket: true,
        key: true,
        versionId: true,
        byteOffset: true,
        byteLength: true,
      },
    });
    return rows.map((row) => ({
      contentId: row.contentId,
      keyId: row.keyId,
      plainSize: Number(row.plainSize),
      packId: row.packId,
      bucket: row.bucket,
      key: row.key,
      versionId: row.versionId,
      offset: row.byteOffset === null ? null : Number(row.byteOffset),
      length: row.byteLength === null ? null : Number(row.byteLength),
    }));
  }

  async recordObjects(
    tenantId: string,
    objects: readonly NewStoredObject[],
    pack?: NewPack,
  ): Promise<Map<string, RecordedObject>> {
    if (objects.length === 0) return new Map();
    const rows = JSON.stringify(
      objects.map((object) => ({
        id: this.newId(),
        tenant_id: tenantId,
        content_id: object.contentId,
        bucket: object.bucket,
        key: object.key,
        version_id: object.versionId ?? null,
        pack_id: pack?.id ?? null,
        byte_offset: object.range?.offset ?? null,
        byte_length: object.range?.length ?? null,
        plain_size: object.plainSize,
        sealed_size: object.sealedSize,
        key_id: object.keyId,
        retain_until: object.retainUntil,
      })),
    );
    return this.prisma.$transaction(async (tx) => {
      if (pack) {
        // Written once by the writer; recorded again only by a locator rebuild, which keeps the row.
        await tx.pack.createMany({
          data: [
            {
              id: pack.id,
              tenantId,
              bucket: pack.bucket,
              key: pack.key,
              versionId: pack.versionId ?? null,
              size: BigInt(pack.size),
              memberCount: pack.memberCount,
              retainUntil: pack.retainUntil,
            },
          ],
          skipDuplicates: true,
        });
      }
      const inserted = await tx.$queryRaw<Array<{ content_id: string; id: string }>>(INSERT_OBJECTS(rows));
      const recorded = new Map<string, RecordedObject>(
        inserted.map((row) => [row.content_id, { objectId: row.id, inserted: true }]),
      );
      const lost = objects.map((o) => o.contentId).filter((id) => !recorded.has(id));
      if (lost.length > 0) {
        const standing = await tx.storedObject.findMany({
          where: { tenantId, contentId: { in: lost } },
          select: { id: true, contentId: true },
        });
        for (const row of standing) recorded.set(row.contentId, { objectId: row.id, inserted: false });
      }
      for (const object of objects) {
        if (!recorded.has(object.contentId)) {
          // Cannot happen short of a concurrent delete; failing retries the whole write.
          throw new Error(`stored object ${object.contentId} of tenant ${tenantId} is neither inserted nor present`);
        }
      }
      return recorded;
    });
  }
}
