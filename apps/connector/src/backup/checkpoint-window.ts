/**
 * Tracks which UIDs of one folder are finished (stored and indexed end to end, or skipped by the
 * filter) while many are in flight, and tells how far the checkpoint may advance: up to the highest
 * UID below which every selected UID is finished. A failed UID holds the checkpoint back, so the
 * next run tries it again.
 */
export class CheckpointWindow {
  private readonly pending = new Set<number>();
  private readonly failed = new Set<number>();
  private highestAdded: number;

  constructor(private committed: number) {
    this.highestAdded = committed;
  }

  /** Registers UIDs about to be processed (ascending). */
  add(uid: number): void {
    this.pending.add(uid);
    if (uid > this.highestAdded) this.highestAdded = uid;
  }

  finish(uid: number): void {
    this.pending.delete(uid);
  }

  fail(uid: number): void {
    this.pending.delete(uid);
    this.failed.add(uid);
  }

  /**
   * The UID the checkpoint may move to: everything at or below it is finished. `scannedUpTo` is the
   * highest UID the scan has looked at (UIDs between selected ones were not selected: done too).
   */
  advance(scannedUpTo: number): number {
    const blockers = [...this.pending, ...this.failed];
    const limit = blockers.length > 0 ? Math.min(...blockers) - 1 : Math.max(scannedUpTo, this.highestAdded);
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
