import type { JobCommand, SightingKey, SourceCursor } from '@mlr/contracts';
import type { StructuredItemInput } from '@mlr/pim';

export type BackupCommand = Extract<JobCommand, { kind: 'backup' }>;

/**
 * Where a backup stands in one container, as the source tells it (the contract's versioned cursor).
 * The runners never read it: only the adapter that wrote it does.
 */
export type { SourceCursor };

/** The mailbox selection of a backup job. */
export type MailboxSelection = BackupCommand['mailboxes'];

/** One mailbox of a source as the index names it, and which of its containers a backup reads. */
export interface SourceMailbox {
  /** The mailbox as indexed: the owner's address, or a source's pseudo-mailbox (IMAP public folders). */
  name: string;
  /** The owner's own containers, or the shared ones (public folders) no user owns. */
  scope: 'personal' | 'public';
}

/**
 * A system items are backed up from (an IMAP server, a file, Microsoft Graph). The backup runner
 * speaks to it only through this port: which mailboxes a job means, and a session per mailbox.
 */
export interface MailSource {
  /** The mailboxes a job's selection names (for `all`: every configured one, and shared ones if asked). */
  mailboxes(selection: MailboxSelection, options: { publicFolders: boolean }): SourceMailbox[];
  /** Opens `mailbox`; rejects with the reason when it cannot be read at all. */
  open(mailbox: SourceMailbox): Promise<SourceSession>;
}

/** One mailbox of a source, opened. */
export interface SourceSession {
  /** False once the connection is lost: the runner opens the mailbox again for the next container. */
  readonly usable: boolean;
  /** The containers (folders) of the mailbox that can hold items, by path. */
  containers(): Promise<string[]>;
  /**
   * What changed in `container` since `cursor` (everything, when `full` or when the cursor no longer
   * applies: another epoch such as a new UIDVALIDITY, or a cursor another source or version wrote). A source may narrow by `filter` on its side; the runner applies
   * it exactly to what is read.
   */
  scan(container: string, cursor: SourceCursor | undefined, options: ScanOptions): Promise<ContainerScan>;
  close(): Promise<void>;
}

export interface ScanOptions {
  full: boolean;
  filter: BackupCommand['filter'];
}

/**
 * One container's changes, by position: a number that orders the container's items (IMAP: the UID).
 * New items come in ascending positions; the checkpoint moves past a position only once every item
 * up to it is answered for.
 */
export interface ContainerScan {
  /** Every position up to this was backed up by earlier runs. */
  readonly committed: number;
  /** The highest position the scan looked at (positions between selected ones were not selected). */
  readonly scannedUpTo: number;
  /** Positions of items added since the cursor, ascending. */
  readonly newItems: readonly number[];
  /** Positions of items already backed up whose attributes (flags, keywords) changed since the cursor. */
  readonly changedItems: readonly number[];
  /** Reads the items at `positions`, in order; an item gone meanwhile is reported `gone`. */
  read(positions: readonly number[]): AsyncIterable<SourceRead>;
  /**
   * The cursor once every item up to `position` is answered for; `complete` when every change the
   * scan found was stored as well (then attribute changes up to now are covered too).
   */
  cursorAt(position: number, complete: boolean): SourceCursor;
}

export type SourceRead = { gone: false; item: SourceItem } | { gone: true; position: number };

/**
 * One item as the source holds it: its exact bytes when they are a canonical form (RFC 5322 mail), or
 * the fields of an item that has none (an Outlook appointment, a GroupWise phone message), which the
 * core writes in its kind's canonical form (libs/pim `structuredItemSchema`; checked there: an item
 * that is not valid fails alone, with the reason).
 */
export type SourceItem = SourceItemAttributes & ({ raw: Buffer } | { structured: StructuredItemInput });

export interface SourceItemAttributes {
  position: number;
  /**
   * The source's own identity of the item (the sighting key of its index record). The index updates
   * only the attributes (flags, keywords) of a sighting it holds: a source whose items change in place
   * (an edited appointment or contact) puts the item's version in the id (a change key, the last
   * modification), so that each version is a sighting of its own and stays restorable.
   */
  sighting: SightingKey;
  /** Flags and keywords as the source gives them (IMAP: `\Seen`, `$Label1`, ...). */
  flags: string[];
  /** When the source received the item (IMAP INTERNALDATE), if it tells. */
  internalDate: Date | null;
}
