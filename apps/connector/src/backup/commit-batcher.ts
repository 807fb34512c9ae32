import { randomBytes } from 'node:crypto';
import {
  COMMIT_BATCH_MAX_BYTES,
  COMMIT_BATCH_MAX_ITEMS,
  INLINE_SEALED_MAX_BYTES,
  MAX_CHUNK_BYTES,
  parseChannelPayload,
  sightingLabel,
  UPLOAD_QUOTA_DEFAULT_BYTES,
  SIGHTING_STATUS_MAX,
  subjects,
  tenantCallSubjects,
  type Channel,
  type SightingKey,
  type ChannelPayloads,
  type IndexRecord,
  type ObjectChunk,
  type ObjectCommitItem,
  type SightingResult,
  type SightingStatusResponse,
  type Subject,
} from '@mlr/contracts';
import type { SightingUploader, UploadOutcome } from '@mlr/connector-core';
import type { SealedMessage } from '@mlr/crypto';
import {
  exponentialDelay,
  isConnectionClosedError,
  isRetriablePublishError,
  isStreamFullError,
  Publisher,
  sleep,
  tenantCallClient,
  type MessagingConnection,
} from '@mlr/messaging';
import type { Subscription } from '@nats-io/nats-core';

export type PlatformPublisher = Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>;

export class UploadError extends Error {
  override readonly name = 'UploadError';
}

/** The key of one sighting: what the platform acknowledges. */
export function sightingKey(mailbox: string, folder: string, key: SightingKey): string {
  return JSON.stringify([mailbox, folder, key.source, key.epoch, key.id]);
}

export interface CommitBatcherOptions {
  /** How long to wait for the platform to acknowledge a sighting before sending it again. Default 120 s. */
  ackTimeoutMs?: number;
  /**
   * Sends of one sighting that reached the platform, were not acknowledged, and of which the
   * platform then said it had not indexed them, before it fails. Default 3.
   */
  attempts?: number;
  /**
   * How long a sighting may wait for a platform it cannot reach (publishes failing, its fate not to
   * be asked) before it fails; meanwhile it is sent again every few seconds, and the backup waits for
   * room. Default 30 minutes.
   */
  unreachableGiveUpMs?: number;
  /** Wait between sends to a platform that could not be reached. Default 2 s. */
  unreachableRetryMs?: number;
  /**
   * How long a sighting may wait for storage that has its commit (or, for a large message, for room
   * in the tenant's upload quota) but does not store it — S3 down, or storage far behind — before it
   * fails; meanwhile it is not sent again and the backup waits for room. Default 4 hours.
   */
  storageWaitGiveUpMs?: number;
  /** How long a batch waits for more sightings after its first. Default 20 ms. */
  lingerMs?: number;
  /** Bytes of one batch (framing, JSON and inline bytes) at most. Default COMMIT_BATCH_MAX_BYTES. */
  maxBatchBytes?: number;
  /** Sealed objects up to this size travel inline. Default INLINE_SEALED_MAX_BYTES. */
  inlineMaxBytes?: number;
}

/** A wait for people: seconds up to two minutes, then minutes. */
function formatWait(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

/** `bytes` for people: MiB (or GiB) with at most one decimal. */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  if (mib >= 1024) return `${Number((mib / 1024).toFixed(1))} GiB`;
  return `${Number(mib.toFixed(1))} MiB`;
}

/** The lists of a record that can grow without bound, longest first when one must be shortened. */
const TRIMMABLE = ['to', 'cc', 'bcc', 'attachmentNames', 'parseProblems'] as const;

/**
 * A record whose JSON fits into `maxBytes`: the longest lists (recipients, attachment names) are
 * shortened until it does, and `parseProblems` says what was left out of the index — the message
 * itself is backed up whole. A message to ten thousand recipients is real; a commit is bounded.
 */
export function fitRecord(record: IndexRecord, maxBytes: number): IndexRecord {
  const size = (candidate: IndexRecord) => Buffer.byteLength(JSON.stringify(candidate));
  if (size(record) <= maxBytes) return record;
  const fitted: IndexRecord = { ...record };
  const kept: Partial<Record<(typeof TRIMMABLE)[number], number>> = {};
  const note = () =>
    `index record shortened to fit a commit: ${Object.entries(kept)
      .map(
        ([field, count]) => `${count} of ${(record[field as (typeof TRIMMABLE)[number]] as unknown[]).length} ${field}`,
      )
      .join(', ')} kept`;
  while (size({ ...fitted, parseProblems: [...fitted.parseProblems, note()] }) > maxBytes) {
    const longest = TRIMMABLE.map((field) => [field, fitted[field].length] as const).sort((a, b) => b[1] - a[1])[0];
    if (!longest || longest[1] === 0) {
      throw new UploadError(
        `the index record of ${record.mailbox} / ${record.folder} ${sightingLabel(record.sourceKey)} cannot be made to fit a commit`,
      );
    }
    const [field, length] = longest;
    const keep = Math.floor(length / 2);
    (fitted as Record<string, unknown>)[field] = fitted[field].slice(0, keep);
    kept[field] = keep;
  }
  return { ...fitted, parseProblems: [...fitted.parseProblems, note()] };
}

/** What the JSON of one item costs beside its inline bytes, at most (framing of the batch included). */
const BATCH_OVERHEAD_BYTES = 512;

interface Pending {
  jobId: string;
  item: ObjectCommitItem;
  /** The sealed bytes when they travel inline (the item's offset is set when its batch is sealed). */
  inline: Buffer | undefined;
  /** Encoded size of the item's JSON. */
  itemBytes: number;
  key: string;
  attempt: number;
  /**
   * Since when the platform could not be reached or could not say what became of it (ms since the
   * epoch): set by the first failure since the platform last answered about it.
   */
  unreachableSince?: number;
  /** The stream sequence of the commit batch it was last sent in (from the PubAck). */
  commitSequence?: number;
  /** Since when the platform has said that its commit waits for storage (ms since the epoch). */
  storageWaitSince?: number;
  resolve(outcome: UploadOutcome): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

interface OpenBatch {
  jobId: string;
  entries: Pending[];
  bytes: number;
  timer: NodeJS.Timeout;
  /** Asks storage to write the tenant's open pack right after this batch's items. */
  flush?: boolean;
}

/**
 * Sends sightings of messages through the platform in batches and answers each when the platform
 * acknowledges it end to end: seal (zstd + AES-256-GCM) → small sealed objects inline in a commit
 * batch on `mlr.<t>.objects` (larger ones as chunks on `mlr.<t>.chunks.<upload>` first, named in the
 * batch by their stream sequences) → one acknowledgement per sighting on `mlr.<t>.indexed` once
 * storage and indexing have it durably, or its refusal with the reason. A sighting that is not
 * acknowledged in time is asked about (`sightings.status`, answered by indexing): one the index holds
 * is answered as stored (its acknowledgement was lost: the connector was cut off, NATS restarted),
 * one whose commit still waits for storage (S3 down, storage behind) waits longer without being sent
 * again, up to `storageWaitGiveUpMs`; any other is sent again in a later batch (every step is
 * idempotent), and given up after the last attempt. Sends that cannot reach the platform, and
 * questions it cannot answer, count no attempt: the sighting is sent again until the platform
 * answers or `unreachableGiveUpMs` has passed.
 */
export class CommitBatcher implements SightingUploader {
  private readonly waiting = new Map<string, Pending>();
  private readonly open = new Map<string, OpenBatch>();
  private subscription?: Subscription;
  private readonly publisher: PlatformPublisher;
  private readonly ackTimeoutMs: number;
  private readonly attempts: number;
  private readonly lingerMs: number;
  private readonly maxBatchBytes: number;
  private readonly inlineMaxBytes: number;
  private readonly unreachableGiveUpMs: number;
  private readonly unreachableRetryMs: number;
  private readonly storageWaitGiveUpMs: number;
  private readonly calls: ReturnType<typeof tenantCallClient>;
  /** Sightings whose acknowledgement did not come in time, to be asked about together. */
  private overdue: Pending[] = [];
  private overdueTimer: NodeJS.Timeout | undefined;
  /** The tenant's upload quota (bytes), once licensing has said it (`tenant.status`). */
  private uploadQuotaBytes: number | undefined;
  /** Sealed bytes of the uploads whose chunks are being published now, and the uploads waiting to start. */
  private uploadingBytes = 0;
  private readonly uploadQueue: Array<{ bytes: number; start: () => void }> = [];
  /** Since when chunk publishes are refused because the tenant's quota is full (for one warning per episode). */
  private quotaFullSince: number | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly tenantId: string,
    options: CommitBatcherOptions = {},
  ) {
    // No outbound validation: storage validates every batch it takes, and validating hundreds of
    // records per second twice would cost the connector a good share of its CPU.
    this.publisher = new Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>(messaging, {
      logger: messaging.logger,
      timeoutMs: 30_000,
    });
    this.ackTimeoutMs = options.ackTimeoutMs ?? 120_000;
    this.attempts = options.attempts ?? 3;
    this.lingerMs = options.lingerMs ?? 20;
    this.maxBatchBytes = options.maxBatchBytes ?? COMMIT_BATCH_MAX_BYTES;
    this.inlineMaxBytes = Math.min(options.inlineMaxBytes ?? INLINE_SEALED_MAX_BYTES, this.maxBatchBytes / 2);
    this.unreachableGiveUpMs = options.unreachableGiveUpMs ?? 30 * 60_000;
    this.unreachableRetryMs = options.unreachableRetryMs ?? 2_000;
    this.storageWaitGiveUpMs = options.storageWaitGiveUpMs ?? 4 * 3_600_000;
    this.calls = tenantCallClient(messaging);
  }

  /** Listens for acknowledgements; call before the first upload. */
  start(): void {
    this.subscription = this.messaging.nc.subscribe(subjects.indexed(this.tenantId), {
      callback: (error, message) => {
        if (error) return;
        let results: SightingResult[];
        let jobId: string;
        try {
          ({ jobId, results } = parseChannelPayload('indexed', message.subject, message.json()));
        } catch (invalid) {
          this.messaging.logger.warn({ reason: (invalid as Error).message }, 'ignoring invalid acknowledgement');
          return;
        }
        for (const result of results) this.settle(jobId, result);
      },
    });
  }

  /**
   * The tenant's upload quota as licensing said it: a message whose sealed size is above it is refused
   * at once (naming it), and the uploads of this connector keep well below it together.
   */
  setUploadQuota(bytes: number): void {
    this.uploadQuotaBytes = bytes;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const queued of this.uploadQueue.splice(0)) queued.start();
    this.subscription?.unsubscribe();
    for (const batch of this.open.values()) clearTimeout(batch.timer);
    this.open.clear();
    clearTimeout(this.overdueTimer);
    this.overdue = [];
    for (const pending of this.waiting.values()) {
      clearTimeout(pending.timer);
      pending.reject(new UploadError('connector stopping'));
    }
    this.waiting.clear();
  }

  /** Stores one sighting: the sealed message and its index record. */
  async upload(jobId: string, sealed: SealedMessage, record: IndexRecord): Promise<UploadOutcome> {
    if (sealed.contentId !== record.contentId) {
      throw new UploadError(
        `the index record names content id ${record.contentId}, the sealed message ${sealed.contentId}`,
      );
    }
    const inline = sealed.sealed.length <= this.inlineMaxBytes;
    const item: ObjectCommitItem = {
      contentId: record.contentId,
      keyId: sealed.keyId,
      plainSize: sealed.plainSize,
      sealed: inline
        ? { kind: 'inline', offset: 0, length: sealed.sealed.length }
        : await this.sendChunks(record.contentId, sealed.sealed),
      record,
    };
    const room = this.maxBatchBytes - BATCH_OVERHEAD_BYTES - (inline ? sealed.sealed.length : 0);
    // Offsets of inline bytes are filled in per batch; their digits may grow the JSON a little.
    let itemBytes = Buffer.byteLength(JSON.stringify(item)) + 16;
    if (itemBytes > room) {
      item.record = fitRecord(item.record, room - (itemBytes - Buffer.byteLength(JSON.stringify(item.record))));
      itemBytes = Buffer.byteLength(JSON.stringify(item)) + 16;
    }
    const key = `${jobId}|${sightingKey(record.mailbox, record.folder, record.sourceKey)}|${record.contentId}`;
    return new Promise<UploadOutcome>((resolve, reject) => {
      this.enqueue({
        jobId,
        item,
        inline: inline ? sealed.sealed : undefined,
        itemBytes,
        key,
        attempt: 1,
        resolve,
        reject,
      });
    });
  }

  flush(jobId: string): void {
    const open = this.open.get(jobId);
    if (open) {
      open.flush = true;
      this.send(open);
      return;
    }
    // Everything was sent already: a batch without items carries the request, if anything is unanswered.
    if (![...this.waiting.values()].some((pending) => pending.jobId === jobId)) return;
    const batchId = randomBytes(16).toString('hex');
    void this.publisher
      .publishFramed(
        'objects',
        subjects.objects(this.tenantId),
        { tenantId: this.tenantId, jobId, batchId, items: [], flush: true },
        [],
        { msgId: batchId },
      )
      .catch((error: unknown) =>
        this.messaging.logger.warn(
          { jobId, error: (error as Error).message },
          'could not ask the platform to write what it holds',
        ),
      );
  }

  private settle(jobId: string, result: SightingResult): void {
    const key = `${jobId}|${sightingKey(result.mailbox, result.folder, result.sourceKey)}|${result.contentId}`;
    const pending = this.waiting.get(key);
    if (!pending) return;
    this.waiting.delete(key);
    clearTimeout(pending.timer);
    if (result.outcome === 'stored') {
      pending.resolve({ objectStored: result.objectStored, recordStored: result.recordStored });
    } else {
      pending.reject(new UploadError(`the platform refused it (${result.stage}): ${result.reason}`));
    }
  }

  private enqueue(pending: Pending): void {
    const size = pending.itemBytes + (pending.inline?.length ?? 0);
    let batch = this.open.get(pending.jobId);
    if (batch && (batch.bytes + size > this.maxBatchBytes || batch.entries.length >= COMMIT_BATCH_MAX_ITEMS)) {
      this.send(batch);
      batch = undefined;
    }
    if (!batch) {
      const opened: OpenBatch = {
        jobId: pending.jobId,
        entries: [],
        bytes: BATCH_OVERHEAD_BYTES,
        timer: setTimeout(() => this.send(opened), this.lingerMs),
      };
      batch = opened;
      this.open.set(pending.jobId, batch);
    }
    batch.entries.push(pending);
    batch.bytes += size;
    this.waiting.set(pending.key, pending);
  }

  private send(batch: OpenBatch): void {
    if (this.open.get(batch.jobId) === batch) this.open.delete(batch.jobId);
    clearTimeout(batch.timer);
    void this.publishBatch(batch);
  }

  private async publishBatch(batch: OpenBatch): Promise<void> {
    const data: Buffer[] = [];
    let offset = 0;
    const items = batch.entries.map((entry) => {
      if (!entry.inline) return entry.item;
      const item = { ...entry.item, sealed: { kind: 'inline' as const, offset, length: entry.inline.length } };
      data.push(entry.inline);
      offset += entry.inline.length;
      return item;
    });
    const batchId = randomBytes(16).toString('hex');
    for (const entry of batch.entries) {
      entry.timer = setTimeout(() => this.expired(entry), this.ackTimeoutMs);
    }
    try {
      const { seq } = await this.publisher.publishFramed(
        'objects',
        subjects.objects(this.tenantId),
        { tenantId: this.tenantId, jobId: batch.jobId, batchId, items, ...(batch.flush ? { flush: true } : {}) },
        data,
        { msgId: batchId },
      );
      for (const entry of batch.entries) entry.commitSequence = seq;
    } catch (error) {
      // At the most commits the tenant may have waiting for storage, the platform is reachable but
      // behind (or cannot write): wait for it as long as for a commit it holds.
      const full = isStreamFullError(error);
      const why = full
        ? `storage has not taken the tenant's waiting commits (${(error as Error).message})`
        : `the commit could not be published: ${(error as Error).message}`;
      for (const entry of batch.entries) {
        this.unreachable(entry, why, full ? this.storageWaitGiveUpMs : this.unreachableGiveUpMs);
      }
    }
  }

  private expired(entry: Pending): void {
    if (this.waiting.get(entry.key) !== entry) return;
    this.overdue.push(entry);
    // The sightings of a batch expire together: ask about them in one call.
    this.overdueTimer ??= setTimeout(() => {
      this.overdueTimer = undefined;
      void this.askAboutOverdue();
    }, 10);
  }

  /** Asks the platform what became of the sightings whose acknowledgement did not come in time. */
  private async askAboutOverdue(): Promise<void> {
    const seconds = (this.ackTimeoutMs / 1000).toFixed(this.ackTimeoutMs < 10_000 ? 1 : 0);
    const why = `no acknowledgement from the platform within ${seconds} s`;
    while (this.overdue.length > 0) {
      const asked = this.overdue
        .splice(0, SIGHTING_STATUS_MAX)
        .filter((entry) => this.waiting.get(entry.key) === entry);
      if (asked.length === 0) continue;
      let answer: SightingStatusResponse;
      try {
        answer = await this.sightingStatus(asked);
      } catch (error) {
        for (const entry of asked) {
          this.unreachable(
            entry,
            `${why}, and the platform could not say whether it has it: ${(error as Error).message}`,
          );
        }
        continue;
      }
      const waitingCommits = new Set(answer.waitingCommits ?? []);
      for (const [index, entry] of asked.entries()) {
        if (this.waiting.get(entry.key) !== entry) continue; // acknowledged meanwhile
        const status = answer.sightings[index];
        if (
          status?.state !== 'indexed' &&
          entry.commitSequence !== undefined &&
          waitingCommits.has(entry.commitSequence)
        ) {
          delete entry.unreachableSince;
          this.waitForStorage(entry, why);
        } else if (status?.state === 'indexed') {
          this.waiting.delete(entry.key);
          clearTimeout(entry.timer);
          // The index does not say whether the object was new to the tenant: new if this job recorded it.
          entry.resolve({
            objectStored: status.backupJobId === entry.jobId ? 'new' : 'deduplicated',
            recordStored: 'unchanged',
          });
        } else {
          // The platform answered: it does not have it (yet), and its commit is not waiting for storage.
          delete entry.unreachableSince;
          delete entry.storageWaitSince;
          this.retry(entry, why);
        }
      }
    }
  }

  private async sightingStatus(entries: readonly Pending[]): Promise<SightingStatusResponse> {
    const sightings = entries.map(({ item }) => ({
      contentId: item.contentId,
      mailbox: item.record.mailbox,
      folder: item.record.folder,
      sourceKey: item.record.sourceKey,
    }));
    const commits = [
      ...new Set(entries.flatMap(({ commitSequence }) => (commitSequence === undefined ? [] : [commitSequence]))),
    ];
    const reply = await this.calls.request(
      'sightings.status',
      tenantCallSubjects['sightings.status'](this.tenantId),
      { tenantId: this.tenantId, sightings, ...(commits.length > 0 ? { commits } : {}) },
      { timeoutMs: 30_000 },
    );
    if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
    if (reply.value.sightings.length !== sightings.length) {
      throw new Error(`asked about ${sightings.length} sightings, answered about ${reply.value.sightings.length}`);
    }
    return reply.value;
  }

  /**
   * The platform could not be reached (a publish failed) or could not answer: the sighting is sent
   * again after a pause, without counting an attempt, until `unreachableGiveUpMs` has passed without
   * an answer about it. Meanwhile it holds its place among the sightings in flight, so the
   * backup slows down instead of failing messages.
   */
  private unreachable(entry: Pending, why: string, giveUpMs = this.unreachableGiveUpMs): void {
    if (this.waiting.get(entry.key) !== entry) return;
    clearTimeout(entry.timer);
    const since = entry.unreachableSince ?? Date.now();
    if (Date.now() - since >= giveUpMs) {
      this.waiting.delete(entry.key);
      const took = formatWait(Date.now() - since);
      entry.reject(new UploadError(`the platform could not be reached or answer for ${took}: ${why}`));
      return;
    }
    entry.unreachableSince = since;
    entry.timer = setTimeout(() => {
      if (this.waiting.get(entry.key) !== entry) return;
      this.waiting.delete(entry.key);
      this.enqueue({ ...entry, timer: undefined });
    }, this.unreachableRetryMs);
  }

  /**
   * Its commit waits for storage (which cannot write, or is behind): the sighting is not sent again
   * (that would only queue it twice) and counts no attempt; it is asked about again after another
   * acknowledgement timeout, until `storageWaitGiveUpMs` has passed. Meanwhile it holds its place
   * among the sightings in flight, so the backup slows down instead of failing messages.
   */
  private waitForStorage(entry: Pending, why: string): void {
    clearTimeout(entry.timer);
    const since = (entry.storageWaitSince ??= Date.now());
    const waited = Date.now() - since;
    if (waited >= this.storageWaitGiveUpMs) {
      this.waiting.delete(entry.key);
      const took = formatWait(waited);
      entry.reject(
        new UploadError(
          `storage has held its commit for ${took} without storing it (${why}): is its object storage reachable?`,
        ),
      );
      return;
    }
    entry.timer = setTimeout(() => this.expired(entry), this.ackTimeoutMs);
  }

  /**
   * Sends the sighting again in a new batch, or gives up after the last attempt. A repeated send is
   * harmless: storage keeps one object per content and indexing one record per sighting.
   */
  private retry(entry: Pending, why: string): void {
    if (this.waiting.get(entry.key) !== entry) return;
    clearTimeout(entry.timer);
    this.waiting.delete(entry.key);
    if (entry.attempt >= this.attempts) {
      entry.reject(new UploadError(`message was not acknowledged after ${this.attempts} attempts: ${why}`));
      return;
    }
    this.enqueue({ ...entry, attempt: entry.attempt + 1, timer: undefined });
  }

  /**
   * Publishes a large sealed message as chunks into the tenant's chunk stream, where they wait for
   * their commit. The stream's byte limit is the tenant's upload quota: a chunk refused at the quota
   * is sent again after a pause until `storageWaitGiveUpMs` has passed (one that cannot reach NATS
   * until `unreachableGiveUpMs`), so a tenant at its quota, or a platform whose storage cannot write,
   * slows the backup down instead of failing messages. A message above the quota could never fit
   * and is refused at once; this connector's uploads together stay below a quarter of the quota (one
   * at a time beyond), so that half-sent uploads cannot fill the quota and wait for each other.
   */
  private async sendChunks(
    contentId: string,
    sealed: Buffer,
  ): Promise<Extract<ObjectCommitItem['sealed'], { kind: 'chunks' }>> {
    const quota = this.uploadQuotaBytes;
    if (quota !== undefined && sealed.length > quota) {
      throw new UploadError(
        `the message is ${formatBytes(sealed.length)} sealed, more than tenant ${this.tenantId}'s upload quota of ` +
          `${formatBytes(quota)} (what its connectors may have waiting for storage at once): the operator can raise it ` +
          `(PUT /v1/tenants/${this.tenantId}/upload-quota)`,
      );
    }
    await this.startUpload(sealed.length);
    try {
      const uploadId = randomBytes(16).toString('hex');
      const chunkCount = Math.ceil(sealed.length / MAX_CHUNK_BYTES);
      const sends: Array<Promise<{ sequence: number; offset: number; length: number }>> = [];
      for (let index = 0; index < chunkCount; index++) {
        const offset = index * MAX_CHUNK_BYTES;
        const data = sealed.subarray(offset, Math.min(sealed.length, offset + MAX_CHUNK_BYTES));
        const header = { tenantId: this.tenantId, uploadId, contentId, chunkIndex: index, chunkCount, offset };
        sends.push(this.publishChunk(header, data).then((sequence) => ({ sequence, offset, length: data.length })));
      }
      return { kind: 'chunks', uploadId, sealedSize: sealed.length, chunks: await Promise.all(sends) };
    } finally {
      this.endUpload(sealed.length);
    }
  }

  /** Waits until this upload fits beside the others being published (always when none is). */
  /** Bytes of this connector's uploads that may be being sent at once: a quarter of the quota. */
  private get uploadBudget(): number {
    return (this.uploadQuotaBytes ?? UPLOAD_QUOTA_DEFAULT_BYTES) / 4;
  }

  private startUpload(bytes: number): Promise<void> {
    const budget = this.uploadBudget;
    if (this.uploadQueue.length === 0 && (this.uploadingBytes === 0 || this.uploadingBytes + bytes <= budget)) {
      this.uploadingBytes += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.uploadQueue.push({
        bytes,
        start: () => {
          this.uploadingBytes += bytes;
          resolve();
        },
      }),
    );
  }

  private endUpload(bytes: number): void {
    this.uploadingBytes -= bytes;
    const budget = this.uploadBudget;
    for (let next = this.uploadQueue[0]; next; next = this.uploadQueue[0]) {
      if (this.uploadingBytes > 0 && this.uploadingBytes + next.bytes > budget) return;
      this.uploadQueue.shift();
      next.start();
    }
  }

  /** Publishes one chunk, waiting for room in the tenant's quota (or for NATS); its stream sequence. */
  private async publishChunk(header: ObjectChunk, data: Buffer): Promise<number> {
    const subject = subjects.chunks(this.tenantId, header.uploadId);
    const msgId = `${header.uploadId}:${header.chunkIndex}`;
    let since: number | undefined;
    for (let attempt = 1; ; attempt++) {
      if (this.stopping.signal.aborted) throw new UploadError('connector stopping');
      try {
        const ack = await this.publisher.publishBinary('chunks', subject, header, data, { msgId });
        this.quotaSettled();
        return ack.seq;
      } catch (error) {
        const full = isStreamFullError(error);
        if (isConnectionClosedError(error) || (!full && !isRetriablePublishError(error))) throw error;
        since ??= Date.now();
        const waited = Date.now() - since;
        if (full) this.quotaFull();
        if (waited >= (full ? this.storageWaitGiveUpMs : this.unreachableGiveUpMs)) {
          const took = formatWait(waited);
          throw new UploadError(
            full
              ? `tenant ${this.tenantId}'s upload quota${this.uploadQuotaBytes ? ` of ${formatBytes(this.uploadQuotaBytes)}` : ''} ` +
                  `stayed full for ${took}: storage did not take the uploads waiting in it (${(error as Error).message})`
              : `a chunk could not be published for ${took}: ${(error as Error).message}`,
          );
        }
        await sleep(exponentialDelay(attempt, { baseMs: 250, maxMs: this.unreachableRetryMs }), this.stopping.signal);
      }
    }
  }

  private quotaFull(): void {
    if (this.quotaFullSince !== undefined) return;
    this.quotaFullSince = Date.now();
    this.messaging.logger.warn(
      {
        event: 'upload-quota.full',
        tenantId: this.tenantId,
        ...(this.uploadQuotaBytes ? { quotaBytes: this.uploadQuotaBytes } : {}),
      },
      `the tenant's upload quota${this.uploadQuotaBytes ? ` of ${formatBytes(this.uploadQuotaBytes)}` : ''} is full: ` +
        'waiting for storage to take what waits in it (the backup slows down; nothing fails)',
    );
  }

  private quotaSettled(): void {
    if (this.quotaFullSince === undefined) return;
    const waitedMs = Date.now() - this.quotaFullSince;
    this.quotaFullSince = undefined;
    this.messaging.logger.info(
      { event: 'upload-quota.room', tenantId: this.tenantId, waitedMs },
      "the tenant's upload quota has room again",
    );
  }
}
