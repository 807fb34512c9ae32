import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { StreamInfo } from '@nats-io/jetstream';
import { STREAMS, subjects } from '@mlr/contracts';
import { describeError, isStreamNotFound, tenantChunksStreams, type MessagingConnection } from '@mlr/messaging';
import { PeriodicTask } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';

export interface AbandonedUploadSettings {
  /** An upload none of whose chunks arrived for this long, with no commit waiting, is removed. */
  inactiveMs: number;
  /** How often to look. */
  everyMs: number;
  /** Uploads looked at per sweep at most (over all tenants' chunk streams). */
  batch: number;
}

export interface SweepOutcome {
  /** Tenants whose uploads were left alone, with why: commits of theirs still wait for storage. */
  skipped: Array<{ tenantId: string; reason: string }>;
  /** Subjects (`mlr.<tenant>.chunks.<upload>`) removed, with the chunks they held. */
  removed: Array<{ subject: string; chunks: number }>;
}

/**
 * Removes uploads that were abandoned: chunks of large messages whose commit never came (a connector
 * that died or was stopped between its chunks and its commit, or someone publishing junk with a
 * connector's credentials), so that they do not hold the tenant's upload quota for the chunk
 * stream's whole day. Measured from the upload's last chunk, not its first (a slow link may take
 * long over one message), and only for a tenant none of whose commits is in the commit stream (a
 * work queue: a commit stays there until storage has stored it, however long S3 is down): a commit
 * published ms after its last chunk would be there, so an upload still there after `inactiveMs` with
 * none of its tenant's commits waiting is garbage. One busy tenant does not hold the others' sweep.
 */
export class AbandonedUploads implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodicSweep: PeriodicTask;

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly settings: AbandonedUploadSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    /** The tenant's commits in the commit stream: not yet stored (waiting, or being stored). */
    private readonly pendingCommits: (tenantId: string) => Promise<number> = async (tenantId) => {
      const jsm = await this.messaging.manager();
      const subject = subjects.objects(tenantId);
      const info = await jsm.streams.info(STREAMS.objects.name, { subjects_filter: subject });
      return info.state.subjects?.[subject] ?? 0;
    },
  ) {
    this.periodicSweep = new PeriodicTask(() => this.sweep(), {
      everyMs: settings.everyMs,
      onError: (error) =>
        logger.warn({ event: 'uploads.sweep-failed', error: describeError(error) }, 'abandoned uploads not swept'),
    });
  }

  onApplicationBootstrap(): void {
    this.periodicSweep.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodicSweep.stop();
  }

  async sweep(): Promise<SweepOutcome> {
    const jsm = await this.messaging.manager();
    const cutoff = this.now() - this.settings.inactiveMs;
    const outcome: SweepOutcome = { skipped: [], removed: [] };
    let looked = 0;
    for (const { stream, tenantId } of await tenantChunksStreams(this.messaging)) {
      if (looked >= this.settings.batch) break;
      let info: StreamInfo;
      try {
        info = await jsm.streams.info(stream, { subjects_filter: '>' });
      } catch (error) {
        if (isStreamNotFound(error)) continue;
        throw error;
      }
      if (info.state.messages === 0) continue;
      const waiting = await this.pendingCommits(tenantId);
      if (waiting > 0) {
        outcome.skipped.push({ tenantId, reason: `commits of the tenant not stored yet: ${waiting}` });
        continue;
      }
      const uploads = Object.entries(info.state.subjects ?? {}).slice(0, this.settings.batch - looked);
      looked += uploads.length;
      for (const [subject, chunks] of uploads) {
        const last = await jsm.streams.getMessage(stream, { last_by_subj: subject });
        if (last === null || last.time.getTime() > cutoff) continue;
        const { purged } = await jsm.streams.purge(stream, { filter: subject });
        outcome.removed.push({ subject, chunks: purged || chunks });
        this.logger.warn(
          { event: 'upload.abandoned', tenantId, subject, chunks: purged, lastChunkAt: last.time.toISOString() },
          'removed an abandoned upload: no chunk and no commit for it for a while',
        );
      }
    }
    return outcome;
  }
}
