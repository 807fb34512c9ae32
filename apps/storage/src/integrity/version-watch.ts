import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { AuditEventInput } from '@mlr/contracts';
import type { PrismaClient } from '@mlr/db';
import { describeError } from '@mlr/messaging';
import type { ObjectStore, ObjectVersion } from '@mlr/objectstore';
import { PeriodicTask } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { metrics, type Meter } from '@opentelemetry/api';
import { listedWithRecorded, recordedVersions } from './recorded-versions.js';

/** Found versions reported to the audit trail per check at most (the rest at the next check). */
const AUDITS_PER_CHECK = 1_000;
/** Objects of their own: the only keys storage may write more than once. */
const INDIVIDUAL_KEY = /^tenants\/[^/]+\/objects\//;

export interface VersionWatchSettings {
  bucket: string;
  /** How often the bucket is checked. */
  everyMs: number;
}

export interface VersionCheck {
  /** Keys MLR recorded a version for, as listed. */
  recordedKeys: number;
  versions: number;
  /** Versions beside a recorded one, as of this check (found now or earlier). */
  unexpected: number;
  /** ... of which this check found for the first time. */
  newlyFound: number;
  /**
   * Extra versions of objects of their own that storage itself wrote (a write repeated after a crash
   * before its row, or two replicas storing the same content): garbage for the collector, not
   * tampering. A pack key is never written twice by storage, so every extra version of one counts.
   */
  ownDuplicates: number;
  /** Found versions this check reported to the audit trail (new ones, and earlier ones it could not). */
  audited: number;
}

/** Records an event in the audit trail (licensing's `audit.record`); throws when it was not taken. */
export type AuditRecorder = (event: AuditEventInput) => Promise<void>;

interface Found {
  tenantId: string;
  key: string;
  version: ObjectVersion;
}

/**
 * Watches the bucket for object versions MLR did not write where it recorded one: an overwrite of a
 * pack or of an object of its own, which a versioned bucket cannot refuse (`If-None-Match` is not
 * honoured there). Reads are safe — every locator pins the version written — but somebody wrote
 * with a key that can write to the bucket, so each such version is reported once to the audit
 * trail (`object.version.unexpected`, by `system`/`storage`), logged, and counted in
 * `mlr_storage_unexpected_object_versions` (the versions seen in the last check: alert on > 0).
 * Versions of keys MLR recorded nothing for (a pack written just before a crash, before its row) are
 * orphans for the collector, not overwrites, and are not reported.
 */
export class VersionWatch implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodic: PeriodicTask;
  /** The S3 id of the services' own user (the writer of what storage writes), once known. */
  private ownId: string | undefined;
  /** Records a finished check's figures in the metrics. */
  private readonly checked: (unexpected: number) => void;

  constructor(
    private readonly deps: {
      store: ObjectStore;
      prisma: PrismaClient;
      audit: AuditRecorder;
      logger: Logger;
      meter?: Meter;
    },
    private readonly settings: VersionWatchSettings,
  ) {
    this.periodic = new PeriodicTask(() => this.check(), {
      everyMs: settings.everyMs,
      immediately: true,
      onError: (error) =>
        deps.logger.warn(
          { event: 'versions.check-failed', error: describeError(error) },
          'object versions not checked this time',
        ),
    });
    const meter = deps.meter ?? metrics.getMeter('mlr-storage');
    const unexpected = meter.createGauge('mlr.storage.unexpected_object_versions', {
      description:
        'Object versions found beside the version MLR recorded for their key (overwritten packs or objects), as of the last check',
    });
    const checkedAt = meter.createGauge('mlr.storage.version_check.time', {
      description: 'When the bucket was last checked for unexpected object versions (Unix seconds)',
      unit: 's',
    });
    this.checked = (count) => {
      unexpected.record(count);
      checkedAt.record(Date.now() / 1000);
    };
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodic.stop();
  }

  /** One pass over the bucket's MLR keys; then reports what the audit trail does not have yet. */
  async check(): Promise<VersionCheck> {
    const outcome: VersionCheck = {
      recordedKeys: 0,
      versions: 0,
      unexpected: 0,
      newlyFound: 0,
      ownDuplicates: 0,
      audited: 0,
    };
    // Who storage is, to tell its own repeated writes apart; a store that will not say (a key without
    // ListAllMyBuckets on AWS) leaves every extra version reported, which errs on the side of noise.
    this.ownId ??= await this.deps.store.callerId().catch(() => undefined);
    for await (const { versions, recorded } of listedWithRecorded(
      this.deps.store,
      this.deps.prisma,
      this.settings.bucket,
    )) {
      outcome.versions += versions.length;
      const found = this.compare(versions, recorded, outcome);
      outcome.unexpected += found.length;
      outcome.newlyFound += await this.remember(found);
    }
    this.checked(outcome.unexpected);
    outcome.audited = await this.report();
    if (outcome.unexpected > 0) {
      this.deps.logger.warn(
        { event: 'versions.unexpected', ...outcome },
        `${outcome.unexpected} object versions beside the recorded ones (${outcome.newlyFound} new): reads use the pinned versions; see the audit trail (object.version.unexpected)`,
      );
    }
    return outcome;
  }

  /** The versions of `versions` beside a recorded version of the same key. */
  private compare(versions: ObjectVersion[], recorded: Map<string, Set<string>>, outcome: VersionCheck): Found[] {
    outcome.recordedKeys += recorded.size;
    const found: Found[] = [];
    for (const version of versions) {
      const known = recorded.get(version.key);
      if (!known || known.has(version.versionId)) continue;
      if (this.ownId !== undefined && version.owner === this.ownId && INDIVIDUAL_KEY.test(version.key)) {
        outcome.ownDuplicates++;
        continue;
      }
      const tenantId = version.key.split('/')[1];
      if (tenantId) found.push({ tenantId, key: version.key, version });
    }
    return found;
  }

  /** Keeps what was found (once per version); returns how many were not known before. */
  private async remember(found: Found[]): Promise<number> {
    if (found.length === 0) return 0;
    const { count } = await this.deps.prisma.unexpectedObjectVersion.createMany({
      data: found.map(({ tenantId, key, version }) => ({
        tenantId,
        bucket: this.settings.bucket,
        key,
        versionId: version.versionId,
        size: BigInt(version.size),
        lastModified: version.lastModified,
        writtenBy: version.owner ?? null,
      })),
      skipDuplicates: true,
    });
    return count;
  }

  /** Reports found versions the audit trail does not have yet; stops at the first refusal. */
  private async report(): Promise<number> {
    const pending = await this.deps.prisma.unexpectedObjectVersion.findMany({
      where: { bucket: this.settings.bucket, auditedAt: null },
      orderBy: { foundAt: 'asc' },
      take: AUDITS_PER_CHECK,
    });
    let audited = 0;
    for (const row of pending) {
      // Claimed first, so that two replicas never report the same version; given back if not taken.
      const claimed = await this.deps.prisma.unexpectedObjectVersion.updateMany({
        where: { id: row.id, auditedAt: null },
        data: { auditedAt: new Date() },
      });
      if (claimed.count === 0) continue;
      const recorded = await recordedVersions(this.deps.prisma, this.settings.bucket, [row.key]);
      try {
        await this.deps.audit({
          tenantId: row.tenantId,
          actor: 'storage',
          role: 'system',
          action: 'object.version.unexpected',
          target: `object:${row.key}`,
          outcome: 'failure',
          detail: {
            bucket: row.bucket,
            key: row.key,
            versionId: row.versionId,
            recordedVersionIds: [...(recorded.get(row.key) ?? [])],
            size: Number(row.size),
            lastModified: row.lastModified.toISOString(),
            writtenBy: row.writtenBy,
            foundAt: row.foundAt.toISOString(),
            readsUse: 'the recorded (pinned) version',
          },
        });
      } catch (error) {
        await this.deps.prisma.unexpectedObjectVersion.update({ where: { id: row.id }, data: { auditedAt: null } });
        this.deps.logger.warn(
          { event: 'versions.audit-failed', key: row.key, versionId: row.versionId, error: describeError(error) },
          'an unexpected object version could not be reported to the audit trail yet; the next check tries again',
        );
        break;
      }
      this.deps.logger.warn(
        { event: 'versions.unexpected.audited', tenantId: row.tenantId, key: row.key, versionId: row.versionId },
        `object ${row.key} has a version MLR did not write (${row.versionId}); reads keep using the recorded one`,
      );
      audited++;
    }
    return audited;
  }
}
