import { createHash } from 'node:crypto';
import { clean } from './content-lines.js';
import type { NotificationItem, PhoneMessageItem } from './structured-item.js';

/*
 * Mail-like items a source holds as fields (a GroupWise phone message, a notice) written as RFC 5322
 * messages, deterministically: headers in a fixed order, dates from the item, the body in base64 (any
 * text, any line length), encoded words for non-ASCII header text. `X-MLR-Item-Type` names the kind,
 * so that a copy restored into a mailbox and backed up again keeps it.
 */

interface Person {
  address: string;
  name?: string | undefined;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An RFC 5322 date in UTC: `Mon, 07 Dec 2026 09:30:00 +0000`. */
export function rfc5322Date(iso: string): string {
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCFullYear()).padStart(4, '0')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** One header line: text without CR/LF. */
function oneLine(value: string): string {
  return clean(value).replace(/\s+/g, ' ').trim();
}

/**
 * Header text: as it is when it is short printable ASCII, else RFC 2047 encoded words (UTF-8, base64)
 * of at most 45 bytes of text each, never splitting a character, joined by folding whitespace.
 */
export function headerText(value: string): string {
  const text = oneLine(value);
  // Short printable ASCII as it is; anything else (or a line that would pass RFC 5322's 998
  // characters) as encoded words, which fold.
  if (/^[\x20-\x7e]*$/.test(text) && !text.includes('=?') && text.length <= 200) return text;
  const words: string[] = [];
  let chunk = '';
  for (const char of text) {
    if (Buffer.byteLength(chunk + char, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** `"Name" <address>`, the name quoted (or encoded when not ASCII); the bare address when unnamed. */
export function mailbox(person: Person): string {
  const address = oneLine(person.address).replace(/[\s<>]/g, '');
  const name = person.name ? oneLine(person.name) : '';
  if (!name) return `<${address}>`;
  const display =
    /^[\x20-\x7e]*$/.test(name) && !name.includes('=?') && name.length <= 200
      ? `"${name.replace(/[\\"]/g, (c) => `\\${c}`)}"`
      : headerText(name);
  // A long address goes on a line of its own, so that name and address never make an overlong line.
  return address.length > 200 ? `${display}\r\n <${address}>` : `${display} <${address}>`;
}

/** A Message-ID for a source's item id: stable, and valid whatever the id looks like. */
export function messageIdFor(kind: string, uid: string): string {
  if (
    uid.length <= 200 &&
    /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+$/.test(uid) &&
    !uid.startsWith('.') &&
    !uid.includes('..')
  ) {
    return `<${uid}>`;
  }
  const digest = createHash('sha256').update(uid, 'utf8').digest('hex').slice(0, 40);
  return `<${digest}@${kind.replace('_', '-')}.mlr.invalid>`;
}

function base64Body(text: string): string {
  const encoded = Buffer.from(clean(text).replace(/\n/g, '\r\n'), 'utf8').toString('base64');
  return (encoded.match(/.{1,76}/g) ?? []).join('\r\n');
}

/** The item's categories as a Keywords header value (each once, in code-unit order), or none. */
function keywords(categories: readonly string[]): string | null {
  return categories.length > 0 ? headerText([...new Set(categories)].sort().join(', ')) : null;
}

function message(headers: Array<[string, string | null]>, body: string): Buffer {
  const lines = headers
    .filter((h): h is [string, string] => h[1] !== null && h[1] !== '')
    .map(([n, v]) => `${n}: ${v}`);
  lines.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${base64Body(body)}\r\n`, 'utf8');
}

const PHONE_MARKS = [
  ['callback', 'Please call back'],
  ['willCallAgain', 'Will call again'],
  ['returnedCall', 'Returned your call'],
  ['urgent', 'Urgent'],
] as const;

/** The phone message's marks as the `X-MLR-Phone-Flags` header names them. */
export const PHONE_FLAG_NAMES = {
  callback: 'callback',
  willCallAgain: 'will-call-again',
  returnedCall: 'returned-call',
  urgent: 'urgent',
} as const;

/**
 * A phone message as an RFC 5322 message to its recipient: the subject and body say what a reader
 * needs (caller, company, number, the marks, the message); `X-MLR-Caller*`, `X-MLR-Phone-Flags` and
 * `X-MLR-Call-Duration` keep the fields for programs.
 */
export function writePhoneMessage(item: PhoneMessageItem): Buffer {
  const who = [item.caller, item.company ? `(${item.company})` : null].filter(Boolean).join(' ') || 'unknown caller';
  const marks = PHONE_MARKS.filter(([field]) => item[field]).map(([, label]) => label);
  const body = [
    `Caller: ${item.caller ?? ''}`,
    `Company: ${item.company ?? ''}`,
    `Number: ${item.number ?? ''}`,
    ...(marks.length > 0 ? [`Marked: ${marks.join(', ')}`] : []),
    ...(item.durationSeconds !== null ? [`Call length: ${item.durationSeconds} s`] : []),
    '',
    item.message,
  ].join('\n');
  const flags = (Object.keys(PHONE_FLAG_NAMES) as Array<keyof typeof PHONE_FLAG_NAMES>)
    .filter((field) => item[field])
    .map((field) => PHONE_FLAG_NAMES[field]);
  return message(
    [
      ['Date', rfc5322Date(item.receivedAt)],
      ['From', mailbox(item.takenBy ?? item.to)],
      ['To', mailbox(item.to)],
      ['Subject', headerText(`Phone message from ${who}`)],
      ['Message-ID', messageIdFor('phone_message', item.uid)],
      ['Importance', item.urgent ? 'high' : null],
      ['X-MLR-Item-Type', 'phone_message'],
      ['X-MLR-Caller', item.caller ? headerText(item.caller) : null],
      ['X-MLR-Caller-Company', item.company ? headerText(item.company) : null],
      ['X-MLR-Caller-Number', item.number ? headerText(item.number) : null],
      ['X-MLR-Phone-Flags', flags.length > 0 ? flags.join(', ') : null],
      ['X-MLR-Call-Duration', item.durationSeconds !== null ? String(item.durationSeconds) : null],
      ['Keywords', keywords(item.categories)],
    ],
    body,
  );
}

/** A notification as an RFC 5322 message from its sender. */
export function writeNotification(item: NotificationItem): Buffer {
  return message(
    [
      ['Date', rfc5322Date(item.sentAt)],
      ['From', mailbox(item.from)],
      ['To', mailbox(item.to)],
      ['Subject', headerText(item.subject)],
      ['Message-ID', messageIdFor('notification', item.uid)],
      ['X-MLR-Item-Type', 'notification'],
      ['Keywords', keywords(item.categories)],
    ],
    item.message,
  );
}
