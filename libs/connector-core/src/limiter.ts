/**
 * Bounds the work in flight by count and, optionally, by bytes: `acquire` waits for room and returns
 * its release (calling it twice is harmless). One task heavier than the byte bound still goes alone,
 * when nothing else is in flight. The backup bounds the messages it has read and not yet had
 * answered for; the restore bounds the sealed objects it fetches ahead of its writes.
 */
export class Limiter {
  private active = 0;
  private bytes = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    readonly limit: number,
    readonly byteLimit = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
    }
    if (!(byteLimit > 0)) throw new RangeError(`the byte bound must be positive, got ${byteLimit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  async acquire(weight = 0): Promise<() => void> {
    while (this.active >= this.limit || (this.active > 0 && this.bytes + weight > this.byteLimit)) {
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
    this.active++;
    this.bytes += weight;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.bytes -= weight;
      // Everyone waiting looks again: a light task may fit where a heavy one does not.
      for (const wake of this.queue.splice(0)) wake();
    };
  }

  /** Runs `task` once there is room for it and frees the room when it settles. */
  async run<T>(task: () => Promise<T>, weight = 0): Promise<T> {
    const release = await this.acquire(weight);
    try {
      return await task();
    } finally {
      release();
    }
  }
}
