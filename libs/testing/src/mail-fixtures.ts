import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import type { ImapInfo } from './infra/dovecot.js';
import { CORPUS_DIR } from './paths.js';

export interface CorpusMessage {
  /** Corpus path, plus `#n` for the n-th message of an mbox. */
  name: string;
  bytes: Buffer;
}

/** Splits an mbox at its `From ` separator lines (mboxrd quoting `>From ` is left as it is). */
export function splitMbox(bytes: Buffer): Buffer[] {
  const text = bytes.toString('latin1');
  const starts: number[] = [];
  const separator = /(^|\n)From [^\n]*\n/g;
  for (let match = separator.exec(text); match; match = separator.exec(text))
    starts.push(match.index + (match[1] ?? '').length);
  const messages: Buffer[] = [];
  for (const [i, start] of starts.entries()) {
    const headerEnd = text.indexOf('\n', start) + 1;
    const end = starts[i + 1] ?? text.length;
    const body = bytes.subarray(headerEnd, end);
    if (body.length > 0) messages.push(Buffer.from(body));
  }
  return messages;
}

/**
 * Every RFC 5322 message of the shared corpus (read only): the `eml` files as they are, and the
 * messages of each `mbox` file. Outlook items (msg/pst/tnef) and proprietary boxes are not RFC 5322.
 */
export function corpusMessages(corpusDir = CORPUS_DIR): CorpusMessage[] {
  const manifest = readFileSync(join(corpusDir, 'MANIFEST.tsv'), 'utf8').split('\n').slice(1);
  const messages: CorpusMessage[] = [];
  for (const line of manifest) {
    const [path, , , , , kind] = line.split('\t');
    if (!path || !kind) continue;
    const bytes = readFileSync(join(corpusDir, path));
    if (kind === 'eml') messages.push({ name: path, bytes });
    if (kind === 'mbox')
      splitMbox(bytes).forEach((message, i) => messages.push({ name: `${path}#${i}`, bytes: message }));
  }
  return messages;
}

export interface SeedMessage {
  bytes: Buffer;
  flags?: string[];
  internalDate?: Date;
}

/** Opens an IMAP session as `user` through the master user (the "Receive As" service account). */
export async function imapSessionAs(imap: ImapInfo, user: string): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: imap.host,
    port: imap.port,
    secure: false,
    auth: { user: imap.masterUser.name, pass: imap.masterUser.password, authzid: user },
    logger: false,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * APPENDs messages to `folder` of `user` (created if missing). Returns, per message, the UID the
 * server gave it, or the server's refusal.
 */
export async function seedFolder(
  imap: ImapInfo,
  user: string,
  folder: string,
  messages: SeedMessage[],
): Promise<Array<{ uid?: number; refused?: string }>> {
  const client = await imapSessionAs(imap, user);
  try {
    if (folder !== 'INBOX') await client.mailboxCreate(folder).catch(() => undefined);
    const results: Array<{ uid?: number; refused?: string }> = [];
    for (const message of messages) {
      try {
        const appended = await client.append(folder, message.bytes, message.flags ?? [], message.internalDate);
        results.push(appended && appended.uid ? { uid: appended.uid } : { refused: 'no UID returned' });
      } catch (error) {
        results.push({ refused: (error as { responseText?: string }).responseText ?? (error as Error).message });
      }
    }
    return results;
  } finally {
    await client.logout().catch(() => undefined);
  }
}

/** A message as the IMAP server serves it: exact bytes (BODY[]), flags, INTERNALDATE. */
export interface ServedMessage {
  bytes: Buffer;
  flags: string[];
  internalDate: Date | null;
}

/** What the IMAP server serves for every message of a folder: exact bytes (BODY[]), flags, date. */
export async function fetchFolder(imap: ImapInfo, user: string, folder: string): Promise<Map<number, ServedMessage>> {
  const client = await imapSessionAs(imap, user);
  try {
    const box = await client.mailboxOpen(folder, { readOnly: true });
    const result = new Map<number, ServedMessage>();
    if (box.exists === 0) return result;
    for await (const message of client.fetch(
      '1:*',
      { uid: true, flags: true, internalDate: true, source: true },
      { uid: true },
    )) {
      result.set(message.uid, {
        bytes: message.source ?? Buffer.alloc(0),
        flags: [...(message.flags ?? [])],
        internalDate: message.internalDate ? new Date(message.internalDate) : null,
      });
    }
    return result;
  } finally {
    await client.logout().catch(() => undefined);
  }
}

/**
 * What a mail admin compares after a restore: the exact bytes (SHA-256), the flags (without the
 * session's \Recent and those in `drop`) and INTERNALDATE.
 */
export function messageFingerprint(message: ServedMessage, drop: readonly string[] = []): string {
  const flags = message.flags.filter((flag) => flag !== '\\Recent' && !drop.includes(flag)).sort();
  const sha256 = createHash('sha256').update(message.bytes).digest('hex');
  return `${sha256} ${flags.join(',')} ${message.internalDate?.toISOString() ?? '-'}`;
}

/** The fingerprints of every message of a folder, sorted (`messageFingerprint`). */
export async function folderFingerprints(
  imap: ImapInfo,
  user: string,
  folder: string,
  drop: readonly string[] = [],
): Promise<string[]> {
  return [...(await fetchFolder(imap, user, folder)).values()].map((m) => messageFingerprint(m, drop)).sort();
}

/** Deletes and expunges the messages `uids` (UIDs; default every one) of a folder of `user`. */
export async function emptyFolder(imap: ImapInfo, user: string, folder: string, uids = '1:*'): Promise<void> {
  const client = await imapSessionAs(imap, user);
  try {
    await client.mailboxOpen(folder);
    await client.messageDelete(uids, { uid: true });
  } finally {
    await client.logout().catch(() => undefined);
  }
}
