import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { EXPORT_FORMATS, ItemForm, ItemType, MessageFlags, RestoreItem } from '@mlr/contracts';

export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** One message of an export file, as `<path>.manifest.json` lists it. */
export interface ExportManifestEntry {
  seq: number;
  recordId: string;
  contentId: string;
  /** SHA-256 (hex) of the original message bytes: the reader checks each message against it. */
  sha256: string;
  /** Size of the original message in bytes. */
  size: number;
  mailbox: string;
  folder: string;
  messageId: string | null;
  subject: string | null;
  /** The item's kind and what its bytes are (RFC 5322, iCalendar, vCard). */
  itemType: ItemType;
  form: ItemForm;
  flags: MessageFlags;
  keywords: string[];
  internalDate: string | null;
  /** Where the message is: `<file>#<n>` (mbox, n-th message from 1) or the entry name (zip). */
  entry: string;
  /**
   * mbox only: the message did not end with a line feed, so the writer added one before the blank
   * separator line (mboxrd needs every message to end with a line); the reader drops it again.
   */
  newlineAdded?: boolean;
}

export interface ExportManifest {
  format: ExportFormat;
  /** The export file's name (the manifest lies beside it as `<file>.manifest.json`). */
  file: string;
  createdAt: string;
  count: number;
  /** Size of the export file. */
  bytes: number;
  messages: ExportManifestEntry[];
}

export const manifestPathOf = (path: string) => `${path}.manifest.json`;

export const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export function manifestEntry(
  item: RestoreItem,
  raw: Buffer,
  entry: string,
  extra: Pick<ExportManifestEntry, 'newlineAdded'> = {},
): ExportManifestEntry {
  return {
    seq: item.seq,
    recordId: item.recordId,
    contentId: item.contentId,
    sha256: sha256Hex(raw),
    size: raw.length,
    mailbox: item.mailbox,
    folder: item.folder,
    messageId: item.messageId,
    subject: item.subject,
    itemType: item.itemType,
    form: item.form,
    flags: item.flags,
    keywords: item.keywords,
    internalDate: item.internalDate,
    entry,
    ...extra,
  };
}

/** The manifest beside an export file, or null when there is none. */
export async function readExportManifest(path: string): Promise<ExportManifest | null> {
  let text: string;
  try {
    text = await readFile(manifestPathOf(path), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const manifest = JSON.parse(text) as ExportManifest;
  if (!Array.isArray(manifest.messages)) {
    throw new Error(`${manifestPathOf(path)} is not an export manifest (it has no "messages" list)`);
  }
  return manifest;
}
