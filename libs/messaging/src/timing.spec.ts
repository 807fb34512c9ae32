import { describe, expect, it } from 'vitest';
import { exponentialDelay, Limiter, redeliveryDelay, sleep } from './timing.js';

describe('delays', () => {
  it('doubles from the base and stops at the cap', () => {
    const options = { baseMs: 1_000, maxMs: 60_000 };
    expect([1, 2, 3, 4, 7, 8, 100].map((n) => exponentialDelay(n, options))).toEqual([
      1_000, 2_000, 4_000, 8_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('follows the consumer back-off list and repeats its last value', () => {
    const fallback = { baseMs: 1, maxMs: 1 };
    expect([1, 2, 3, 9].map((n) => redeliveryDelay(n, [100, 500, 2_000], fallback))).toEqual([100, 500, 2_000, 2_000]);
    expect(redeliveryDelay(3, [], { baseMs: 10, maxMs: 1_000 })).toBe(40);
  });

  it('sleep returns early when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const sleeping = sleep(10_000, controller.signal);
    controller.abort();
    await sleeping;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('Limiter', () => {
  it('never lets more than the limit run and reports idle', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const task = async () => {
      await limiter.acquire();
      running++;
      peak = Math.max(peak, running);
      await sleep(5);
      running--;
      limiter.release();
    };
    await Promise.all(Array.from({ length: 10 }, task));
    await limiter.idle();
    expect(peak).toBe(2);
    expect(limiter.inFlight).toBe(0);
  });

  it('refuses a non-positive limit and unbalanced release', () => {
    expect(() => new Limiter(0)).toThrow(RangeError);
    expect(() => new Limiter(1).release()).toThrow(/without acquire/);
  });
});
