import { promisify } from 'node:util';
import { constants, deflateRaw } from 'node:zlib';
import { ITEM_FORM_FILES, type RestoreItem } from '@mlr/contracts';
import type { ExportFile } from './export-file.js';
import { manifestEntry, type ExportManifestEntry } from './export-manifest.js';
import type { ExportWriter } from './export-writer.js';
import {
  centralDirectory,
  localHeader,
  METHOD_DEFLATED,
  METHOD_STORED,
  readZipEntries,
  zipCrc32,
  type ZipEntryRecord,
} from './zip-format.js';

const deflateRawAsync = promisify(deflateRaw);

/** Longest readable part of an entry name (the whole name stays well under any file system's limit). */
const MAX_LABEL = 80;

/**
 * The entry name of an item: `<seq>-<subject>.<extension>` (else its Message-ID, else `message`), in
 * letters, digits, dot, dash and underscore only: no path separators, nothing a file system or an
 * unzip tool would treat specially. The extension is the form's (`eml`, `ics`, `vcf`).
 */
export function emlEntryName(item: Pick<RestoreItem, 'seq' | 'subject' | 'messageId'>, extension = 'eml'): string {
  const label = safeLabel(item.subject) || safeLabel(item.messageId?.replace(/^<|>$/g, '') ?? null) || 'message';
  return `${String(item.seq).padStart(5, '0')}-${label}.${extension}`;
}

function safeLabel(text: string | null): string {
  if (!text) return '';
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._-]+|[._-]+$/g, '')
    .slice(0, MAX_LABEL)
    .replace(/[._-]+$/g, '');
}

/**
 * A ZIP of one file per item (the exact backed-up bytes): `.eml` for messages (`eml-zip`), and in an
 * `items-zip` each item in its own form's file (`.eml`, `.ics`, `.vcf`). Each item is deflated when
 * that makes it smaller, stored otherwise (attachments are often compressed already); only the item
 * being added is in memory. The manifest lies beside the zip.
 */
export class EmlZipWriter implements ExportWriter {
  private readonly entries: ZipEntryRecord[] = [];
  private readonly messages: ExportManifestEntry[] = [];
  private readonly names = new Set<string>();

  constructor(
    private readonly file: ExportFile,
    private readonly byForm = false,
  ) {}

  add(item: RestoreItem, raw: Buffer): Promise<string> {
    // Compress before taking the file, so one message deflates while the one before is written.
    const compressing = deflateRawAsync(raw, { level: constants.Z_BEST_SPEED });
    compressing.catch(() => undefined);
    return this.file.serial(async () => {
      const deflated = await compressing;
      const useDeflated = deflated.length < raw.length;
      const internal = item.internalDate ? new Date(item.internalDate) : new Date();
      const entry: ZipEntryRecord = {
        name: this.uniqueName(emlEntryName(item, this.byForm ? ITEM_FORM_FILES[item.form].extension : 'eml')),
        method: useDeflated ? METHOD_DEFLATED : METHOD_STORED,
        crc: zipCrc32(raw),
        compressedSize: useDeflated ? deflated.length : raw.length,
        size: raw.length,
        offset: this.file.size,
        modified: Number.isNaN(internal.getTime()) ? new Date() : internal,
      };
      await this.file.append([localHeader(entry), useDeflated ? deflated : raw]);
      this.entries.push(entry);
      this.names.add(entry.name);
      this.messages.push(manifestEntry(item, raw, entry.name));
      return entry.name;
    });
  }

  async close(): Promise<{ path: string; count: number; bytes: number }> {
    await this.file.serial(() => this.file.append([centralDirectory(this.entries, this.file.size)]));
    return this.file.finish(this.messages);
  }

  abort(): Promise<void> {
    return this.file.abort();
  }

  private uniqueName(name: string): string {
    if (!this.names.has(name)) return name;
    const dot = name.lastIndexOf('.');
    const stem = name.slice(0, dot);
    for (let n = 2; ; n++) {
      const candidate = `${stem}-${n}${name.slice(dot)}`;
      if (!this.names.has(candidate)) return candidate;
    }
  }
}

/** The messages of an eml-zip export, by entry name, in the order they were added. */
export async function readEmlZip(path: string): Promise<Array<{ name: string; data: Buffer }>> {
  return readZipEntries(path);
}
