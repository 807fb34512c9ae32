import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { PrismaClient } from '@mlr/db';
import { describeError } from '@mlr/messaging';
import type { ObjectRetention, ObjectStore, RetentionMode } from '@mlr/objectstore';
import { PeriodicTask } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';

const DAY_MS = 86_400_000;
/** Objects (or packs) looked at per query. */
const BATCH = 200;

export interface LockRenewalSettings {
  bucket: string;
  /** A referenced version whose lock ends within this long is locked again. */
  withinMs: number;
  /** The bucket's default retention in days (what locks a version written without a date of its own). */
  bucketDefaultDays: () => number | undefined;
  /** How many days from now a renewed lock of the tenant's lasts (its default retention, or the platform's). */
  renewDays: (tenantId: string) => Promise<number>;
  /** Mode of a version that has no retention of its own (the storage's). */
  mode: RetentionMode;
  /** Objects, and packs, renewed per run at most (each kind its own budget); the rest waits. */
  maxPerRun?: number;
  /** Versions S3 would not lock again lately: left out of this run (retried once they are dropped from it). */
  skip?: ReadonlySet<string>;
}

export interface RenewalOutcome {
  objects: number;
  packs: number;
  /** Versions S3 would not lock again (gone, or refused). */
  failed: number;
  /** Their ids (objects' and packs'), for the caller to leave out for a while. */
  failedIds: string[];
}

/** Renewals under way at once. */
const CONCURRENCY = 8;

interface Candidate {
  id: string;
  tenant_id: string;
  key: string;
  version_id: string;
}

/**
 * Keeps every referenced byte locked: an object (or a pack with at least one referenced member)
 * whose Object Lock ends within `withinMs` is locked again until now + the tenant's retention. So
 * what a plan keeps stays locked for as long as its records exist — its retention, however long,
 * or for good when it keeps until deleted — and what nothing references any more is let go when its
 * lock ends (the collector's). A lock is only ever extended (S3 refuses shortening), in the mode the
 * version has. A version written without a date of its own is locked by the bucket's default from
 * when it was written; the recorded `retain_until` follows each renewal.
 */
export async function renewLocks(
  store: ObjectStore,
  prisma: PrismaClient,
  settings: LockRenewalSettings,
  now: () => Date = () => new Date(),
): Promise<RenewalOutcome> {
  const outcome: RenewalOutcome = { objects: 0, packs: 0, failed: 0, failedIds: [] };
  const skip = [...(settings.skip ?? [])];
  const maxPerRun = settings.maxPerRun ?? 5_000;
  const defaultDays = settings.bucketDefaultDays() ?? 0;
  const horizon = new Date(now().getTime() + settings.withinMs);
  const renewDays = new Map<string, Promise<number>>();
  // A renewed lock outlasts the window, or every run would renew it again.
  const windowDays = Math.ceil(settings.withinMs / DAY_MS) + 1;
  /** Asked once per tenant and run, however many of its versions are renewed at once. */
  const daysOf = (tenantId: string) => {
    let days = renewDays.get(tenantId);
    if (days === undefined) {
      days = settings.renewDays(tenantId).then((tenantDays) => Math.max(tenantDays, defaultDays, windowDays));
      renewDays.set(tenantId, days);
    }
    return days;
  };

  /** Locks the version again; answers the new date, or null when S3 would not (tried next run). */
  const renew = async (candidate: Candidate): Promise<Date | null> => {
    const target = { bucket: settings.bucket, key: candidate.key, versionId: candidate.version_id };
    const until = new Date(now().getTime() + (await daysOf(candidate.tenant_id)) * DAY_MS);
    try {
      const current = await store.retention(target);
      if (current && current.retainUntil.getTime() >= until.getTime()) return current.retainUntil;
      const retention: ObjectRetention = { mode: current?.mode ?? settings.mode, retainUntil: until };
      await store.extendRetention(target, retention);
      return until;
    } catch {
      outcome.failed++;
      outcome.failedIds.push(candidate.id);
      return null;
    }
  };
  /** Renews `due` a few at a time; `record` writes each new date. Answers how many were renewed. */
  const renewAll = async (due: Candidate[], record: (candidate: Candidate, until: Date) => Promise<void>) => {
    let renewed = 0;
    for (let start = 0; start < due.length; start += CONCURRENCY) {
      await Promise.all(
        due.slice(start, start + CONCURRENCY).map(async (candidate) => {
          const until = await renew(candidate);
          if (until === null) return;
          await record(candidate, until);
          renewed++;
        }),
      );
    }
    return renewed;
  };

  // Objects of their own, those whose lock ends first first; each kind has its own budget, so that
  // many objects due cannot keep packs from their turn.
  for (let seen = 0; seen < maxPerRun;) {
    const due = await prisma.$queryRaw<Candidate[]>`
      SELECT id, tenant_id, key, version_id FROM stored_objects
      WHERE bucket = ${settings.bucket} AND pack_id IS NULL AND ref_count > 0 AND version_id IS NOT NULL
        AND coalesce(retain_until, created_at + make_interval(days => ${defaultDays})) < ${horizon}
        AND id <> ALL(${skip}::text[])
      ORDER BY coalesce(retain_until, created_at + make_interval(days => ${defaultDays})), id
      LIMIT ${Math.min(BATCH, maxPerRun - seen)}`;
    if (due.length === 0) break;
    seen += due.length;
    outcome.objects += await renewAll(due, async (candidate, until) => {
      await prisma.storedObject.update({ where: { id: candidate.id }, data: { retainUntil: until } });
    });
    // Renewed rows leave the query; failed ones are left out for the rest of the run.
    skip.push(...outcome.failedIds.filter((id) => !skip.includes(id)));
  }

  // Packs with a referenced member: the whole pack is one version.
  for (let seen = 0; seen < maxPerRun;) {
    const due = await prisma.$queryRaw<Candidate[]>`
      SELECT p.id, p.tenant_id, p.key, p.version_id FROM packs p
      WHERE p.bucket = ${settings.bucket} AND p.version_id IS NOT NULL
        AND coalesce(p.retain_until, p.created_at + make_interval(days => ${defaultDays})) < ${horizon}
        AND EXISTS (SELECT 1 FROM stored_objects s WHERE s.pack_id = p.id AND s.ref_count > 0)
        AND p.id <> ALL(${skip}::text[])
      ORDER BY coalesce(p.retain_until, p.created_at + make_interval(days => ${defaultDays})), p.id
      LIMIT ${Math.min(BATCH, maxPerRun - seen)}`;
    if (due.length === 0) break;
    seen += due.length;
    outcome.packs += await renewAll(due, async (candidate, until) => {
      await prisma.$transaction([
        prisma.pack.update({ where: { id: candidate.id }, data: { retainUntil: until } }),
        prisma.storedObject.updateMany({ where: { packId: candidate.id }, data: { retainUntil: until } }),
      ]);
    });
    skip.push(...outcome.failedIds.filter((id) => !skip.includes(id)));
  }
  return outcome;
}

/** Runs `renewLocks` every `everyMs` in the storage service. */
export class LockRenewal implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodic: PeriodicTask;
  /** Versions S3 would not lock again, and when to try them again (a few runs later). */
  private readonly failedUntil = new Map<string, number>();

  constructor(
    store: ObjectStore,
    prisma: PrismaClient,
    settings: LockRenewalSettings,
    everyMs: number,
    private readonly logger: Logger,
  ) {
    this.periodic = new PeriodicTask(
      async () => {
        const now = Date.now();
        for (const [id, until] of this.failedUntil) if (until <= now) this.failedUntil.delete(id);
        const outcome = await renewLocks(store, prisma, { ...settings, skip: new Set(this.failedUntil.keys()) });
        for (const id of outcome.failedIds) this.failedUntil.set(id, now + 6 * everyMs);
        if (outcome.objects + outcome.packs > 0) {
          logger.info(
            { event: 'locks.renewed', objects: outcome.objects, packs: outcome.packs },
            'Object Lock of referenced versions renewed',
          );
        }
        if (outcome.failed > 0) {
          logger.warn(
            { event: 'locks.renewal.failed', failed: outcome.failed, ids: outcome.failedIds.slice(0, 20) },
            'some referenced versions could not be locked again (gone, or refused); they are tried again in six runs',
          );
        }
      },
      {
        everyMs,
        immediately: true,
        onError: (error) =>
          logger.warn(
            { event: 'locks.renewal.failed', error: describeError(error) },
            'lock renewal did not run this time',
          ),
      },
    );
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodic.stop();
  }
}
