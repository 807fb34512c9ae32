import type { RestoreItem } from '@mlr/contracts';

/**
 * A keyword IMAP can carry: an atom without the characters RFC 9051 reserves (`(){ %*"\]`, controls)
 * and not starting with a backslash (those are system flags). Outlook categories may hold spaces;
 * such a keyword cannot be set over IMAP.
 */
export function isImapKeyword(keyword: string): boolean {
  // eslint-disable-next-line no-control-regex
  return keyword.length > 0 && !keyword.startsWith('\\') && !/[\u0000-\u0020(){%*"\\\]\u007f-\uffff]/.test(keyword);
}

/**
 * The flags an APPEND sets for `item`: the system flags it had, and its keywords.
 *
 * \Deleted is never set, even when the message had it: a restore brings a message back, and a
 * message appended with \Deleted disappears at the next EXPUNGE (any client's, or the server's own
 * on CLOSE), so it would be "restored" only to vanish again. Keywords IMAP cannot carry are listed
 * in `dropped`, so the result can say so.
 */
export function appendFlags(item: Pick<RestoreItem, 'flags' | 'keywords'>): { flags: string[]; dropped: string[] } {
  const flags: string[] = [];
  if (item.flags.seen) flags.push('\\Seen');
  if (item.flags.answered) flags.push('\\Answered');
  if (item.flags.flagged) flags.push('\\Flagged');
  if (item.flags.draft) flags.push('\\Draft');
  const dropped: string[] = [];
  const seen = new Set<string>();
  for (const keyword of item.keywords) {
    if (!isImapKeyword(keyword)) {
      dropped.push(keyword);
      continue;
    }
    const key = keyword.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    flags.push(keyword);
  }
  return { flags, dropped };
}
