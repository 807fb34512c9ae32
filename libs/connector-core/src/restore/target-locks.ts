/**
 * Keyed mutual exclusion within the connector's process: the duplicate check of a message and its
 * APPEND run as one step for one target (mailbox, folder, content id), across the IMAP sessions of
 * a job and across restore jobs running side by side. Otherwise two sessions could both find no copy
 * and both append one. Different messages, and the same message in different folders, do not wait
 * for each other.
 */
export class TargetLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier holder of `key` has finished (in the order they asked). */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    try {
      return await work();
    } finally {
      done();
      // The last holder leaves no entry behind.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /**
   * Runs `work` holding every one of `keys`. Keys are taken one by one in a fixed (sorted) order, so
   * that two holders of several keys never wait for each other in a circle.
   */
  async runAll<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const hold = (index: number): Promise<T> =>
      index === sorted.length ? work() : this.run(sorted[index] as string, () => hold(index + 1));
    return hold(0);
  }

  /** Keys held or waited for (for tests and diagnostics). */
  get size(): number {
    return this.tails.size;
  }
}

/**
 * One folder of one mailbox as a key (of locks and of the duplicate check's listings). Mailbox
 * addresses compare without case, and so does INBOX (RFC 9051 §5.1); other folder names are the
 * server's, exactly.
 */
export function mailboxFolderKey(mailbox: string, folder: string): string {
  const box = folder.toUpperCase() === 'INBOX' ? 'INBOX' : folder;
  return `${mailbox.toLowerCase()}\u0000${box}`;
}

/** The lock key of one message in one folder of one mailbox. */
export function targetKey(mailbox: string, folder: string, contentId: string): string {
  return `${mailboxFolderKey(mailbox, folder)}\u0000${contentId}`;
}

/** The lock key of creating one folder of one mailbox. */
export function folderKey(mailbox: string, folder: string): string {
  return targetKey(mailbox, folder, 'create');
}

/**
 * The IMAP sessions the connector's restores hold into each mailbox, at most `perMailbox` in all:
 * servers limit the sessions of one user (Dovecot: 10 per user and address by default), and the
 * backup may hold one as well. A job waits for its first session of a mailbox and takes more only
 * when they are free; while another job waits for one, a job with several gives one back
 * (`shouldYield`), so jobs into the same mailbox run side by side instead of one after the other.
 */
export class SessionBudget {
  private readonly mailboxes = new Map<string, { used: number; waiting: Array<() => void> }>();

  constructor(readonly perMailbox: number) {
    if (!Number.isInteger(perMailbox) || perMailbox < 1) {
      throw new RangeError(`sessions per mailbox must be a positive integer, got ${perMailbox}`);
    }
  }

  /** Waits for one session of `mailbox`, then takes as many more (up to `wanted` in all) as are free. */
  async take(mailbox: string, wanted: number): Promise<number> {
    const slot = this.slot(mailbox);
    if (slot.used >= this.perMailbox) {
      // `give` hands its session over: it stays counted in `used`.
      await new Promise<void>((resolve) => slot.waiting.push(resolve));
    } else {
      slot.used++;
    }
    const more = Math.max(0, Math.min(wanted - 1, this.perMailbox - slot.used));
    slot.used += more;
    return 1 + more;
  }

  /** Gives back `count` sessions of `mailbox` (to a waiting job first). */
  give(mailbox: string, count = 1): void {
    const key = mailbox.toLowerCase();
    const slot = this.mailboxes.get(key);
    for (let i = 0; i < count; i++) {
      if (!slot || slot.used === 0) throw new Error(`SessionBudget.give(${mailbox}) without take()`);
      const next = slot.waiting.shift();
      if (next) next();
      else slot.used--;
    }
    if (slot && slot.used === 0 && slot.waiting.length === 0) this.mailboxes.delete(key);
  }

  /** Whether a job waits for a session of `mailbox`: a holder of several should give one back. */
  shouldYield(mailbox: string): boolean {
    return (this.mailboxes.get(mailbox.toLowerCase())?.waiting.length ?? 0) > 0;
  }

  /** Sessions held, over all mailboxes (for tests and diagnostics). */
  get held(): number {
    let held = 0;
    for (const slot of this.mailboxes.values()) held += slot.used;
    return held;
  }

  private slot(mailbox: string): { used: number; waiting: Array<() => void> } {
    const key = mailbox.toLowerCase();
    let slot = this.mailboxes.get(key);
    if (!slot) this.mailboxes.set(key, (slot = { used: 0, waiting: [] }));
    return slot;
  }
}
