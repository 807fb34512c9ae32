import { randomBytes } from 'node:crypto';
import type { ApplyReferencesRequest, AppliedReferences } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { createScratchDatabase, required, type ScratchDatabase } from '@mlr/testing';
import type { Logger } from '@mlr/telemetry';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ReferenceRelay } from './reference-relay.js';

const logged: string[] = [];
const logger = {
  warn: (fields: Record<string, unknown>) => void logged.push(String(fields['event'])),
  info: () => undefined,
  error: () => undefined,
  debug: () => undefined,
  child: () => logger,
} as unknown as Logger;

/**
 * The relay against a storage stand-in that applies each change once by id, as storage does
 * (apps/storage/src/references/reference-counts.ts) — and that can lose its answers or be away.
 */
class Storage {
  readonly counts = new Map<string, number>();
  private readonly applied = new Set<number>();
  requests: ApplyReferencesRequest[] = [];
  mode: 'answers' | 'loses-answers' | 'away' = 'answers';

  async apply(request: ApplyReferencesRequest): Promise<AppliedReferences> {
    this.requests.push(request);
    if (this.mode === 'away') throw new Error('503 no responders');
    let applied = 0;
    for (const change of request.changes) {
      if (this.applied.has(change.id)) continue;
      this.applied.add(change.id);
      applied++;
      this.counts.set(change.objectId, (this.counts.get(change.objectId) ?? 0) + change.delta);
    }
    for (const id of this.applied) if (id < request.settledBelow) this.applied.delete(id);
    if (this.mode === 'loses-answers') throw new Error('timeout: the answer never came');
    return { applied, repeated: request.changes.length - applied, unknownObjects: 0 };
  }
}

describe('ReferenceRelay: indexing brings its reference changes to storage', () => {
  const infra = inject('infra');
  let scratch: ScratchDatabase;
  let prisma: PrismaClient;

  const change = (objectId: string, delta: number) =>
    prisma.referenceChange.create({ data: { tenantId: 'relay-tenant', objectId, delta } });
  const outbox = () => prisma.referenceChange.count();

  beforeAll(async () => {
    scratch = await createScratchDatabase(required(infra, 'postgres').adminUrl, 'reference_relay');
    await scratch.runMigrations(() => true);
    prisma = createPrismaClient(scratch.url, { maxConnections: 4 });
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await scratch?.drop();
  });

  it('relays in batches, oldest first, and empties the outbox once storage answered', async () => {
    const storage = new Storage();
    const relay = new ReferenceRelay(prisma, (r) => storage.apply(r), logger, { everyMs: 60_000, batchSize: 2 });
    const object = `o-${randomBytes(4).toString('hex')}`;
    for (const delta of [1, 1, 1, -1, 1]) await change(object, delta);
    expect(await relay.relay()).toBe(5);
    expect(storage.requests.map((r) => r.changes.length)).toEqual([2, 2, 1]);
    const ids = storage.requests.flatMap((r) => r.changes.map((c) => c.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(storage.counts.get(object)).toBe(3);
    expect(await outbox()).toBe(0);
  });

  it('sends a batch again when the answer was lost, and storage counts it once', async () => {
    const storage = new Storage();
    const relay = new ReferenceRelay(prisma, (r) => storage.apply(r), logger, { everyMs: 60_000 });
    const object = `o-${randomBytes(4).toString('hex')}`;
    await change(object, 1);
    await change(object, 1);
    storage.mode = 'loses-answers';
    await expect(relay.relay()).rejects.toThrow(/answer never came/);
    // Applied by storage, still in the outbox: indexing cannot know.
    expect(storage.counts.get(object)).toBe(2);
    expect(await outbox()).toBe(2);
    storage.mode = 'answers';
    expect(await relay.relay()).toBe(2);
    expect(storage.counts.get(object)).toBe(2);
    expect(storage.requests.at(-1)?.changes.map((c) => c.id)).toEqual(storage.requests[0]?.changes.map((c) => c.id));
    expect(await outbox()).toBe(0);
  });

  it('keeps the changes while storage is away, and two relays at once send each change once', async () => {
    const storage = new Storage();
    storage.mode = 'away';
    const relays = [1, 2].map(
      () => new ReferenceRelay(prisma, (r) => storage.apply(r), logger, { everyMs: 60_000, batchSize: 3 }),
    );
    const object = `o-${randomBytes(4).toString('hex')}`;
    for (let i = 0; i < 10; i++) await change(object, 1);
    await expect(relays[0]!.relay()).rejects.toThrow(/no responders/);
    expect(await outbox()).toBe(10);
    storage.mode = 'answers';
    storage.requests = [];
    const relayed = await Promise.all(relays.map((relay) => relay.relay()));
    expect(relayed.reduce((a, b) => a + b, 0)).toBe(10);
    const sent = storage.requests.flatMap((r) => r.changes.map((c) => c.id));
    expect(new Set(sent).size).toBe(sent.length);
    expect(storage.counts.get(object)).toBe(10);
    // Each request says which ids the outbox will never send again: never one it is sending.
    for (const request of storage.requests) {
      expect(Math.min(...request.changes.map((c) => c.id))).toBeGreaterThanOrEqual(request.settledBelow);
    }
  });
});
