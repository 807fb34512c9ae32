import libmime from 'libmime';
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import { fieldBytes, fieldHas8Bit, fieldLatin1, type HeaderField } from './header-block.js';
import { excerpt, type ProblemLog } from './problems.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Longest header value read by default; see HeaderText.raw. */
export const MAX_HEADER_BYTES = 64 * 1024;

/** Charset names libmime can decode, learnt once per name. */
const charsetSupport = new Map<string, boolean>();

export function isSupportedCharset(charset: string): boolean {
  const key = charset.toLowerCase();
  let known = charsetSupport.get(key);
  if (known === undefined) {
    try {
      known = libmime.createDecodeStream(key).supported;
    } catch {
      known = false;
    }
    if (charsetSupport.size < 1000) charsetSupport.set(key, known);
  }
  return known;
}

/** Decodes bytes in a declared charset, never throwing (unknown charsets read as windows-1252). */
export function decodeBytes(bytes: Buffer, charset: string): string {
  try {
    return decodeCharset(bytes, isSupportedCharset(charset) ? charset : 'windows-1252');
  } catch {
    return bytes.toString('latin1');
  }
}

const Q_ENCODED_WORD = /=\?[^?\s]+\?[Qq]\?[^?]*\?=/g;
const ENCODED_WORD = /=\?([^?]*)\?([^?]*)\?([^?]*)\?=/g;
const ENCODED_WORD_START = /=\?[^?\s]+\?[BbQq]\?/g;
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const LIBMIME_CHARSET = /^[\w\-*]+$/;

/**
 * Turns header field bytes into text. Raw 8-bit bytes are read as UTF-8 when they are valid UTF-8
 * (RFC 6532) and otherwise in the message's declared charset, else windows-1252; RFC 2047 encoded
 * words are decoded with libmime and checked, each oddity noted as a problem.
 */
export class HeaderText {
  constructor(
    private readonly buf: Buffer,
    private readonly problems: ProblemLog,
    private readonly fallbackCharset: string,
    /** Prefix for problems, e.g. "attached message: ". */
    private readonly where: string,
  ) {}

  /**
   * The unfolded value as text, encoded words not yet decoded. Only the first `maxBytes` are read:
   * nothing the index keeps needs more, and a megabyte-long header should not cost a second.
   */
  raw(field: HeaderField, label: string, maxBytes = MAX_HEADER_BYTES): string {
    field = this.capped(field, label, maxBytes);
    if (!fieldHas8Bit(this.buf, field)) return fieldLatin1(this.buf, field);
    let bytes = fieldBytes(this.buf, field);
    const latin = bytes.toString('latin1');
    if (latin.includes('=?')) {
      // Raw 8-bit bytes inside a Q encoded word are bytes of the word's charset: escape them so
      // the word decodes to what its sender meant.
      const escaped = latin.replace(Q_ENCODED_WORD, (word) => word.replace(/[\u0080-\u00ff]/g, hexEscape));
      if (escaped !== latin) {
        this.problems.add(`${this.where}unencoded 8-bit bytes inside an encoded word in ${label} header`);
        // eslint-disable-next-line no-control-regex
        if (/^[\u0000-\u007f]*$/.test(escaped)) return escaped;
        bytes = Buffer.from(escaped, 'latin1');
      }
    }
    try {
      const text = strictUtf8.decode(bytes);
      this.problems.add(`${this.where}unencoded 8-bit bytes in ${label} header (read as UTF-8)`);
      return text;
    } catch {
      this.problems.add(
        `${this.where}unencoded 8-bit bytes in ${label} header are not UTF-8 (read as ${this.fallbackCharset})`,
      );
      return decodeBytes(bytes, this.fallbackCharset);
    }
  }

  /** Decodes the RFC 2047 encoded words in `text`, noting those that are malformed. */
  words(text: string, label: string): string {
    if (!text.includes('=?')) return text;
    this.checkEncodedWords(text, label);
    let decoded: string;
    try {
      decoded = libmime.decodeWords(text);
    } catch {
      this.problems.add(`${this.where}encoded words in ${label} header could not be decoded`);
      return text;
    }
    if (decoded.includes('\ufffd') && !text.includes('\ufffd')) {
      this.problems.add(`${this.where}encoded word in ${label} header decodes to invalid characters`);
    }
    return decoded;
  }

  /** An unstructured header (Subject and the like): unfolded, decoded, white space tidied. */
  unstructured(field: HeaderField, label: string): string {
    return cleanText(this.words(this.raw(field, label), label));
  }

  private capped(field: HeaderField, label: string, maxBytes: number): HeaderField {
    let total = 0;
    const r = field.ranges;
    for (let i = 0; i < r.length; i += 2) {
      const start = r[i] ?? 0;
      const length = (r[i + 1] ?? 0) - start;
      if (total + length > maxBytes) {
        this.problems.add(`${this.where}${label} header longer than ${maxBytes} bytes; only its start was read`);
        return { name: field.name, ranges: [...r.slice(0, i), start, start + (maxBytes - total)] };
      }
      total += length;
    }
    return field;
  }

  private checkEncodedWords(text: string, label: string): void {
    let complete = 0;
    for (const m of text.matchAll(ENCODED_WORD)) {
      complete++;
      const [whole, charsetAndLang = '', encoding = '', payload = ''] = m;
      const charset = charsetAndLang.split('*')[0] ?? '';
      const enc = encoding.toUpperCase();
      if (enc !== 'B' && enc !== 'Q') {
        this.problems.add(`${this.where}bad encoded word in ${label} header: unknown encoding ${excerpt(whole, 40)}`);
      } else if (!LIBMIME_CHARSET.test(charsetAndLang) || !isSupportedCharset(charset)) {
        this.problems.add(
          `${this.where}bad encoded word in ${label} header: unsupported charset ${excerpt(charset, 40)}`,
        );
      } else if (enc === 'B' && (!BASE64_TEXT.test(payload) || payload.length % 4 === 1)) {
        this.problems.add(`${this.where}bad encoded word in ${label} header: invalid base64 ${excerpt(whole, 40)}`);
      }
    }
    let starts = 0;
    for (const _ of text.matchAll(ENCODED_WORD_START)) starts++;
    if (starts > complete) this.problems.add(`${this.where}bad encoded word in ${label} header: not terminated`);
  }
}

function hexEscape(c: string): string {
  return `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

// eslint-disable-next-line no-control-regex
const NUL = /\u0000/g;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\u0001-\u0020\u007f]+/g;

/** Runs of white space and control characters made single spaces, NULs removed, ends trimmed. */
export function cleanText(text: string): string {
  return text.replace(NUL, '').replace(CONTROL_OR_SPACE, ' ').trim();
}
