import { expect } from 'vitest';
import { openSealedObject, type TenantKeys } from '@mlr/crypto';
import { waitFor, type JobView, type PlatformService } from '@mlr/testing';
import type { PlatformFixture } from '../../e2e/support/platform-fixture.js';

/** The UIDs a job reports failed (its errors name the message by UID). */
export function failedUids(job: JobView): number[] {
  return (job.errors ?? [])
    .map((error) => /UID (\d+)/.exec(`${error.target} ${error.message}`)?.[1])
    .filter((uid): uid is string => uid !== undefined)
    .map(Number);
}

/**
 * Every one of `messages` source messages is indexed exactly once, stored exactly once with a
 * reference count of 1, and every locator opens: the pinned version's range is the sealed message
 * of that content id.
 */
export async function expectBackedUpOnce(
  platform: PlatformFixture,
  tenantId: string,
  keys: TenantKeys,
  messages: number,
): Promise<void> {
  const records = await platform.prisma.indexRecord.findMany({ where: { tenantId }, select: { sightingId: true } });
  expect(records).toHaveLength(messages);
  expect(new Set(records.map((r) => Number(r.sightingId))).size).toBe(messages);
  // The counts are storage's, brought by indexing's relay of its reference changes: wait for them
  // (a service killed on the way makes them late, never wrong).
  await waitFor(
    async () =>
      (await platform.prisma.storedObject.count({ where: { tenantId, refCount: { not: 1 } } })) === 0 &&
      (await platform.prisma.referenceChange.count({ where: { tenantId } })) === 0,
    { what: 'every reference change to reach storage', timeoutMs: 60_000 },
  ).catch(() => undefined);
  const objects = await platform.prisma.storedObject.findMany({ where: { tenantId } });
  expect(objects).toHaveLength(messages);
  expect(objects.filter((o) => o.refCount !== 1)).toEqual([]);
  expect(await platform.prisma.referenceChange.count({ where: { tenantId } })).toBe(0);
  for (const object of objects) {
    if (object.versionId === null) throw new Error(`stored object ${object.id} has no pinned version`);
    const sealed = await platform.store.getBuffer({
      bucket: object.bucket,
      key: object.key,
      versionId: object.versionId,
      range: { offset: Number(object.byteOffset), length: Number(object.byteLength) },
    });
    await openSealedObject(keys, sealed, { expectedContentId: object.contentId });
  }
}

/** SIGKILLs a platform service, and starts it again two seconds later (as an orchestrator would). */
export async function killAndRestart(platform: PlatformFixture, service: PlatformService): Promise<void> {
  await platform.app(service).kill();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await platform.restart(service);
}
