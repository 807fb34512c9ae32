/*
 * Content lines of iCalendar (RFC 5545 §3.1) and vCard (RFC 6350 §3.2), written deterministically:
 * the same item always gives the same bytes (the content id is an HMAC of them), so nothing here
 * depends on the clock, the locale or the order a source happened to list things in.
 */

/** A property: name, parameters (written in alphabetical order) and its already-escaped value. */
export interface ContentLine {
  name: string;
  params?: Record<string, string | undefined>;
  value: string;
}

const MAX_LINE_OCTETS = 75;

/** Characters no content line may hold (controls other than HTAB; CR and LF are escaped earlier). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text a content line can carry: valid UTF-16 (so valid UTF-8), no control characters. */
export function clean(value: string): string {
  return value.replace(LONE_SURROGATE, '\ufffd').replace(/\r\n?/g, '\n').replace(CONTROL, '');
}

/** A TEXT value (RFC 5545 §3.3.11, RFC 6350 §3.4): backslash, semicolon, comma and newline escaped. */
export function escapeText(value: string): string {
  return clean(value)
    .replace(/[\\;,]/g, (c) => `\\${c}`)
    .replace(/\n/g, '\\n');
}

/** A structured value's component (vCard N, ADR, ORG): the same escaping, components joined by `;`. */
export function structured(components: readonly string[]): string {
  return components.map(escapeText).join(';');
}

/**
 * A parameter value: RFC 6868 caret escaping for newline, double quote and caret, quoted when it holds
 * a character that ends a parameter (`:`, `;`, `,`).
 */
export function paramValue(value: string): string {
  const escaped = clean(value).replace(/\^/g, '^^').replace(/\n/g, '^n').replace(/"/g, "^'");
  return /[:;,]/.test(escaped) ? `"${escaped}"` : escaped;
}

/**
 * Folds one line at 75 octets (continuation lines start with a space, which counts), never inside a
 * UTF-8 sequence, so that every physical line is valid UTF-8 on its own.
 */
export function fold(line: string): string {
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= MAX_LINE_OCTETS) return line;
  const parts: string[] = [];
  let start = 0;
  let limit = MAX_LINE_OCTETS;
  while (start < bytes.length) {
    let end = Math.min(start + limit, bytes.length);
    // Back off to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
    while (end < bytes.length && end > start && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    parts.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
    limit = MAX_LINE_OCTETS - 1;
  }
  return parts.join('\r\n ');
}

/** One content line, folded, without its final CRLF. */
export function contentLine(line: ContentLine): string {
  const params = Object.entries(line.params ?? {})
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `;${name}=${paramValue(value)}`)
    .join('');
  return fold(`${line.name}${params}:${line.value}`);
}

/** The lines joined with CRLF, ending with one. */
export function serialise(lines: readonly ContentLine[]): Buffer {
  return Buffer.from(lines.map((line) => `${contentLine(line)}\r\n`).join(''), 'utf8');
}

/** Compares by UTF-16 code units: the same order on every machine (no locale). */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A date-time in UTC, basic format: 20261207T093000Z. */
export function utcDateTime(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** A date, basic format: 20261207. */
export function basicDate(isoDate: string): string {
  return isoDate.replace(/-/g, '');
}

/**
 * The wall-clock time of `date` in the IANA zone `timeZone`, basic format without zone (the form a
 * `TZID=` property takes): 20261207T103000. Throws on an unknown zone.
 */
export function zonedDateTime(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(date);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year').padStart(4, '0')}${part('month')}${part('day')}T${part('hour')}${part('minute')}${part('second')}`;
}
