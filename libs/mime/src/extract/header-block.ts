const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** A header block with more fields than this is abuse; the rest are not kept. */
const MAX_FIELDS = 2000;
/** Longest field name we look for a colon in. */
const MAX_NAME = 256;

/** One header field: its lower-case name and the byte ranges of its unfolded value. */
export interface HeaderField {
  name: string;
  /** Flat list of [start, end) byte ranges of the value, one per physical line, line breaks excluded. */
  ranges: number[];
}

/** How the header block ended, for the caller to turn into a problem when it is not a blank line. */
export type HeaderBlockEnd =
  | { kind: 'blank-line' }
  | { kind: 'end-of-input' }
  | { kind: 'whitespace-line'; line: number }
  | { kind: 'non-header-line'; line: number; text: string };

export interface HeaderBlock {
  fields: HeaderField[];
  /** Offset of the first body byte; equals the end of the range when there is no body. */
  bodyStart: number;
  end: HeaderBlockEnd;
  /** Lines that were neither fields nor continuations but were skipped because fields followed. */
  skippedLines: { line: number; text: string }[];
  /** The first line was an mbox "From " separator. */
  mboxFromLine: boolean;
  /** The first line looked like an HTTP request line. */
  httpRequestLine: string | null;
  /** Fields beyond MAX_FIELDS were not kept. */
  truncated: boolean;
}

interface Line {
  start: number;
  /** End of the line's content, line break excluded. */
  contentEnd: number;
  /** Start of the next line. */
  next: number;
}

function lineAt(buf: Buffer, pos: number, end: number): Line {
  const lf = buf.indexOf(LF, pos);
  if (lf === -1 || lf >= end) return { start: pos, contentEnd: end, next: end };
  const contentEnd = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
  return { start: pos, contentEnd, next: lf + 1 };
}

/** Offset of the colon that ends a field name at `start`, or -1 when the line is not a field. */
function fieldColon(buf: Buffer, start: number, contentEnd: number): number {
  const limit = Math.min(contentEnd, start + MAX_NAME);
  let i = start;
  for (; i < limit; i++) {
    const c = buf[i] ?? 0;
    if (c === COLON) return i > start ? i : -1;
    if (c <= SP || c === 0x7f) break;
  }
  if (i === start) return -1;
  // RFC 5322 obsolete syntax: white space between the name and the colon.
  for (; i < limit; i++) {
    const c = buf[i] ?? 0;
    if (c === COLON) return i;
    if (c !== SP && c !== HT) return -1;
  }
  return -1;
}

function isWhitespaceOnly(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c !== SP && c !== HT && c !== CR) return false;
  }
  return true;
}

function lineText(buf: Buffer, line: Line): string {
  return buf.toString('latin1', line.start, Math.min(line.contentEnd, line.start + 200));
}

/** How far past a non-field line we look for the header block to go on. */
const LOOKAHEAD_LINES = 200;

/**
 * True when, after a non-field line, the header block clearly goes on: more field lines follow
 * and a blank line ends the block within the look-ahead.
 */
function fieldsFollow(buf: Buffer, pos: number, end: number): boolean {
  let sawField = false;
  for (let n = 0; n < LOOKAHEAD_LINES && pos < end; n++) {
    const line = lineAt(buf, pos, end);
    if (line.contentEnd === line.start) return sawField;
    const first = buf[line.start];
    if (first === SP || first === HT) {
      pos = line.next;
      continue;
    }
    if (fieldColon(buf, line.start, line.contentEnd) >= 0) sawField = true;
    pos = line.next;
  }
  return false;
}

/** Offset of the blank line (or end) that ends the header block starting its search at pos. */
function blockEndAfter(buf: Buffer, pos: number, end: number): number {
  for (let n = 0; n < LOOKAHEAD_LINES && pos < end; n++) {
    const line = lineAt(buf, pos, end);
    if (line.contentEnd === line.start) return line.start;
    pos = line.next;
  }
  return pos;
}

const HTTP_REQUEST_LINE = /^[A-Z]{3,12} \S+ HTTP\/\d/;

/**
 * Reads the header block of an entity occupying buf[start, end). Tolerant: a folded line before any
 * field, an mbox "From " line, an HTTP request line, a stray non-field line followed by more fields,
 * and a whitespace-only separator are all survived; the result says what was seen.
 */
export function parseHeaderBlock(buf: Buffer, start: number, end: number): HeaderBlock {
  const block: HeaderBlock = {
    fields: [],
    bodyStart: end,
    end: { kind: 'end-of-input' },
    skippedLines: [],
    mboxFromLine: false,
    httpRequestLine: null,
    truncated: false,
  };
  let current: HeaderField | null = null;
  let fieldsResumeBefore = -1;
  let pos = start;
  let lineNo = 0;
  while (pos < end) {
    const line = lineAt(buf, pos, end);
    lineNo++;
    if (line.contentEnd === line.start) {
      block.bodyStart = line.next;
      block.end = { kind: 'blank-line' };
      return block;
    }
    const first = buf[line.start];
    if ((first === SP || first === HT) && current !== null) {
      if (isWhitespaceOnly(buf, line.start, line.contentEnd)) {
        // Obsolete syntax allows an empty folded line; a whitespace line followed by anything but
        // another folded line is a separator someone padded with spaces.
        const following = line.next < end ? buf[line.next] : undefined;
        if (following !== SP && following !== HT) {
          block.bodyStart = line.next;
          block.end = { kind: 'whitespace-line', line: lineNo };
          return block;
        }
      }
      current.ranges.push(line.start, line.contentEnd);
      pos = line.next;
      continue;
    }
    const colon = first === SP || first === HT ? -1 : fieldColon(buf, line.start, line.contentEnd);
    if (colon >= 0) {
      let nameEnd = colon;
      while (nameEnd > line.start && (buf[nameEnd - 1] === SP || buf[nameEnd - 1] === HT)) nameEnd--;
      const field: HeaderField = {
        name: buf.toString('latin1', line.start, nameEnd).toLowerCase(),
        ranges: [colon + 1, line.contentEnd],
      };
      if (block.fields.length < MAX_FIELDS) block.fields.push(field);
      else block.truncated = true;
      current = field;
      pos = line.next;
      continue;
    }
    if (lineNo === 1 && buf.toString('latin1', line.start, Math.min(line.start + 5, line.contentEnd)) === 'From ') {
      block.mboxFromLine = true;
      pos = line.next;
      continue;
    }
    const text = lineText(buf, line);
    if (lineNo === 1 && HTTP_REQUEST_LINE.test(text)) {
      block.httpRequestLine = text;
      pos = line.next;
      continue;
    }
    if (line.next < end && (line.next < fieldsResumeBefore || fieldsFollow(buf, line.next, end))) {
      // Lines whose folding lost its leading white space, or junk, inside a header block that goes
      // on: skipped, so the fields after them are not taken for body text.
      if (fieldsResumeBefore <= line.next) fieldsResumeBefore = blockEndAfter(buf, line.next, end);
      block.skippedLines.push({ line: lineNo, text });
      pos = line.next;
      continue;
    }
    block.bodyStart = line.start;
    block.end = { kind: 'non-header-line', line: lineNo, text };
    return block;
  }
  return block;
}

/** The raw bytes of a field's unfolded value as a latin-1 string (one character per byte). */
export function fieldLatin1(buf: Buffer, field: HeaderField): string {
  const r = field.ranges;
  if (r.length === 2) return buf.toString('latin1', r[0], r[1]);
  let s = '';
  for (let i = 0; i < r.length; i += 2) s += buf.toString('latin1', r[i], r[i + 1]);
  return s;
}

/** The raw bytes of a field's unfolded value. */
export function fieldBytes(buf: Buffer, field: HeaderField): Buffer {
  const r = field.ranges;
  if (r.length === 2) return buf.subarray(r[0], r[1]);
  const parts: Buffer[] = [];
  for (let i = 0; i < r.length; i += 2) parts.push(buf.subarray(r[i], r[i + 1]));
  return Buffer.concat(parts);
}

/** True when any byte of the field's value is outside 7-bit ASCII. */
export function fieldHas8Bit(buf: Buffer, field: HeaderField): boolean {
  const r = field.ranges;
  for (let i = 0; i < r.length; i += 2) {
    for (let j = r[i] ?? 0, e = r[i + 1] ?? 0; j < e; j++) if ((buf[j] ?? 0) >= 0x80) return true;
  }
  return false;
}

/** The first field with this lower-case name. */
export function findField(block: HeaderBlock, name: string): HeaderField | undefined {
  for (const f of block.fields) if (f.name === name) return f;
  return undefined;
}

/** Every field with this lower-case name, in order. */
export function findFields(block: HeaderBlock, name: string): HeaderField[] {
  return block.fields.filter((f) => f.name === name);
}

/**
 * The unfolded raw values (latin-1, one character per byte) of every field named `name` (lower
 * case) in the header block that starts `buf`: a whole message, or header lines as an IMAP server
 * returns them for BODY[HEADER.FIELDS (...)].
 */
export function headerFieldValues(buf: Buffer, name: string): string[] {
  const block = parseHeaderBlock(buf, 0, buf.length);
  return findFields(block, name).map((field) => fieldLatin1(buf, field));
}
