import type { RestoreItem } from '@mlr/contracts';
import { EmlZipWriter } from './eml-zip.js';
import { ExportFile } from './export-file.js';
import type { ExportFormat } from './export-manifest.js';
import { MboxrdWriter } from './mboxrd.js';

/** Writes the messages of an export job into one file. */
export interface ExportWriter {
  /** Adds one message (the exact backed-up bytes); returns the entry name (zip) or `<file>#<n>` (mbox). */
  add(item: RestoreItem, raw: Buffer): Promise<string>;
  /** Finishes the file atomically (written to `<path>.partial`, renamed at the end) and writes `<path>.manifest.json`. */
  close(): Promise<{ path: string; count: number; bytes: number }>;
  /** Removes the partial file (job failed). */
  abort(): Promise<void>;
}

/**
 * Starts an export file at `path` (refused when a file of that name exists already). Messages are
 * written in the order `add` is called, even when calls overlap.
 */
export async function openExportWriter(format: ExportFormat, path: string): Promise<ExportWriter> {
  switch (format) {
    case 'mbox':
      return new MboxrdWriter(await ExportFile.create(path, 'mbox'));
    case 'eml-zip':
      return new EmlZipWriter(await ExportFile.create(path, 'eml-zip'));
    case 'items-zip':
      return new EmlZipWriter(await ExportFile.create(path, 'items-zip'), true);
    default: {
      const unknown: never = format;
      throw new Error(`unknown export format "${String(unknown)}" (expected mbox, eml-zip or items-zip)`);
    }
  }
}

/**
 * Why an export file of `format` cannot hold `item`, or null when it can: mbox files and zips of .eml
 * hold messages (RFC 5322) only; an `items-zip` holds every form.
 */
export function exportRefusal(format: ExportFormat, item: Pick<RestoreItem, 'form' | 'itemType'>): string | null {
  if (format === 'items-zip' || item.form === 'rfc5322') return null;
  const file = format === 'mbox' ? 'an mbox file' : 'a zip of .eml files';
  return `${file} holds messages only; this ${item.itemType.replace('_', ' ')} is stored as ${item.form}: export it with format items-zip`;
}
