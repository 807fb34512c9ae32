import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('KeyedMutex', () => {
  it('runs tasks of one key one after the other, other keys alongside', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const gate = deferred();
    const first = mutex.run('a', async () => {
      order.push('a1 start');
      await gate.promise;
      order.push('a1 end');
    });
    const second = mutex.run('a', async () => {
      order.push('a2');
    });
    await mutex.run('b', async () => {
      order.push('b');
    });
    expect(order).toEqual(['a1 start', 'b']);
    gate.resolve();
    await Promise.all([first, second]);
    expect(order).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
    expect(mutex.size).toBe(0);
  });

  it('lets the next task run after a failure and passes results and errors through', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run('a', () => Promise.resolve(7))).resolves.toBe(7);
    expect(mutex.size).toBe(0);
  });
});
