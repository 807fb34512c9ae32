import type { PrismaClient } from '@mlr/db';
import type { ObjectStore, ObjectVersion } from '@mlr/objectstore';

/** Keys compared with PostgreSQL at once (S3 lists 1,000 versions a page). */
const KEYS_PER_BATCH = 1_000;

const INDIVIDUAL_KEY = /^tenants\/([^/]+)\/objects\/[0-9a-f]{2}\/([0-9a-f]{64})$/;

/**
 * The S3 version ids storage recorded for each of `keys` of `bucket`: the versions of packs, and of
 * objects of their own (found by tenant and content id, which their key names and an index has).
 * A key absent from the answer has nothing recorded: an orphan (written, never recorded).
 */
export async function recordedVersions(
  prisma: PrismaClient,
  bucket: string,
  keys: readonly string[],
): Promise<Map<string, Set<string>>> {
  const recorded = new Map<string, Set<string>>();
  const add = (key: string, versionId: string | null) => {
    // Objects of an unversioned bucket are listed with the version id 'null'.
    const ids = recorded.get(key) ?? new Set<string>();
    ids.add(versionId ?? 'null');
    recorded.set(key, ids);
  };
  const packs = await prisma.pack.findMany({
    where: { bucket, key: { in: [...keys] } },
    select: { key: true, versionId: true },
  });
  for (const pack of packs) add(pack.key, pack.versionId);
  const individual = keys.flatMap((key) => {
    const match = INDIVIDUAL_KEY.exec(key);
    return match ? [{ tenantId: match[1] as string, contentId: match[2] as string }] : [];
  });
  if (individual.length > 0) {
    const rows = await prisma.$queryRawUnsafe<Array<{ key: string; version_id: string | null }>>(
      `SELECT key, version_id FROM stored_objects
        WHERE (tenant_id, content_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
          AND pack_id IS NULL AND bucket = $3`,
      individual.map((entry) => entry.tenantId),
      individual.map((entry) => entry.contentId),
      bucket,
    );
    for (const row of rows) add(row.key, row.version_id);
  }
  return recorded;
}

/**
 * Every object version under `tenants/` of `bucket`, in batches of about 1,000 with the versions
 * storage recorded for their keys. S3 lists in key order, so a batch never splits one key's versions.
 */
export async function* listedWithRecorded(
  store: ObjectStore,
  prisma: PrismaClient,
  bucket: string,
): AsyncGenerator<{ versions: ObjectVersion[]; recorded: Map<string, Set<string>> }> {
  const withRecorded = async (versions: ObjectVersion[]) => ({
    versions,
    recorded: await recordedVersions(prisma, bucket, [...new Set(versions.map((version) => version.key))]),
  });
  let batch: ObjectVersion[] = [];
  for await (const version of store.listVersions(bucket, 'tenants/')) {
    if (batch.length >= KEYS_PER_BATCH && batch.at(-1)?.key !== version.key) {
      yield await withRecorded(batch);
      batch = [];
    }
    batch.push(version);
  }
  if (batch.length > 0) yield await withRecorded(batch);
}
