import type { ImapFlow, ListResponse } from 'imapflow';
import type {
  ContainerScan,
  MailboxSelection,
  MailSource,
  ScanOptions,
  SourceCursor,
  SourceMailbox,
  SourceRead,
  SourceSession,
} from '@mlr/connector-core';
import type { ImapSourceConfig } from '../../config/connector-config.js';
import { mailboxLogin, openImapSession, type MailboxLogin } from './imap-session.js';
import { imapSearchQuery } from './imap-search.js';
import { uidSet } from './uid-set.js';

/** The cursor format this adapter writes: `imap` v1. */
export const IMAP_CURSOR = { source: 'imap', version: 1 } as const;

/** Where the backup of an IMAP folder stands, read from a cursor this adapter wrote. */
export interface ImapFolderState {
  uidValidity: string;
  lastUid: number;
  highestModSeq: string | null;
}

/** The cursor of an IMAP folder: epoch = UIDVALIDITY, position = last UID, changes = HIGHESTMODSEQ. */
export function imapCursor(state: ImapFolderState): SourceCursor {
  return {
    ...IMAP_CURSOR,
    epoch: state.uidValidity,
    position: String(state.lastUid),
    changes: state.highestModSeq,
    state: null,
  };
}

/**
 * The IMAP state of a cursor, or null when it is not one this adapter can go on from (another
 * source's or version's, or a UID out of range): the folder is then read in full, which stores
 * nothing twice.
 */
export function readImapCursor(cursor: SourceCursor | undefined): ImapFolderState | null {
  if (!cursor || cursor.source !== IMAP_CURSOR.source || cursor.version !== IMAP_CURSOR.version) return null;
  const lastUid = Number(cursor.position);
  if (!Number.isSafeInteger(lastUid) || lastUid > 0xffff_ffff || !/^\d+$/.test(cursor.epoch)) return null;
  return { uidValidity: cursor.epoch, lastUid, highestModSeq: cursor.changes };
}

/** Pseudo-mailbox under which public folders are indexed (they belong to no user). */
export const PUBLIC_FOLDERS_MAILBOX = '#public';

const FETCH_BATCH = 50;
/** Bytes fetched per batch at most (a single larger message is fetched alone). */
const FETCH_BATCH_BYTES = 32 * 1024 * 1024;

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
 * Whose session opens a mailbox of `source`: the owner's own credentials where configured, else the
 * service account's ("Receive As"); public folders through the first configured mailbox's session.
 * Throws when public folders are asked for and the source cannot open them.
 */
export function imapLoginFor(source: ImapSourceConfig, mailbox: string): MailboxLogin & { mailbox: string } {
  if (mailbox === PUBLIC_FOLDERS_MAILBOX) {
    const first = source.mailboxes[0];
    if (!first || !source.serviceAccount) {
      throw new Error('public folders can only be reached with a service account and a configured mailbox');
    }
    return { mailbox: first.address };
  }
  return mailboxLogin(source, mailbox);
}

/**
 * An IMAP server (Microsoft 365 over IMAP included) as a backup source. Positions are UIDs; the
 * cursor of a folder is its UIDVALIDITY, the last UID backed up and the HIGHESTMODSEQ up to which
 * flag changes are (CONDSTORE).
 */
export class ImapMailSource implements MailSource {
  constructor(
    private readonly config: ImapSourceConfig,
    private readonly openSession: typeof openImapSession = openImapSession,
  ) {}

  mailboxes(selection: MailboxSelection, options: { publicFolders: boolean }): SourceMailbox[] {
    const names = selection.kind === 'all' ? this.config.mailboxes.map((m) => m.address) : selection.mailboxes;
    // A list may name the public folders (as indexed): they are opened as public folders, never as
    // someone's own mailbox (and only with a service account: `open` refuses them otherwise).
    const mailboxes: SourceMailbox[] = names.map((name) => ({
      name,
      scope: name === PUBLIC_FOLDERS_MAILBOX ? 'public' : 'personal',
    }));
    // Public folders need the service account ("Receive As"); they are backed up once, not per user.
    if (options.publicFolders && this.config.serviceAccount && this.config.mailboxes[0] && selection.kind === 'all') {
      mailboxes.push({ name: PUBLIC_FOLDERS_MAILBOX, scope: 'public' });
    }
    return mailboxes;
  }

  async open(mailbox: SourceMailbox): Promise<SourceSession> {
    const client = await this.openSession(this.config, imapLoginFor(this.config, mailbox.name));
    return new ImapSourceSession(client, mailbox.scope);
  }
}

class ImapSourceSession implements SourceSession {
  constructor(
    private readonly client: ImapFlow,
    private readonly scope: SourceMailbox['scope'],
  ) {}

  get usable(): boolean {
    return this.client.usable;
  }

  /** Selectable folders of the personal namespace, or of the public (shared) namespaces. */
  async containers(): Promise<string[]> {
    const namespaces = this.client.namespaces;
    const foreign = [...(namespaces?.other || []), ...(namespaces?.shared || [])]
      .map((ns) => ns.prefix)
      .filter((p) => p.length > 0);
    const publicPrefixes = (namespaces?.shared || []).map((ns) => ns.prefix).filter((p) => p.length > 0);
    const all: ListResponse[] = await this.client.list();
    return all
      .filter((folder) => {
        if (folder.flags.has('\\Noselect') || folder.flags.has('\\NonExistent')) return false;
        if (this.scope === 'public') return publicPrefixes.some((prefix) => folder.path.startsWith(prefix));
        return !foreign.some((prefix) => folder.path.startsWith(prefix));
      })
      .map((folder) => folder.path);
  }

  async scan(folder: string, cursor: SourceCursor | undefined, options: ScanOptions): Promise<ContainerScan> {
    const client = this.client;
    const box = await client.mailboxOpen(folder, { readOnly: true });
    const uidValidity = box.uidValidity.toString();
    const serverModSeq = box.highestModseq?.toString() ?? null;
    const previous = readImapCursor(cursor);
    const since = !options.full && previous !== null && previous.uidValidity === uidValidity ? previous : null;
    const startUid = since ? since.lastUid + 1 : 1;
    const scannedUpTo = box.uidNext - 1;
    const baseModSeq = since ? since.highestModSeq : null;

    const newItems =
      box.exists === 0 || startUid > scannedUpTo
        ? []
        : ((await client.search(imapSearchQuery(options.filter, `${startUid}:${scannedUpTo}`), { uid: true })) || [])
            .filter((uid) => uid >= startUid && uid <= scannedUpTo)
            // Servers answer SEARCH in ascending order as a rule, not by the standard.
            .sort((a, b) => a - b);
    // Flag and keyword changes of messages already stored, through CONDSTORE.
    const changedItems: number[] = [];
    if (since && baseModSeq && serverModSeq && BigInt(serverModSeq) > BigInt(baseModSeq) && since.lastUid > 0) {
      for await (const message of client.fetch(
        `1:${since.lastUid}`,
        { uid: true, flags: true },
        { uid: true, changedSince: BigInt(baseModSeq) },
      )) {
        changedItems.push(message.uid);
      }
    }
    return {
      committed: startUid - 1,
      scannedUpTo,
      newItems,
      changedItems,
      read: (uids) => this.read(uids, uidValidity),
      // HIGHESTMODSEQ moves only when every change up to it is stored.
      cursorAt: (lastUid, complete) =>
        imapCursor({ uidValidity, lastUid, highestModSeq: complete ? serverModSeq : baseModSeq }),
    };
  }

  /** The messages of the selected folder at `uids`, in FETCH batches bounded by count and bytes. */
  private async *read(uids: readonly number[], uidValidity: string): AsyncGenerator<SourceRead> {
    if (uids.length === 0) return;
    const client = this.client;
    // Sizes first, so that a batch of large messages does not sit in memory at once.
    const sizes = new Map<number, number>();
    for await (const message of client.fetch(uidSet([...uids]), { uid: true, size: true }, { uid: true })) {
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
        returned.add(message.uid);
        const internalDate =
          message.internalDate instanceof Date
            ? message.internalDate
            : message.internalDate
              ? new Date(message.internalDate)
              : null;
        yield {
          gone: false,
          item: {
            position: message.uid,
            sighting: { source: 'imap', epoch: uidValidity, id: String(message.uid) },
            raw,
            flags: [...(message.flags ?? [])],
            internalDate,
          },
        };
      }
      // Selected UIDs the server did not return were expunged meanwhile.
      for (const uid of batch) if (!returned.has(uid)) yield { gone: true, position: uid };
    }
  }

  async close(): Promise<void> {
    await this.client.logout().catch(() => undefined);
  }
}
