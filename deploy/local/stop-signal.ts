/**
 * Ctrl-C and SIGTERM for a long-running local command (`npm run demo`): listens from the moment it is
 * made, so that a signal during start-up no longer kills the process with Node's default action and
 * orphans what it started, and `wait()` keeps the process alive until a signal comes. (A promise
 * that only signal listeners could resolve does not: Node exits once nothing but listeners is left,
 * which is how the demo used to exit right after "Press Ctrl-C to stop" with its ~25 processes left
 * running and nobody to stop them.)
 */
export class StopSignal {
  private received: NodeJS.Signals | null = null;
  private readonly waiters: Array<(signal: NodeJS.Signals) => void> = [];
  /** A timer is what keeps Node's event loop alive while waiting; listeners alone do not. */
  private keepAlive: NodeJS.Timeout | null = null;
  private readonly listener = (signal: NodeJS.Signals) => this.receive(signal);

  constructor(private readonly signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']) {
    for (const signal of signals) process.on(signal, this.listener);
  }

  /** The first signal received, or null. */
  get signal(): NodeJS.Signals | null {
    return this.received;
  }

  /** Throws StopRequested once a signal has come: called between start-up steps. */
  throwIfReceived(): void {
    if (this.received !== null) throw new StopRequested(this.received);
  }

  /** Resolves with the first signal (at once if one came already); the process stays up until then. */
  wait(): Promise<NodeJS.Signals> {
    if (this.received !== null) return Promise.resolve(this.received);
    this.keepAlive ??= setInterval(() => undefined, 60_000);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Stops listening and waiting (a pending `wait()` then never resolves, and no longer keeps the
   * process alive): a further signal takes Node's default action again.
   */
  dispose(): void {
    for (const signal of this.signals) process.off(signal, this.listener);
    this.release();
  }

  private release(): void {
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  private receive(signal: NodeJS.Signals): void {
    if (this.received !== null) {
      // A second signal while stopping: the user insists.
      this.dispose();
      process.kill(process.pid, signal);
      return;
    }
    this.received = signal;
    this.release();
    for (const waiter of this.waiters.splice(0)) waiter(signal);
  }
}

/** Thrown between start-up steps once a stop signal has come. */
export class StopRequested extends Error {
  override readonly name = 'StopRequested';
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal} received: stopping`);
  }
}
