import type { LineEnding } from '../message-facts.js';
import type { ProblemLog } from './problems.js';

const LF = 0x0a;
const CR = 0x0d;
/** RFC 5322 2.1.1: a line is at most 998 characters, CRLF excluded. */
const MAX_LINE = 998;

export interface ByteScan {
  lineEnding: LineEnding;
}

function countByte(buf: Buffer, byte: number, unless?: (i: number) => boolean): number {
  let count = 0;
  let i = buf.indexOf(byte);
  while (i !== -1) {
    if (!unless || !unless(i)) count++;
    i = buf.indexOf(byte, i + 1);
  }
  return count;
}

/**
 * Byte-level facts a restore cares about: line endings (some IMAP servers refuse bare LF), over-long
 * lines, bare CRs and NULs. Uses native searches only, so it costs little even on large messages.
 */
export function scanBytes(buf: Buffer, problems: ProblemLog): ByteScan {
  let crlf = 0;
  let lf = 0;
  let longLines = 0;
  let longest = 0;
  let lineStart = 0;
  let i = buf.indexOf(LF);
  while (i !== -1) {
    const withCr = i > lineStart && buf[i - 1] === CR;
    if (withCr) crlf++;
    else lf++;
    const length = i - lineStart - (withCr ? 1 : 0);
    if (length > MAX_LINE) {
      longLines++;
      if (length > longest) longest = length;
    }
    lineStart = i + 1;
    i = buf.indexOf(LF, lineStart);
  }
  const lastLength = buf.length - lineStart;
  if (lastLength > MAX_LINE) {
    longLines++;
    if (lastLength > longest) longest = lastLength;
  }
  const lineEnding: LineEnding = crlf + lf === 0 ? 'none' : lf === 0 ? 'crlf' : crlf === 0 ? 'lf' : 'mixed';
  if (lineEnding === 'lf') problems.add('bare LF line endings (no CRLF)');
  if (lineEnding === 'mixed') problems.add(`mixed line endings (${crlf} CRLF, ${lf} bare LF)`);
  const bareCr = countByte(buf, CR, (at) => buf[at + 1] === LF);
  if (bareCr > 0) problems.add(`${bareCr} bare CR ${bareCr === 1 ? 'character' : 'characters'}`);
  const nul = countByte(buf, 0);
  if (nul > 0) problems.add(`${nul} NUL ${nul === 1 ? 'byte' : 'bytes'}`);
  if (longLines > 0) {
    problems.add(
      `${longLines} ${longLines === 1 ? 'line' : 'lines'} longer than ${MAX_LINE} bytes (longest ${longest})`,
    );
  }
  return { lineEnding };
}
