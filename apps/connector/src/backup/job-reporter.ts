import {
  isFinishedJobState,
  subjects,
  type FolderCheckpoint,
  type JobCounters,
  type JobEvent,
  type JobEventState,
  type RestoreItemResult,
} from '@mlr/contracts';
import { countItemResult, type JobError, type JobProgress } from '@mlr/connector-core';
import { exponentialDelay, isConnectionClosedError } from '@mlr/messaging';
import type { PlatformPublisher } from './commit-batcher.js';

/**
 * Most item results one event carries: a result with its reason is at most ~3 KB, and an event must
 * stay well under the NATS message limit (1 MB).
 */
export const MAX_ITEMS_PER_EVENT = 200;

export interface ProgressListener {
  (state: JobEventState, counters: JobCounters, errors: number): void;
}

/**
 * Reports a job's progress to scheduling (`mlr.<t>.events.<job>`): totals, errors and advanced
 * checkpoints since the last event, at most every `intervalMs` (and always at the end).
 */
export class JobReporter implements JobProgress {
  readonly counters: JobCounters = { seen: 0, new: 0, deduplicated: 0, bytes: 0, failed: 0, restored: 0, skipped: 0 };
  // Starts at the clock so that a re-run of the same job continues past the first run's events.
  private sequence = Date.now();
  private pendingErrors: JobError[] = [];
  private pendingCheckpoints = new Map<string, FolderCheckpoint>();
  private pendingItems: RestoreItemResult[] = [];
  private errorCount = 0;
  private lastSent = 0;
  /** Whether an event with any progress (a message seen) has been sent. */
  private progressSent = false;
  private sending: Promise<void> = Promise.resolve();
  /** Set once a final state was sent: nothing follows it. */
  private finished = false;

  constructor(
    private readonly publisher: PlatformPublisher,
    private readonly job: { tenantId: string; jobId: string; connectorId: string; kind: 'backup' | 'restore' },
    private readonly options: {
      intervalMs?: number;
      onProgress?: ProgressListener;
      /** First pause before sending a job's final event again; doubled up to 30 s. Default 1 s. */
      retryDelayMs?: number;
      /** Default FINAL_EVENT_GIVE_UP_MS. */
      finalEventGiveUpMs?: number;
    } = {},
  ) {}

  error(error: JobError): void {
    this.pendingErrors.push(error);
    this.errorCount++;
  }

  get errors(): number {
    return this.errorCount;
  }

  checkpoint(checkpoint: FolderCheckpoint): void {
    this.pendingCheckpoints.set(checkpointKey(checkpoint), checkpoint);
  }

  /** The result of one restore item: counted, and sent with the next event. */
  itemResult(result: RestoreItemResult): void {
    countItemResult(this.counters, result);
    this.pendingItems.push(result);
  }

  /**
   * Sends an event when the interval has passed (or enough item results wait, or this is the job's
   * first progress: the user sees the first message done at once); cheap to call after every message.
   */
  async tick(state: JobEventState = 'running'): Promise<void> {
    this.options.onProgress?.(state, this.counters, this.errorCount);
    const due = Date.now() - this.lastSent >= (this.options.intervalMs ?? 1_000);
    const first = !this.progressSent && this.counters.seen > 0;
    if (!due && !first && this.pendingItems.length < MAX_ITEMS_PER_EVENT) return;
    await this.flush(state);
  }

  /**
   * Sends what is pending now (serialised: events leave in sequence order). An event that cannot be
   * published puts what it carried back for the next one; a final state (and the results sent just
   * before it) is sent again until the platform takes it, for up to FINAL_EVENT_GIVE_UP_MS, and only
   * then does the returned promise fail. Item results beyond
   * MAX_ITEMS_PER_EVENT go in preceding `running` events, so only the last one carries `state`
   * (a terminal state is never followed by more results).
   */
  flush(state: JobEventState): Promise<void> {
    // Before a final state, every part must arrive: nothing can follow it to carry a lost one.
    const mustArrive = isFinishedJobState(state);
    while (this.pendingItems.length > MAX_ITEMS_PER_EVENT) {
      this.send('running', this.pendingItems.splice(0, MAX_ITEMS_PER_EVENT), mustArrive).catch(() => undefined);
    }
    const sent = this.send(state, this.pendingItems.splice(0), mustArrive);
    // Progress that did not get through goes with the next event: the job's work goes on regardless.
    return mustArrive ? sent : sent.catch(() => undefined);
  }

  /**
   * Sends word at least every `everyMs` while the job runs, progress or not, so that scheduling can
   * tell a connector at work (waiting for the platform or the mail server) from one that is gone.
   * Returns the function that stops it.
   */
  keepAlive(everyMs: number): () => void {
    const timer = setInterval(
      () => {
        if (this.finished || Date.now() - this.lastSent < everyMs) return;
        void this.flush('running'); // what does not get through goes with the next word
      },
      Math.max(10, Math.floor(everyMs / 4)),
    );
    timer.unref();
    return () => clearInterval(timer);
  }

  private send(state: JobEventState, items: RestoreItemResult[], mustArrive = false): Promise<void> {
    if (isFinishedJobState(state)) this.finished = true;
    this.lastSent = Date.now();
    if (this.counters.seen > 0) this.progressSent = true;
    const event: JobEvent = {
      tenantId: this.job.tenantId,
      jobId: this.job.jobId,
      connectorId: this.job.connectorId,
      kind: this.job.kind,
      sequence: ++this.sequence,
      at: new Date().toISOString(),
      state,
      counters: { ...this.counters },
      checkpoints: [...this.pendingCheckpoints.values()],
      items,
      errors: this.pendingErrors,
    };
    this.pendingErrors = [];
    this.pendingCheckpoints = new Map();
    this.options.onProgress?.(state, this.counters, this.errorCount);
    const publish = () =>
      this.publisher.publish('events', subjects.events(this.job.tenantId, this.job.jobId), event, {
        msgId: `${this.job.jobId}:${event.sequence}`,
      });
    const started = Date.now();
    const run = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await publish();
          return;
        } catch (error) {
          if (!mustArrive) {
            // What it carried goes with the next event (its totals are superseded anyway).
            this.requeue(event);
            throw error;
          }
          // The job's end (and what comes just before it) must reach the platform, or it would wait
          // for ever: again, with the same de-duplication id, until taken or FINAL_EVENT_GIVE_UP_MS.
          if (Date.now() - started >= (this.options.finalEventGiveUpMs ?? FINAL_EVENT_GIVE_UP_MS)) throw error;
          // The connector is stopping (its connection closed for good): the job goes back to the
          // platform's queue and runs again, so there is nobody left to tell.
          if (isConnectionClosedError(error)) throw error;
          const pause = exponentialDelay(attempt, { baseMs: this.options.retryDelayMs ?? 1_000, maxMs: 30_000 });
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      }
    };
    // One failed event does not stop the ones after it.
    const sent = this.sending.catch(() => undefined).then(run);
    this.sending = sent;
    return sent;
  }

  /** Puts what a failed event carried back in front of what is pending, for the next event. */
  private requeue(event: JobEvent): void {
    this.pendingErrors = [...event.errors, ...this.pendingErrors];
    this.pendingItems = [...event.items, ...this.pendingItems];
    for (const checkpoint of event.checkpoints) {
      // A newer checkpoint of the folder, pending already, wins.
      const key = checkpointKey(checkpoint);
      if (!this.pendingCheckpoints.has(key)) this.pendingCheckpoints.set(key, checkpoint);
    }
  }
}

/** One pending checkpoint per folder: a newer one replaces the older. */
const checkpointKey = (checkpoint: FolderCheckpoint) => JSON.stringify([checkpoint.mailbox, checkpoint.folder]);

/** How long the connector tries to tell the platform that a job has ended before it gives up. */
export const FINAL_EVENT_GIVE_UP_MS = 30 * 60_000;
