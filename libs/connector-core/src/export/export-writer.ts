import type { RestoreItem } from '@mlr/contracts';
import { EmlZipWriter } from './eml-zip.js';
import { ExportFile } from './export-file.js';
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
export async function openExportWriter(format: 'mbox' | 'eml-zip', path: string): Promise<ExportWriter> {
  switch (format) {
    case 'mbox':
      return new MboxrdWriter(await ExportFile.create(path, 'mbox'));
    case 'eml-zip':
      return new EmlZipWriter(await ExportFile.create(path, 'eml-zip'));
    default: {
      const unknown: never = format;
      throw new Error(`unknown export format "${String(unknown)}" (expected mbox or eml-zip)`);
    }
  }
}
