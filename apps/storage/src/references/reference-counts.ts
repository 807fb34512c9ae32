import type { AppliedReferences, ApplyReferencesRequest } from '@mlr/contracts';
import type { PrismaClient } from '@mlr/db';

/**
 * How long an applied change id is remembered at least, whatever `settledBelow` says: a request that
 * arrives late (its relay gave up waiting, another replica took the same changes meanwhile) may carry
 * a floor from before a change below it committed, and must not make storage forget that change.
 */
const REMEMBER_AT_LEAST = '1 day';

/**
 * Storage's reference counts (`stored_objects.ref_count`), changed only here, by the changes
 * indexing relays from its outbox. In one transaction: the changes not applied before are recorded
 * (applied_reference_changes; a change sent again is left out, so it counts once), their deltas are
 * added per object — the objects locked in id order, so that two relays never deadlock — and an
 * object found again (count above 0) loses its collector's mark. Counts are not clamped: relays of
 * several indexing replicas may bring an expiry's -1 before the +1 of the same record, and the sum
 * comes out right in any order (a count of 0 or less is "no references": the collector's, which
 * also waits while indexing has changes of the tenant on their way). Then the ids below
 * `settledBelow` applied more than REMEMBER_AT_LEAST ago are forgotten.
 */
export async function applyReferenceChanges(
  prisma: PrismaClient,
  request: ApplyReferencesRequest,
): Promise<AppliedReferences> {
  return prisma.$transaction(
    async (tx) => {
      const ids = request.changes.map((change) => change.id);
      const fresh = await tx.$queryRaw<Array<{ change_id: bigint }>>`
        INSERT INTO applied_reference_changes (change_id)
        SELECT unnest(${ids}::bigint[])
        ON CONFLICT (change_id) DO NOTHING
        RETURNING change_id`;
      const freshIds = new Set(fresh.map((row) => Number(row.change_id)));
      const deltas = new Map<string, number>();
      for (const change of request.changes) {
        if (!freshIds.has(change.id)) continue;
        deltas.set(change.objectId, (deltas.get(change.objectId) ?? 0) + change.delta);
      }
      const changed = [...deltas].filter(([, delta]) => delta !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      let unknownObjects = 0;
      if (changed.length > 0) {
        const objectIds = changed.map(([objectId]) => objectId);
        const locked = await tx.$queryRaw<Array<{ id: string }>>`
          SELECT id FROM stored_objects WHERE id = ANY(${objectIds}::text[]) ORDER BY id FOR UPDATE`;
        unknownObjects = objectIds.length - locked.length;
        await tx.$executeRaw`
          UPDATE stored_objects so
          SET ref_count = so.ref_count + d.delta,
              collect_after = CASE WHEN so.ref_count + d.delta > 0 THEN NULL ELSE so.collect_after END
          FROM unnest(${objectIds}::text[], ${changed.map(([, delta]) => delta)}::int[]) AS d(object_id, delta)
          WHERE so.id = d.object_id`;
      }
      await tx.$executeRaw`
        DELETE FROM applied_reference_changes
        WHERE change_id < ${request.settledBelow} AND applied_at < now() - ${REMEMBER_AT_LEAST}::interval`;
      return { applied: freshIds.size, repeated: ids.length - freshIds.size, unknownObjects };
    },
    { timeout: 30_000 },
  );
}
