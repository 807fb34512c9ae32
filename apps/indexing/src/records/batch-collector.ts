/**
 * Collects items into batches and hands each batch to `flush`: a batch is flushed when it holds
 * `maxItems`, or `maxWaitMs` after its first item arrived, whichever comes first. At most
 * `maxConcurrentFlushes` run at once; while they are all busy a due batch keeps growing (up to
 * `maxItems`), so batches get larger exactly when the store is the bottleneck.
 */
export interface BatchCollectorOptions<T, R> {
  maxItems: number;
  maxWaitMs: number;
  maxConcurrentFlushes: number;
  /**
   * Writes one batch and returns one result per item, in the order of `items`: a value, or an Error
   * that concerns that item alone. Throwing fails every item of the batch with that error.
   */
  flush(items: readonly T[]): Promise<Array<R | Error>>;
}

interface Entry<T, R> {
  item: T;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export class BatchCollector<T, R> {
  private current: Array<Entry<T, R>> = [];
  private currentDue = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly full: Array<Array<Entry<T, R>>> = [];
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: BatchCollectorOptions<T, R>) {
    for (const name of ['maxItems', 'maxWaitMs', 'maxConcurrentFlushes'] as const) {
      const value = options[name];
      if (!Number.isInteger(value) || value < (name === 'maxWaitMs' ? 0 : 1))
        throw new RangeError(`${name} must be a ${name === 'maxWaitMs' ? 'non-negative' : 'positive'} integer`);
    }
  }

  /** Items waiting for or inside a flush. */
  get pending(): number {
    return this.current.length + this.full.reduce((sum, batch) => sum + batch.length, 0);
  }

  /** Resolves with the item's result once its batch was flushed. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.current.push({ item, resolve, reject });
      if (this.current.length >= this.options.maxItems) {
        this.full.push(this.takeCurrent());
        this.pump();
      } else if (this.current.length === 1) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.currentDue = true;
          this.pump();
        }, this.options.maxWaitMs);
      }
    });
  }

  /** Flushes everything collected so far without waiting for the timer; resolves when idle. */
  async drain(): Promise<void> {
    if (this.current.length > 0) this.currentDue = true;
    this.pump();
    while (this.running > 0 || this.pending > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private takeCurrent(): Array<Entry<T, R>> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.currentDue = false;
    const batch = this.current;
    this.current = [];
    return batch;
  }

  private pump(): void {
    while (this.running < this.options.maxConcurrentFlushes) {
      const batch = this.full.shift() ?? (this.currentDue && this.current.length > 0 ? this.takeCurrent() : undefined);
      if (!batch) break;
      this.running++;
      void this.run(batch);
    }
  }

  private async run(batch: Array<Entry<T, R>>): Promise<void> {
    try {
      const results = await this.options.flush(batch.map((entry) => entry.item));
      if (results.length !== batch.length)
        throw new Error(`batch flush returned ${results.length} results for ${batch.length} items`);
      batch.forEach((entry, index) => {
        const result = results[index] as R | Error;
        if (result instanceof Error) entry.reject(result);
        else entry.resolve(result);
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    } finally {
      this.running--;
      this.pump();
      if (this.running === 0 && this.pending === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
      }
    }
  }
}
