import { uuidV7, type PrismaClient } from '@mlr/db';
import { encodePack, packObjectKey, type ObjectStore } from '@mlr/objectstore';

/** Packs looked at per query. */
const BATCH = 200;

export interface CompactionSettings {
  bucket: string;
  /** A pack whose live members hold less than this share of its bytes is compacted (0 < x < 1). */
  belowLiveShare: number;
  /**
   * Only members released (no references) and past the collector's mark count as dead: the same
   * rule as the collector's, so that a member a backup may still find again is kept.
   */
  dryRun: boolean;
  /** Test hook: runs after the new pack is written and before the locators switch (a crash there). */
  afterWrite?: (packKey: string) => Promise<void>;
}

export interface CompactionOutcome {
  /** Packs whose live share is below the threshold. */
  candidates: number;
  /** Packs compacted: their live members rewritten into a new pack, their locators switched. */
  compacted: number;
  /** Live members moved. */
  moved: number;
  /** Bytes of live members written anew. */
  bytesWritten: number;
  /** Bytes the old packs will free once the collector removes them (their dead members). */
  bytesReleased: number;
}

interface Member {
  id: string;
  content_id: string;
  key_id: string;
  plain_size: bigint;
  byte_offset: bigint;
  byte_length: bigint;
}

/**
 * Compacts packs most of which expiry released: their live members are read by their pinned
 * locators, written into a new pack (footer and all), and their locators switched to it in one
 * transaction that locks the old pack's members and moves only members still live and still in the
 * old pack. The old pack then holds only released members: the collector removes it whole once
 * their marks have passed and its lock has ended. A crash after the new pack is written and before
 * the switch leaves the new pack unrecorded — an orphan the collector removes — and every locator
 * as it was; a crash after the switch leaves a finished compaction. Reads in flight use the old
 * pinned locator, whose bytes stay until the collector removes the old pack, a grace later.
 * Runs with the services' key (it reads and writes packs; it deletes nothing).
 */
export async function compactPacks(
  store: ObjectStore,
  prisma: PrismaClient,
  settings: CompactionSettings,
): Promise<CompactionOutcome> {
  if (!(settings.belowLiveShare > 0 && settings.belowLiveShare < 1)) {
    throw new RangeError(
      `the live share below which a pack is compacted must be between 0 and 1, got ${settings.belowLiveShare}`,
    );
  }
  const outcome: CompactionOutcome = { candidates: 0, compacted: 0, moved: 0, bytesWritten: 0, bytesReleased: 0 };
  const { bucket } = settings;
  for (let after = ''; ;) {
    // Dead: released (no references) and past the collector's mark — the collector's own rule.
    const packs = await prisma.$queryRaw<
      Array<{ id: string; tenant_id: string; key: string; version_id: string | null; live: bigint; dead: bigint }>
    >`
      WITH members AS (
        SELECT s.pack_id, s.byte_length,
          (s.ref_count <= 0 AND s.collect_after IS NOT NULL AND s.collect_after < now()) AS dead
        FROM stored_objects s JOIN packs p ON p.id = s.pack_id
        WHERE p.bucket = ${bucket} AND p.id > ${after}
      )
      SELECT p.id, p.tenant_id, p.key, p.version_id,
        COALESCE(sum(m.byte_length) FILTER (WHERE NOT m.dead), 0)::bigint AS live,
        COALESCE(sum(m.byte_length) FILTER (WHERE m.dead), 0)::bigint AS dead
      FROM packs p JOIN members m ON m.pack_id = p.id
      GROUP BY p.id
      HAVING bool_or(m.dead) AND bool_or(NOT m.dead)
      ORDER BY p.id LIMIT ${BATCH}`;
    const last = packs.at(-1);
    if (!last) break;
    after = last.id;
    for (const pack of packs) {
      const live = Number(pack.live);
      const dead = Number(pack.dead);
      if (live / (live + dead) >= settings.belowLiveShare) continue;
      outcome.candidates++;
      if (settings.dryRun) {
        outcome.bytesWritten += live;
        outcome.bytesReleased += dead;
        continue;
      }
      const moved = await compactOne(store, prisma, settings, pack);
      if (moved === 0) continue;
      outcome.compacted++;
      outcome.moved += moved;
      outcome.bytesWritten += live;
      outcome.bytesReleased += dead;
    }
  }
  return outcome;
}

async function compactOne(
  store: ObjectStore,
  prisma: PrismaClient,
  settings: CompactionSettings,
  pack: { id: string; tenant_id: string; key: string; version_id: string | null },
): Promise<number> {
  const members = await prisma.$queryRaw<Member[]>`
    SELECT id, content_id, key_id, plain_size, byte_offset, byte_length FROM stored_objects
    WHERE pack_id = ${pack.id} AND NOT (ref_count <= 0 AND collect_after IS NOT NULL AND collect_after < now())
    ORDER BY byte_offset`;
  if (members.length === 0) return 0;
  const sealed: Buffer[] = [];
  for (const member of members) {
    sealed.push(
      await store.getBuffer({
        bucket: settings.bucket,
        key: pack.key,
        ...(pack.version_id === null ? {} : { versionId: pack.version_id }),
        range: { offset: Number(member.byte_offset), length: Number(member.byte_length) },
      }),
    );
  }
  const packId = uuidV7();
  const now = new Date();
  const key = packObjectKey(pack.tenant_id, now, packId);
  const { bytes, footer } = encodePack(
    { packId, tenantId: pack.tenant_id, createdAt: now.toISOString() },
    members.map((member, index) => ({
      contentId: member.content_id,
      keyId: member.key_id,
      plainSize: Number(member.plain_size),
      sealed: sealed[index] as Buffer,
    })),
  );
  const written = await store.put({ bucket: settings.bucket, key }, bytes, { contentLength: bytes.length });
  await settings.afterWrite?.(key);
  return prisma.$transaction(async (tx) => {
    await tx.pack.create({
      data: {
        id: packId,
        tenantId: pack.tenant_id,
        bucket: settings.bucket,
        key,
        versionId: written.versionId ?? null,
        size: BigInt(bytes.length),
        memberCount: members.length,
      },
    });
    // Locked: a backup taking a member back waits for the switch (and then finds it moved).
    const current = new Set(
      (
        await tx.$queryRaw<Array<{ id: string }>>`
          SELECT id FROM stored_objects WHERE pack_id = ${pack.id} FOR UPDATE`
      ).map((row) => row.id),
    );
    let moved = 0;
    for (const [index, member] of members.entries()) {
      // A member the collector removed meanwhile is gone: nothing to switch.
      if (!current.has(member.id)) continue;
      const place = footer.members[index];
      if (!place) continue;
      await tx.storedObject.update({
        where: { id: member.id },
        data: {
          key,
          versionId: written.versionId ?? null,
          packId,
          byteOffset: BigInt(place.offset),
          byteLength: BigInt(place.length),
        },
      });
      moved++;
    }
    return moved;
  });
}
