import { FETCH_MAX_BYTES, type ObjectBatchFetchRequest, type ObjectBatchFetchResponse } from '@mlr/contracts';
import { isObjectStoreError, type ObjectStore } from '@mlr/objectstore';
import type { Logger } from '@mlr/telemetry';
import type { StoredObject, StoredObjectRepository } from '../backup/stored-object.repository.js';

export interface FetchObjectBatchDeps {
  objects: Pick<StoredObjectRepository, 'findByContentIds'>;
  store: Pick<ObjectStore, 'getBuffer'>;
  logger: Logger;
  /**
   * Bytes between two wanted members of one S3 object that are read (and dropped) rather than
   * splitting the read in two: a GET costs more than a few KiB of a pack. Default 64 KiB.
   */
  maxGapBytes?: number;
}

type Answer = ObjectBatchFetchResponse['objects'][number];

/** Wanted members of one S3 object version, read with one ranged GET. */
interface Run {
  bucket: string;
  key: string;
  versionId: string | undefined;
  start: number;
  end: number;
  members: StoredObject[];
}

/**
 * The batch form of `objects.fetch`: whole sealed objects of several content ids, found with one
 * query, in the order asked while their bytes stay within FETCH_MAX_BYTES (the rest are answered
 * with their size only, to be asked for again). Members of one pack that lie near each other are
 * read with one ranged GET of the pinned version. One object that cannot be had does not fail the
 * others: it is answered with its own error.
 */
export class FetchObjectBatch {
  private readonly maxGapBytes: number;

  constructor(private readonly deps: FetchObjectBatchDeps) {
    this.maxGapBytes = deps.maxGapBytes ?? 64 * 1024;
  }

  async execute(request: ObjectBatchFetchRequest): Promise<ObjectBatchFetchResponse> {
    const { tenantId, contentIds } = request;
    const found = new Map(
      (await this.deps.objects.findByContentIds(tenantId, contentIds)).map((o) => [o.contentId, o]),
    );
    const answers = new Map<string, Answer>();
    const wanted: StoredObject[] = [];
    let budget = FETCH_MAX_BYTES;
    for (const contentId of contentIds) {
      const stored = found.get(contentId);
      if (!stored) {
        answers.set(contentId, {
          contentId,
          error: { code: 'not_found', message: `tenant ${tenantId} has no stored object with content id ${contentId}` },
        });
        continue;
      }
      const extent = stored.locator.range?.length ?? stored.sealedSize;
      if (extent !== stored.sealedSize) {
        answers.set(contentId, {
          contentId,
          error: {
            code: 'internal',
            message: `stored object ${contentId} has sealed size ${stored.sealedSize} but a byte range of ${extent} bytes`,
          },
        });
        this.deps.logger.error(
          { event: 'object-row-inconsistent', tenantId, contentId, sealedSize: stored.sealedSize, extent },
          'a stored object row contradicts itself',
        );
        continue;
      }
      // Whole objects in the order asked, while they fit; the rest only say how large they are.
      if (stored.sealedSize > budget) {
        budget = 0;
        answers.set(contentId, { contentId, sealedSize: stored.sealedSize, keyId: stored.keyId });
        continue;
      }
      budget -= stored.sealedSize;
      wanted.push(stored);
    }
    await Promise.all(this.runs(wanted).map((run) => this.read(tenantId, run, answers)));
    return {
      objects: contentIds.map(
        (contentId) =>
          answers.get(contentId) ?? {
            contentId,
            error: { code: 'internal', message: `no answer was made for ${contentId}` },
          },
      ),
    };
  }

  /** The wanted objects as reads: members of one S3 object version near each other share one. */
  private runs(objects: readonly StoredObject[]): Run[] {
    const byObject = new Map<string, StoredObject[]>();
    for (const object of objects) {
      const { bucket, key, versionId } = object.locator;
      const id = JSON.stringify([bucket, key, versionId ?? null]);
      const list = byObject.get(id) ?? [];
      list.push(object);
      byObject.set(id, list);
    }
    const runs: Run[] = [];
    for (const members of byObject.values()) {
      members.sort((a, b) => (a.locator.range?.offset ?? 0) - (b.locator.range?.offset ?? 0));
      let run: Run | undefined;
      for (const member of members) {
        const start = member.locator.range?.offset ?? 0;
        const end = start + member.sealedSize;
        if (run && start >= run.end && start - run.end <= this.maxGapBytes) {
          run.end = Math.max(run.end, end);
          run.members.push(member);
          continue;
        }
        const { bucket, key, versionId } = member.locator;
        run = { bucket, key, versionId, start, end, members: [member] };
        runs.push(run);
      }
    }
    return runs;
  }

  private async read(tenantId: string, run: Run, answers: Map<string, Answer>): Promise<void> {
    const length = run.end - run.start;
    let data: Buffer;
    try {
      if (length === 0) {
        data = Buffer.alloc(0);
      } else {
        data = await this.deps.store.getBuffer({
          bucket: run.bucket,
          key: run.key,
          ...(run.versionId ? { versionId: run.versionId } : {}),
          range: { offset: run.start, length },
        });
      }
      if (data.length !== length) {
        throw new Error(`s3://${run.bucket}/${run.key} returned ${data.length} bytes for range ${run.start}+${length}`);
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.deps.logger.error(
        {
          event: 'object-fetch-failed',
          tenantId,
          bucket: run.bucket,
          key: run.key,
          offset: run.start,
          length,
          members: run.members.length,
          code: isObjectStoreError(error) ? error.code : undefined,
          reason,
        },
        'reading stored objects for a restore failed',
      );
      for (const member of run.members) {
        answers.set(member.contentId, {
          contentId: member.contentId,
          // The reason (bucket, key, S3's words) is storage's to log, not the connector's to see.
          error: { code: 'internal', message: 'storage could not read the stored object (it logged why)' },
        });
      }
      return;
    }
    for (const member of run.members) {
      const from = (member.locator.range?.offset ?? 0) - run.start;
      answers.set(member.contentId, {
        contentId: member.contentId,
        sealedSize: member.sealedSize,
        keyId: member.keyId,
        data: data.subarray(from, from + member.sealedSize).toString('base64'),
      });
    }
  }
}
