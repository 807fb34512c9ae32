import { Readable } from 'node:stream';
import { messageObjectKey, type ObjectStore } from '@mlr/objectstore';
import type { StorageMetrics } from '../storage-metrics.js';
import type { NewStoredObject, StoredObjectRepository } from '../stored-object.repository.js';
import {
  InFlightMembers,
  retainUntil,
  type MemberToStore,
  type ObjectWriter,
  retentionFor,
  type TenantRetention,
  type StoredMember,
} from './object-writer.js';

export interface IndividualWriterDeps {
  store: Pick<ObjectStore, 'put'>;
  repository: Pick<StoredObjectRepository, 'recordObjects'>;
  bucket: string;
  /** Object Lock of new objects: one policy, or the tenant's (`objectRetention`). */
  retention?: TenantRetention | undefined;
  metrics: StorageMetrics;
  /** Objects written at once by one call. */
  concurrentWrites: number;
  now?: () => Date;
}

/**
 * The `individual` layout, for tenants whose policy wants one S3 object per message: each sealed
 * object is PUT to `tenants/<t>/objects/<id[0..2]>/<id>` (its version pinned), then the call's objects
 * are recorded together.
 */
export class IndividualWriter implements ObjectWriter {
  private readonly inFlight = new InFlightMembers();
  private readonly now: () => Date;

  constructor(private readonly deps: IndividualWriterDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Every object is written at once: nothing is held. */
  flush(): void {
    return;
  }

  async store(
    tenantId: string,
    members: readonly MemberToStore[],
    options: { onPlaced?: () => void } = {},
  ): Promise<Array<StoredMember | Error>> {
    options.onPlaced?.();
    const written = new Array<NewStoredObject | Error | undefined>(members.length);
    const joined = new Map<number, Promise<StoredMember>>();
    const settle = new Map<string, { resolve(stored: StoredMember): void; reject(error: Error): void }>();
    const mine: number[] = [];
    members.forEach((member, index) => {
      const write = this.inFlight.joining(tenantId, member.contentId);
      if (write) {
        joined.set(index, write);
        return;
      }
      mine.push(index);
      const own = new Promise<StoredMember>((resolve, reject) => settle.set(member.contentId, { resolve, reject }));
      own.catch(() => undefined);
      this.inFlight.track(tenantId, member.contentId, own);
    });

    let next = 0;
    const worker = async () => {
      for (;;) {
        const index = mine[next++];
        if (index === undefined) return;
        written[index] = await this.put(tenantId, members[index] as MemberToStore).catch((error: unknown) =>
          error instanceof Error ? error : new Error(String(error)),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.concurrentWrites, mine.length) }, worker));

    const objects = mine.map((index) => written[index]).filter((w): w is NewStoredObject => !(w instanceof Error));
    let recorded: Awaited<ReturnType<StoredObjectRepository['recordObjects']>> | Error;
    try {
      recorded = await this.deps.repository.recordObjects(tenantId, objects);
    } catch (error) {
      recorded = error as Error;
    }
    const results = new Array<StoredMember | Error>(members.length);
    for (const index of mine) {
      const member = members[index] as MemberToStore;
      const outcome = written[index];
      const row = recorded instanceof Error ? undefined : recorded.get(member.contentId);
      const result: StoredMember | Error =
        outcome instanceof Error
          ? outcome
          : recorded instanceof Error
            ? recorded
            : row
              ? { objectId: row.objectId, objectStored: row.inserted ? 'new' : 'deduplicated' }
              : new Error(`no stored object recorded for ${member.contentId}`);
      if (!(result instanceof Error)) {
        if (result.objectStored === 'new') this.deps.metrics.objectStored(member.sealedSize);
        else this.deps.metrics.objectDeduplicated();
      }
      const waiter = settle.get(member.contentId);
      if (result instanceof Error) waiter?.reject(result);
      else waiter?.resolve(result);
      results[index] = result;
    }
    for (const [index, write] of joined) {
      results[index] = await write.catch((error: unknown) =>
        error instanceof Error ? error : new Error(String(error)),
      );
    }
    return results;
  }

  private async put(tenantId: string, member: MemberToStore): Promise<NewStoredObject> {
    const { bucket } = this.deps;
    const retention = retentionFor(this.deps.retention, tenantId);
    const key = messageObjectKey(tenantId, member.contentId);
    const until = retainUntil(retention, this.now());
    const body = member.bytes ?? Readable.from(readAll(member), { objectMode: false });
    const started = performance.now();
    const put = await this.deps.store.put({ bucket, key }, body, {
      contentLength: member.sealedSize,
      ...(retention && until ? { retainUntil: until, retentionMode: retention.mode } : {}),
    });
    this.deps.metrics.objectWritten(member.sealedSize, (performance.now() - started) / 1000);
    return {
      contentId: member.contentId,
      bucket,
      key,
      versionId: put.versionId,
      plainSize: member.plainSize,
      sealedSize: member.sealedSize,
      keyId: member.keyId,
      retainUntil: until,
    };
  }
}

async function* readAll(member: MemberToStore): AsyncGenerator<Buffer> {
  if (!member.read) throw new Error(`member ${member.contentId} has neither bytes nor a reader`);
  yield* member.read();
}
