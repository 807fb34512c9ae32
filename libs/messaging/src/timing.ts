import { setTimeout as delay } from 'node:timers/promises';

export interface ExponentialDelayOptions {
  /** Delay after the first failure. */
  baseMs: number;
  /** Upper bound. */
  maxMs: number;
}

/** `baseMs · 2^(attempt-1)`, capped at `maxMs`; attempt counts from 1. */
export function exponentialDelay(attempt: number, { baseMs, maxMs }: ExponentialDelayOptions): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/**
 * Delay before redelivering a message whose handler failed on delivery `deliveryCount` (1-based):
 * the consumer's own back-off list when it has one (last value repeats), else exponential.
 */
export function redeliveryDelay(
  deliveryCount: number,
  backoffMs: readonly number[] | undefined,
  fallback: ExponentialDelayOptions,
): number {
  if (backoffMs && backoffMs.length > 0) {
    const index = Math.min(Math.max(deliveryCount - 1, 0), backoffMs.length - 1);
    return backoffMs[index] as number;
  }
  return exponentialDelay(deliveryCount, fallback);
}

/** Sleeps, or returns early (without throwing) when the signal aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    if ((error as { name?: string }).name !== 'AbortError') throw error;
  }
}

/** Bounds the number of tasks in flight and tells when none is left. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  /** Resolves once a slot is free and taken. */
  acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.active++;
        resolve();
      });
    });
  }

  release(): void {
    if (this.active === 0) throw new Error('Limiter.release() without acquire()');
    this.active--;
    const next = this.waiting.shift();
    if (next) {
      next();
      return;
    }
    if (this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Runs `task` in a slot (waiting for one first) and frees the slot when it settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Resolves when nothing is in flight and nobody waits for a slot. */
  idle(): Promise<void> {
    if (this.active === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
