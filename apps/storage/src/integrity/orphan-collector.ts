import type { PrismaClient } from '@mlr/db';
import { isObjectStoreError, ObjectStoreErrorCode, type ObjectStore } from '@mlr/objectstore';
import { listedWithRecorded } from './recorded-versions.js';

export interface CollectSettings {
  bucket: string;
  /**
   * Only versions written longer ago than this are orphans: storage records a pack or an object right
   * after writing it, so a younger unrecorded version may still be on its way to its row.
   */
  minAgeMs: number;
  /** Say what would be removed, remove nothing. */
  dryRun: boolean;
}

export interface CollectOutcome {
  versions: number;
  /** Versions storage recorded (never touched here). */
  recorded: number;
  /** Unrecorded versions younger than the minimum age (left for a later run). */
  young: number;
  /** Orphans whose Object Lock retention has not ended (left for a later run). */
  locked: number;
  /** Orphans removed (with `dryRun`: that would have been). */
  removed: Array<{ key: string; versionId: string; size: number; lastModified: string }>;
}

/**
 * Removes orphans: object versions under `tenants/` that no row records — a pack or an object written
 * just before a crash, before its row; a second version of an object of its own that a repeated
 * write or a lost race left; a version somebody wrote over a recorded one (the version watch has
 * reported it) — once they are older than `minAgeMs` and their lock has ended. Never a recorded
 * version: rows pin the version they read, so an unrecorded version is never a referenced byte.
 * Never a locked one (S3 refuses that, and the collector's key may not bypass a retention). Run with
 * the collector's own key, which may list and remove versions and do nothing else.
 */
export async function collectOrphans(
  store: ObjectStore,
  prisma: PrismaClient,
  settings: CollectSettings,
  now: () => number = Date.now,
): Promise<CollectOutcome> {
  const outcome: CollectOutcome = { versions: 0, recorded: 0, young: 0, locked: 0, removed: [] };
  const cutoff = now() - settings.minAgeMs;
  for await (const { versions, recorded } of listedWithRecorded(store, prisma, settings.bucket)) {
    for (const version of versions) {
      outcome.versions++;
      if (recorded.get(version.key)?.has(version.versionId)) {
        outcome.recorded++;
        continue;
      }
      if (version.lastModified.getTime() > cutoff) {
        outcome.young++;
        continue;
      }
      const removed = {
        key: version.key,
        versionId: version.versionId,
        size: version.size,
        lastModified: version.lastModified.toISOString(),
      };
      if (settings.dryRun) {
        outcome.removed.push(removed);
        continue;
      }
      try {
        await store.delete({ bucket: settings.bucket, key: version.key, versionId: version.versionId });
        outcome.removed.push(removed);
      } catch (error) {
        if (isObjectStoreError(error) && error.code === ObjectStoreErrorCode.ObjectLocked) outcome.locked++;
        else throw error;
      }
    }
  }
  return outcome;
}
