import type { MailAddress } from '../message-facts.js';
import { cleanText } from './header-text.js';
import { excerpt } from './problems.js';

/** An address header with more mailboxes than this is abuse; the rest are not read. */
const MAX_ADDRESSES = 1000;

type Special = '<' | '>' | ',' | ':' | ';' | '@';

type Token =
  | { kind: 'word'; text: string; quoted: boolean; spaceBefore: boolean }
  | { kind: 'comment'; text: string }
  | { kind: 'special'; text: Special };

export interface AddressListResult {
  addresses: MailAddress[];
  /** What was malformed, empty when the list parsed cleanly. */
  problems: string[];
}

/** Distinct problems in the order first seen, a few at most. */
class ProblemList {
  readonly list: string[] = [];
  push(problem: string): void {
    if (this.list.length < 10 && !this.list.includes(problem)) this.list.push(problem);
  }
}

/** Character codes that end an atom: white space, quotes, parentheses, brackets and specials. */
const WORD_END = new Set([...' \t\r\n"()[<>,:;@'].map((c) => c.charCodeAt(0)));
const SPECIALS = new Set([...'<>,:;@'].map((c) => c.charCodeAt(0)));
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

function tokenize(text: string, problems: ProblemList): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  let spaceBefore = false;
  while (i < n) {
    const code = text.charCodeAt(i);
    if (isSpace(code)) {
      spaceBefore = true;
      i++;
      continue;
    }
    if (code === QUOTE) {
      let close = i + 1;
      let escaped = false;
      while (close < n) {
        const c = text.charCodeAt(close);
        if (c === QUOTE) break;
        if (c === BACKSLASH) {
          escaped = true;
          close++;
        }
        close++;
      }
      if (close >= n) problems.push('unterminated quoted string');
      const inner = text.slice(i + 1, Math.min(close, n));
      tokens.push({ kind: 'word', text: escaped ? inner.replace(/\\(.)/gs, '$1') : inner, quoted: true, spaceBefore });
      i = close + 1;
    } else if (code === 0x28 /* ( */) {
      let depth = 1;
      let j = i + 1;
      let value = '';
      let from = j;
      while (j < n && depth > 0) {
        const c = text.charCodeAt(j);
        if (c === BACKSLASH && j + 1 < n) {
          value += text.slice(from, j);
          from = j + 1;
          j += 2;
          continue;
        }
        if (c === 0x28) depth++;
        else if (c === 0x29 /* ) */) depth--;
        j++;
      }
      value += text.slice(from, depth > 0 ? j : j - 1);
      if (depth > 0) problems.push('unterminated comment');
      tokens.push({ kind: 'comment', text: value });
      i = j;
    } else if (code === 0x5b /* [ */) {
      const close = text.indexOf(']', i);
      const j = close === -1 ? n : close + 1;
      if (close === -1) problems.push('unterminated domain literal');
      tokens.push({ kind: 'word', text: text.slice(i, j), quoted: false, spaceBefore });
      i = j;
    } else if (SPECIALS.has(code)) {
      tokens.push({ kind: 'special', text: text[i] as Special });
      i++;
    } else {
      let j = i + 1;
      while (j < n && !WORD_END.has(text.charCodeAt(j))) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j), quoted: false, spaceBefore });
      i = j;
    }
    spaceBefore = false;
  }
  return tokens;
}

function isSpacedWord(t: Token): boolean {
  return t.kind === 'word' && t.spaceBefore;
}

function isAt(t: Token): boolean {
  return t.kind === 'special' && t.text === '@';
}

/** Display-name text: words joined by single spaces where the header had white space. */
function joinPhrase(tokens: Token[]): string {
  let out = '';
  for (const t of tokens) {
    if (t.kind === 'comment') continue;
    if (out && isSpacedWord(t)) out += ' ';
    out += t.text;
  }
  return out;
}

/** addr-spec tokens joined without the white space folding put between them. */
function joinAddress(tokens: Token[]): string {
  let out = '';
  for (const t of tokens) {
    if (t.kind === 'comment') continue;
    out += t.kind === 'word' && t.quoted ? `"${t.text}"` : t.text;
  }
  // Drop an obsolete source route: <@a,@b:user@host>.
  const colon = out.lastIndexOf(':');
  return colon >= 0 && out.startsWith('@') ? out.slice(colon + 1) : out;
}

/** Splits tokens into runs separated by white space. */
function spacedRuns(words: Token[]): Token[][] {
  const runs: Token[][] = [];
  for (const t of words) {
    const last = runs[runs.length - 1];
    if (last === undefined || isSpacedWord(t)) runs.push([t]);
    else last.push(t);
  }
  return runs;
}

interface Mailbox {
  address: string;
  rawName: string;
}

/**
 * Mailboxes written without <...>: usually one addr-spec, sometimes a name followed by an address,
 * or several addresses someone forgot the commas between.
 */
function bareMailboxes(words: Token[], problems: ProblemList): Mailbox[] {
  if (words.length === 0) return [];
  const runs = spacedRuns(words);
  if (runs.length === 1) return [{ address: joinAddress(words), rawName: '' }];
  const withAt = runs.filter((run) => run.some(isAt));
  if (withAt.length === 0) {
    problems.push(`mailbox without an address: ${excerpt(joinPhrase(words))}`);
    return [{ address: '', rawName: joinPhrase(words) }];
  }
  // Obsolete white space around the dots and @ of one address: "jdoe@test   . example".
  const foldedAroundDots = runs.every((run, k) => {
    if (k === 0) return true;
    const previous = runs[k - 1] ?? [];
    return /^[.@]/.test(run[0]?.text ?? '') || /[.@]$/.test(previous[previous.length - 1]?.text ?? '');
  });
  if (foldedAroundDots) return [{ address: joinAddress(words), rawName: '' }];
  if (withAt.length === runs.length) {
    problems.push(`addresses not separated by commas: ${excerpt(joinPhrase(words))}`);
    return runs.map((run) => ({ address: joinAddress(run), rawName: '' }));
  }
  // "John Smith john@example.com": the last run holding an @ is the address, what precedes it the name.
  const last = runs.findLastIndex((run) => run.some(isAt));
  problems.push(`mailbox without angle brackets: ${excerpt(joinPhrase(words))}`);
  return [{ address: joinAddress(runs[last] ?? []), rawName: joinPhrase(runs.slice(0, last).flat()) }];
}

/** Tokens of one mailbox, between list separators. */
interface Entry {
  phrase: Token[];
  /** Tokens inside the first <...>; null when there was none. */
  angle: Token[] | null;
  angleCount: number;
  angleOpen: boolean;
  comments: string[];
}

function newEntry(): Entry {
  return { phrase: [], angle: null, angleCount: 0, angleOpen: false, comments: [] };
}

/**
 * Parses an RFC 5322 address list leniently: groups are flattened, comments become names when no
 * display name is given, and a mailbox that cannot be made sense of is kept as best it can be and
 * reported. `decode` turns a raw display name into text (RFC 2047 encoded words).
 */
export function parseAddressList(text: string, decode: (raw: string) => string): AddressListResult {
  const problems = new ProblemList();
  const addresses: MailAddress[] = [];
  let entry = newEntry();
  let inGroup = false;

  const finish = (): void => {
    const e = entry;
    entry = newEntry();
    if (e.angleCount > 1) problems.push('more than one <address> in one mailbox');
    let mailboxes: Mailbox[];
    if (e.angle !== null) {
      // Text in <...> without an @ is no address, but it is all the message says: keep it readable.
      const address = e.angle.some(isAt) ? joinAddress(e.angle) : joinPhrase(e.angle);
      mailboxes = [{ address, rawName: joinPhrase(e.phrase) }];
    } else {
      mailboxes = bareMailboxes(e.phrase, problems);
      if (mailboxes.length === 0 && e.comments.length > 0) problems.push('mailbox with only a comment');
    }
    for (const m of mailboxes) {
      let name = cleanText(decode(m.rawName));
      if (!name && e.comments.length > 0 && mailboxes.length === 1) name = cleanText(decode(e.comments.join(' ')));
      const address = cleanText(m.address);
      if (!address && !name) continue;
      if (addresses.length < MAX_ADDRESSES) addresses.push(name ? { address, name } : { address });
    }
  };

  for (const t of tokenize(text, problems)) {
    if (addresses.length >= MAX_ADDRESSES) break;
    if (t.kind === 'comment') {
      entry.comments.push(t.text);
      continue;
    }
    if (entry.angleOpen) {
      if (t.kind === 'special' && t.text === '>') {
        entry.angleOpen = false;
      } else if (t.kind === 'special' && t.text === ',') {
        problems.push('unterminated "<"');
        finish();
      } else if (t.kind === 'special' && t.text === '<') {
        problems.push('"<" inside <address>');
      } else if (entry.angleCount === 1) {
        entry.angle?.push(t);
      }
      continue;
    }
    if (t.kind === 'word') {
      entry.phrase.push(t);
      continue;
    }
    switch (t.text) {
      case '<':
        entry.angleCount++;
        entry.angleOpen = true;
        if (entry.angle === null) entry.angle = [];
        break;
      case '>':
        problems.push('unmatched ">"');
        break;
      case ',':
        finish();
        break;
      case ':':
        if (!inGroup && entry.angle === null && !entry.phrase.some((p) => p.kind === 'special')) {
          // A group: its name is not a mailbox; its members are flattened into the list.
          inGroup = true;
          entry = newEntry();
        } else {
          entry.phrase.push(t);
        }
        break;
      case ';':
        finish();
        inGroup = false;
        break;
      case '@':
        entry.phrase.push(t);
        break;
    }
  }
  if (entry.angleOpen) problems.push('unterminated "<"');
  finish();
  if (inGroup) problems.push('group not terminated by ";"');
  return { addresses, problems: problems.list };
}
