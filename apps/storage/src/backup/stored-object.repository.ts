import type { PrismaClient, StoredObject as StoredObjectRow } from '@mlr/db';
import type { ObjectLocator } from '@mlr/objectstore';

/** One sealed message the platform stores for a tenant (single instance per tenant and content id). */
export interface StoredObject {
  id: string;
  tenantId: string;
  contentId: string;
  /** Where the sealed bytes are: everything that reads the object goes through it. */
  locator: ObjectLocator;
  plainSize: number;
  sealedSize: number;
  keyId: string;
  retainUntil: Date | null;
  createdAt: Date;
}

export interface NewStoredObject {
  tenantId: string;
  contentId: string;
  bucket: string;
  key: string;
  plainSize: number;
  sealedSize: number;
  keyId: string;
  retainUntil: Date | null;
}

export interface StoredObjectRepository {
  findByContentId(tenantId: string, contentId: string): Promise<StoredObject | null>;
  tenantExists(tenantId: string): Promise<boolean>;
  /**
   * Records a stored object unless the tenant already has one with that content id (a commit of the
   * same content elsewhere won the race); returns the row that is there and whether it is this one.
   */
  insertIfAbsent(object: NewStoredObject): Promise<{ object: StoredObject; inserted: boolean }>;
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
    locator: { bucket: row.bucket, key: row.key, ...range },
    plainSize: Number(row.plainSize),
    sealedSize: Number(row.sealedSize),
    keyId: row.keyId,
    retainUntil: row.retainUntil,
    createdAt: row.createdAt,
  };
}

export class PrismaStoredObjectRepository implements StoredObjectRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async findByContentId(tenantId: string, contentId: string): Promise<StoredObject | null> {
    const row = await this.prisma.storedObject.findUnique({ where: { tenantId_contentId: { tenantId, contentId } } });
    return row ? toStoredObject(row) : null;
  }

  async tenantExists(tenantId: string): Promise<boolean> {
    return (await this.prisma.tenant.count({ where: { id: tenantId } })) > 0;
  }

  async insertIfAbsent(object: NewStoredObject): Promise<{ object: StoredObject; inserted: boolean }> {
    // INSERT … ON CONFLICT DO NOTHING: a concurrent insert of the same content id is not an error.
    const { count } = await this.prisma.storedObject.createMany({
      data: [
        {
          tenantId: object.tenantId,
          contentId: object.contentId,
          bucket: object.bucket,
          key: object.key,
          plainSize: BigInt(object.plainSize),
          sealedSize: BigInt(object.sealedSize),
          keyId: object.keyId,
          retainUntil: object.retainUntil,
        },
      ],
      skipDuplicates: true,
    });
    const stored = await this.findByContentId(object.tenantId, object.contentId);
    if (!stored) {
      throw new Error(`stored object ${object.contentId} of tenant ${object.tenantId} vanished right after its insert`);
    }
    return { object: stored, inserted: count === 1 };
  }
}
