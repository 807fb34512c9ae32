import { Limiter } from '@mlr/messaging';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { JobCommand, JobEventState, RestoreItem, RestoreItemResult } from '@mlr/contracts';
import type { TenantKeys } from '@mlr/crypto';
import type { Logger } from '@mlr/telemetry';
import { PUBLIC_FOLDERS_MAILBOX } from '../backup/backup-runner.js';
import type { JobReporter } from '../backup/job-reporter.js';
import type { ImapSourceConfig } from '../config/connector-config.js';
import { mailboxLogin, openImapSession, type MailboxLogin } from '../sources/imap/imap-session.js';
import { openExportWriter, type ExportFormat, type ExportWriter } from './export/index.js';
import { DEFAULT_TRUST_MS, FolderListings, ImapMailboxWriter } from './imap-mailbox-writer.js';
import { openRestoreItem, RestoreItemFailure, type SealedObjectSource } from './open-restore-item.js';
import { readAllItems, type RestoreItemSource } from './restore-item-source.js';
import { appendFlags, boundedReason, countOutcomes, destinationOf, restoreJobState } from './restore-plan.js';
import { folderKey, SessionBudget, TargetLocks, targetKey } from './target-locks.js';

export type RestoreCommand = Extract<JobCommand, { kind: 'restore' }>;

/** Bytes of messages (by their indexed size) a job prepares ahead of its writes, about. */
const AHEAD_BYTES = 64 * 1024 * 1024;

/** Opens the export file of a job (`./export`'s openExportWriter, or a test double). */
export type OpenExportWriter = (format: ExportFormat, path: string) => Promise<ExportWriter>;

export interface RestoreRunnerOptions {
  source: ImapSourceConfig;
  keys: TenantKeys;
  items: RestoreItemSource;
  objects: SealedObjectSource;
  /** Default: the real mbox / zip writers. */
  openExportWriter?: OpenExportWriter;
  /** Absolute directory export files are written into. */
  exportDir: string;
  reporter: JobReporter;
  logger: Logger;
  /** Sealed objects fetched and opened ahead of the writes, per job (and ~64 MiB at most). Default 32. */
  concurrency?: number;
  /** Mailboxes written at once. Default 4. */
  sessions?: number;
  /** IMAP sessions writing into one mailbox at once, when no `sessionBudget` is given. Default 4. */
  sessionsPerMailbox?: number;
  /** The sessions every restore job of the connector may hold per mailbox. Default: the job's own. */
  sessionBudget?: SessionBudget;
  /** The duplicate check's folder listings, shared by every restore job of the connector. Default: the job's own. */
  listings?: FolderListings;
  /**
   * Held while a message is checked for a copy and appended, and while a folder is created: shared
   * by every restore job of the connector. Default: the job's own.
   */
  locks?: TargetLocks;
  /** Opens the IMAP session of a mailbox; default the backup's own (master user or own password). */
  openSession?: typeof openImapSession;
}

type Prepared = { ok: true; raw: Buffer } | { ok: false; reason: string };

/** Items of one mailbox, each with its destination folder. */
interface MailboxLane {
  mailbox: string;
  entries: Array<{ item: RestoreItem; folder: string }>;
}

/**
 * One restore job: reads the job's items, and for each fetches the sealed object, verifies it against
 * the item's content id and writes the exact bytes into the target (IMAP APPEND with the recorded
 * flags and INTERNALDATE, or the export file). Unless the job asks for duplicates, a message already
 * in the target folder (same content id) is skipped, so running a restore twice creates no copies.
 * Every item gets a result; a failing item or mailbox does not stop the others.
 */
export class RestoreRunner {
  private readonly limiter: Limiter;
  private readonly concurrency: number;
  private readonly locks: TargetLocks;
  private readonly budget: SessionBudget;
  private readonly listings: FolderListings;

  constructor(private readonly options: RestoreRunnerOptions) {
    this.concurrency = options.concurrency ?? 32;
    this.limiter = new Limiter(this.concurrency);
    this.locks = options.locks ?? new TargetLocks();
    this.budget = options.sessionBudget ?? new SessionBudget(options.sessionsPerMailbox ?? 4);
    // A listing of the job's own may be trusted for a while only when no other job writes beside it
    // (shared locks without shared listings: every check asks the server).
    this.listings = options.listings ?? new FolderListings(options.locks ? 0 : DEFAULT_TRUST_MS);
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
    for (const item of items) {
      const destination = destinationOf(job.target, item);
      if (destination.kind !== 'imap') continue;
      let lane = lanes.get(destination.mailbox);
      if (!lane) lanes.set(destination.mailbox, (lane = { mailbox: destination.mailbox, entries: [] }));
      lane.entries.push({ item, folder: destination.folder });
    }
    // One folder after the other, in seq order within each: one SELECT per folder.
    for (const lane of lanes.values()) {
      lane.entries.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : a.item.seq - b.item.seq));
    }
    const results: RestoreItemResult[] = [];
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
    const { reporter, logger } = this.options;
    const report = async (result: RestoreItemResult) => {
      record(result);
      reporter.itemResult(result);
      if (result.outcome === 'failed') {
        logger.warn({ seq: result.seq, mailbox: lane.mailbox, reason: result.reason }, 'restore item failed');
      }
      await reporter.tick();
    };
    let unreachable: string | undefined;
    const open = async (): Promise<ImapMailboxWriter> =>
      new ImapMailboxWriter(
        await (this.options.openSession ?? openImapSession)(this.options.source, this.loginFor(lane.mailbox)),
        this.options.keys,
        { listings: this.listings, mailbox: lane.mailbox },
      );
    const connect = async (): Promise<ImapMailboxWriter | undefined> => {
      try {
        return await open();
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
    // speed: one the server refuses (e.g. its limit of sessions per user) is done without.
    const writers: Array<ImapMailboxWriter | undefined> = [await connect()];
    if (writers[0]) {
      const more = await Promise.allSettled(Array.from({ length: held - 1 }, () => open()));
      for (const outcome of more) {
        if (outcome.status === 'fulfilled') {
          writers.push(outcome.value);
          continue;
        }
        giveBack(1);
        logger.warn(
          { mailbox: lane.mailbox, error: (outcome.reason as Error).message },
          'an extra IMAP session for the restore was refused; going on with fewer',
        );
      }
    } else {
      giveBack(held - 1);
    }
    // An extra session is given back, between two messages, to another job waiting for this mailbox.
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
        async ({ item, folder }, prepared, session) => {
          if (unreachable !== undefined) return report(failed(item, unreachable));
          if (!prepared.ok) return report(failed(item, prepared.reason));
          let result: RestoreItemResult | undefined;
          const progress = { appended: false };
          // A session the server dropped is opened again. The item it dropped under is tried once more
          // on the new session, unless the job asked for duplicates: the APPEND may have landed before
          // the drop, and only the duplicate check can tell.
          for (let attempt = 1; result === undefined; attempt++) {
            let writer = writers[session];
            if (!writer || !writer.usable) {
              await writer?.close();
              writer = writers[session] = await connect();
              if (!writer) {
                result = failed(item, unreachable ?? `mailbox ${lane.mailbox} is unreachable`);
                break;
              }
            }
            try {
              result = await this.writeItem(
                writer,
                job,
                item,
                { targetMailbox: lane.mailbox, targetFolder: folder },
                prepared.raw,
                progress,
              );
            } catch (error) {
              if (attempt < 2 && !writer.usable && !job.duplicate) continue;
              result = failed(item, `cannot restore into ${lane.mailbox}/${folder}: ${(error as Error).message}`);
            }
          }
          return report(result);
        },
        // No sealed object is fetched for a mailbox that cannot be written.
        () => unreachable === undefined,
        writers.length,
        keepGoing,
      );
    } finally {
      await Promise.all(writers.map((writer) => writer?.close()));
      giveBack(held);
    }
  }

  /**
   * Writes one verified message into `folder`, unless a copy is there already. `attempt.appended`
   * is set once the APPEND has been sent: when the session drops after that, the retry's duplicate
   * check finds this job's own copy, and the item counts as restored, not skipped.
   */
  private async writeItem(
    writer: ImapMailboxWriter,
    job: RestoreCommand,
    item: RestoreItem,
    where: { targetMailbox: string; targetFolder: string },
    raw: Buffer,
    attempt: { appended: boolean },
  ): Promise<RestoreItemResult> {
    const folder = where.targetFolder;
    const { flags, dropped } = appendFlags(item);
    const restored: RestoreItemResult = {
      seq: item.seq,
      outcome: 'restored',
      ...(dropped.length > 0
        ? { reason: boundedReason(`restored without keywords IMAP cannot carry: ${dropped.join(', ')}`) }
        : {}),
      ...where,
    };
    await this.locks.run(folderKey(where.targetMailbox, folder), () => writer.ensureFolder(folder));
    const append = async () => {
      attempt.appended = true;
      await writer.append({
        folder,
        raw,
        flags,
        internalDate: item.internalDate ? new Date(item.internalDate) : null,
      });
      return restored;
    };
    if (job.duplicate) return append();
    // The check and the APPEND are one step for this message in this folder: another session of
    // this job, or another restore job of this connector, checks only once this copy is there.
    return this.locks.run(targetKey(where.targetMailbox, folder, item.contentId), async () => {
      if ((await writer.findCopy(folder, raw, item.contentId, item.messageId)) !== null) {
        if (attempt.appended) return restored;
        return { seq: item.seq, outcome: 'skipped', reason: boundedReason(`already in ${folder}`), ...where };
      }
      return append();
    });
  }

  /** Whose session writes into `mailbox`: its own, or the first mailbox's for public folders. */
  private loginFor(mailbox: string): MailboxLogin {
    const { source } = this.options;
    if (mailbox === PUBLIC_FOLDERS_MAILBOX) {
      const first = source.mailboxes[0];
      if (!first || !source.serviceAccount) {
        throw new RestoreItemFailure(
          'public folders can only be restored with a service account and a configured mailbox',
        );
      }
      return { mailbox: first.address };
    }
    return mailboxLogin(source, mailbox);
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
    const failAll = async (message: string) => {
      reporter.error({ scope: 'job', target: job.jobId, message });
      const results = items.map((item) => failed(item, message));
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
    const results: RestoreItemResult[] = [];
    let added = 0;
    try {
      await this.inOrder(
        items.map((item) => ({ item })),
        async ({ item }, prepared) => {
          if (!prepared.ok) {
            results.push(failed(item, prepared.reason));
            return;
          }
          // A failed write leaves the file unusable (what followed would be garbage): the export stops.
          await writer.add(item, prepared.raw);
          added++;
          results.push({ seq: item.seq, outcome: 'restored', targetFolder: target.fileName });
          // Keeps the job visibly running; the results themselves follow once the file is complete.
          await reporter.tick();
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
   * Calls `write` for each entry in order, by `workers` writers at once (each takes the next entry
   * when it is free), with sealed objects fetched and opened ahead, so that IMAP (one command at a
   * time per session) is not left waiting for storage. Up to `concurrency` entries (and about
   * AHEAD_BYTES of messages) are prepared ahead; the window is refilled once it is half empty, all in
   * one go, so that the objects are asked for together (one batch fetch). A write that throws stops
   * the others from taking more.
   */
  private async inOrder<T extends { item: RestoreItem }>(
    entries: readonly T[],
    write: (entry: T, prepared: Prepared, worker: number) => Promise<void>,
    wanted: () => boolean = () => true,
    workers = 1,
    /** Asked before a worker takes its next entry: false ends that worker (the others go on). */
    keepGoing: (worker: number) => boolean = () => true,
  ): Promise<void> {
    const ahead: Array<{ size: number; prepared: Promise<Prepared> }> = [];
    let aheadBytes = 0;
    let next = 0;
    const window = Math.max(this.concurrency, workers);
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
    const worker = async (index: number) => {
      while (!stopped && taken < entries.length && keepGoing(index)) {
        // Taking the entry and its preparation is one synchronous step: they stay paired.
        const entry = entries[taken++] as T;
        const { size, prepared } = ahead.shift() as { size: number; prepared: Promise<Prepared> };
        aheadBytes -= size;
        refill();
        try {
          await write(entry, await prepared, index);
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
