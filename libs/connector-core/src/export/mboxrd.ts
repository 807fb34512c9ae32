import { readFile } from 'node:fs/promises';
import type { RestoreItem } from '@mlr/contracts';
import { ExportFile } from './export-file.js';
import { manifestEntry, readExportManifest, sha256Hex, type ExportManifestEntry } from './export-manifest.js';
import type { ExportWriter } from './export-writer.js';

/*
 * mboxrd (https://www.loc.gov/preservation/digital/formats/fdd/fdd000385.shtml): each message is
 * preceded by a `From <sender> <asctime>` line; every line of the message that matches /^>*From /
 * gets one more `>` in front; each message ends with a line feed and is followed by one blank line.
 * Lines are told apart by LF alone, so CRLF messages keep their CRs untouched.
 *
 * The format is reversible except for one bit: whether the message ended with a line feed. The
 * writer adds one where it did not, and says so in the manifest (`newlineAdded`); the reader takes
 * it away again and checks every message against the manifest's size and SHA-256. Without a
 * manifest (an mbox from elsewhere) the reader keeps each message's final line feed.
 */

const LF = 0x0a;
const GT = 0x3e;
const FROM_ = Buffer.from('From ');
const QUOTE = Buffer.from('>');
const NEWLINE = Buffer.from('\n');

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C's asctime() in UTC: `Tue Nov  4 09:02:50 2026`. */
export function asctime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${date.getUTCFullYear()}`
  );
}

/** The envelope sender from the message's Return-Path header; `MAILER-DAEMON` when it has none. */
export function envelopeSender(raw: Buffer): string {
  const ends = [raw.indexOf('\n\n'), raw.indexOf('\r\n\r\n')].filter((at) => at >= 0);
  const headerEnd = Math.min(raw.length, 64 * 1024, ...ends);
  const header = raw.subarray(0, headerEnd).toString('latin1');
  const match = /^Return-Path:[ \t]*<([^<>\s]+)>/im.exec(header);
  return match?.[1] ?? 'MAILER-DAEMON';
}

/** `From <sender> <date>`: the delivery date (internal date) when known, else the export's time. */
export function fromLine(item: RestoreItem, raw: Buffer, now: Date = new Date()): Buffer {
  const parsed = item.internalDate ? new Date(item.internalDate) : undefined;
  const date = parsed && !Number.isNaN(parsed.getTime()) ? parsed : now;
  return Buffer.from(`From ${envelopeSender(raw)} ${asctime(date)}\n`, 'latin1');
}

/** Whether the line starting at `start` matches /^>*From /. */
function isFromLine(data: Buffer, start: number): boolean {
  let i = start;
  while (i < data.length && data[i] === GT) i++;
  return data.length - i >= FROM_.length && data.compare(FROM_, 0, FROM_.length, i, i + FROM_.length) === 0;
}

/** The message as mboxrd pieces (slices of `raw`, no copy): quoted `From ` lines, final line feed. */
export function quoteMessage(raw: Buffer): { pieces: Buffer[]; newlineAdded: boolean } {
  const pieces: Buffer[] = [];
  let pieceStart = 0;
  for (let lineStart = 0; lineStart < raw.length;) {
    if (isFromLine(raw, lineStart)) {
      pieces.push(raw.subarray(pieceStart, lineStart), QUOTE);
      pieceStart = lineStart;
    }
    const end = raw.indexOf(LF, lineStart);
    if (end < 0) break;
    lineStart = end + 1;
  }
  pieces.push(raw.subarray(pieceStart));
  const newlineAdded = raw.length === 0 || raw[raw.length - 1] !== LF;
  if (newlineAdded) pieces.push(NEWLINE);
  return { pieces, newlineAdded };
}

/** Takes one `>` off every line matching /^>+From /. */
export function unquoteMessage(quoted: Buffer): Buffer {
  const pieces: Buffer[] = [];
  let pieceStart = 0;
  for (let lineStart = 0; lineStart < quoted.length;) {
    if (quoted[lineStart] === GT && isFromLine(quoted, lineStart)) {
      pieces.push(quoted.subarray(pieceStart, lineStart));
      pieceStart = lineStart + 1;
    }
    const end = quoted.indexOf(LF, lineStart);
    if (end < 0) break;
    lineStart = end + 1;
  }
  pieces.push(quoted.subarray(pieceStart));
  return pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
}

export class MboxrdWriter implements ExportWriter {
  private readonly messages: ExportManifestEntry[] = [];

  constructor(private readonly file: ExportFile) {}

  add(item: RestoreItem, raw: Buffer): Promise<string> {
    return this.file.serial(async () => {
      const { pieces, newlineAdded } = quoteMessage(raw);
      const entry = `${this.file.name}#${this.messages.length + 1}`;
      await this.file.append([fromLine(item, raw), ...pieces, NEWLINE]);
      this.messages.push(manifestEntry(item, raw, entry, { newlineAdded }));
      return entry;
    });
  }

  close(): Promise<{ path: string; count: number; bytes: number }> {
    return this.file.finish(this.messages);
  }

  abort(): Promise<void> {
    return this.file.abort();
  }
}

/** Splits an mboxrd file into its messages, still quoted, each with its final line feed. */
function splitMbox(data: Buffer, path: string): Buffer[] {
  if (data.length === 0) return [];
  if (!isUnquotedFrom(data, 0)) throw new Error(`${path} is not an mbox file: it does not start with a "From " line`);
  const messages: Buffer[] = [];
  let bodyStart = -1;
  for (let lineStart = 0; lineStart < data.length;) {
    const end = data.indexOf(LF, lineStart);
    const next = end < 0 ? data.length : end + 1;
    if (isUnquotedFrom(data, lineStart)) {
      if (bodyStart >= 0) messages.push(withoutSeparator(data.subarray(bodyStart, lineStart)));
      bodyStart = next;
    }
    lineStart = next;
  }
  messages.push(withoutSeparator(data.subarray(bodyStart)));
  return messages;
}

const isUnquotedFrom = (data: Buffer, start: number) =>
  data.length - start >= FROM_.length && data.compare(FROM_, 0, FROM_.length, start, start + FROM_.length) === 0;

/** Drops the blank line that separates a message from the next (its last line feed). */
function withoutSeparator(chunk: Buffer): Buffer {
  return chunk.length > 0 && chunk[chunk.length - 1] === LF ? chunk.subarray(0, -1) : chunk;
}

/**
 * The exact messages of an mboxrd file. With the manifest the writer put beside it, line feeds the
 * writer added are dropped and each message is checked against its recorded size and SHA-256.
 */
export async function readMboxrd(path: string): Promise<Buffer[]> {
  const messages = splitMbox(await readFile(path), path).map(unquoteMessage);
  const manifest = await readExportManifest(path);
  if (!manifest) return messages;
  if (manifest.messages.length !== messages.length) {
    throw new Error(`${path} holds ${messages.length} messages but its manifest lists ${manifest.messages.length}`);
  }
  return messages.map((message, index) => {
    const entry = manifest.messages[index] as ExportManifestEntry;
    const original = entry.newlineAdded ? message.subarray(0, -1) : message;
    if (original.length !== entry.size || sha256Hex(original) !== entry.sha256) {
      throw new Error(
        `message ${index + 1} of ${path} (seq ${entry.seq}, content id ${entry.contentId}) does not match its manifest: ${original.length} bytes, ${entry.size} expected`,
      );
    }
    return original;
  });
}
