import { createHash, randomBytes } from 'node:crypto';
import {
  MAX_CHUNK_BYTES,
  parseChannelPayload,
  subjects,
  type Channel,
  type ChannelPayloads,
  type IndexRecord,
  type IndexedEvent,
  type Subject,
} from '@mlr/contracts';
import { sealMessage, type TenantKeys } from '@mlr/crypto';
import { Publisher, platformValidator, type MessagingConnection } from '@mlr/messaging';
import type { Subscription } from '@nats-io/nats-core';

export type PlatformPublisher = Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>;

export class UploadError extends Error {
  override readonly name = 'UploadError';
}

/** The key of one sighting: what indexing acknowledges. */
export function sightingKey(mailbox: string, folder: string, uidValidity: string, uid: number): string {
  return JSON.stringify([mailbox, folder, uidValidity, uid]);
}

interface Waiter {
  resolve(event: IndexedEvent): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export interface UploadOutcome {
  objectStored: IndexedEvent['objectStored'];
  recordStored: IndexedEvent['recordStored'];
}

/** Where a backup hands each sighting it reads (the MessageUploader, or a recording one in tests). */
export interface SightingUploader {
  upload(jobId: string, raw: Buffer, record: IndexRecord): Promise<UploadOutcome>;
}

/**
 * Sends sightings of messages through the platform and waits for the end-to-end acknowledgement:
 * seal (zstd + AES-256-GCM) → chunks on `mlr.<t>.chunks.<upload>` → commit on `mlr.<t>.objects` →
 * IndexedEvent on `mlr.<t>.indexed` once storage and indexing have it durably. A commit that is not
 * acknowledged in time is sent again (every step is idempotent), then given up with an error.
 */
export class MessageUploader implements SightingUploader {
  private readonly waiters = new Map<string, Waiter>();
  private subscription?: Subscription;
  private readonly publisher: PlatformPublisher;

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly tenantId: string,
    private readonly keys: TenantKeys,
    private readonly options: { ackTimeoutMs?: number; attempts?: number } = {},
  ) {
    this.publisher = new Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>(messaging, {
      validator: platformValidator,
      logger: messaging.logger,
      timeoutMs: 30_000,
    });
  }

  /** Listens for acknowledgements; call before the first upload. */
  start(): void {
    const subject = subjects.indexed(this.tenantId);
    this.subscription = this.messaging.nc.subscribe(subject, {
      callback: (error, message) => {
        if (error) return;
        let event: IndexedEvent;
        try {
          event = parseChannelPayload('indexed', message.subject, message.json());
        } catch (invalid) {
          this.messaging.logger.warn({ reason: (invalid as Error).message }, 'ignoring invalid indexed event');
          return;
        }
        const key = `${event.jobId}|${sightingKey(event.mailbox, event.folder, event.uidValidity, event.uid)}|${event.contentId}`;
        const waiter = this.waiters.get(key);
        if (!waiter) return;
        this.waiters.delete(key);
        clearTimeout(waiter.timer);
        waiter.resolve(event);
      },
    });
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new UploadError('connector stopping'));
    }
    this.waiters.clear();
  }

  /** Stores one sighting. `raw` is the exact message; `record` its index record (content id already set). */
  async upload(jobId: string, raw: Buffer, record: IndexRecord): Promise<UploadOutcome> {
    const attempts = this.options.attempts ?? 3;
    const sealed = await sealMessage(this.keys, raw, { contentId: record.contentId });
    const keyId = sealed.keyId;
    const upload = await this.sendChunks(record.contentId, sealed.sealed);
    const commit: ChannelPayloads['objects'] = {
      tenantId: this.tenantId,
      jobId,
      contentId: record.contentId,
      keyId,
      plainSize: raw.length,
      upload,
      record,
    };
    const sighting = sightingKey(record.mailbox, record.folder, record.sourceKey.uidValidity, record.sourceKey.uid);
    const commitId = createHash('sha256')
      .update(`${jobId}|${sighting}|${record.contentId}|${upload?.uploadId ?? '-'}`)
      .digest('hex');
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const acknowledged = this.waitFor(jobId, sighting, record.contentId);
      try {
        // A repeated attempt gets a new msgId: the first commit was stored and consumed, but its
        // acknowledgement got lost somewhere; the pipeline is idempotent for the same sighting.
        await this.publisher.publish('objects', subjects.objects(this.tenantId), commit, {
          msgId: `${commitId}:${attempt}`,
        });
        const event = await acknowledged.promise;
        return { objectStored: event.objectStored, recordStored: event.recordStored };
      } catch (error) {
        acknowledged.cancel();
        lastError = error as Error;
      }
    }
    throw new UploadError(
      `message was not acknowledged after ${attempts} attempts: ${lastError?.message ?? 'unknown error'}`,
    );
  }

  private async sendChunks(
    contentId: string,
    sealed: Buffer,
  ): Promise<{ uploadId: string; chunkCount: number; sealedSize: number }> {
    const uploadId = randomBytes(16).toString('hex');
    const chunkCount = Math.max(1, Math.ceil(sealed.length / MAX_CHUNK_BYTES));
    const subject = subjects.chunks(this.tenantId, uploadId);
    const sends: Array<Promise<unknown>> = [];
    for (let index = 0; index < chunkCount; index++) {
      const offset = index * MAX_CHUNK_BYTES;
      const data = sealed.subarray(offset, Math.min(sealed.length, offset + MAX_CHUNK_BYTES));
      sends.push(
        this.publisher.publishBinary(
          'chunks',
          subject,
          { tenantId: this.tenantId, uploadId, contentId, chunkIndex: index, chunkCount, offset },
          data,
          { msgId: `${uploadId}:${index}` },
        ),
      );
    }
    await Promise.all(sends);
    return { uploadId, chunkCount, sealedSize: sealed.length };
  }

  private waitFor(
    jobId: string,
    sighting: string,
    contentId: string,
  ): { promise: Promise<IndexedEvent>; cancel(): void } {
    const key = `${jobId}|${sighting}|${contentId}`;
    const timeoutMs = this.options.ackTimeoutMs ?? 120_000;
    let cancel = () => undefined as void;
    const promise = new Promise<IndexedEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new UploadError(`no acknowledgement from the platform within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.waiters.set(key, { resolve, reject, timer });
      cancel = () => {
        clearTimeout(timer);
        this.waiters.delete(key);
      };
    });
    return { promise, cancel };
  }
}
