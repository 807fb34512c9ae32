import type { ItemForm, RestoreItem } from '@mlr/contracts';

/**
 * A system items are restored into (an IMAP server, later Microsoft Graph). The restore runner speaks
 * to it only through this port: a session per mailbox, and in it containers, copies and writes.
 */
export interface MailTarget {
  /** What the target is, in words for results and logs ("IMAP"). */
  readonly name: string;
  /**
   * Why `mailbox` of this target cannot hold `item` (its kind or stored form), or null when it can.
   * A refused item is not fetched; its result says why (`refused`).
   */
  accepts(mailbox: string, item: Pick<RestoreItem, 'itemType' | 'form'>): string | null;
  /** Opens `mailbox` for writing; rejects with the reason when it cannot be written at all. */
  open(mailbox: string): Promise<TargetSession>;
}

/** What the duplicate check is given of one item: its exact bytes and what the index knows of them. */
export interface CopyCandidate {
  raw: Buffer;
  contentId: string;
  messageId: string | null;
}

/** One item to write: its exact bytes with the attributes the index recorded. */
export interface TargetWrite {
  raw: Buffer;
  item: Pick<RestoreItem, 'flags' | 'keywords' | 'internalDate'>;
}

/** One mailbox of a target, opened. */
export interface TargetSession {
  /** False once the connection is lost: the runner opens the mailbox again. */
  readonly usable: boolean;
  /** Creates `container` (and any parent it needs) unless it exists. */
  ensureContainer(container: string): Promise<void>;
  /**
   * For each candidate, whether `container` already holds exactly these bytes (an item on its way out,
   * such as an IMAP message marked \Deleted, does not count): the target's id of the copy, or null.
   * One call checks a batch, so that a target can answer it with a few round trips.
   */
  findCopies(container: string, candidates: readonly CopyCandidate[]): Promise<Array<string | null>>;
  /**
   * Writes one item into `container` with its attributes. Resolves with the attributes the target
   * could not carry (e.g. keywords IMAP cannot express), for the item's result.
   */
  write(container: string, item: TargetWrite): Promise<{ dropped: string[] }>;
  close(): Promise<void>;
}

/** The refusal of a target that holds the given forms only (IMAP: messages). */
export function refusalByForm(
  target: string,
  forms: readonly ItemForm[],
  item: Pick<RestoreItem, 'itemType' | 'form'>,
): string | null {
  if (forms.includes(item.form)) return null;
  const kind = item.itemType.replace('_', ' ');
  return `${target} cannot hold this ${kind} (stored as ${item.form}; it takes ${forms.join(', ')}): export it with format items-zip`;
}
