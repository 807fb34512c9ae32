import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { noMetrics } from '../../__tests__/no-metrics.js';
import {
  decodePackFooter,
  decodePackTrailer,
  PACK_TRAILER_BYTES,
  type ObjectKey,
  type PutOptions,
} from '@mlr/objectstore';
import type { NewPack, NewStoredObject, RecordedObject } from '../stored-object.repository.js';
import type { MemberToStore } from './object-writer.js';
import { PackWriter, type PackWriterOptions } from './pack-writer.js';

class FakeStore {
  readonly puts: Array<{ key: string; bytes: Buffer; options: PutOptions | undefined }> = [];
  failNext: Error | undefined;
  async put(target: ObjectKey, body: Buffer | Readable, options?: PutOptions) {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    const bytes = Buffer.isBuffer(body) ? body : Buffer.concat(await body.toArray());
    this.puts.push({ key: target.key, bytes, options });
    return { etag: 'e', versionId: `v${this.puts.length}` };
  }
}

class FakeRepository {
  readonly rows = new Map<string, NewStoredObject & { id: string; packId: string | undefined }>();
  readonly packs: NewPack[] = [];
  async recordObjects(tenantId: string, objects: readonly NewStoredObject[], pack?: NewPack) {
    if (pack) this.packs.push(pack);
    const recorded = new Map<string, RecordedObject>();
    for (const object of objects) {
      const key = `${tenantId}/${object.contentId}`;
      const existing = this.rows.get(key);
      if (existing) {
        recorded.set(object.contentId, { objectId: existing.id, inserted: false });
        continue;
      }
      const id = `o-${this.rows.size + 1}`;
      this.rows.set(key, { ...object, id, packId: pack?.id });
      recorded.set(object.contentId, { objectId: id, inserted: true });
    }
    return recorded;
  }
}

const KIB = 1024;
const member = (size: number, contentId = randomBytes(32).toString('hex')): MemberToStore => {
  const bytes = randomBytes(size);
  return { contentId, keyId: '0123456789abcdef', plainSize: size * 2, sealedSize: size, bytes };
};

function setup(options: Partial<PackWriterOptions> = {}) {
  const store = new FakeStore();
  const repository = new FakeRepository();
  let id = 0;
  const writer = new PackWriter(
    { targetBytes: 100 * KIB, maxWaitMs: 20, bufferBytes: 200 * KIB, concurrentWrites: 2, ...options },
    {
      store,
      repository,
      bucket: 'mlr',
      metrics: noMetrics,
      logger: { debug: () => undefined },
      newId: () => `01900000-0000-7000-8000-${String(++id).padStart(12, '0')}`,
      now: () => new Date('2026-12-06T10:00:00Z'),
    },
  );
  return { store, repository, writer };
}

function footerOf(bytes: Buffer) {
  const trailer = decodePackTrailer(bytes.subarray(bytes.length - PACK_TRAILER_BYTES), bytes.length);
  return decodePackFooter(bytes.subarray(trailer.footerOffset, trailer.footerOffset + trailer.footerLength), trailer);
}

describe('PackWriter', () => {
  it('writes members of one tenant into one pack once it is full, each recorded at its place', async () => {
    const { store, repository, writer } = setup();
    const members = [member(30 * KIB), member(30 * KIB), member(45 * KIB)];
    const results = await writer.store('acme', members);
    expect(results).toEqual([
      { objectId: 'o-1', objectStored: 'new' },
      { objectId: 'o-2', objectStored: 'new' },
      { objectId: 'o-3', objectStored: 'new' },
    ]);
    expect(store.puts).toHaveLength(1);
    const [put] = store.puts;
    expect(put!.key).toBe('tenants/acme/packs/2026/12/01900000-0000-7000-8000-000000000001');
    const footer = footerOf(put!.bytes);
    for (const [index, entry] of footer.members.entries()) {
      const row = repository.rows.get(`acme/${entry.contentId}`)!;
      expect(row).toMatchObject({
        key: put!.key,
        versionId: 'v1',
        range: { offset: entry.offset, length: entry.length },
      });
      expect(put!.bytes.subarray(entry.offset, entry.offset + entry.length)).toEqual(members[index]!.bytes);
    }
    expect(repository.packs).toEqual([expect.objectContaining({ size: put!.bytes.length, versionId: 'v1' })]);
  });

  it('writes a pack that does not fill up once its first member has waited long enough', async () => {
    const { store, writer } = setup({ maxWaitMs: 30 });
    const started = Date.now();
    const [result] = await writer.store('acme', [member(KIB)]);
    expect(result).toMatchObject({ objectStored: 'new' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(store.puts).toHaveLength(1);
  });

  it('writes what it holds for a tenant at once when asked to flush, instead of waiting for its timer', async () => {
    const { store, writer } = setup({ maxWaitMs: 60_000 });
    const waiting = writer.store('acme', [member(KIB), member(KIB)]);
    const last = writer.store('acme', [member(KIB)], { onPlaced: () => writer.flush('acme') });
    expect(await last).toEqual([expect.objectContaining({ objectStored: 'new' })]);
    expect((await waiting).every((r) => !(r instanceof Error))).toBe(true);
    expect(store.puts).toHaveLength(1);
    expect(footerOf(store.puts[0]!.bytes).members).toHaveLength(3);
    // A flush writes what other batches left.
    const left = writer.store('acme', [member(KIB)]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    writer.flush('acme');
    await left;
    expect(store.puts).toHaveLength(2);
  });

  it('writes the largest open pack early once as many batches wait as the consumer may hold', async () => {
    const { store, writer } = setup({ maxWaitMs: 60_000, maxWaitingCalls: 2 });
    const first = writer.store('acme', [member(2 * KIB), member(2 * KIB)]);
    const second = writer.store('globex', [member(KIB)]);
    // Two batches wait, and nothing else can come: acme's pack (the larger) goes without its timer.
    expect(await first).toEqual([
      expect.objectContaining({ objectStored: 'new' }),
      expect.objectContaining({ objectStored: 'new' }),
    ]);
    expect(store.puts.map((p) => p.key.split('/')[1])).toEqual(['acme']);
    // The next batch makes two waiting again: globex's pack, now the largest, goes.
    const third = writer.store('acme', [member(KIB)]);
    expect(await second).toEqual([expect.objectContaining({ objectStored: 'new' })]);
    expect(store.puts).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 10));
    writer.flush('acme');
    await third;
  });

  it('keeps tenants apart: one pack each', async () => {
    const { store, writer } = setup();
    await Promise.all([writer.store('acme', [member(KIB)]), writer.store('globex', [member(KIB)])]);
    expect(store.puts.map((p) => p.key.split('/')[1]).sort()).toEqual(['acme', 'globex']);
  });

  it('stores the same content asked for twice at once as one member', async () => {
    const { store, writer } = setup();
    const contentId = randomBytes(32).toString('hex');
    const [first, second] = await Promise.all([
      writer.store('acme', [member(KIB, contentId)]),
      writer.store('acme', [member(KIB, contentId)]),
    ]);
    expect(first).toEqual([{ objectId: 'o-1', objectStored: 'new' }]);
    expect(second).toEqual([{ objectId: 'o-1', objectStored: 'deduplicated' }]);
    expect(footerOf(store.puts[0]!.bytes).members).toHaveLength(1);
  });

  it('answers deduplicated, with the standing row, for content another replica recorded first', async () => {
    const { repository, writer } = setup();
    const contentId = randomBytes(32).toString('hex');
    repository.rows.set(`acme/${contentId}`, { id: 'theirs' } as never);
    expect(await writer.store('acme', [member(KIB, contentId)])).toEqual([
      { objectId: 'theirs', objectStored: 'deduplicated' },
    ]);
  });

  it('writes a member of half a pack or more as a pack of its own, also when it comes as a stream', async () => {
    const { store, writer } = setup();
    const bytes = randomBytes(150 * KIB);
    const streamed: MemberToStore = {
      contentId: randomBytes(32).toString('hex'),
      keyId: '0123456789abcdef',
      plainSize: 1,
      sealedSize: bytes.length,
      read: async function* () {
        for (let at = 0; at < bytes.length; at += 10 * KIB) yield bytes.subarray(at, at + 10 * KIB);
      },
    };
    await writer.store('acme', [streamed, member(60 * KIB)]);
    expect(store.puts).toHaveLength(2);
    for (const put of store.puts) expect(footerOf(put.bytes).members).toHaveLength(1);
    const alone = store.puts.find((put) => footerOf(put.bytes).members[0]!.contentId === streamed.contentId)!;
    const [entry] = footerOf(alone.bytes).members;
    expect(alone.bytes.subarray(entry!.offset, entry!.offset + entry!.length)).toEqual(bytes);
  });

  it('never holds more than its buffer: members wait, and open packs are written early to make room', async () => {
    // The last pack still waits for its timer: nothing else presses for room by then.
    const { store, writer } = setup({ targetBytes: 100 * KIB, bufferBytes: 200 * KIB, maxWaitMs: 300 });
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, writer.bufferedBytes)), 1);
    const tenants = Array.from({ length: 8 }, (_, i) => `t${i}`);
    // Eight tenants, 40 KiB each: never a full pack; five fill the buffer, three must wait for room.
    const results = await Promise.all(tenants.map((tenant) => writer.store(tenant, [member(40 * KIB)])));
    clearInterval(watch);
    expect(results.flat().every((r) => !(r instanceof Error))).toBe(true);
    expect(store.puts.length).toBeGreaterThanOrEqual(2);
    expect(peak).toBeLessThanOrEqual(200 * KIB);
    expect(writer.bufferedBytes).toBe(0);
  });

  it('answers every member of a pack whose write failed with the error, and goes on afterwards', async () => {
    const { store, writer } = setup();
    store.failNext = new Error('S3 unavailable');
    const failed = await writer.store('acme', [member(KIB), member(KIB)]);
    expect(failed.map((r) => (r instanceof Error ? r.message : r))).toEqual(['S3 unavailable', 'S3 unavailable']);
    expect(writer.bufferedBytes).toBe(0);
    expect(await writer.store('acme', [member(KIB)])).toEqual([{ objectId: 'o-1', objectStored: 'new' }]);
  });

  it('locks packs for the retention asked for', async () => {
    const { store, repository } = setup();
    const retained = new PackWriter(
      { targetBytes: 100 * KIB, maxWaitMs: 10, bufferBytes: 200 * KIB, concurrentWrites: 1 },
      {
        store,
        repository,
        bucket: 'mlr',
        retention: { days: 2, mode: 'COMPLIANCE' },
        metrics: noMetrics,
        logger: { debug: () => undefined },
        now: () => new Date('2026-12-06T10:00:00Z'),
      },
    );
    await retained.store('acme', [member(KIB)]);
    expect(store.puts[0]!.options).toMatchObject({
      retentionMode: 'COMPLIANCE',
      retainUntil: new Date('2026-12-08T10:00:00Z'),
    });
    expect(repository.packs[0]!.retainUntil).toEqual(new Date('2026-12-08T10:00:00Z'));
  });

  it('refuses a buffer that cannot hold two packs', () => {
    expect(() => setup({ targetBytes: 100 * KIB, bufferBytes: 150 * KIB })).toThrow(/must hold at least two packs/);
  });
});
