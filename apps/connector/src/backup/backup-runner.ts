import type { ImapFlow, ListResponse } from 'imapflow';
import type { FolderCheckpoint, JobCommand, JobEventState } from '@mlr/contracts';
import { sealMessage, type SealedMessage, type TenantKeys } from '@mlr/crypto';
import { buildIndexRecord, extractMessageFacts } from '@mlr/mime';
import type { Logger } from '@mlr/telemetry';
import type { ImapSourceConfig } from '../config/connector-config.js';
import { mailboxLogin, openImapSession, type MailboxLogin } from '../sources/imap/imap-session.js';
import { uidSet } from '../sources/imap/uid-set.js';
import { CheckpointWindow } from './checkpoint-window.js';
import { folderSelected, imapSearchQuery, matchesFilter } from './filter.js';
import type { JobReporter } from './job-reporter.js';
import type { SightingUploader } from './commit-batcher.js';

export type BackupCommand = Extract<JobCommand, { kind: 'backup' }>;

/** Pseudo-mailbox under which public folders are indexed (they belong to no user). */
export const PUBLIC_FOLDERS_MAILBOX = '#public';

const FETCH_BATCH = 50;
/** Bytes fetched per batch at most (a single larger message is fetched alone). */
const FETCH_BATCH_BYTES = 32 * 1024 * 1024;

interface MailboxTarget {
  /** The mailbox as indexed (user address, or PUBLIC_FOLDERS_MAILBOX). */
  name: string;
  /** Whose session opens it, with the owner's own credentials where configured. */
  login: MailboxLogin & { mailbox: string };
  /** Which folders belong to this target: the personal namespace, or the public ones. */
  scope: 'personal' | 'public';
}

/**
 * Bounds the messages in flight, by count and by bytes; `acquire` waits for room and returns its
 * release. One message larger than the byte bound alone still goes (when nothing else is in flight).
 */
class Limiter {
  private active = 0;
  private bytes = 0;
  private readonly queue: Array<() => void> = [];
  constructor(
    private readonly limit: number,
    private readonly byteLimit: number,
  ) {}
  async acquire(weight: number): Promise<() => void> {
    while (this.active >= this.limit || (this.active > 0 && this.bytes + weight > this.byteLimit)) {
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
    this.active++;
    this.bytes += weight;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.bytes -= weight;
      const waiting = this.queue.splice(0);
      for (const wake of waiting) wake();
    };
  }
}

/** Groups UIDs into FETCH batches of at most FETCH_BATCH messages and FETCH_BATCH_BYTES bytes. */
export function planFetchBatches(uids: readonly number[], sizes: ReadonlyMap<number, number>): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const uid of uids) {
    const size = sizes.get(uid) ?? 0;
    if (current.length > 0 && (current.length >= FETCH_BATCH || bytes + size > FETCH_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(uid);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * One backup job on an IMAP source: every selected mailbox and folder, incrementally from the
 * checkpoints the job carries, each selected message sealed, uploaded and acknowledged end to end
 * before its folder's checkpoint moves past it. A failing mailbox, folder or message is recorded
 * and the run goes on with the rest.
 */
export class BackupRunner {
  private readonly limiter: Limiter;
  private readonly now: () => Date;

  constructor(
    private readonly source: ImapSourceConfig,
    private readonly keys: TenantKeys,
    private readonly uploader: SightingUploader,
    private readonly reporter: JobReporter,
    private readonly logger: Logger,
    private readonly options: {
      /** Messages read and not yet acknowledged, at most. */
      concurrency?: number;
      /** Bytes of such messages at most (their sealed copies come on top). */
      maxInFlightBytes?: number;
      publicFolders?: boolean;
      /** The clock that dates each reading of a message's flags. */
      now?: () => Date;
    } = {},
  ) {
    this.limiter = new Limiter(options.concurrency ?? 2048, options.maxInFlightBytes ?? 128 * 1024 * 1024);
    this.now = options.now ?? (() => new Date());
  }

  async run(job: BackupCommand): Promise<JobEventState> {
    const checkpoints = new Map(job.checkpoints.map((cp) => [JSON.stringify([cp.mailbox, cp.folder]), cp]));
    const targets = this.targets(job);
    await this.reporter.flush('running');
    // Mailboxes and folders are read one after the other, but none waits for the platform to answer
    // for the one before: the in-flight limit alone bounds what is read and not yet answered.
    const answered: Array<Promise<boolean>> = [];
    for (const target of targets) answered.push((await this.backupMailbox(job, target, checkpoints)).answered);
    // Everything is read: what the platform still holds for this job (an open pack) goes now.
    this.uploader.flush(job.jobId);
    const failedTargets = (await Promise.all(answered)).filter((ok) => !ok).length;
    const state: JobEventState =
      this.reporter.errors === 0 ? 'succeeded' : failedTargets === targets.length ? 'failed' : 'partially_failed';
    await this.reporter.flush(state);
    return state;
  }

  private targets(job: BackupCommand): MailboxTarget[] {
    const names = job.mailboxes.kind === 'all' ? this.source.mailboxes.map((m) => m.address) : job.mailboxes.mailboxes;
    const targets: MailboxTarget[] = names.map((name) => ({
      name,
      login: mailboxLogin(this.source, name),
      scope: 'personal',
    }));
    // Public folders need the service account ("Receive As"); they are backed up once, not per user.
    const first = this.source.mailboxes[0];
    if ((this.options.publicFolders ?? true) && this.source.serviceAccount && first && job.mailboxes.kind === 'all') {
      targets.push({ name: PUBLIC_FOLDERS_MAILBOX, login: { mailbox: first.address }, scope: 'public' });
    }
    return targets;
  }

  /**
   * Reads one mailbox; resolves once everything is read (its session is closed then) with
   * `answered`, which resolves once the platform has answered for every message read, to whether
   * the mailbox could be backed up at all.
   */
  private async backupMailbox(
    job: BackupCommand,
    target: MailboxTarget,
    checkpoints: Map<string, FolderCheckpoint>,
  ): Promise<{ answered: Promise<boolean> }> {
    let client: ImapFlow | undefined;
    try {
      client = await openImapSession(this.source, target.login);
    } catch (error) {
      this.reporter.error({ scope: 'mailbox', target: target.name, message: (error as Error).message });
      return { answered: Promise.resolve(false) };
    }
    const folderError = (folder: string, error: unknown) =>
      this.reporter.error({ scope: 'folder', target: `${target.name}/${folder}`, message: (error as Error).message });
    const answered: Array<Promise<void>> = [];
    try {
      const folders = await this.folders(client, target.scope);
      for (const folder of folders) {
        if (!folderSelected(job.filter, folder.path)) continue;
        try {
          const { answered: done } = await this.backupFolder(
            client,
            job,
            target.name,
            folder.path,
            checkpoints.get(JSON.stringify([target.name, folder.path])),
          );
          answered.push(done.catch((error: unknown) => folderError(folder.path, error)));
        } catch (error) {
          folderError(folder.path, error);
          if (!client.usable) {
            client = await openImapSession(this.source, target.login);
          }
        }
      }
      return { answered: Promise.all(answered).then(() => true) };
    } catch (error) {
      this.reporter.error({ scope: 'mailbox', target: target.name, message: (error as Error).message });
      return { answered: Promise.all(answered).then(() => false) };
    } finally {
      await client?.logout().catch(() => undefined);
    }
  }

  /** Selectable folders of the personal namespace, or of the public (shared) namespaces. */
  private async folders(client: ImapFlow, scope: MailboxTarget['scope']): Promise<ListResponse[]> {
    const namespaces = client.namespaces;
    const foreign = [...(namespaces?.other || []), ...(namespaces?.shared || [])]
      .map((ns) => ns.prefix)
      .filter((p) => p.length > 0);
    const publicPrefixes = (namespaces?.shared || []).map((ns) => ns.prefix).filter((p) => p.length > 0);
    const all = await client.list();
    return all.filter((folder) => {
      if (folder.flags.has('\\Noselect') || folder.flags.has('\\NonExistent')) return false;
      if (scope === 'public') return publicPrefixes.some((prefix) => folder.path.startsWith(prefix));
      return !foreign.some((prefix) => folder.path.startsWith(prefix));
    });
  }

  /**
   * Reads one folder's new messages and flag changes and hands them on; resolves once everything is
   * read, with `answered`, which resolves once the platform has answered for all of them and the
   * folder's checkpoint has moved as far as they allow.
   */
  private async backupFolder(
    client: ImapFlow,
    job: BackupCommand,
    mailbox: string,
    folder: string,
    checkpoint: FolderCheckpoint | undefined,
  ): Promise<{ answered: Promise<void> }> {
    const box = await client.mailboxOpen(folder, { readOnly: true });
    const uidValidity = box.uidValidity.toString();
    const serverModSeq = box.highestModseq?.toString() ?? null;
    const incremental = !job.full && checkpoint !== undefined && checkpoint.uidValidity === uidValidity;
    const startUid = incremental ? checkpoint.lastUid + 1 : 1;
    const scannedUpTo = box.uidNext - 1;
    const window = new CheckpointWindow(startUid - 1);
    const baseModSeq = incremental ? checkpoint.highestModSeq : null;

    const newUids =
      box.exists === 0 || startUid > scannedUpTo
        ? []
        : ((await client.search(imapSearchQuery(job.filter, `${startUid}:${scannedUpTo}`), { uid: true })) || [])
            .filter((uid) => uid >= startUid && uid <= scannedUpTo)
            // Servers answer SEARCH in ascending order as a rule, not by the standard.
            .sort((a, b) => a - b);
    // Flag and keyword changes of messages already stored, through CONDSTORE.
    const changedUids: number[] = [];
    if (
      incremental &&
      baseModSeq &&
      serverModSeq &&
      BigInt(serverModSeq) > BigInt(baseModSeq) &&
      checkpoint.lastUid > 0
    ) {
      for await (const message of client.fetch(
        `1:${checkpoint.lastUid}`,
        { uid: true, flags: true },
        { uid: true, changedSince: BigInt(baseModSeq) },
      )) {
        changedUids.push(message.uid);
      }
    }

    const report = () =>
      this.reporter.checkpoint({
        mailbox,
        folder,
        uidValidity,
        lastUid: window.advance(scannedUpTo),
        highestModSeq: baseModSeq,
      });
    for (const uid of newUids) window.add(uid);
    let failures = 0;
    // Flag changes re-send the whole sighting: storage keeps one object, indexing updates the record.
    const tasks: Array<Promise<void>> = [];
    const process = async (uids: number[], isNew: boolean) => {
      if (uids.length === 0) return;
      // Sizes first, so that a batch of large messages does not sit in memory at once.
      const sizes = new Map<number, number>();
      for await (const message of client.fetch(uidSet(uids), { uid: true, size: true }, { uid: true })) {
        sizes.set(message.uid, message.size ?? 0);
      }
      for (const batch of planFetchBatches(uids, sizes)) {
        const returned = new Set<number>();
        for await (const message of client.fetch(
          uidSet(batch),
          { uid: true, flags: true, internalDate: true, size: true, source: true },
          // BODY.PEEK[], not BINARY[]: BINARY decodes the parts' transfer encodings (RFC 3516), so
          // it does not return the stored bytes; some servers also refuse it for broken encodings.
          { uid: true },
        )) {
          const raw = message.source;
          if (!raw) continue;
          // Only the UID is kept for later: the message (and its bytes) may go once it is sealed.
          const uid = message.uid;
          returned.add(uid);
          // The server reports a message's flags as it answers for it: they were read no later than
          // now. The index orders a sighting's records by this time, not by when they arrive.
          const observedAt = this.now();
          const flags = [...(message.flags ?? [])];
          const internalDate =
            message.internalDate instanceof Date
              ? message.internalDate
              : message.internalDate
                ? new Date(message.internalDate)
                : null;
          // Messages flow on while earlier ones wait for their acknowledgement: the limiter, not
          // the batch, bounds what is in flight.
          const release = await this.limiter.acquire(raw.length);
          tasks.push(
            this.backupMessage(job, { mailbox, folder, uidValidity, uid, raw, flags, internalDate, observedAt }, isNew)
              .then((outcome) => {
                if (isNew) window.finish(uid);
                if (outcome === 'failed') {
                  failures++;
                  if (isNew) window.fail(uid);
                }
                report();
                return this.reporter.tick();
              })
              .finally(release),
          );
        }
        // Selected UIDs the server did not return were expunged meanwhile: nothing to back up.
        for (const uid of batch) if (isNew && !returned.has(uid)) window.finish(uid);
      }
    };
    await process(newUids, true);
    const fresh = new Set(newUids);
    await process(
      changedUids.filter((uid) => !fresh.has(uid)),
      false,
    );
    return {
      answered: Promise.all(tasks).then(() =>
        this.folderAnswered(mailbox, folder, uidValidity, window, scannedUpTo, {
          failures,
          serverModSeq,
          baseModSeq,
          newMessages: newUids.length,
          flagChanges: changedUids.length,
        }),
      ),
    };
  }

  /** Every message of a folder is answered for: its checkpoint moves as far as they allow. */
  private folderAnswered(
    mailbox: string,
    folder: string,
    uidValidity: string,
    window: CheckpointWindow,
    scannedUpTo: number,
    facts: {
      failures: number;
      serverModSeq: string | null;
      baseModSeq: string | null;
      newMessages: number;
      flagChanges: number;
    },
  ): void {
    const { failures, serverModSeq, baseModSeq, newMessages, flagChanges } = facts;
    const lastUid = window.advance(scannedUpTo);
    // HIGHESTMODSEQ moves only when every change up to it is stored.
    this.reporter.checkpoint({
      mailbox,
      folder,
      uidValidity,
      lastUid,
      highestModSeq: failures === 0 ? serverModSeq : baseModSeq,
    });
    this.logger.debug({ mailbox, folder, uidValidity, lastUid, newMessages, flagChanges }, 'folder done');
  }

  /**
   * Reads the message's facts, applies the filter and seals it; then lets go of its bytes: thousands
   * of messages may wait for their acknowledgement at once, and only their sealed form is kept.
   */
  private async prepare(
    job: BackupCommand,
    message: { raw: Buffer | undefined; internalDate: Date | null },
  ): Promise<{ facts: ReturnType<typeof extractMessageFacts>; sealed: SealedMessage } | 'skipped'> {
    const raw = message.raw;
    if (!raw) throw new Error('the message bytes were let go of before the message was sealed');
    message.raw = undefined;
    const facts = extractMessageFacts(raw);
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

  private async backupMessage(
    job: BackupCommand,
    message: {
      mailbox: string;
      folder: string;
      uidValidity: string;
      uid: number;
      /** The exact bytes, until they are sealed (then only the sealed copy is kept, for re-sending). */
      raw: Buffer | undefined;
      flags: string[];
      internalDate: Date | null;
      observedAt: Date;
    },
    isNew: boolean,
  ): Promise<'stored' | 'skipped' | 'failed'> {
    const counters = this.reporter.counters;
    counters.seen++;
    const size = message.raw?.length ?? 0;
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
        uidValidity: message.uidValidity,
        uid: message.uid,
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
        counters.bytes += size;
      }
      return 'stored';
    } catch (error) {
      counters.failed++;
      this.reporter.error({
        scope: 'message',
        target: `${message.mailbox}/${message.folder} UID ${message.uid}`,
        message: (error as Error).message,
      });
      return 'failed';
    }
  }
}
