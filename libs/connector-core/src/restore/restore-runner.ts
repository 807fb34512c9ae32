import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { JobCommand, JobEventState, RestoreItem, RestoreItemResult } from '@mlr/contracts';
import type { TenantKeys } from '@mlr/crypto';
import type { Logger } from '@mlr/telemetry';
import { exportRefusal, openExportWriter, type ExportFormat, type ExportWriter } from '../export/index.js';
import { Limiter } from '../limiter.js';
import type { JobProgress } from '../ports/job-progress.js';
import type { MailTarget, TargetSession } from '../ports/mail-target.js';
import { openRestoreItem, type SealedObjectSource } from './open-restore-item.js';
import { readAllItems, type RestoreItemSource } from './restore-items.js';
import { boundedReason, countOutcomes, destinationOf, restoreJobState } from './restore-plan.js';
import { folderKey, SessionBudget, TargetLocks, targetKey } from './target-locks.js';

export type RestoreCommand = Extract<JobCommand, { kind: 'restore' }>;

/** Bytes of messages (by their indexed size) a job prepares ahead of its writes, about. */
const AHEAD_BYTES = 64 * 1024 * 1024;

/** Opens the export file of a job (`./export`'s openExportWriter, or a test double). */
export type OpenExportWriter = (format: ExportFormat, path: string) => Promise<ExportWriter>;

export interface RestoreRunnerOptions {
  /** Where mailbox targets are written (IMAP, later Graph). */
  target: MailTarget;
  keys: TenantKeys;
  items: RestoreItemSource;
  objects: SealedObjectSource;
  /** Default: the real mbox / zip writers. */
  openExportWriter?: OpenExportWriter;
  /** Absolute directory export files are written into. */
  exportDir: string;
  reporter: JobProgress;
  logger: Logger;
  /** Sealed objects fetched and opened ahead of the writes, per job (and ~64 MiB at most). Default 32. */
  concurrency?: number;
  /** Mailboxes written at once. Default 4. */
  sessions?: number;
  /** Sessions writing into one mailbox at once, when no `sessionBudget` is given. Default 4. */
  sessionsPerMailbox?: number;
  /** The sessions every restore job of the connector may hold per mailbox. Default: the job's own. */
  sessionBudget?: SessionBudget;
  /**
   * Held while items are checked for a copy and written, and while a container is created: shared
   * by every restore job of the connector. Default: the job's own.
   */
  locks?: TargetLocks;
  /** Items of one container checked for copies together (one round of the target's duplicate check). Default 8. */
  checkBatch?: number;
}

type Prepared = { ok: true; raw: Buffer } | { ok: false; reason: string };

/** Items of one mailbox, each with its destination container. */
interface MailboxLane {
  mailbox: string;
  entries: Array<{ item: RestoreItem; folder: string }>;
}

type LaneEntry = MailboxLane['entries'][number];

/**
 * A step of a batch failed: the write of one item (`write`, naming it), or the container or copy
 * check that every pending item waited for (`check`, naming them all).
 */
class WriteInterrupted extends Error {
  constructor(
    readonly stage: 'check' | 'write',
    readonly seqs: readonly number[],
    failure: unknown,
  ) {
    super((failure as Error).message, { cause: failure });
  }
}

/**
 * One restore job: reads the job's items, and for each fetches the sealed object, verifies it against
 * the item's content id and writes the exact bytes into the target (a mailbox of the `MailTarget`
 * with the recorded attributes, or the export file). Unless the job asks for duplicates, an item
 * already in the target container (same bytes) is skipped, so running a restore twice creates no
 * copies. Every item gets a result; a failing item or mailbox does not stop the others.
 */
export class RestoreRunner {
  private readonly limiter: Limiter;
  private readonly concurrency: number;
  private readonly locks: TargetLocks;
  private readonly budget: SessionBudget;

  constructor(private readonly options: RestoreRunnerOptions) {
    this.concurrency = options.concurrency ?? 32;
    this.limiter = new Limiter(this.concurrency);
    this.locks = options.locks ?? new TargetLocks();
    this.budget = options.sessionBudget ?? new SessionBudget(options.sessionsPerMailbox ?? 4);
  }

  async run(job: RestoreCommand): Promise<JobEventState> {
    const { reporter } = this.options;
    await reporter.flush('running');
    let items: RestoreItem[];
    try {
      items = await readAllItems(this.options.items, job.itemCount);
    } catch (error) {
      reporter.error({ scope: 'job', target: job.jobId, message: (error as Error).message });
      await reporter.flush('failed');
      return 'failed';
    }
    const outcome =
      job.target.kind === 'export'
        ? await this.runExport(job, job.target, items)
        : { results: await this.runMailboxes(job, items), jobFailed: false };
    const state = restoreJobState(countOutcomes(outcome.results), { jobFailed: outcome.jobFailed });
    await reporter.flush(state);
    return state;
  }

  // -------------------------------------------------------------------------------------------------
  // Mailbox targets
  // -------------------------------------------------------------------------------------------------

  private async runMailboxes(job: RestoreCommand, items: RestoreItem[]): Promise<RestoreItemResult[]> {
    const lanes = new Map<string, MailboxLane>();
    const results: RestoreItemResult[] = [];
    for (const item of items) {
      const destination = destinationOf(job.target, item);
      if (destination.kind !== 'mailbox') continue;
      // An item the target cannot hold (a contact for an IMAP folder) is refused before it is fetched.
      const refusal = this.options.target.accepts(destination.mailbox, item);
      if (refusal !== null) {
        const result = refused(item, refusal);
        results.push(result);
        this.options.reporter.itemResult(result);
        continue;
      }
      let lane = lanes.get(destination.mailbox);
      if (!lane) lanes.set(destination.mailbox, (lane = { mailbox: destination.mailbox, entries: [] }));
      lane.entries.push({ item, folder: destination.folder });
    }
    // One container after the other, in seq order within each: one SELECT per folder.
    for (const lane of lanes.values()) {
      lane.entries.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : a.item.seq - b.item.seq));
    }
    const queue = [...lanes.values()];
    const workers = Array.from({ length: Math.min(this.options.sessions ?? 4, queue.length) }, async () => {
      for (let lane = queue.shift(); lane; lane = queue.shift()) {
        await this.restoreMailbox(job, lane, (result) => results.push(result));
      }
    });
    await Promise.all(workers);
    return results;
  }

  private async restoreMailbox(
    job: RestoreCommand,
    lane: MailboxLane,
    record: (result: RestoreItemResult) => void,
  ): Promise<void> {
    const { reporter, logger, target } = this.options;
    const report = async (result: RestoreItemResult) => {
      record(result);
      reporter.itemResult(result);
      if (result.outcome === 'failed') {
        logger.warn({ seq: result.seq, mailbox: lane.mailbox, reason: result.reason }, 'restore item failed');
      }
      await reporter.tick();
    };
    let unreachable: string | undefined;
    const connect = async (): Promise<TargetSession | undefined> => {
      try {
        return await target.open(lane.mailbox);
      } catch (error) {
        unreachable = `mailbox ${lane.mailbox} is unreachable: ${(error as Error).message}`;
        reporter.error({ scope: 'mailbox', target: lane.mailbox, message: unreachable });
        return undefined;
      }
    };
    const budget = this.budget;
    let held = await budget.take(lane.mailbox, Math.min(budget.perMailbox, lane.entries.length));
    const giveBack = (count: number) => {
      budget.give(lane.mailbox, count);
      held -= count;
    };
    // The first session decides whether the mailbox can be written at all; the others only add
    // speed: one the target refuses (e.g. its limit of sessions per user) is done without.
    const writers: Array<TargetSession | undefined> = [await connect()];
    if (writers[0]) {
      const more = await Promise.allSettled(Array.from({ length: held - 1 }, () => target.open(lane.mailbox)));
      for (const outcome of more) {
        if (outcome.status === 'fulfilled') {
          writers.push(outcome.value);
          continue;
        }
        giveBack(1);
        logger.warn(
          { mailbox: lane.mailbox, error: (outcome.reason as Error).message },
          'an extra session for the restore was refused; going on with fewer',
        );
      }
    } else {
      giveBack(held - 1);
    }
    // An extra session is given back, between two batches, to another job waiting for this mailbox.
    const keepGoing = (session: number): boolean => {
      if (session === 0 || !budget.shouldYield(lane.mailbox)) return true;
      const writer = writers[session];
      writers[session] = undefined;
      void writer?.close();
      giveBack(1);
      return false;
    };
    try {
      await this.inOrder(
        lane.entries,
        async (batch, session) => {
          const pending: Array<{ entry: LaneEntry; raw: Buffer }> = [];
          for (const { entry, prepared } of batch) {
            if (unreachable !== undefined) await report(failed(entry.item, unreachable));
            else if (!prepared.ok) await report(failed(entry.item, prepared.reason));
            else pending.push({ entry, raw: prepared.raw });
          }
          // Items whose write was sent: when the session drops after that, the retry's duplicate
          // check finds this job's own copy, and the item counts as restored, not skipped.
          const appended = new Set<number>();
          // A session the target dropped is opened again. An item whose write it dropped under is tried
          // once more on the new session, unless the job asked for duplicates: the write may have
          // landed before the drop, and only the duplicate check can tell. A drop during the batch's
          // container or copy check is tried once more too; a second one fails the items in hand.
          const attempts = new Map<number, number>();
          let checkDrops = 0;
          while (pending.length > 0) {
            let writer = writers[session];
            if (!writer || !writer.usable) {
              await writer?.close();
              writer = writers[session] = await connect();
              if (!writer) {
                for (const { entry } of pending.splice(0)) {
                  await report(failed(entry.item, unreachable ?? `mailbox ${lane.mailbox} is unreachable`));
                }
                break;
              }
            }
            try {
              await this.writeBatch(writer, job, lane.mailbox, pending, appended, report);
            } catch (error) {
              if (!(error instanceof WriteInterrupted)) throw error;
              const cause = `cannot restore into ${lane.mailbox}/${pending[0]?.entry.folder ?? ''}: ${error.message}`;
              const retry = !writer.usable && (error.stage === 'check' ? ++checkDrops < 2 : !job.duplicate);
              for (const seq of error.seqs) {
                const tries = error.stage === 'write' ? (attempts.get(seq) ?? 0) + 1 : 0;
                if (error.stage === 'write') attempts.set(seq, tries);
                if (retry && tries < 2) continue;
                const index = pending.findIndex((p) => p.entry.item.seq === seq);
                if (index < 0) continue;
                const [gone] = pending.splice(index, 1);
                if (gone) await report(failed(gone.entry.item, cause));
              }
            }
          }
        },
        // No sealed object is fetched for a mailbox that cannot be written.
        () => unreachable === undefined,
        writers.length,
        keepGoing,
        {
          max: this.options.checkBatch ?? 8,
          same: (a, b) => a.folder === b.folder,
        },
      );
    } finally {
      await Promise.all(writers.map((writer) => writer?.close()));
      giveBack(held);
    }
  }

  /**
   * Writes verified items of one container, each unless a copy is there already, and reports each
   * (taking it out of `pending`). The duplicate check and the writes are one step for these items in
   * this container: another session of this job, or another restore job of this connector, checks
   * one of them only once this batch is written; their results are reported once the batch lets go of
   * its locks (reporting may wait for the platform). Throws WriteInterrupted when a step fails for the
   * items in hand; an item's own failed write on a session that is still usable fails that item alone.
   */
  private async writeBatch(
    writer: TargetSession,
    job: RestoreCommand,
    mailbox: string,
    pending: Array<{ entry: LaneEntry; raw: Buffer }>,
    appended: Set<number>,
    report: (result: RestoreItemResult) => Promise<void>,
  ): Promise<void> {
    const folder = (pending[0] as { entry: LaneEntry }).entry.folder;
    const where = { targetMailbox: mailbox, targetFolder: folder };
    const all = () => pending.map((p) => p.entry.item.seq);
    try {
      await this.locks.run(folderKey(mailbox, folder), () => writer.ensureContainer(folder));
    } catch (error) {
      throw new WriteInterrupted('check', all(), error);
    }
    const done: RestoreItemResult[] = [];
    const settle = (next: { entry: LaneEntry; raw: Buffer }, result: RestoreItemResult) => {
      pending.splice(pending.indexOf(next), 1);
      done.push(result);
    };
    /** Writes one item; whether it is in the target now. */
    const writeOne = async (next: { entry: LaneEntry; raw: Buffer }): Promise<boolean> => {
      const { item } = next.entry;
      let dropped: string[];
      try {
        appended.add(item.seq);
        ({ dropped } = await writer.write(folder, { raw: next.raw, item }));
      } catch (error) {
        if (!writer.usable) throw new WriteInterrupted('write', [item.seq], error);
        settle(next, failed(item, `cannot restore into ${mailbox}/${folder}: ${(error as Error).message}`));
        return false;
      }
      settle(next, {
        seq: item.seq,
        outcome: 'restored',
        ...(dropped.length > 0
          ? {
              reason: boundedReason(
                `restored without keywords ${this.options.target.name} cannot carry: ${dropped.join(', ')}`,
              ),
            }
          : {}),
        ...where,
      });
      return true;
    };
    try {
      if (job.duplicate) {
        for (const next of [...pending]) await writeOne(next);
        return;
      }
      const keys = pending.map((p) => targetKey(mailbox, folder, p.entry.item.contentId));
      await this.locks.runAll(keys, async () => {
        let copies: Array<string | null>;
        try {
          copies = await writer.findCopies(
            folder,
            pending.map((p) => ({ raw: p.raw, contentId: p.entry.item.contentId, messageId: p.entry.item.messageId })),
          );
        } catch (error) {
          throw new WriteInterrupted('check', all(), error);
        }
        const checked = pending.map((p, i) => ({ next: p, copy: copies[i] ?? null }));
        // The same message twice in one batch: the first one written is the copy the second finds.
        const writtenHere = new Set<string>();
        for (const { next, copy } of checked) {
          const { item } = next.entry;
          if (copy !== null || writtenHere.has(item.contentId)) {
            settle(
              next,
              appended.has(item.seq)
                ? { seq: item.seq, outcome: 'restored', ...where }
                : { seq: item.seq, outcome: 'skipped', reason: boundedReason(`already in ${folder}`), ...where },
            );
            continue;
          }
          if (await writeOne(next)) writtenHere.add(item.contentId);
        }
      });
    } finally {
      // Outside the locks: the results of what was done, also when a step failed after it.
      for (const result of done) await report(result);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Export target
  // -------------------------------------------------------------------------------------------------

  /**
   * Writes every item into one export file. Results are reported only once the file is complete:
   * until `close` succeeds nothing is in it for the user to find.
   */
  private async runExport(
    job: RestoreCommand,
    target: Extract<RestoreCommand['target'], { kind: 'export' }>,
    items: RestoreItem[],
  ): Promise<{ results: RestoreItemResult[]; jobFailed: boolean }> {
    const { reporter, logger } = this.options;
    const dir = resolve(this.options.exportDir);
    const path = resolve(dir, target.fileName);
    // Items the file's format cannot hold (an appointment for an mbox file) are refused unread, and
    // stay refused whatever becomes of the file.
    const refusals: RestoreItemResult[] = [];
    const wanted: RestoreItem[] = [];
    for (const item of items) {
      const refusal = exportRefusal(target.format, item);
      if (refusal === null) wanted.push(item);
      else refusals.push(refused(item, refusal));
    }
    const failAll = async (message: string) => {
      reporter.error({ scope: 'job', target: job.jobId, message });
      const results = [...refusals, ...wanted.map((item) => failed(item, message))];
      for (const result of results) reporter.itemResult(result);
      return { results, jobFailed: true };
    };
    // The contract allows plain file names only; the check here keeps the writer inside its directory regardless.
    if (dirname(path) !== dir) return failAll(`export file name ${target.fileName} leaves the export directory`);
    let writer: ExportWriter;
    try {
      await mkdir(dir, { recursive: true });
      writer = await (this.options.openExportWriter ?? openExportWriter)(target.format, path);
    } catch (error) {
      return failAll(`cannot create export file ${path}: ${(error as Error).message}`);
    }
    const results: RestoreItemResult[] = [...refusals];
    let added = 0;
    try {
      await this.inOrder(
        wanted.map((item) => ({ item })),
        async (batch) => {
          for (const { entry, prepared } of batch) {
            const { item } = entry;
            if (!prepared.ok) {
              results.push(failed(item, prepared.reason));
              continue;
            }
            // A failed write leaves the file unusable (what followed would be garbage): the export stops.
            await writer.add(item, prepared.raw);
            added++;
            results.push({ seq: item.seq, outcome: 'restored', targetFolder: target.fileName });
            // Keeps the job visibly running; the results themselves follow once the file is complete.
            await reporter.tick();
          }
        },
      );
      if (added === 0) {
        await writer.abort();
      } else {
        await writer.close();
      }
    } catch (error) {
      await writer.abort().catch(() => undefined);
      logger.error({ path, error: (error as Error).message }, 'export file could not be completed');
      return failAll(`export file ${path} could not be completed: ${(error as Error).message}`);
    }
    for (const result of results) reporter.itemResult(result);
    if (added === 0)
      reporter.error({ scope: 'job', target: job.jobId, message: 'no item could be exported: no file was written' });
    return { results, jobFailed: false };
  }

  // -------------------------------------------------------------------------------------------------

  /**
   * Calls `write` for the entries in order, by `workers` writers at once (each takes the next batch
   * when it is free: up to `batch.max` consecutive entries that are `batch.same`), with sealed objects
   * fetched and opened ahead, so that the target (one command at a time per session) is not left
   * waiting for storage. Up to `concurrency` entries (and about AHEAD_BYTES of messages) are prepared
   * ahead; the window is refilled once it is half empty, all in one go, so that the objects are asked
   * for together (one batch fetch). A write that throws stops the others from taking more.
   */
  private async inOrder<T extends { item: RestoreItem }>(
    entries: readonly T[],
    write: (batch: Array<{ entry: T; prepared: Prepared }>, worker: number) => Promise<void>,
    wanted: () => boolean = () => true,
    workers = 1,
    /** Asked before a worker takes its next batch: false ends that worker (the others go on). */
    keepGoing: (worker: number) => boolean = () => true,
    batch: { max: number; same: (a: T, b: T) => boolean } = { max: 1, same: () => false },
  ): Promise<void> {
    const ahead: Array<{ size: number; prepared: Promise<Prepared> }> = [];
    let aheadBytes = 0;
    let next = 0;
    const window = Math.max(this.concurrency, workers);
    // A worker's batch must leave the window room to feed the others.
    const batchMax = Math.max(1, Math.min(batch.max, Math.floor(window / (2 * Math.max(1, workers)))));
    const refill = () => {
      if (ahead.length > window / 2 && aheadBytes < AHEAD_BYTES / 2) return;
      while (next < entries.length && ahead.length < window && (ahead.length === 0 || aheadBytes < AHEAD_BYTES)) {
        const entry = entries[next++] as T;
        const size = entry.item.size;
        aheadBytes += size;
        ahead.push({
          size,
          prepared: wanted()
            ? this.limiter.run(() => this.prepare(entry.item))
            : Promise.resolve({ ok: false, reason: 'not fetched: its target cannot be written' }),
        });
      }
    };
    refill();
    let taken = 0;
    let stopped = false;
    const take = (): { entry: T; prepared: Promise<Prepared> } => {
      // Taking the entry and its preparation is one synchronous step: they stay paired.
      const entry = entries[taken++] as T;
      const { size, prepared } = ahead.shift() as { size: number; prepared: Promise<Prepared> };
      aheadBytes -= size;
      refill();
      return { entry, prepared };
    };
    const worker = async (index: number) => {
      while (!stopped && taken < entries.length && keepGoing(index)) {
        const first = take();
        const mine = [first];
        while (mine.length < batchMax && taken < entries.length && batch.same(first.entry, entries[taken] as T)) {
          mine.push(take());
        }
        try {
          const ready = await Promise.all(
            mine.map(async ({ entry, prepared }) => ({ entry, prepared: await prepared })),
          );
          await write(ready, index);
        } catch (error) {
          stopped = true;
          throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, entries.length)) }, (_, i) => worker(i)));
  }

  private async prepare(item: RestoreItem): Promise<Prepared> {
    try {
      return { ok: true, raw: await openRestoreItem(this.options.objects, this.options.keys, item) };
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
  }
}

function failed(item: RestoreItem, reason: string): RestoreItemResult {
  return { seq: item.seq, outcome: 'failed', reason: boundedReason(reason) };
}

function refused(item: RestoreItem, reason: string): RestoreItemResult {
  return { seq: item.seq, outcome: 'refused', reason: boundedReason(reason) };
}
