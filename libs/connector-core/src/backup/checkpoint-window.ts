/**
 * Tracks which UIDs of one folder are finished (stored and indexed end to end, or skipped by the
 * filter) while many are in flight, and tells how far the checkpoint may advance: up to the highest
 * UID below which every selected UID is finished. A failed UID holds the checkpoint back, so the
 * next run tries it again. Every call costs O(1) amortised: a folder may hold hundreds of thousands
 * of new messages, each finishing with a call to `advance`.
 */
export class CheckpointWindow {
  private readonly pending = new Set<number>();
  /** UIDs in the order they were added (ascending); everything before `cursor` is no longer pending. */
  private readonly order: number[] = [];
  private cursor = 0;
  private lowestFailed = Number.POSITIVE_INFINITY;
  private highestAdded: number;

  constructor(private committed: number) {
    this.highestAdded = committed;
  }

  /** Registers UIDs about to be processed (ascending). */
  add(uid: number): void {
    if (uid <= this.highestAdded && this.order.length > 0) {
      throw new RangeError(`UIDs must be added in ascending order: ${uid} after ${this.highestAdded}`);
    }
    this.pending.add(uid);
    this.order.push(uid);
    if (uid > this.highestAdded) this.highestAdded = uid;
  }

  finish(uid: number): void {
    this.pending.delete(uid);
  }

  fail(uid: number): void {
    this.pending.delete(uid);
    if (uid < this.lowestFailed) this.lowestFailed = uid;
  }

  /**
   * The UID the checkpoint may move to: everything at or below it is finished. `scannedUpTo` is the
   * highest UID the scan has looked at (UIDs between selected ones were not selected: done too).
   */
  advance(scannedUpTo: number): number {
    while (this.cursor < this.order.length && !this.pending.has(this.order[this.cursor] as number)) this.cursor++;
    const lowestPending = this.cursor < this.order.length ? (this.order[this.cursor] as number) : Infinity;
    const blocker = Math.min(lowestPending, this.lowestFailed);
    const limit = Number.isFinite(blocker) ? blocker - 1 : Math.max(scannedUpTo, this.highestAdded);
    if (limit > this.committed) this.committed = limit;
    return this.committed;
  }

  get checkpoint(): number {
    return this.committed;
  }

  get inFlight(): number {
    return this.pending.size;
  }
}
