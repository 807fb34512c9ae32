import { Readable } from 'node:stream';
import { uuidV7 } from '@mlr/db';
import { Limiter } from '@mlr/messaging';
import { encodePack, packHeader, packObjectKey, packTail, PACK_HEADER_BYTES, type ObjectStore } from '@mlr/objectstore';
import type { StorageMetrics } from '../storage-metrics.js';
import type { NewPack, StoredObjectRepository } from '../stored-object.repository.js';
import {
  InFlightMembers,
  retainUntil,
  type MemberToStore,
  type ObjectWriter,
  retentionFor,
  type TenantRetention,
  type StoredMember,
} from './object-writer.js';

export interface PackWriterOptions {
  /** An open pack is written once it holds this many bytes. */
  targetBytes: number;
  /** ... or this long after its first member arrived, whichever comes first. */
  maxWaitMs: number;
  /** Bytes held in open packs and packs being written, over all tenants; members wait beyond it. */
  bufferBytes: number;
  /** Packs written at once. */
  concurrentWrites: number;
  /**
   * Calls of `store` (commit batches) that may wait at once before the largest open pack is written
   * early: the consumer holds no more batches than this, and once every one of them waits for a pack
   * that nothing else will fill, waiting for a timer would only stall the backups.
   */
  maxWaitingCalls?: number;
}

export interface PackWriterDeps {
  store: Pick<ObjectStore, 'put'>;
  repository: Pick<StoredObjectRepository, 'recordObjects'>;
  bucket: string;
  /** Object Lock of new objects: one policy, or the tenant's (`objectRetention`). */
  retention?: TenantRetention | undefined;
  metrics: StorageMetrics;
  logger: { debug(fields: Record<string, unknown>, message: string): void };
  now?: () => Date;
  newId?: () => string;
}

interface Waiting {
  member: MemberToStore & { bytes: Buffer };
  resolve(stored: StoredMember): void;
  reject(error: Error): void;
}

interface OpenPack {
  tenantId: string;
  members: Waiting[];
  bytes: number;
  timer: NodeJS.Timeout;
}

/**
 * The `packed` layout: sealed objects of one tenant are collected into an open pack, which is written
 * with one PUT when it is full or old enough, then recorded (pack row and one stored object per
 * member, with its locator: key, version id, offset, length); only then are its members' writes
 * answered. Members too large to be worth holding (half a pack or more) become packs of their own,
 * streamed. Memory is bounded over all tenants (`bufferBytes`): a member that does not fit waits, and
 * meanwhile the largest open pack is written early to make room.
 */
export class PackWriter implements ObjectWriter {
  private readonly open = new Map<string, OpenPack>();
  private readonly inFlight = new InFlightMembers();
  private readonly writes: Limiter;
  private readonly now: () => Date;
  private readonly newId: () => string;
  private buffered = 0;
  private spaceWaiters: Array<() => void> = [];
  private waitingCalls = 0;

  constructor(
    private readonly options: PackWriterOptions,
    private readonly deps: PackWriterDeps,
  ) {
    if (options.bufferBytes < 2 * options.targetBytes) {
      throw new RangeError(
        `the pack buffer (${options.bufferBytes} bytes) must hold at least two packs of ${options.targetBytes} bytes`,
      );
    }
    this.writes = new Limiter(options.concurrentWrites);
    this.now = deps.now ?? (() => new Date());
    this.newId = deps.newId ?? (() => uuidV7());
  }

  /** Bytes held in open packs and packs being written. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  store(
    tenantId: string,
    members: readonly MemberToStore[],
    options: { onPlaced?: () => void } = {},
  ): Promise<Array<StoredMember | Error>> {
    const placed = members.map((member) => this.storeOne(tenantId, member));
    // Never rejects: a member that could not be placed is placed as far as waiting goes.
    const everyPlaced = Promise.all(placed.map((p) => p.placed));
    const max = this.options.maxWaitingCalls;
    if (max !== undefined && members.length > 0) {
      this.waitingCalls++;
      // Every batch the consumer may hold waits for a pack: the largest goes now, freeing its batches.
      if (this.waitingCalls >= max) void everyPlaced.then(() => this.makeRoom());
    }
    if (options.onPlaced) void everyPlaced.then(options.onPlaced);
    const results = Promise.all(
      placed.map(({ stored }) =>
        stored.catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      ),
    );
    if (max === undefined || members.length === 0) return results;
    return results.finally(() => this.waitingCalls--);
  }

  flush(tenantId: string): void {
    const pack = this.open.get(tenantId);
    if (pack) this.write(pack);
  }

  /** Writes every open pack now; resolves when no write is left (shutdown). */
  async drain(): Promise<void> {
    for (const pack of [...this.open.values()]) this.write(pack);
    while (this.buffered > 0) await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
  }

  /** `placed` resolves once the member is in an open pack (or needs none); `stored` once it is durable. */
  private storeOne(tenantId: string, member: MemberToStore): { placed: Promise<void>; stored: Promise<StoredMember> } {
    const joined = this.inFlight.joining(tenantId, member.contentId);
    if (joined) return { placed: Promise.resolve(), stored: joined };
    if (member.bytes === undefined || member.sealedSize * 2 >= this.options.targetBytes) {
      const stored = this.inFlight.track(tenantId, member.contentId, this.writeAlone(tenantId, member));
      return { placed: Promise.resolve(), stored };
    }
    const queued = this.enqueue(tenantId, member as Waiting['member']);
    const stored = this.inFlight.track(
      tenantId,
      member.contentId,
      queued.then((entry) => entry.stored),
    );
    return {
      placed: queued.then(
        () => undefined,
        () => undefined,
      ),
      stored,
    };
  }

  /** Resolves once the member is in its tenant's open pack, with the promise of its write. */
  private async enqueue(tenantId: string, member: Waiting['member']): Promise<{ stored: Promise<StoredMember> }> {
    await this.reserve(member.sealedSize);
    let pack = this.open.get(tenantId);
    if (!pack) {
      const opened: OpenPack = {
        tenantId,
        members: [],
        bytes: 0,
        timer: setTimeout(() => this.write(opened), this.options.maxWaitMs),
      };
      pack = opened;
      this.open.set(tenantId, pack);
    }
    const joined = pack;
    const stored = new Promise<StoredMember>((resolve, reject) => joined.members.push({ member, resolve, reject }));
    pack.bytes += member.sealedSize;
    if (pack.bytes >= this.options.targetBytes) this.write(pack);
    // Members wait for room: what is held in open packs goes now rather than when its timer ends.
    else if (this.spaceWaiters.length > 0) this.makeRoom();
    return { stored };
  }

  /** Waits until `bytes` fit into the buffer, writing open packs early to make room. */
  private async reserve(bytes: number): Promise<void> {
    while (this.buffered > 0 && this.buffered + bytes > this.options.bufferBytes) {
      this.makeRoom();
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    this.buffered += bytes;
  }

  /** Writes the largest open pack now (its bytes leave the buffer once written). */
  private makeRoom(): void {
    const largest = [...this.open.values()].sort((a, b) => b.bytes - a.bytes)[0];
    if (largest) this.write(largest);
  }

  private release(bytes: number): void {
    this.buffered -= bytes;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const wake of waiters) wake();
  }

  private write(pack: OpenPack): void {
    if (this.open.get(pack.tenantId) !== pack) return;
    this.open.delete(pack.tenantId);
    clearTimeout(pack.timer);
    void this.writes.run(() => this.writePack(pack)).finally(() => this.release(pack.bytes));
  }

  private async writePack(pack: OpenPack): Promise<void> {
    const started = performance.now();
    const packId = this.newId();
    const now = this.now();
    const key = packObjectKey(pack.tenantId, now, packId);
    try {
      const { bytes, footer } = encodePack(
        { packId, tenantId: pack.tenantId, createdAt: now.toISOString() },
        pack.members.map(({ member }) => ({
          contentId: member.contentId,
          keyId: member.keyId,
          plainSize: member.plainSize,
          sealed: member.bytes,
        })),
      );
      const stored = await this.putAndRecord(pack.tenantId, key, packId, now, bytes, bytes.length, footer.members);
      pack.members.forEach(({ resolve }, index) => resolve(stored[index] as StoredMember));
      this.deps.metrics.packWritten(pack.members.length, bytes.length, (performance.now() - started) / 1000);
      this.deps.logger.debug(
        { tenantId: pack.tenantId, key, members: pack.members.length, bytes: bytes.length },
        'pack written',
      );
    } catch (error) {
      for (const { reject } of pack.members) reject(error as Error);
    }
  }

  /** A member of half a pack or more: a pack of its own, streamed (never whole in memory). */
  private writeAlone(tenantId: string, member: MemberToStore): Promise<StoredMember> {
    return this.writes.run(async () => {
      const started = performance.now();
      const packId = this.newId();
      const now = this.now();
      const key = packObjectKey(tenantId, now, packId);
      const footer = {
        format: 1 as const,
        packId,
        tenantId,
        createdAt: now.toISOString(),
        members: [
          {
            contentId: member.contentId,
            keyId: member.keyId,
            offset: PACK_HEADER_BYTES,
            length: member.sealedSize,
            plainSize: member.plainSize,
          },
        ],
      };
      const tail = packTail(footer, PACK_HEADER_BYTES + member.sealedSize);
      const size = PACK_HEADER_BYTES + member.sealedSize + tail.length;
      const body = member.bytes
        ? Buffer.concat([packHeader(), member.bytes, tail])
        : Readable.from(streamed(member, tail), { objectMode: false });
      const [stored] = await this.putAndRecord(tenantId, key, packId, now, body, size, footer.members);
      this.deps.metrics.packWritten(1, size, (performance.now() - started) / 1000);
      return stored as StoredMember;
    });
  }

  private async putAndRecord(
    tenantId: string,
    key: string,
    packId: string,
    now: Date,
    body: Buffer | Readable,
    size: number,
    members: ReadonlyArray<{ contentId: string; keyId: string; offset: number; length: number; plainSize: number }>,
  ): Promise<StoredMember[]> {
    const { bucket } = this.deps;
    const retention = retentionFor(this.deps.retention, tenantId);
    const until = retainUntil(retention, now);
    const put = await this.deps.store.put({ bucket, key }, body, {
      contentLength: size,
      ...(retention && until ? { retainUntil: until, retentionMode: retention.mode } : {}),
    });
    const pack: NewPack = {
      id: packId,
      tenantId,
      bucket,
      key,
      versionId: put.versionId,
      size,
      memberCount: members.length,
      retainUntil: until,
    };
    const recorded = await this.deps.repository.recordObjects(
      tenantId,
      members.map((member) => ({
        contentId: member.contentId,
        bucket,
        key,
        versionId: put.versionId,
        range: { offset: member.offset, length: member.length },
        plainSize: member.plainSize,
        sealedSize: member.length,
        keyId: member.keyId,
        retainUntil: until,
      })),
      pack,
    );
    return members.map((member) => {
      const row = recorded.get(member.contentId);
      if (!row) throw new Error(`pack ${key}: no stored object recorded for member ${member.contentId}`);
      if (row.inserted) this.deps.metrics.objectStored(member.length);
      else this.deps.metrics.objectDeduplicated();
      return { objectId: row.objectId, objectStored: row.inserted ? 'new' : 'deduplicated' };
    });
  }
}

async function* streamed(member: MemberToStore, tail: Buffer): AsyncGenerator<Buffer> {
  yield packHeader();
  if (!member.read) throw new Error(`member ${member.contentId} has neither bytes nor a reader`);
  for await (const piece of member.read()) yield piece;
  yield tail;
}
