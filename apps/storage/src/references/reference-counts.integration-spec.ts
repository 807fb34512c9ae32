import { randomBytes } from 'node:crypto';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { createScratchDatabase, required, type ScratchDatabase } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyReferenceChanges } from './reference-counts.js';

/** Storage applies the reference changes indexing relays: each once, however often it comes. */
describe('applyReferenceChanges', () => {
  const infra = inject('infra');
  const tenantId = 'refs-tenant';
  let scratch: ScratchDatabase;
  let prisma: PrismaClient;

  const object = async (refCount = 0, collectAfter: Date | null = null) => {
    const contentId = randomBytes(32).toString('hex');
    return prisma.storedObject.create({
      data: {
        tenantId,
        contentId,
        bucket: 'mlr',
        key: `tenants/${tenantId}/objects/${contentId}`,
        plainSize: 10n,
        sealedSize: 20n,
        keyId: 'k1',
        refCount,
        collectAfter,
      },
    });
  };
  const countOf = async (id: string) =>
    prisma.storedObject.findUniqueOrThrow({ where: { id }, select: { refCount: true, collectAfter: true } });
  const remembered = async () =>
    (await prisma.appliedReferenceChange.findMany({ orderBy: { changeId: 'asc' } })).map((row) => Number(row.changeId));

  beforeAll(async () => {
    scratch = await createScratchDatabase(required(infra, 'postgres').adminUrl, 'reference_counts');
    await scratch.runMigrations(() => true);
    prisma = createPrismaClient(scratch.url, { maxConnections: 4 });
    await prisma.tenant.create({ data: { id: tenantId, name: tenantId, slug: tenantId } });
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await scratch?.drop();
  });

  it('adds each change once: a batch sent again after a lost answer counts nothing twice', async () => {
    const [a, b] = [await object(), await object()];
    const batch = {
      changes: [
        { id: 1, objectId: a.id, delta: 1 },
        { id: 2, objectId: a.id, delta: 1 },
        { id: 3, objectId: b.id, delta: 1 },
      ],
      settledBelow: 1,
    };
    expect(await applyReferenceChanges(prisma, batch)).toEqual({ applied: 3, repeated: 0, unknownObjects: 0 });
    expect(await applyReferenceChanges(prisma, batch)).toEqual({ applied: 0, repeated: 3, unknownObjects: 0 });
    // Partly new: only the new change counts.
    const more = { changes: [...batch.changes, { id: 4, objectId: b.id, delta: -1 }], settledBelow: 1 };
    expect(await applyReferenceChanges(prisma, more)).toEqual({ applied: 1, repeated: 3, unknownObjects: 0 });
    expect((await countOf(a.id)).refCount).toBe(2);
    expect((await countOf(b.id)).refCount).toBe(0);
  });

  it('forgets the ids below settledBelow once they are a day old, never a change just applied', async () => {
    const a = await object();
    expect(await remembered()).toEqual(expect.arrayContaining([1, 2, 3, 4]));
    // A late request with a floor above a change another relay just had applied: it is kept.
    await applyReferenceChanges(prisma, { changes: [{ id: 10, objectId: a.id, delta: 1 }], settledBelow: 10 });
    expect(await remembered()).toEqual([1, 2, 3, 4, 10]);
    expect(
      await applyReferenceChanges(prisma, { changes: [{ id: 4, objectId: a.id, delta: -1 }], settledBelow: 4 }),
    ).toMatchObject({
      applied: 0,
      repeated: 1,
    });
    await prisma.$executeRaw`UPDATE applied_reference_changes SET applied_at = now() - interval '2 days' WHERE change_id < 4`;
    await applyReferenceChanges(prisma, { changes: [{ id: 11, objectId: a.id, delta: 1 }], settledBelow: 10 });
    expect(await remembered()).toEqual([4, 10, 11]);
  });

  it('takes the collector’s mark off an object found again, and leaves it on one still without references', async () => {
    const marked = new Date(Date.now() + 3_600_000);
    const [found, released] = [await object(0, marked), await object(1)];
    await applyReferenceChanges(prisma, {
      changes: [
        { id: 20, objectId: found.id, delta: 1 },
        { id: 21, objectId: released.id, delta: -1 },
      ],
      settledBelow: 20,
    });
    expect(await countOf(found.id)).toEqual({ refCount: 1, collectAfter: null });
    expect(await countOf(released.id)).toEqual({ refCount: 0, collectAfter: null });
    await prisma.storedObject.update({ where: { id: released.id }, data: { collectAfter: marked } });
    await applyReferenceChanges(prisma, { changes: [{ id: 22, objectId: released.id, delta: -1 }], settledBelow: 22 });
    // Not clamped: a -1 that overtook its +1 (several indexing replicas relay at once) must not be lost.
    expect(await countOf(released.id)).toEqual({ refCount: -1, collectAfter: marked });
    await applyReferenceChanges(prisma, { changes: [{ id: 23, objectId: released.id, delta: 1 }], settledBelow: 22 });
    expect(await countOf(released.id)).toEqual({ refCount: 0, collectAfter: marked });
  });

  it('says which objects it does not have, and counts the rest', async () => {
    const a = await object();
    expect(
      await applyReferenceChanges(prisma, {
        changes: [
          { id: 30, objectId: 'removed-already', delta: -1 },
          { id: 31, objectId: a.id, delta: 1 },
        ],
        settledBelow: 30,
      }),
    ).toEqual({ applied: 2, repeated: 0, unknownObjects: 1 });
    expect((await countOf(a.id)).refCount).toBe(1);
  });

  it('applies two relays’ batches at once without losing a change', async () => {
    const shared = await Promise.all([object(), object(), object()]);
    const batchOf = (first: number, order: ReadonlyArray<{ id: string }>) => ({
      changes: order.map((o, i) => ({ id: first + i, objectId: o.id, delta: 1 })),
      settledBelow: 40,
    });
    await Promise.all([
      applyReferenceChanges(prisma, batchOf(40, shared)),
      applyReferenceChanges(prisma, batchOf(50, [...shared].reverse())),
      applyReferenceChanges(prisma, batchOf(60, [shared[1]!, shared[0]!, shared[2]!])),
    ]);
    for (const o of shared) expect((await countOf(o.id)).refCount).toBe(3);
  });
});
