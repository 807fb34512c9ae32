import { Limiter } from '@mlr/messaging';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { JobCommand, JobState, RestoreItem, RestoreItemResult } from '@mlr/contracts';
import type { TenantKeys } from '@mlr/crypto';
import type { Logger } from '@mlr/telemetry';
import { PUBLIC_FOLDERS_MAILBOX } from '../backup/backup-runner.js';
import type { JobReporter } from '../backup/job-reporter.js';
import type { ImapSourceConfig } from '../config/connector-config.js';
import { mailboxLogin, openImapSession, type MailboxLogin } from '../sources/imap/imap-session.js';
import { openExportWriter, type ExportFormat, type ExportWriter } from './export/index.js';
import { ImapMailboxWriter } from './imap-mailbox-writer.js';
import { openRestoreItem, RestoreItemFailure, type SealedObjectSource } from './open-restore-item.js';
import { readAllItems, type RestoreItemSource } from './restore-item-source.js';
import { appendFlags, boundedReason, countOutcomes, destinationOf, restoreJobState } from './restore-plan.js';

export type RestoreCommand = Extract<JobCommand, { kind: 'restore' }>;

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
  /** Sealed objects fetched and opened ahead of the writes, per mailbox. Default 8. */
  concurrency?: number;
  /** Mailboxes written at once (one IMAP session each). Default 4. */
  sessions?: number;
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

  constructor(private readonly options: RestoreRunnerOptions) {
    this.concurrency = options.concurrency ?? 8;
    this.limiter = new Limiter(this.concurrency);
  }

  async run(job: RestoreCommand): Promise<JobState> {
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
    let writer: ImapMailboxWriter | undefined;
    let unreachable: string | undefined;
    const connect = async (): Promise<ImapMailboxWriter | undefined> => {
      try {
        return new ImapMailboxWriter(
          await (this.options.openSession ?? openImapSession)(this.options.source, this.loginFor(lane.mailbox)),
          this.options.keys,
        );
      } catch (error) {
        unreachable = `mailbox ${lane.mailbox} is unreachable: ${(error as Error).message}`;
        reporter.error({ scope: 'mailbox', target: lane.mailbox, message: unreachable });
        return undefined;
      }
    };
    writer = await connect();
    try {
      await this.inOrder(
        lane.entries,
        async ({ item, folder }, prepared) => {
          if (unreachable !== undefined) return report(failed(item, unreachable));
          if (!prepared.ok) return report(failed(item, prepared.reason));
          let result: RestoreItemResult | undefined;
          const progress = { appended: false };
          // A session the server dropped is opened again. The item it dropped under is tried once more
          // on the new session, unless the job asked for duplicates: the APPEND may have landed before
          // the drop, and only the duplicate check can tell.
          for (let attempt = 1; result === undefined; attempt++) {
            if (!writer || !writer.usable) {
              await writer?.close();
              writer = await connect();
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
      );
    } finally {
      await writer?.close();
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
    await writer.ensureFolder(folder);
    if (!job.duplicate && (await writer.findCopy(folder, raw, item.contentId, item.messageId)) !== null) {
      if (attempt.appended) return restored;
      return { seq: item.seq, outcome: 'skipped', reason: boundedReason(`already in ${folder}`), ...where };
    }
    attempt.appended = true;
    await writer.append({
      folder,
      raw,
      flags,
      internalDate: item.internalDate ? new Date(item.internalDate) : null,
    });
    return restored;
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
   * Calls `write` for each entry in order, with its sealed object fetched and opened ahead: up to
   * `concurrency` entries are being prepared while the current one is written, so that IMAP (one
   * command at a time per session) is not left waiting for storage.
   */
  private async inOrder<T extends { item: RestoreItem }>(
    entries: readonly T[],
    write: (entry: T, prepared: Prepared) => Promise<void>,
    wanted: () => boolean = () => true,
  ): Promise<void> {
    const ahead: Array<Promise<Prepared>> = [];
    let next = 0;
    const prepareNext = () => {
      const entry = entries[next++];
      if (entry === undefined) return;
      ahead.push(
        wanted()
          ? this.limiter.run(() => this.prepare(entry.item))
          : Promise.resolve({ ok: false, reason: 'not fetched: its target cannot be written' }),
      );
    };
    for (let i = 0; i < this.concurrency; i++) prepareNext();
    for (const entry of entries) {
      const prepared = await (ahead.shift() as Promise<Prepared>);
      prepareNext();
      await write(entry, prepared);
    }
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
