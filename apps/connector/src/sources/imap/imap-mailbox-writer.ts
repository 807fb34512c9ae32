import { createHash } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import { contentId, type TenantKeys } from '@mlr/crypto';
import { headerFieldValues } from '@mlr/mime';
import { mailboxFolderKey, type CopyCandidate } from '@mlr/connector-core';
import { uidSet } from './uid-set.js';

/** What one APPEND writes. */
export interface AppendRequest {
  folder: string;
  raw: Buffer;
  flags: string[];
  internalDate: Date | null;
}

/** The IMAP Message-ID search term: the id without its angle brackets matches however the header wrote it. */
export function messageIdSearchTerm(messageId: string): string {
  return messageId.replace(/^<|>$/g, '');
}

/**
 * Largest folder the duplicate check lists (~60 bytes a message in the connector's memory); larger
 * ones are checked with one SEARCH per message.
 */
export const DEFAULT_LISTING_LIMIT = 200_000;

interface SelectedFolder {
  exists: number;
  uidValidity: bigint;
}

/**
 * What the duplicate check knows of one folder: UIDs by exact size, with a 32-bit hash of their
 * Message-ID field (a field may be long; a hash that collides only costs one more message read).
 */
interface FolderListing {
  uidValidity: bigint;
  /** Every message below this UID is listed. */
  nextUid: number;
  bySize: Map<number, Array<{ uid: number; field: number }>>;
  /** When it was last brought up to date from the server (ms since the epoch). */
  refreshedAt: number;
  usedAt: number;
}

/** How long a listing is trusted without asking the server again, when shared by the restore's sessions. */
export const DEFAULT_TRUST_MS = 5_000;
/** A listing nobody used for this long is dropped. */
const LISTING_IDLE_MS = 10 * 60_000;

/**
 * The folder listings of the duplicate check, shared by every session that writes into a mailbox
 * (the sessions of a job and the connector's jobs side by side). Every APPEND made through them is
 * recorded at once (with the UID the server gave it), so a listing only has to be brought up to
 * date from the server for what others add: at most every `trustMs` (0: before every check). A
 * listing may hold messages that were expunged since; candidates are always read and compared, so
 * that only costs a read. What it must not miss is a copy, and only a copy that someone else adds
 * within `trustMs` of a check could be missed.
 */
export class FolderListings {
  private readonly listings = new Map<string, FolderListing>();

  constructor(readonly trustMs = 0) {}

  get(mailbox: string, folder: string): FolderListing | undefined {
    const listing = this.listings.get(mailboxFolderKey(mailbox, folder));
    if (listing) listing.usedAt = Date.now();
    return listing;
  }

  /** A new, empty listing of the folder under `uidValidity` (replacing any other). */
  start(mailbox: string, folder: string, uidValidity: bigint): FolderListing {
    const now = Date.now();
    for (const [key, old] of this.listings) if (now - old.usedAt > LISTING_IDLE_MS) this.listings.delete(key);
    const listing: FolderListing = { uidValidity, nextUid: 1, bySize: new Map(), refreshedAt: 0, usedAt: now };
    this.listings.set(mailboxFolderKey(mailbox, folder), listing);
    return listing;
  }

  /** Whether the listing may be used without asking the server what others added. */
  trusted(listing: FolderListing): boolean {
    return this.trustMs > 0 && Date.now() - listing.refreshedAt < this.trustMs;
  }

  get size(): number {
    return this.listings.size;
  }
}

function addToListing(listing: FolderListing, size: number, field: number, uid: number): void {
  const entries = listing.bySize.get(size) ?? [];
  if (!entries.some((entry) => entry.uid === uid)) entries.push({ uid, field });
  listing.bySize.set(size, entries);
}

function fieldHash(field: string): number {
  return createHash('sha256').update(field, 'latin1').digest().readUInt32BE(0);
}

/** The hash of no Message-ID field at all. */
const NO_FIELD = fieldHash('');

/**
 * Whether a message whose Message-ID field the server gives as `server` can be a copy of one whose
 * own bytes give `ours`. Servers and our parser do not always agree on where a malformed header
 * ends (a line of blanks in it: Dovecot ends the header there, our parser reads it as folding), so
 * one seeing no Message-ID where the other sees one never rules a candidate out; its bytes decide.
 */
function mayBeCopy(server: number, ours: number): boolean {
  return server === ours || server === NO_FIELD || ours === NO_FIELD;
}

/**
 * The Message-ID field of a message (or of the header lines a server returns for it), read with the
 * index's header parser: unfolded, white space collapsed and lower-cased; every Message-ID field if
 * there are several, '' if none. Byte-identical messages give the same value, however the server
 * returns the lines.
 */
export function messageIdField(message: Buffer): string {
  return headerFieldValues(message, 'message-id')
    .map((value) => value.replace(/\s+/g, ' ').trim().toLowerCase())
    .join('\n');
}

/**
 * Writes restored messages into the folders of one mailbox over one IMAP session. Folders are
 * created (with their parents) and subscribed on first use; `findCopies` is the duplicate check.
 */
export class ImapMailboxWriter {
  private folders: Set<string> | undefined;
  private delimiter = '/';
  private namespacePrefixes: string[] = [];
  private readonly listingLimit: number;
  private readonly listings: FolderListings;
  private readonly mailbox: string;

  constructor(
    private readonly client: ImapFlow,
    private readonly keys: TenantKeys,
    options: {
      /** Folders with more messages than this are checked by SEARCH instead of a listing (its memory). */
      listingLimit?: number;
      /** Listings shared with the other sessions into the same mailbox; default the writer's own. */
      listings?: FolderListings;
      /** The mailbox the session writes into (the listings' key). */
      mailbox?: string;
    } = {},
  ) {
    this.listingLimit = options.listingLimit ?? DEFAULT_LISTING_LIMIT;
    this.listings = options.listings ?? new FolderListings();
    this.mailbox = options.mailbox ?? '';
  }

  get usable(): boolean {
    return this.client.usable;
  }

  /** Creates `folder` and any missing parent, and subscribes what it created. */
  async ensureFolder(folder: string): Promise<void> {
    const folders = await this.knownFolders();
    if (folders.has(folder)) return;
    const parts = folder.split(this.delimiter);
    for (let depth = 1; depth <= parts.length; depth++) {
      const path = parts.slice(0, depth).join(this.delimiter);
      // A namespace prefix ("Public/") is not a folder of its own and cannot be created.
      if (!path || folders.has(path) || this.namespacePrefixes.includes(path + this.delimiter)) continue;
      try {
        await this.client.mailboxCreate(path);
        await this.client.mailboxSubscribe(path).catch(() => undefined);
      } catch (error) {
        // Another session (of this restore, or the user's own client) may have created it meanwhile.
        if (!(await this.exists(path))) {
          throw new Error(`cannot create folder ${path}: ${imapErrorText(error)}`, { cause: error });
        }
      }
      folders.add(path);
    }
  }

  /**
   * For each candidate, whether `folder` already holds exactly its bytes (and not marked \Deleted):
   * the UID of the copy, or null. The writer keeps a listing of the folder — each message's UID by
   * exact size and Message-ID field — read once with one FETCH of sizes and Message-ID headers, and
   * brought up to date once per call with the messages that arrived since (anyone's, this job's own
   * APPENDs included). Messages of a candidate's size and Message-ID field are then read, all of the
   * batch's with one FETCH, and their content ids compared. (One SEARCH per message instead made the
   * server scan the whole folder's headers each time.) A folder of more than `listingLimit` messages
   * is not listed: there each candidate SEARCHes the server.
   */
  async findCopies(folder: string, candidates: readonly CopyCandidate[]): Promise<Array<number | null>> {
    if (candidates.length === 0) return [];
    // A listing refreshed a moment ago (and this session on the folder already) needs no round trip.
    const current = this.client.mailbox;
    const known = this.listings.get(this.mailbox, folder);
    const trusted =
      known !== undefined &&
      current !== false &&
      current?.path === folder &&
      current.uidValidity === known.uidValidity &&
      this.listings.trusted(known);
    const box = trusted && current ? current : await this.select(folder);
    const listing =
      box.exists > this.listingLimit ? undefined : trusted && known ? known : await this.listing(folder, box);
    const perCandidate: number[][] = [];
    for (const candidate of candidates) {
      const size = candidate.raw.length;
      const field = fieldHash(messageIdField(candidate.raw));
      let uids: number[];
      if (listing) {
        uids = (listing.bySize.get(size) ?? [])
          .filter((entry) => mayBeCopy(entry.field, field))
          .map((entry) => entry.uid);
      } else {
        uids = await this.searchCandidates(size, candidate.messageId);
        // The server may not see the Message-ID our parser sees (or the other way round): then only
        // the size narrows the candidates, and their Message-ID fields as the server gives them.
        if (uids.length === 0 && candidate.messageId) uids = await this.sameSizeCandidates(size, field);
      }
      perCandidate.push(uids);
    }
    const wanted = [...new Set(perCandidate.flat())].sort((a, b) => a - b);
    if (wanted.length === 0) return candidates.map(() => null);
    // A candidate another session appended is unknown to this one until the server tells it.
    if (trusted) await this.client.noop();
    const found = new Map<number, string>();
    const query = { uid: true, flags: true, source: true } as const;
    for await (const message of this.client.fetch(uidSet(wanted), query, { uid: true })) {
      // A copy marked \Deleted is on its way out (the next EXPUNGE removes it): it does not count.
      if (message.flags?.has('\\Deleted')) continue;
      if (message.source) found.set(message.uid, contentId(this.keys, message.source));
    }
    return candidates.map(
      (candidate, index) => (perCandidate[index] ?? []).find((uid) => found.get(uid) === candidate.contentId) ?? null,
    );
  }

  /** The folder's listing, brought up to date with the messages that arrived since it was read. */
  private async listing(folder: string, box: SelectedFolder): Promise<FolderListing> {
    let listing = this.listings.get(this.mailbox, folder);
    if (!listing || listing.uidValidity !== box.uidValidity) {
      listing = this.listings.start(this.mailbox, folder, box.uidValidity);
    }
    const refreshedAt = Date.now();
    if (box.exists > 0) {
      const from = listing.nextUid;
      // "n:*" also names the last message when n is past it: only UIDs from n on are new.
      const query = { uid: true, size: true, headers: ['message-id'] };
      for await (const message of this.client.fetch(`${from}:*`, query, { uid: true })) {
        if (message.uid < from || message.size === undefined) continue;
        const field = fieldHash(messageIdField(message.headers ?? Buffer.alloc(0)));
        addToListing(listing, message.size, field, message.uid);
        listing.nextUid = Math.max(listing.nextUid, message.uid + 1);
      }
    }
    listing.refreshedAt = refreshedAt;
    return listing;
  }

  /** Messages of exactly `size` bytes (not \Deleted) whose Message-ID field, as the server gives it, `mayBeCopy`. */
  private async sameSizeCandidates(size: number, field: number): Promise<number[]> {
    const sized = await this.searchCandidates(size, null);
    if (sized.length === 0) return [];
    const uids: number[] = [];
    for await (const message of this.client.fetch(
      uidSet(sized),
      { uid: true, headers: ['message-id'] },
      { uid: true },
    )) {
      if (mayBeCopy(fieldHash(messageIdField(message.headers ?? Buffer.alloc(0))), field)) uids.push(message.uid);
    }
    return uids;
  }

  /** The server's candidates for a copy: not \Deleted, of exactly `size` bytes and this Message-ID (if one is given). */
  private async searchCandidates(size: number, messageId: string | null): Promise<number[]> {
    const query = {
      deleted: false,
      ...(size > 0 ? { larger: size - 1 } : {}),
      smaller: size + 1,
      ...(messageId ? { header: { 'message-id': messageIdSearchTerm(messageId) } } : {}),
    };
    return (await this.client.search(query, { uid: true })) || [];
  }

  /** APPENDs the exact bytes with flags and INTERNALDATE; returns the new UID when the server says it. */
  async append(request: AppendRequest): Promise<number | undefined> {
    let response: Awaited<ReturnType<ImapFlow['append']>>;
    try {
      response = await this.client.append(
        request.folder,
        request.raw,
        request.flags,
        request.internalDate ?? undefined,
      );
    } catch (error) {
      throw new Error(`APPEND to ${request.folder} refused: ${imapErrorText(error)}`, { cause: error });
    }
    if (!response) throw new Error(`APPEND to ${request.folder} failed: the session is no longer usable`);
    // Recorded in the shared listing at once: the next check (of any session) knows this copy.
    const listing = this.listings.get(this.mailbox, request.folder);
    if (listing) {
      if (response.uid !== undefined && response.uidValidity === listing.uidValidity) {
        addToListing(listing, request.raw.length, fieldHash(messageIdField(request.raw)), response.uid);
      } else {
        // No UID to record (a server without UIDPLUS): the next check asks the server.
        listing.refreshedAt = 0;
      }
    }
    return response.uid;
  }

  async close(): Promise<void> {
    await this.client.logout().catch(() => undefined);
  }

  /**
   * Read-only: the duplicate check only searches and peeks (BODY.PEEK[] sets no \Seen). A folder
   * selected already is brought up to date first (NOOP): a server tells a session of messages other
   * sessions added only at the end of a command, so a SEARCH or a FETCH "n:*" would not see a
   * message added a moment before.
   */
  private async select(folder: string): Promise<SelectedFolder> {
    const current = this.client.mailbox;
    if (current && current.path === folder) {
      await this.client.noop();
      return this.client.mailbox || current;
    }
    try {
      return await this.client.mailboxOpen(folder, { readOnly: true });
    } catch (error) {
      throw new Error(`cannot open folder ${folder}: ${imapErrorText(error)}`, { cause: error });
    }
  }

  /** Whether the server has `path` now (STATUS answers only for an existing folder). */
  private async exists(path: string): Promise<boolean> {
    try {
      // imapflow answers false when STATUS failed for another reason than a missing folder.
      return (await this.client.status(path, { messages: true })) !== false;
    } catch {
      return false;
    }
  }

  private async knownFolders(): Promise<Set<string>> {
    if (this.folders) return this.folders;
    const listed = await this.client.list();
    this.delimiter = listed.find((f) => f.delimiter)?.delimiter ?? this.client.namespace?.delimiter ?? '/';
    const namespaces = this.client.namespaces;
    this.namespacePrefixes = [
      ...(namespaces?.personal || []),
      ...(namespaces?.other || []),
      ...(namespaces?.shared || []),
    ]
      .map((ns) => ns.prefix)
      .filter((prefix) => prefix.length > 0);
    this.folders = new Set(listed.filter((f) => !f.flags.has('\\NonExistent')).map((f) => f.path));
    return this.folders;
  }
}

/** The server's words for a refused command (imapflow puts them in `responseText`). */
export function imapErrorText(error: unknown): string {
  const e = error as { responseText?: string; message?: string };
  return e.responseText || e.message || String(error);
}
