import libmime from 'libmime';
import {
  fieldLatin1,
  findField,
  findFields,
  parseHeaderBlock,
  type HeaderBlock,
  type HeaderBlockEnd,
} from './header-block.js';
import { cleanText, HeaderText } from './header-text.js';
import { excerpt, type ProblemLog } from './problems.js';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const DASH = 0x2d;

/** Deeper MIME nesting than this is not examined (and is reported). */
export const MAX_MIME_DEPTH = 100;
/** More MIME parts than this are not examined (and are reported). */
export const MAX_MIME_PARTS = 10_000;
/** More attachment names than this are not kept (and are reported). */
export const MAX_ATTACHMENT_NAMES = 1000;
/** Encoded nested messages and calendar parts larger than this are not decoded to be looked into. */
const MAX_DECODE_BYTES = 16 * 1024 * 1024;
const MAX_CALENDAR_PEEK = 256 * 1024;

const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

/** Parts that carry protocol data rather than content a user would call an attachment. */
const NEVER_ATTACHMENT = new Set([
  'message/delivery-status',
  'message/global-delivery-status',
  'message/disposition-notification',
  'message/global-disposition-notification',
  'message/feedback-report',
  'text/rfc822-headers',
  'message/global-headers',
  'application/pgp-signature',
  'application/pgp-encrypted',
  'application/pkcs7-signature',
  'application/x-pkcs7-signature',
]);

/** Leaf types that are message text when they have no file name. */
const BODY_TYPES = new Set(['text/plain', 'text/html', 'text/enriched', 'text/richtext', 'text/watch-html']);

const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global', 'message/news']);

export interface ContentType {
  type: string;
  params: Record<string, string>;
}

/** What the outermost message (not an attached one) says about itself through its structure. */
export interface OuterStructure {
  rootType: string;
  reportType: string | null;
  calendar: { method: string | null; component: string | null } | null;
}

export interface StructureResult {
  attachmentNames: string[];
  attachmentCount: number;
  outer: OuterStructure;
}

interface Walk {
  problems: ProblemLog;
  fallbackCharset: string;
  attachmentNames: string[];
  attachmentCount: number;
  parts: number;
  tooDeepReported: boolean;
  tooManyReported: boolean;
  outer: OuterStructure;
}

interface Entity {
  buf: Buffer;
  block: HeaderBlock;
  end: number;
  depth: number;
  path: string;
  defaultType: string;
  parentType: string | null;
  /** True while inside the outermost message, false inside attached messages. */
  outer: boolean;
}

function where(path: string): string {
  return path ? `part ${path}: ` : '';
}

/** Reads a Content-Type-like field with libmime; RFC 2231 and encoded-word parameters are decoded. */
export function parseStructuredField(
  text: HeaderText,
  block: HeaderBlock,
  buf: Buffer,
  name: string,
  label: string,
  problems: ProblemLog,
  at: string,
): { value: string; params: Record<string, string> } | null {
  const fields = findFields(block, name);
  const field = fields[0];
  if (!field) return null;
  if (fields.length > 1) {
    const distinct = new Set(fields.map((f) => fieldLatin1(buf, f).trim().toLowerCase()));
    if (distinct.size > 1) problems.add(`${at}${fields.length} different ${label} headers (the first is used)`);
  }
  const raw = text.raw(field, label);
  try {
    const parsed = libmime.parseHeaderValue(raw);
    const decoded = new Set<string>((parsed as { decodedParams?: string[] }).decodedParams ?? []);
    const params: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [key, value] of Object.entries(parsed.params)) {
      const v = String(value);
      params[key.toLowerCase()] = decoded.has(key) ? v : text.words(v, `${label} ${key}`);
    }
    return { value: String(parsed.value).trim().toLowerCase(), params };
  } catch {
    problems.add(`${at}unreadable ${label} header ${excerpt(raw)}`);
    return null;
  }
}

function contentTypeOf(e: Entity, text: HeaderText, w: Walk): ContentType {
  const at = where(e.path);
  const parsed = parseStructuredField(text, e.block, e.buf, 'content-type', 'Content-Type', w.problems, at);
  if (!parsed) return { type: e.defaultType, params: Object.create(null) as Record<string, string> };
  if (!MEDIA_TYPE.test(parsed.value)) {
    w.problems.add(`${at}unreadable Content-Type ${excerpt(parsed.value)} (read as ${e.defaultType})`);
    return { type: e.defaultType, params: parsed.params };
  }
  return { type: parsed.value, params: parsed.params };
}

function transferEncoding(e: Entity): string {
  const field = findField(e.block, 'content-transfer-encoding');
  return field ? fieldLatin1(e.buf, field).trim().toLowerCase() : '';
}

/** Turns a header-end oddity into a problem. */
export function reportHeaderEnd(end: HeaderBlockEnd, fieldCount: number, problems: ProblemLog, at: string): void {
  if (end.kind === 'whitespace-line') {
    problems.add(`${at}line ${end.line} separating header and body is not empty (holds white space)`);
  } else if (end.kind === 'non-header-line' && fieldCount > 0) {
    problems.add(
      `${at}no blank line between header and body (line ${end.line} ${excerpt(end.text, 40)} is not a header field)`,
    );
  }
}

export function reportSkipped(block: HeaderBlock, problems: ProblemLog, at: string): void {
  for (const s of block.skippedLines.slice(0, 3)) {
    problems.add(`${at}malformed header line ${s.line} skipped: ${excerpt(s.text, 40)}`);
  }
  if (block.truncated) problems.add(`${at}too many header fields; the rest were ignored`);
}

interface Delimited {
  parts: [number, number][];
  closed: boolean;
  /** Delimiters went on after a closing delimiter (a boundary reused by a nested multipart). */
  reopened: boolean;
}

/** Finds the parts of a multipart body in buf[start, end) delimited by `--boundary` lines. */
function splitMultipart(buf: Buffer, start: number, end: number, boundary: string): Delimited {
  // eslint-disable-next-line no-control-regex
  const delimiter = Buffer.from(`--${boundary}`, /[^\u0000-\u00ff]/.test(boundary) ? 'utf8' : 'latin1');
  const view = buf.subarray(start, end);
  const n = view.length;
  const parts: [number, number][] = [];
  let partStart = -1;
  let from = 0;
  let closed = false;
  let reopened = false;
  while (from < n) {
    const i = view.indexOf(delimiter, from);
    if (i === -1) break;
    if (i === 0 || view[i - 1] === LF || view[i - 1] === CR) {
      let j = i + delimiter.length;
      let isClose = false;
      if (view[j] === DASH && view[j + 1] === DASH) {
        isClose = true;
        j += 2;
      }
      // RFC 2046 allows white space after the boundary; text after that white space is ignored
      // (as its note to implementors asks), but "--b_alt" is another boundary, not "--b".
      const afterBoundary = j;
      while (j < n && (view[j] === SP || view[j] === HT)) j++;
      if (j > afterBoundary) while (j < n && view[j] !== CR && view[j] !== LF) j++;
      if (j >= n || view[j] === CR || view[j] === LF) {
        if (closed) {
          if (isClose) {
            from = j;
            continue;
          }
          reopened = true;
          closed = false;
        } else if (partStart >= 0) {
          // The line break before a delimiter belongs to the delimiter.
          let partEnd = i;
          if (partEnd > partStart && view[partEnd - 1] === LF) partEnd--;
          if (partEnd > partStart && view[partEnd - 1] === CR) partEnd--;
          parts.push([start + partStart, start + partEnd]);
        }
        if (j < n && view[j] === CR) j++;
        if (j < n && view[j] === LF) j++;
        if (isClose) {
          // Usually the end; but a nested multipart reusing this boundary closes early, so keep looking.
          closed = true;
          partStart = -1;
          from = j;
          continue;
        }
        partStart = j;
        from = j;
        if (parts.length > MAX_MIME_PARTS) break;
        continue;
      }
    }
    from = i + 1;
  }
  if (partStart >= 0) parts.push([start + partStart, end]);
  return { parts, closed, reopened };
}

function decodeQuotedPrintable(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(bytes.length);
  let o = 0;
  const hex = (c: number | undefined): number => {
    if (c === undefined) return -1;
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x41 && c <= 0x46) return c - 0x37;
    if (c >= 0x61 && c <= 0x66) return c - 0x57;
    return -1;
  };
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] ?? 0;
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    const h = hex(bytes[i + 1]);
    const l = hex(bytes[i + 2]);
    if (h >= 0 && l >= 0) {
      out[o++] = (h << 4) | l;
      i += 2;
      continue;
    }
    // Soft line break: "=" then optional white space then CRLF or LF.
    let j = i + 1;
    while (bytes[j] === SP || bytes[j] === HT) j++;
    if (bytes[j] === CR) j++;
    if (bytes[j] === LF) {
      i = j;
      continue;
    }
    out[o++] = c;
  }
  return out.subarray(0, o);
}

/** The body bytes with base64 or quoted-printable undone; null for an encoding we leave alone. */
function decodedBody(buf: Buffer, start: number, end: number, cte: string): Buffer | null {
  const body = buf.subarray(start, end);
  if (cte === 'base64') return Buffer.from(body.toString('latin1'), 'base64');
  if (cte === 'quoted-printable') return decodeQuotedPrintable(body);
  return null;
}

function fileName(name: string): string {
  const clean = cleanText(name);
  // A path someone's mailer left in: only the last component names the file.
  const slash = Math.max(clean.lastIndexOf('/'), clean.lastIndexOf('\\'));
  return (slash >= 0 ? clean.slice(slash + 1) : clean).trim();
}

function addAttachment(w: Walk, name: string | null): void {
  w.attachmentCount++;
  const clean = name === null ? '' : fileName(name);
  if (!clean) return;
  if (w.attachmentNames.length < MAX_ATTACHMENT_NAMES) w.attachmentNames.push(clean);
  else if (w.attachmentNames.length === MAX_ATTACHMENT_NAMES) {
    w.problems.add(`more than ${MAX_ATTACHMENT_NAMES} attachments; the rest are not named`);
  }
}

const UUENCODE_BEGIN = /^begin(?:-base64)? [0-7]{3,4} (.+?)\s*$/;
const BEGIN = Buffer.from('begin');

/** Names of uuencoded files inside a plain-text body (old mailers attach files that way). */
function uuencodedNames(buf: Buffer, start: number, end: number): string[] {
  const names: string[] = [];
  const view = buf.subarray(start, end);
  let from = 0;
  while (names.length < 100) {
    const i = view.indexOf(BEGIN, from);
    if (i === -1) break;
    from = i + BEGIN.length;
    if (i > 0 && view[i - 1] !== LF) continue;
    let lineEnd = view.indexOf(LF, i);
    if (lineEnd === -1) lineEnd = view.length;
    const m = UUENCODE_BEGIN.exec(view.toString('latin1', i, Math.min(lineEnd, i + 1024)));
    if (!m) continue;
    const next = view[lineEnd + 1];
    // A uuencoded line starts with its length character; full lines with "M".
    if (next === undefined || next < 0x20 || next > 0x60) continue;
    if (m[1]) names.push(m[1]);
  }
  return names;
}

function peekCalendar(e: Entity, ct: ContentType, cte: string, w: Walk): void {
  let bytes = e.buf.subarray(e.block.bodyStart, e.end);
  if (bytes.length > MAX_CALENDAR_PEEK && cte !== 'base64') bytes = bytes.subarray(0, MAX_CALENDAR_PEEK);
  if (cte === 'base64' || cte === 'quoted-printable') {
    if (bytes.length > MAX_CALENDAR_PEEK * 2) bytes = bytes.subarray(0, MAX_CALENDAR_PEEK * 2);
    bytes = decodedBody(bytes, 0, bytes.length, cte) ?? bytes;
  }
  const text = bytes.toString('latin1');
  const method = ct.params['method'] ?? /^METHOD:[ \t]*([A-Za-z-]+)/im.exec(text)?.[1] ?? null;
  const component = /^BEGIN:[ \t]*(VEVENT|VTODO|VJOURNAL)\b/im.exec(text)?.[1]?.toUpperCase() ?? null;
  if (method === null && component === null) return;
  if (w.outer.calendar === null || (w.outer.calendar.method === null && method !== null)) {
    w.outer.calendar = { method: method ? method.toUpperCase() : null, component };
  }
}

function walk(e: Entity, w: Walk): void {
  const at = where(e.path);
  if (e.depth > MAX_MIME_DEPTH) {
    if (!w.tooDeepReported)
      w.problems.add(`MIME nesting deeper than ${MAX_MIME_DEPTH} levels; deeper parts not examined`);
    w.tooDeepReported = true;
    return;
  }
  if (++w.parts > MAX_MIME_PARTS) {
    if (!w.tooManyReported) w.problems.add(`more than ${MAX_MIME_PARTS} MIME parts; the rest not examined`);
    w.tooManyReported = true;
    return;
  }
  const text = new HeaderText(e.buf, w.problems, w.fallbackCharset, at);
  const ct = contentTypeOf(e, text, w);
  const type = ct.type;
  if (e.depth === 0 && e.outer) w.outer.rootType = type;

  if (type.startsWith('multipart/')) {
    if (e.outer && type === 'multipart/report' && e.depth <= 1 && w.outer.reportType === null) {
      w.outer.reportType = (ct.params['report-type'] ?? '').toLowerCase() || 'unknown';
    }
    const boundary = ct.params['boundary'];
    if (!boundary) {
      w.problems.add(`${at}${type} without a boundary parameter; its parts cannot be found`);
      return;
    }
    let split = splitMultipart(e.buf, e.block.bodyStart, e.end, boundary);
    const firstWord = /^\S+(?=\s)/.exec(boundary)?.[0];
    if (split.parts.length === 0 && firstWord) {
      // A boundary folded across lines in the header is usually folded in the body as well.
      const retry = splitMultipart(e.buf, e.block.bodyStart, e.end, firstWord);
      if (retry.parts.length > 0) {
        w.problems.add(`${at}${type} boundary ${excerpt(boundary, 70)} holds white space; matched by its first word`);
        split = retry;
      }
    }
    if (split.parts.length === 0) {
      w.problems.add(`${at}${type} has no parts: boundary ${excerpt(boundary, 70)} never appears`);
      return;
    }
    if (!split.closed) w.problems.add(`${at}${type} not terminated: closing boundary missing`);
    if (split.reopened) w.problems.add(`${at}${type} has parts after its closing boundary (boundary reused)`);
    const childDefault = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    split.parts.forEach(([start, end], index) => {
      const path = e.path ? `${e.path}.${index + 1}` : `${index + 1}`;
      const block = parseHeaderBlock(e.buf, start, end);
      reportHeaderEnd(block.end, block.fields.length, w.problems, where(path));
      reportSkipped(block, w.problems, where(path));
      walk(
        {
          buf: e.buf,
          block,
          end,
          depth: e.depth + 1,
          path,
          defaultType: childDefault,
          parentType: type,
          outer: e.outer,
        },
        w,
      );
    });
    return;
  }

  const disposition = parseStructuredField(
    text,
    e.block,
    e.buf,
    'content-disposition',
    'Content-Disposition',
    w.problems,
    at,
  );
  const dispositionType = disposition?.value ?? '';
  const name = disposition?.params['filename'] || ct.params['name'] || null;
  const cte = transferEncoding(e);
  const isRoot = e.depth === 0;

  if (MESSAGE_TYPES.has(type)) {
    walkAttachedMessage(e, w, name, cte);
    return;
  }
  if (NEVER_ATTACHMENT.has(type)) return;

  if (type === 'text/calendar' && dispositionType !== 'attachment' && e.outer) {
    peekCalendar(e, ct, cte, w);
    if (!name || e.parentType === 'multipart/alternative' || isRoot) return;
  }

  if (cte === 'x-uuencode' || cte === 'uuencode' || cte === 'x-uue') {
    addAttachment(w, name ?? uuencodedNames(e.buf, e.block.bodyStart, e.end)[0] ?? null);
    return;
  }

  const embedded = e.parentType === 'multipart/related' && findField(e.block, 'content-id') !== undefined;
  let attachment: boolean;
  if (dispositionType === 'attachment') attachment = true;
  else if (name) attachment = !embedded;
  else if (BODY_TYPES.has(type) || type === 'text/calendar') attachment = false;
  else attachment = !embedded && !(isRoot && type.startsWith('text/'));
  if (attachment) {
    addAttachment(w, name ?? locationName(e));
    return;
  }
  if (type === 'text/plain' && (cte === '' || cte === '7bit' || cte === '8bit' || cte === 'binary')) {
    for (const uu of uuencodedNames(e.buf, e.block.bodyStart, e.end)) addAttachment(w, uu);
  }
}

/** The file name a Content-Location URL ends in (RFC 2557), for an attachment that names itself no other way. */
function locationName(e: Entity): string | null {
  const field = findField(e.block, 'content-location');
  if (!field) return null;
  const path = fieldLatin1(e.buf, field).trim().replace(/^"|"$/g, '').split(/[?#]/)[0] ?? '';
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (!/\.[A-Za-z0-9]{1,10}$/.test(last)) return null;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

function walkAttachedMessage(e: Entity, w: Walk, name: string | null, cte: string): void {
  let buf = e.buf;
  let start = e.block.bodyStart;
  let end = e.end;
  if (cte === 'base64' || cte === 'quoted-printable') {
    if (end - start > MAX_DECODE_BYTES) {
      addAttachment(w, name);
      return;
    }
    buf = decodedBody(buf, start, end, cte) ?? buf;
    start = 0;
    end = buf.length;
  }
  const block = parseHeaderBlock(buf, start, end);
  const at = where(e.path);
  reportSkipped(block, w.problems, at);
  let attachmentName = name;
  if (!attachmentName) {
    const subjectField = findField(block, 'subject');
    const subject = subjectField
      ? new HeaderText(buf, w.problems, w.fallbackCharset, at).unstructured(subjectField, 'Subject')
      : '';
    attachmentName = `${subject.replace(/[\\/]/g, '_') || 'message'}.eml`;
  }
  addAttachment(w, attachmentName);
  walk(
    {
      buf,
      block,
      end,
      depth: e.depth + 1,
      path: e.path || '1',
      defaultType: 'text/plain',
      parentType: null,
      outer: false,
    },
    w,
  );
}

/**
 * Walks the MIME structure of a message whose header block has been read, collecting attachment
 * names (attached messages included) and what the outermost structure says about the item type.
 * Bodies are not decoded, except an encoded attached message or calendar part to look inside it.
 */
export function walkStructure(
  buf: Buffer,
  block: HeaderBlock,
  problems: ProblemLog,
  fallbackCharset: string,
): StructureResult {
  const w: Walk = {
    problems,
    fallbackCharset,
    attachmentNames: [],
    attachmentCount: 0,
    parts: 0,
    tooDeepReported: false,
    tooManyReported: false,
    outer: { rootType: 'text/plain', reportType: null, calendar: null },
  };
  walk(
    { buf, block, end: buf.length, depth: 0, path: '', defaultType: 'text/plain', parentType: null, outer: true },
    w,
  );
  return { attachmentNames: w.attachmentNames, attachmentCount: w.attachmentCount, outer: w.outer };
}
