import type { MailAddress, MessageFacts } from './message-facts.js';
import { parseAddressList } from './extract/addresses.js';
import { scanBytes } from './extract/bytes.js';
import { followUpOf, importanceOf, itemTypeOf } from './extract/classify.js';
import { parseMailDate } from './extract/date.js';
import { fieldLatin1, findFields, parseHeaderBlock, type HeaderBlock } from './extract/header-block.js';
import { HeaderText, isSupportedCharset } from './extract/header-text.js';
import { excerpt, ProblemLog } from './extract/problems.js';
import { reportHeaderEnd, reportSkipped, walkStructure, type OuterStructure } from './extract/structure.js';

/** Fields at least one of which every e-mail message has; a block with none of them is something else. */
const MAIL_FIELDS = new Set([
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'date',
  'subject',
  'message-id',
  'received',
  'return-path',
  'mime-version',
  'in-reply-to',
  'references',
  'reply-to',
  'delivered-to',
]);

const DEFAULT_FALLBACK_CHARSET = 'windows-1252';

function emptyFacts(size: number, problems: ProblemLog): MessageFacts {
  return {
    messageId: null,
    submissionDate: null,
    from: null,
    to: [],
    cc: [],
    bcc: [],
    subject: null,
    attachmentNames: [],
    hasAttachment: false,
    importance: 'normal',
    followUp: null,
    itemType: 'mail',
    form: 'rfc5322',
    kindFields: null,
    size,
    lineEnding: 'none',
    parseProblems: problems.toArray(),
  };
}

function asBuffer(raw: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
}

/**
 * Reads everything the index record needs from a message's raw RFC 5322 bytes: header fields and
 * MIME structure only, bodies are not decoded. Never throws: whatever cannot be read is null or
 * empty and described in `parseProblems`.
 */
export function extractMessageFacts(raw: Buffer | Uint8Array): MessageFacts {
  const problems = new ProblemLog();
  let size = 0;
  try {
    const buf = asBuffer(raw);
    size = buf.length;
    return extract(buf, problems);
  } catch (error) {
    problems.add(`message could not be read: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300));
    return emptyFacts(size, problems);
  }
}

/** The charset 8-bit header bytes are read in when they are not UTF-8: the message's own, if it names one. */
function fallbackCharset(buf: Buffer, block: HeaderBlock): string {
  const field = findFields(block, 'content-type')[0];
  if (!field) return DEFAULT_FALLBACK_CHARSET;
  const charset = /charset\s*=\s*"?([\w.:-]+)/i.exec(fieldLatin1(buf, field))?.[1]?.toLowerCase();
  if (!charset || charset === 'utf-8' || charset === 'utf8' || charset === 'us-ascii') return DEFAULT_FALLBACK_CHARSET;
  return isSupportedCharset(charset) ? charset : DEFAULT_FALLBACK_CHARSET;
}

function checkSingle(buf: Buffer, block: HeaderBlock, name: string, label: string, problems: ProblemLog): void {
  const fields = findFields(block, name);
  if (fields.length < 2) return;
  const distinct = new Set(fields.map((f) => fieldLatin1(buf, f).trim()));
  if (distinct.size > 1) problems.add(`${fields.length} different ${label} headers (the first is used)`);
}

function messageIdOf(value: string, problems: ProblemLog): string | null {
  const trimmed = stripComments(value).trim();
  if (!trimmed) return null;
  const bracketed = /<([^<>]*)>/.exec(trimmed);
  const id = (bracketed?.[1] ?? trimmed).replace(/\s+/g, '');
  if (!id) {
    problems.add('empty Message-ID');
    return null;
  }
  if (!bracketed) problems.add(`Message-ID without angle brackets ${excerpt(trimmed, 60)}`);
  return `<${id}>`;
}

/** The value without RFC 5322 comments (parenthesised, possibly nested). */
function stripComments(value: string): string {
  if (!value.includes('(')) return value;
  let out = '';
  let depth = 0;
  for (const c of value) {
    if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

function addressesOf(
  buf: Buffer,
  block: HeaderBlock,
  text: HeaderText,
  name: string,
  label: string,
  problems: ProblemLog,
): MailAddress[] {
  const out: MailAddress[] = [];
  for (const field of findFields(block, name)) {
    // A thousand mailboxes (all the record keeps) fit in far less.
    const raw = text.raw(field, label, 128 * 1024);
    const parsed = parseAddressList(raw, (s) => text.words(s, label));
    for (const p of parsed.problems.slice(0, 3)) problems.add(`malformed address list in ${label}: ${p}`);
    out.push(...parsed.addresses);
  }
  return out;
}

function extract(buf: Buffer, problems: ProblemLog): MessageFacts {
  const size = buf.length;
  if (size === 0) {
    problems.add('empty message (0 bytes)');
    return emptyFacts(0, problems);
  }
  const { lineEnding } = scanBytes(buf, problems);
  const block = parseHeaderBlock(buf, 0, size);

  if (block.httpRequestLine !== null) {
    problems.add(`starts with an HTTP request line ${excerpt(block.httpRequestLine, 50)}: not an e-mail message`);
  }
  if (block.fields.length === 0) {
    problems.add('no header fields: not an e-mail message');
  } else {
    reportHeaderEnd(block.end, block.fields.length, problems, '');
    reportSkipped(block, problems, '');
    if (!block.fields.some((f) => MAIL_FIELDS.has(f.name))) {
      problems.add('no e-mail header fields (From, To, Date, Subject, Message-ID…): probably not an e-mail message');
    }
  }

  const charset = fallbackCharset(buf, block);
  const text = new HeaderText(buf, problems, charset, '');
  const first = (name: string) => findFields(block, name)[0];
  for (const [name, label] of [
    ['from', 'From'],
    ['date', 'Date'],
    ['subject', 'Subject'],
    ['message-id', 'Message-ID'],
  ] as const) {
    checkSingle(buf, block, name, label, problems);
  }

  const subjectField = first('subject');
  const subject = subjectField ? text.unstructured(subjectField, 'Subject') : null;

  const idField = first('message-id');
  const messageId = idField ? messageIdOf(text.raw(idField, 'Message-ID', 4096), problems) : null;

  let submissionDate: string | null = null;
  const dateField = first('date');
  if (block.fields.length > 0) {
    if (!dateField) {
      problems.add('no Date header');
    } else {
      const value = text.raw(dateField, 'Date', 1024).trim();
      const date = parseMailDate(value);
      submissionDate = date.iso;
      if (date.iso === null) problems.add(value ? `unparseable Date header ${excerpt(value)}` : 'empty Date header');
      else if (date.note) problems.add(`${date.note}: ${excerpt(value)}`);
    }
  }

  const fromList = addressesOf(buf, block, text, 'from', 'From', problems);
  const from = fromList[0] ?? addressesOf(buf, block, text, 'sender', 'Sender', problems)[0] ?? null;
  const to = addressesOf(buf, block, text, 'to', 'To', problems);
  const cc = addressesOf(buf, block, text, 'cc', 'Cc', problems);
  const bcc = addressesOf(buf, block, text, 'bcc', 'Bcc', problems);

  const importance = importanceOf(buf, block, problems);
  const followUp = followUpOf(block, text);

  let attachmentNames: string[] = [];
  let attachmentCount = 0;
  let outer: OuterStructure = { rootType: 'text/plain', reportType: null, calendar: null };
  try {
    const structure = walkStructure(buf, block, problems, charset);
    attachmentNames = structure.attachmentNames;
    attachmentCount = structure.attachmentCount;
    outer = structure.outer;
  } catch (error) {
    problems.add(
      `MIME structure could not be read: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300),
    );
  }

  return {
    messageId,
    submissionDate,
    from,
    to,
    cc,
    bcc,
    subject,
    attachmentNames,
    hasAttachment: attachmentCount > 0,
    importance,
    followUp,
    itemType: itemTypeOf(buf, block, outer),
    form: 'rfc5322',
    kindFields: null,
    size,
    lineEnding,
    parseProblems: problems.toArray(),
  };
}
