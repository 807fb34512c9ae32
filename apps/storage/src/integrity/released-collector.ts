import type { PrismaClient } from '@mlr/db';
import { isObjectStoreError, ObjectStoreErrorCode, type ObjectStore } from '@mlr/objectstore';

/** Objects (or packs) looked at per query. */
const BATCH = 500;

export interface ReleasedSettings {
  bucket: string;
  /**
   * How long an object without references stays marked before it may go: longer than a sighting
   * ever waits between storage's single-instance check and its index record (records wait in
   * NATS while indexing is down), since that is the one moment a marked object can be found again
   * without its mark being taken back.
   */
  graceMs: number;
  dryRun: boolean;
  /**
   * Whether a backup of the tenant is on its way through the platform: a commit not yet stored
   * (storage may have found an object for it without taking a mark back, if it was not marked then)
   * or a record not yet indexed (the reference it brings is not counted yet). While one is, none
   * of the tenant's objects is removed. Every reference found before a mark is on its way until it
   * is counted; every one found after takes the mark back.
   */
  busy: (tenantId: string) => Promise<boolean>;
}

export interface ReleasedOutcome {
  /** Objects without references marked now (they may go after the grace). */
  marked: number;
  /** Objects of their own removed (row and S3 version). */
  objects: number;
  /** Packs removed whole (every member released), with their members' rows. */
  packs: number;
  /** Bytes removed from S3. */
  bytes: number;
  /** Candidates whose lock has not ended: left, and not looked at again before it ends. */
  locked: number;
  /** Rows removed whose S3 version S3 still refused to remove (locked after all): orphans for a later pass. */
  leftLocked: number;
  /** Tenants whose removals waited because backups of theirs were on their way (commits or records in NATS). */
  tenantsBusy: number;
}

/**
 * Removes what expiry released: objects (and packs) no index record references any more. In two
 * steps, so that a backup finding the same content again always wins:
 * 1. every object without references gets a mark (`collect_after` = now + grace);
 * 2. an object still without references whose mark has passed is removed — its row first, in a
 *    statement that checks the mark and the count again, then its S3 version. Storage's
 *    single-instance check takes the mark back when a new sighting finds the object, so such an
 *    object is never removed; an index record referencing the row makes its removal fail (foreign
 *    key), so a referenced byte never goes. A pack goes whole once every member is released; one
 *    with a live member stays (compaction is not built yet). Versions still under Object Lock stay,
 *    their mark moved to when the lock ends.
 */
export async function collectReleased(
  store: ObjectStore,
  prisma: PrismaClient,
  settings: ReleasedSettings,
): Promise<ReleasedOutcome> {
  const outcome: ReleasedOutcome = {
    marked: 0,
    objects: 0,
    packs: 0,
    bytes: 0,
    locked: 0,
    leftLocked: 0,
    tenantsBusy: 0,
  };
  const { bucket } = settings;
  if (!settings.dryRun) {
    outcome.marked = await prisma.$executeRaw`
      UPDATE stored_objects SET collect_after = now() + make_interval(secs => ${settings.graceMs / 1000})
      WHERE bucket = ${bucket} AND ref_count <= 0 AND collect_after IS NULL`;
  }
  /** When the version's lock ends, if it has not yet; undefined when it may go now. */
  const lockedUntil = async (key: string, versionId: string | null): Promise<Date | undefined> => {
    if (versionId === null) return undefined;
    const retention = await store.retention({ bucket, key, versionId });
    return retention && retention.retainUntil.getTime() > Date.now() ? retention.retainUntil : undefined;
  };
  /**
   * Removes exactly the recorded version (its row is gone already). What S3 refuses or cannot do is
   * left as an orphan for the orphan pass, never as a failed pass: a version without an id (an
   * unversioned bucket) is not removed by key, which would take every version of it.
   */
  const removeVersion = async (key: string, versionId: string | null) => {
    if (versionId === null) return;
    try {
      await store.delete({ bucket, key, versionId });
    } catch (error) {
      // Gone already (a pass that stopped half way): what matters is that it is gone.
      if (isObjectStoreError(error) && error.code === ObjectStoreErrorCode.NotFound) return;
      if (isObjectStoreError(error) && error.code === ObjectStoreErrorCode.ObjectLocked) {
        outcome.leftLocked++;
        return;
      }
      throw error;
    }
  };

  const busyTenants = new Map<string, boolean>();
  const isBusy = async (tenantId: string) => {
    let busy = busyTenants.get(tenantId);
    if (busy === undefined) {
      busy = await settings.busy(tenantId);
      busyTenants.set(tenantId, busy);
      if (busy) outcome.tenantsBusy++;
    }
    return busy;
  };

  // Objects of their own.
  for (let after = ''; ;) {
    const due = await prisma.$queryRaw<
      Array<{ id: string; tenant_id: string; key: string; version_id: string | null; sealed_size: bigint }>
    >`
      SELECT id, tenant_id, key, version_id, sealed_size FROM stored_objects
      WHERE bucket = ${bucket} AND pack_id IS NULL AND ref_count <= 0 AND collect_after < now() AND id > ${after}
      ORDER BY id LIMIT ${BATCH}`;
    const last = due.at(-1);
    if (!last) break;
    after = last.id;
    for (const object of due) {
      if (await isBusy(object.tenant_id)) continue;
      const until = await lockedUntil(object.key, object.version_id);
      if (until) {
        outcome.locked++;
        if (!settings.dryRun) {
          // Only if still released and marked: a backup may have taken it back meanwhile.
          await prisma.storedObject.updateMany({
            where: { id: object.id, refCount: { lte: 0 }, collectAfter: { not: null } },
            data: { collectAfter: until },
          });
        }
        continue;
      }
      if (settings.dryRun) {
        outcome.objects++;
        outcome.bytes += Number(object.sealed_size);
        continue;
      }
      const removed = await removeRowIfStillReleased(prisma, object.id);
      if (!removed) continue;
      await removeVersion(object.key, object.version_id);
      outcome.objects++;
      outcome.bytes += Number(object.sealed_size);
    }
  }

  // Packs whose members are all released and past their marks (or that have no member row left).
  for (let after = ''; ;) {
    const due = await prisma.$queryRaw<
      Array<{ id: string; tenant_id: string; key: string; version_id: string | null; size: bigint }>
    >`
      SELECT p.id, p.tenant_id, p.key, p.version_id, p.size FROM packs p
      WHERE p.bucket = ${bucket} AND p.id > ${after}
        AND p.created_at < now() - make_interval(secs => ${settings.graceMs / 1000})
        AND NOT EXISTS (
          SELECT 1 FROM stored_objects s
          WHERE s.pack_id = p.id AND (s.ref_count > 0 OR s.collect_after IS NULL OR s.collect_after >= now())
        )
      ORDER BY p.id LIMIT ${BATCH}`;
    const last = due.at(-1);
    if (!last) break;
    after = last.id;
    for (const pack of due) {
      if (await isBusy(pack.tenant_id)) continue;
      const until = await lockedUntil(pack.key, pack.version_id);
      if (until) {
        outcome.locked++;
        if (!settings.dryRun) {
          await prisma.storedObject.updateMany({
            where: { packId: pack.id, refCount: { lte: 0 }, collectAfter: { not: null } },
            data: { collectAfter: until },
          });
        }
        continue;
      }
      if (settings.dryRun) {
        outcome.packs++;
        outcome.bytes += Number(pack.size);
        continue;
      }
      const removed = await removePackIfStillReleased(prisma, pack.id);
      if (!removed) continue;
      await removeVersion(pack.key, pack.version_id);
      outcome.packs++;
      outcome.bytes += Number(pack.size);
    }
  }
  return outcome;
}

/** Deletes the row if it is still released and past its mark; false when a sighting found it again. */
async function removeRowIfStillReleased(prisma: PrismaClient, id: string): Promise<boolean> {
  try {
    const removed = await prisma.$executeRaw`
      DELETE FROM stored_objects WHERE id = ${id} AND ref_count <= 0 AND collect_after < now()`;
    return removed === 1;
  } catch (error) {
    // An index record still references it (its count was wrong): it stays.
    if (isForeignKeyViolation(error)) return false;
    throw error;
  }
}

/** Deletes the pack's member rows and the pack in one transaction, if every member is still released. */
async function removePackIfStillReleased(prisma: PrismaClient, packId: string): Promise<boolean> {
  try {
    return await prisma.$transaction(async (tx) => {
      // Locked, so that a sighting taking a member back waits, and then finds it gone.
      const members = await tx.$queryRaw<Array<{ live: boolean }>>`
        SELECT (ref_count > 0 OR collect_after IS NULL OR collect_after >= now()) AS live
        FROM stored_objects WHERE pack_id = ${packId} ORDER BY id FOR UPDATE`;
      if (members.some((member) => member.live)) return false;
      await tx.$executeRaw`DELETE FROM stored_objects WHERE pack_id = ${packId}`;
      const removed = await tx.$executeRaw`DELETE FROM packs WHERE id = ${packId}`;
      return removed === 1;
    });
  } catch (error) {
    if (isForeignKeyViolation(error)) return false;
    throw error;
  }
}

function isForeignKeyViolation(error: unknown): boolean {
  const text = String((error as { message?: unknown } | null)?.message ?? error);
  return /23503|foreign key/i.test(text);
}
