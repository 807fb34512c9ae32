import { sightingLabel, type FolderCheckpoint, type JobEventState } from '@mlr/contracts';
import { sealMessage, type SealedMessage, type TenantKeys } from '@mlr/crypto';
import { buildIndexRecord, extractMessageFacts, type MessageFacts } from '@mlr/mime';
import { renderStructuredItem } from '@mlr/pim';
import type { Logger } from '@mlr/telemetry';
import { Limiter } from '../limiter.js';
import type { JobProgress, SightingUploader } from '../ports/job-progress.js';
import type { BackupCommand, MailSource, SourceItem, SourceMailbox, SourceSession } from '../ports/mail-source.js';
import { CheckpointWindow } from './checkpoint-window.js';
import { folderSelected, matchesFilter } from './filter.js';

export interface BackupRunnerOptions {
  /** Items read and not yet acknowledged, at most. Default 2,048. */
  concurrency?: number;
  /** Bytes of such items at most (their sealed copies come on top). Default 128 MiB. */
  maxInFlightBytes?: number;
  /** Whether a job for every mailbox also backs up the source's shared containers (public folders). Default true. */
  publicFolders?: boolean;
  /** The clock that dates each reading of an item's flags. */
  now?: () => Date;
}

/**
 * What an item given as fields weighs while in flight: its JSON size. An item that cannot even be
 * written as JSON weighs nothing here and fails when it is checked, alone.
 */
function fieldsSize(fields: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(fields) ?? '');
  } catch {
    return 0;
  }
}

/** One item read from the source, until it is sealed (then only the sealed copy is kept, for re-sending). */
interface ReadItem {
  mailbox: string;
  folder: string;
  sighting: SourceItem['sighting'];
  /** The item's bytes, or the fields it is written from; let go of once sealed. */
  content: { raw: Buffer } | { structured: unknown } | undefined;
  /** What the item weighs while in flight (its bytes; the size of its fields). */
  size: number;
  flags: string[];
  internalDate: Date | null;
  observedAt: Date;
}

/**
 * One backup job on a mail source: every selected mailbox and container, incrementally from the
 * cursors the job carries, each selected item sealed, uploaded and acknowledged end to end before
 * its container's checkpoint moves past it. A failing mailbox, container or item is recorded and the
 * run goes on with the rest. The source is a port (`MailSource`): IMAP, files or Graph alike.
 */
export class BackupRunner {
  private readonly limiter: Limiter;
  private readonly now: () => Date;

  constructor(
    private readonly source: MailSource,
    private readonly keys: TenantKeys,
    private readonly uploader: SightingUploader,
    private readonly reporter: JobProgress,
    private readonly logger: Logger,
    private readonly options: BackupRunnerOptions = {},
  ) {
    this.limiter = new Limiter(options.concurrency ?? 2048, options.maxInFlightBytes ?? 128 * 1024 * 1024);
    this.now = options.now ?? (() => new Date());
  }

  async run(job: BackupCommand): Promise<JobEventState> {
    const checkpoints = new Map(job.checkpoints.map((cp) => [JSON.stringify([cp.mailbox, cp.folder]), cp]));
    const mailboxes = this.source.mailboxes(job.mailboxes, { publicFolders: this.options.publicFolders ?? true });
    await this.reporter.flush('running');
    // Mailboxes and containers are read one after the other, but none waits for the platform to
    // answer for the one before: the in-flight limit alone bounds what is read and not yet answered.
    const answered: Array<Promise<boolean>> = [];
    for (const mailbox of mailboxes) answered.push((await this.backupMailbox(job, mailbox, checkpoints)).answered);
    // Everything is read: what the platform still holds for this job (an open pack) goes now.
    this.uploader.flush(job.jobId);
    const failedMailboxes = (await Promise.all(answered)).filter((ok) => !ok).length;
    const state: JobEventState =
      this.reporter.errors === 0 ? 'succeeded' : failedMailboxes === mailboxes.length ? 'failed' : 'partially_failed';
    await this.reporter.flush(state);
    return state;
  }

  /**
   * Reads one mailbox; resolves once everything is read (its session is closed then) with
   * `answered`, which resolves once the platform has answered for every item read, to whether
   * the mailbox could be backed up at all.
   */
  private async backupMailbox(
    job: BackupCommand,
    mailbox: SourceMailbox,
    checkpoints: Map<string, FolderCheckpoint>,
  ): Promise<{ answered: Promise<boolean> }> {
    let session: SourceSession | undefined;
    try {
      session = await this.source.open(mailbox);
    } catch (error) {
      this.reporter.error({ scope: 'mailbox', target: mailbox.name, message: (error as Error).message });
      return { answered: Promise.resolve(false) };
    }
    const folderError = (folder: string, error: unknown) =>
      this.reporter.error({ scope: 'folder', target: `${mailbox.name}/${folder}`, message: (error as Error).message });
    const answered: Array<Promise<void>> = [];
    try {
      for (const folder of await session.containers()) {
        if (!folderSelected(job.filter, folder)) continue;
        try {
          const checkpoint = checkpoints.get(JSON.stringify([mailbox.name, folder]));
          const { answered: done } = await this.backupFolder(session, job, mailbox.name, folder, checkpoint);
          answered.push(done.catch((error: unknown) => folderError(folder, error)));
        } catch (error) {
          folderError(folder, error);
          if (!session.usable) {
            await session.close().catch(() => undefined);
            session = await this.source.open(mailbox);
          }
        }
      }
      return { answered: Promise.all(answered).then(() => true) };
    } catch (error) {
      this.reporter.error({ scope: 'mailbox', target: mailbox.name, message: (error as Error).message });
      return { answered: Promise.all(answered).then(() => false) };
    } finally {
      await session?.close().catch(() => undefined);
    }
  }

  /**
   * Reads one container's new items and attribute changes and hands them on; resolves once
   * everything is read, with `answered`, which resolves once the platform has answered for all of
   * them and the container's checkpoint has moved as far as they allow.
   */
  private async backupFolder(
    session: SourceSession,
    job: BackupCommand,
    mailbox: string,
    folder: string,
    checkpoint: FolderCheckpoint | undefined,
  ): Promise<{ answered: Promise<void> }> {
    const scan = await session.scan(folder, checkpoint?.cursor, { full: job.full, filter: job.filter });
    const window = new CheckpointWindow(scan.committed);
    const report = (complete: boolean, position = window.advance(scan.scannedUpTo)) =>
      this.reporter.checkpoint({ mailbox, folder, cursor: scan.cursorAt(position, complete) });
    for (const position of scan.newItems) window.add(position);
    let failures = 0;
    // Attribute changes re-send the whole sighting: storage keeps one object, indexing updates the record.
    const tasks: Array<Promise<void>> = [];
    const process = async (positions: readonly number[], isNew: boolean) => {
      if (positions.length === 0) return;
      for await (const read of scan.read(positions)) {
        // An item selected by the scan and gone since: nothing to back up.
        if (read.gone) {
          if (isNew) window.finish(read.position);
          continue;
        }
        const { item } = read;
        // The source reports an item's flags as it answers for it: they were read no later than now.
        // The index orders a sighting's records by this time, not by when they arrive.
        const observedAt = this.now();
        // Items flow on while earlier ones wait for their acknowledgement: the limiter bounds what is
        // in flight (and, by not taking the next item, what the source reads ahead).
        const size = 'raw' in item ? item.raw.length : fieldsSize(item.structured);
        const release = await this.limiter.acquire(size);
        const position = item.position;
        const message: ReadItem = {
          mailbox,
          folder,
          sighting: item.sighting,
          content: 'raw' in item ? { raw: item.raw } : { structured: item.structured },
          size,
          flags: item.flags,
          internalDate: item.internalDate,
          observedAt,
        };
        tasks.push(
          this.backupItem(job, message, isNew)
            .then((outcome) => {
              if (isNew) window.finish(position);
              if (outcome === 'failed') {
                failures++;
                if (isNew) window.fail(position);
              }
              report(false);
              return this.reporter.tick();
            })
            .finally(release),
        );
      }
    };
    await process(scan.newItems, true);
    const fresh = new Set(scan.newItems);
    await process(
      scan.changedItems.filter((position) => !fresh.has(position)),
      false,
    );
    return {
      answered: Promise.all(tasks).then(() => {
        // Every item is answered for: the checkpoint moves as far as they allow, and attribute
        // changes count as covered only when every one of them was stored.
        const position = window.advance(scan.scannedUpTo);
        report(failures === 0, position);
        this.logger.debug(
          {
            mailbox,
            folder,
            position,
            newItems: scan.newItems.length,
            changedItems: scan.changedItems.length,
          },
          'folder done',
        );
      }),
    };
  }

  /**
   * Reads the item's facts (an item given as fields is written in its canonical form first: libs/pim),
   * applies the filter and seals it; then lets go of its bytes: thousands of items may wait for their
   * acknowledgement at once, and only their sealed form is kept.
   */
  private async prepare(
    job: BackupCommand,
    message: ReadItem,
  ): Promise<{ facts: MessageFacts; sealed: SealedMessage } | 'skipped'> {
    const content = message.content;
    if (!content) throw new Error('the item bytes were let go of before the item was sealed');
    message.content = undefined;
    let raw: Buffer;
    let facts: MessageFacts;
    if ('raw' in content) {
      raw = content.raw;
      facts = extractMessageFacts(raw);
    } else {
      const rendered = renderStructuredItem(content.structured);
      raw = rendered.raw;
      facts = rendered.facts;
      // What is backed up is the canonical form: its bytes are what the job counts.
      message.size = raw.length;
    }
    const passes = matchesFilter(job.filter, {
      submissionDate: facts.submissionDate,
      internalDate: message.internalDate,
      from: facts.from?.address ?? null,
      recipients: [...facts.to, ...facts.cc, ...facts.bcc].map((a) => a.address),
      subject: facts.subject,
      size: raw.length,
      hasAttachment: facts.hasAttachment,
    });
    if (!passes) return 'skipped';
    // Sealing computes the content id in the same pass that compresses and encrypts.
    return { facts, sealed: await sealMessage(this.keys, raw) };
  }

  private async backupItem(
    job: BackupCommand,
    message: ReadItem,
    isNew: boolean,
  ): Promise<'stored' | 'skipped' | 'failed'> {
    const counters = this.reporter.counters;
    counters.seen++;
    try {
      const prepared = await this.prepare(job, message);
      if (prepared === 'skipped') {
        counters.skipped++;
        return 'skipped';
      }
      const { facts, sealed } = prepared;
      const record = buildIndexRecord(facts, {
        tenantId: job.tenantId,
        mailbox: message.mailbox,
        folder: message.folder,
        sourceKey: message.sighting,
        contentId: sealed.contentId,
        internalDate: message.internalDate,
        flags: message.flags,
        keywords: [],
        observedAt: message.observedAt,
        backupJobId: job.jobId,
      });
      const outcome = await this.uploader.upload(job.jobId, sealed, record);
      if (isNew) {
        if (outcome.objectStored === 'new') counters.new++;
        else counters.deduplicated++;
        counters.bytes += message.size;
      }
      return 'stored';
    } catch (error) {
      counters.failed++;
      this.reporter.error({
        scope: 'message',
        target: `${message.mailbox}/${message.folder} ${sightingLabel(message.sighting)}`,
        message: (error as Error).message,
        item: { mailbox: message.mailbox, folder: message.folder, sourceKey: message.sighting },
      });
      return 'failed';
    }
  }
}
