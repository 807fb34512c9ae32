import { Readable } from 'node:stream';
import { subjects, type ObjectCommit, type StoredRecord } from '@mlr/contracts';
import { messageObjectKey, type ObjectStore, type RetentionMode } from '@mlr/objectstore';
import { BackupError, BackupErrorCode } from './backup.exception.js';
import { describeIndexes, missingChunksDeadline, planChunks, type PlannedChunk } from './chunk-plan.js';
import type { ChunkStore } from './chunk-store.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { StorageMetrics } from './storage-metrics.js';
import { storedRecordMsgId } from './stored-record-id.js';
import type { StoredObjectRepository } from './stored-object.repository.js';

const DAY_MS = 24 * 3_600_000;

/** Where storage hands records on to indexing (the tenant's records subject). */
export interface StoredRecordSink {
  /** Resolves once the record is durably stored (JetStream PubAck). */
  publish(record: StoredRecord, msgId: string): Promise<void>;
}

export interface BackupLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface StoreObjectCommitDeps {
  objects: StoredObjectRepository;
  chunks: ChunkStore;
  store: ObjectStore;
  records: StoredRecordSink;
  bucket: string;
  /** Object Lock retention for new objects; none when absent. */
  retention?: { days: number; mode: RetentionMode } | undefined;
  metrics: StorageMetrics;
  logger: BackupLogger;
  now?: () => Date;
}

/** The commit as JetStream delivered it. */
export interface CommitDelivery {
  /** Stream sequence of the commit message (the same on every redelivery). */
  sequence: number;
  publishedAt: Date;
}

export interface CommitOutcome {
  objectId: string;
  objectStored: StoredRecord['objectStored'];
  recordMsgId: string;
}

interface WrittenObject {
  key: string;
  versionId: string | undefined;
  retainUntil: Date | null;
  seconds: number;
}

/**
 * Stores the object of one commit and then forwards its record to indexing:
 * single-instance per tenant and content id; the object is in S3 (size verified) and recorded in
 * `stored_objects` before the StoredRecord is published; chunks are dropped once they are no longer
 * needed. Every step may run again after a crash without losing or duplicating anything.
 */
export class StoreObjectCommit {
  private readonly locks = new KeyedMutex();
  private readonly now: () => Date;

  constructor(private readonly deps: StoreObjectCommitDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async execute(commit: ObjectCommit, delivery: CommitDelivery): Promise<CommitOutcome> {
    const { objectId, objectStored } = await this.locks.run(`${commit.tenantId}/${commit.contentId}`, () =>
      this.ensureStored(commit, delivery),
    );
    if (commit.upload) await this.dropChunks(commit.tenantId, commit.upload.uploadId);
    const recordMsgId = storedRecordMsgId(commit, delivery.sequence);
    await this.deps.records.publish(
      { tenantId: commit.tenantId, jobId: commit.jobId, objectId, objectStored, record: commit.record },
      recordMsgId,
    );
    return { objectId, objectStored, recordMsgId };
  }

  private async ensureStored(
    commit: ObjectCommit,
    delivery: CommitDelivery,
  ): Promise<{ objectId: string; objectStored: StoredRecord['objectStored'] }> {
    const { tenantId, contentId } = commit;
    const existing = await this.deps.objects.findByContentId(tenantId, contentId);
    if (existing) {
      this.deps.metrics.objectDeduplicated();
      this.deps.logger.debug({ tenantId, contentId, objectId: existing.id }, 'object already stored');
      return { objectId: existing.id, objectStored: 'deduplicated' };
    }
    if (commit.upload === null) {
      const { mailbox, folder, sourceKey } = commit.record;
      throw new BackupError(
        BackupErrorCode.ObjectNotStored,
        `commit of ${mailbox} / ${folder} (UIDVALIDITY ${sourceKey.uidValidity}, UID ${sourceKey.uid}) came without upload, as for an object already stored, but tenant ${tenantId} has no object ${contentId}; the connector must send the message with its object`,
      );
    }
    if (!(await this.deps.objects.tenantExists(tenantId))) {
      throw new BackupError(
        BackupErrorCode.TenantUnknown,
        `tenant ${tenantId} does not exist; object ${contentId} is not stored`,
      );
    }
    const upload = commit.upload;
    const written = await this.write(commit, upload, delivery);
    const { object, inserted } = await this.deps.objects.insertIfAbsent({
      tenantId,
      contentId,
      bucket: this.deps.bucket,
      key: written.key,
      plainSize: commit.plainSize,
      sealedSize: upload.sealedSize,
      keyId: commit.keyId,
      retainUntil: written.retainUntil,
    });
    if (!inserted) {
      // Another replica stored the same content meanwhile; its row stands. Our copy is a second
      // version of the same key: remove it where Object Lock allows, so one object remains.
      await this.dropDuplicateVersion(tenantId, contentId, written);
      this.deps.metrics.objectDeduplicated();
      return { objectId: object.id, objectStored: 'deduplicated' };
    }
    this.deps.metrics.objectStored(upload.sealedSize, written.seconds);
    this.deps.logger.debug(
      {
        tenantId,
        contentId,
        objectId: object.id,
        key: written.key,
        sealedSize: upload.sealedSize,
        chunkCount: upload.chunkCount,
        writeSeconds: Math.round(written.seconds * 1000) / 1000,
      },
      'object stored',
    );
    return { objectId: object.id, objectStored: 'new' };
  }

  private async write(
    commit: ObjectCommit,
    upload: NonNullable<ObjectCommit['upload']>,
    delivery: CommitDelivery,
  ): Promise<WrittenObject> {
    const { tenantId, contentId } = commit;
    const listing = await this.deps.chunks.list(tenantId, upload.uploadId);
    const plan = planChunks({ tenantId, contentId, ...upload }, listing);
    if (!plan.complete) {
      const what = `chunks ${describeIndexes(plan.missing)} of the ${upload.chunkCount} of upload ${upload.uploadId} (object ${contentId})`;
      const deadline = missingChunksDeadline(delivery.publishedAt, this.deps.chunks.retentionMs);
      if (this.now().getTime() >= deadline.getTime()) {
        throw new BackupError(
          BackupErrorCode.ChunksExpired,
          `${what} never arrived; the chunk stream keeps chunks ${Math.round(this.deps.chunks.retentionMs / 3_600_000)} h and the commit was published at ${delivery.publishedAt.toISOString()}, so they cannot come any more: the connector must send the message again`,
        );
      }
      throw new BackupError(
        BackupErrorCode.ChunksMissing,
        `${what} are not in the chunk stream (yet); retrying until ${deadline.toISOString()}`,
      );
    }

    const key = messageObjectKey(tenantId, contentId);
    const retention = this.deps.retention;
    const retainUntil = retention ? new Date(this.now().getTime() + retention.days * DAY_MS) : null;
    // The first failure while reading chunks: the store only sees a broken body stream.
    const failure: { error?: Error } = {};
    const body = Readable.from(this.bodies(commit, upload.uploadId, plan.chunks, failure), { objectMode: false });
    const started = performance.now();
    let versionId: string | undefined;
    try {
      const put = await this.deps.store.put({ bucket: this.deps.bucket, key }, body, {
        contentLength: upload.sealedSize,
        ...(retention && retainUntil ? { retainUntil, retentionMode: retention.mode } : {}),
      });
      versionId = put.versionId;
    } catch (error) {
      throw failure.error ?? error;
    }
    const seconds = (performance.now() - started) / 1_000;

    const head = await this.deps.store.head({ bucket: this.deps.bucket, key, ...(versionId ? { versionId } : {}) });
    if (!head || head.size !== upload.sealedSize) {
      throw new BackupError(
        BackupErrorCode.StoredObjectMismatch,
        `s3://${this.deps.bucket}/${key}${versionId ? ` (version ${versionId})` : ''} ${head ? `holds ${head.size} bytes` : 'is missing'} right after ${upload.sealedSize} bytes were written`,
      );
    }
    return { key, versionId, retainUntil, seconds };
  }

  /** The sealed bytes, chunk after chunk in object order; one chunk in memory at a time. */
  private async *bodies(
    commit: ObjectCommit,
    uploadId: string,
    chunks: readonly PlannedChunk[],
    failure: { error?: Error },
  ): AsyncGenerator<Buffer> {
    const fail = (code: BackupErrorCode, problem: string): BackupError => {
      failure.error = new BackupError(code, `upload ${uploadId} of object ${commit.contentId}: ${problem}`);
      return failure.error as BackupError;
    };
    for (const planned of chunks) {
      let read;
      try {
        read = await this.deps.chunks.read(commit.tenantId, uploadId, planned.sequence);
      } catch (error) {
        failure.error = error as Error;
        throw error;
      }
      if (read === null) {
        throw fail(
          BackupErrorCode.ChunksMissing,
          `chunk ${planned.index} (message ${planned.sequence}) disappeared while it was being copied`,
        );
      }
      if ('problem' in read) {
        throw fail(
          BackupErrorCode.ChunksInconsistent,
          `chunk ${planned.index} (message ${planned.sequence}) is invalid: ${read.problem}`,
        );
      }
      if (
        read.data.byteLength !== planned.size ||
        read.header.chunkIndex !== planned.index ||
        read.header.offset !== planned.offset
      ) {
        throw fail(
          BackupErrorCode.ChunksInconsistent,
          `message ${planned.sequence} holds chunk ${read.header.chunkIndex} at offset ${read.header.offset} with ${read.data.byteLength} bytes, its header promised chunk ${planned.index} at offset ${planned.offset} with ${planned.size} bytes`,
        );
      }
      yield Buffer.from(read.data.buffer, read.data.byteOffset, read.data.byteLength);
    }
  }

  /**
   * The object is durable, so the chunks are no longer needed. Failing to drop them must not hold
   * the record back: the chunk stream drops them by age anyway.
   */
  private async dropChunks(tenantId: string, uploadId: string): Promise<void> {
    try {
      await this.deps.chunks.purge(tenantId, uploadId);
    } catch (error) {
      this.deps.logger.warn(
        { tenantId, uploadId, error: (error as Error).message },
        'could not drop the chunks of a stored upload; they expire with the chunk stream',
      );
    }
  }

  private async dropDuplicateVersion(tenantId: string, contentId: string, written: WrittenObject): Promise<void> {
    const fields = { tenantId, contentId, key: written.key, versionId: written.versionId };
    if (!written.versionId) {
      // Unversioned bucket: our write replaced the other copy, which removing would lose.
      this.deps.logger.info(fields, 'object stored concurrently by another commit; keeping the current copy');
      return;
    }
    if (written.retainUntil) {
      this.deps.logger.info(
        fields,
        'object stored concurrently by another commit; the duplicate version stays until its retention ends',
      );
      return;
    }
    try {
      await this.deps.store.delete({ bucket: this.deps.bucket, key: written.key, versionId: written.versionId });
      this.deps.logger.info(fields, 'object stored concurrently by another commit; removed the duplicate version');
    } catch (error) {
      this.deps.logger.warn(
        { ...fields, error: (error as Error).message },
        'object stored concurrently by another commit; could not remove the duplicate version',
      );
    }
  }
}

/** The StoredRecordSink over a JetStream publisher. */
export function jetStreamRecordSink(publisher: {
  publish(
    kind: 'records',
    subject: ReturnType<typeof subjects.records>,
    payload: StoredRecord,
    options: { msgId: string },
  ): Promise<unknown>;
}): StoredRecordSink {
  return {
    publish: async (record, msgId) => {
      await publisher.publish('records', subjects.records(record.tenantId), record, { msgId });
    },
  };
}
