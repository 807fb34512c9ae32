import { describe, expect, it } from 'vitest';
import { BatchCollector } from './batch-collector.js';

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('BatchCollector', () => {
  it('flushes a full batch at once, without waiting for the timer', async () => {
    const batches: number[][] = [];
    const collector = new BatchCollector<number, number>({
      maxItems: 3,
      maxWaitMs: 60_000,
      maxConcurrentFlushes: 1,
      flush: async (items) => {
        batches.push([...items]);
        return items.map((item) => item * 10);
      },
    });
    await expect(Promise.all([1, 2, 3].map((n) => collector.add(n)))).resolves.toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('flushes a partial batch once its first item has waited long enough', async () => {
    const batches: number[][] = [];
    const collector = new BatchCollector<number, number>({
      maxItems: 100,
      maxWaitMs: 5,
      maxConcurrentFlushes: 1,
      flush: async (items) => {
        batches.push([...items]);
        return [...items];
      },
    });
    await expect(Promise.all([collector.add(1), collector.add(2)])).resolves.toEqual([1, 2]);
    expect(batches).toEqual([[1, 2]]);
  });

  it('settles each item with its own result or error', async () => {
    const collector = new BatchCollector<number, number>({
      maxItems: 2,
      maxWaitMs: 60_000,
      maxConcurrentFlushes: 1,
      flush: async (items) => items.map((n) => (n === 2 ? new Error('two is refused') : n)),
    });
    const results = await Promise.allSettled([collector.add(1), collector.add(2)]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 1 });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { message: 'two is refused' } });
  });

  it('fails every item of a batch whose flush throws', async () => {
    const collector = new BatchCollector<number, number>({
      maxItems: 2,
      maxWaitMs: 60_000,
      maxConcurrentFlushes: 1,
      flush: async () => {
        throw new Error('database down');
      },
    });
    const results = await Promise.allSettled([collector.add(1), collector.add(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('fails the batch when flush answers for the wrong number of items', async () => {
    const collector = new BatchCollector<number, number>({
      maxItems: 2,
      maxWaitMs: 60_000,
      maxConcurrentFlushes: 1,
      flush: async () => [1],
    });
    await expect(Promise.all([collector.add(1), collector.add(2)])).rejects.toThrow(/1 results for 2 items/);
  });

  it('lets a due batch grow while every flush slot is busy', async () => {
    const batches: number[][] = [];
    const gate = deferred();
    const firstStarted = deferred();
    const collector = new BatchCollector<number, number>({
      maxItems: 10,
      maxWaitMs: 1,
      maxConcurrentFlushes: 1,
      flush: async (items) => {
        batches.push([...items]);
        if (batches.length === 1) {
          firstStarted.resolve();
          await gate.promise;
        }
        return [...items];
      },
    });
    const first = collector.add(1);
    await firstStarted.promise;
    const later = [2, 3, 4].map((n) => collector.add(n));
    await new Promise((r) => setTimeout(r, 20)); // their timer is due, but no slot is free
    expect(batches).toEqual([[1]]);
    gate.resolve();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('runs at most maxConcurrentFlushes at once', async () => {
    let running = 0;
    let most = 0;
    const collector = new BatchCollector<number, number>({
      maxItems: 2,
      maxWaitMs: 1,
      maxConcurrentFlushes: 2,
      flush: async (items) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return [...items];
      },
    });
    await Promise.all(Array.from({ length: 20 }, (_, n) => collector.add(n)));
    expect(most).toBe(2);
  });

  it('drain writes what was collected without waiting for the timer', async () => {
    const batches: number[][] = [];
    const collector = new BatchCollector<number, number>({
      maxItems: 100,
      maxWaitMs: 60_000,
      maxConcurrentFlushes: 1,
      flush: async (items) => {
        batches.push([...items]);
        return [...items];
      },
    });
    const added = [collector.add(1), collector.add(2)];
    await collector.drain();
    await expect(Promise.all(added)).resolves.toEqual([1, 2]);
    expect(batches).toEqual([[1, 2]]);
    expect(collector.pending).toBe(0);
  });

  it('refuses nonsensical limits', () => {
    const flush = async () => [];
    expect(() => new BatchCollector({ maxItems: 0, maxWaitMs: 1, maxConcurrentFlushes: 1, flush })).toThrow(RangeError);
    expect(() => new BatchCollector({ maxItems: 1, maxWaitMs: -1, maxConcurrentFlushes: 1, flush })).toThrow(
      RangeError,
    );
    expect(() => new BatchCollector({ maxItems: 1, maxWaitMs: 1, maxConcurrentFlushes: 0, flush })).toThrow(RangeError);
  });
});
