import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { JetStreamApiCodes, JetStreamApiError, type StreamInfo } from '@nats-io/jetstream';
import { SERVICE_CONSUMERS } from '@mlr/contracts';
import { describeError, tenantChunksStreamNames, type MessagingConnection } from '@mlr/messaging';
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
  /** Why nothing was removed, when nothing could be: commits are still waiting for storage. */
  skipped?: string;
  /** Subjects (`mlr.<tenant>.chunks.<upload>`) removed, with the chunks they held. */
  removed: Array<{ subject: string; chunks: number }>;
}

/**
 * Removes uploads that were abandoned: chunks of large messages whose commit never came (a connector
 * that died or was stopped between its chunks and its commit, or someone publishing junk with a
 * connector's credentials), so that they do not hold the chunk stream's space for its whole day.
 * Measured from the upload's last chunk, not its first (a slow link may take long over one message),
 * and only while storage's commit consumer has nothing waiting: a commit published ms after its
 * last chunk has then been taken, so an upload still there after `inactiveMs` is garbage.
 */
export class AbandonedUploads implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly settings: AbandonedUploadSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    /**
     * Commits waiting for storage: those its commit consumer has not been handed yet (every commit
     * in the stream while the consumer is not declared yet).
     */
    private readonly pendingCommits: () => Promise<number> = async () => {
      const jsm = await this.messaging.manager();
      const { stream, durable } = SERVICE_CONSUMERS.storageObjects;
      try {
        return (await jsm.consumers.info(stream, durable)).num_pending;
      } catch (error) {
        if (!/consumer not found/i.test((error as Error).message)) throw error;
        return (await jsm.streams.info(stream)).state.messages;
      }
    },
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .catch((error: unknown) =>
          this.logger.warn(
            { event: 'uploads.sweep-failed', error: describeError(error) },
            'abandoned uploads not swept',
          ),
        )
        .finally(() => {
          this.running = undefined;
        });
    }, this.settings.everyMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async sweep(): Promise<SweepOutcome> {
    const waiting = await this.pendingCommits();
    if (waiting > 0) return { skipped: `${waiting} commits wait for storage`, removed: [] };
    const jsm = await this.messaging.manager();
    const cutoff = this.now() - this.settings.inactiveMs;
    const removed: SweepOutcome['removed'] = [];
    let looked = 0;
    for (const stream of await tenantChunksStreamNames(this.messaging)) {
      if (looked >= this.settings.batch) break;
      let info: StreamInfo;
      try {
        info = await jsm.streams.info(stream, { subjects_filter: '>' });
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) continue;
        throw error;
      }
      const uploads = Object.entries(info.state.subjects ?? {}).slice(0, this.settings.batch - looked);
      looked += uploads.length;
      for (const [subject, chunks] of uploads) {
        const last = await jsm.streams.getMessage(stream, { last_by_subj: subject });
        if (last === null || last.time.getTime() > cutoff) continue;
        const { purged } = await jsm.streams.purge(stream, { filter: subject });
        removed.push({ subject, chunks: purged || chunks });
        this.logger.warn(
          { event: 'upload.abandoned', stream, subject, chunks: purged, lastChunkAt: last.time.toISOString() },
          'removed an abandoned upload: no chunk and no commit for it for a while',
        );
      }
    }
    return { removed };
  }
}
