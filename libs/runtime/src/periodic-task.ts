/**
 * Runs `task` every `everyMs` in the background (and once at `start()` with `immediately`), never
 * two runs at a time: a tick while a run is under way is skipped. A failed run goes to `onError`;
 * the next one comes as planned. The timer does not keep the process alive; `stop()` waits for the
 * run under way.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly options: { everyMs: number; immediately?: boolean; onError(error: unknown): void },
  ) {}

  start(): void {
    if (this.options.immediately) this.tick();
    this.timer = setInterval(() => this.tick(), this.options.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.task()
      .then(
        () => undefined,
        (error: unknown) => this.options.onError(error),
      )
      .finally(() => {
        this.running = undefined;
      });
  }
}
