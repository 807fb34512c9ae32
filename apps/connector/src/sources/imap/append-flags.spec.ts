import { describe, expect, it } from 'vitest';
import type { RestoreItem } from '@mlr/contracts';
import { appendFlags, isImapKeyword } from './append-flags.js';

const item: RestoreItem = {
  seq: 3,
  recordId: 'rec-3',
  contentId: 'a'.repeat(64),
  mailbox: 'alice@example.com',
  folder: 'Projects/2026',
  messageId: '<m3@example.com>',
  subject: 'hello',
  internalDate: '2024-02-29T10:00:00.000Z',
  flags: { seen: true, answered: false, flagged: true, draft: false, deleted: true },
  keywords: ['$Label1', 'Work'],
  size: 1234,
  itemType: 'mail',
  form: 'rfc5322',
};

describe('appendFlags', () => {
  it('sets the recorded system flags and keywords, never \\Deleted', () => {
    expect(appendFlags(item)).toEqual({ flags: ['\\Seen', '\\Flagged', '$Label1', 'Work'], dropped: [] });
    expect(
      appendFlags({
        flags: { seen: false, answered: true, flagged: false, draft: true, deleted: false },
        keywords: [],
      }),
    ).toEqual({ flags: ['\\Answered', '\\Draft'], dropped: [] });
  });

  it('drops keywords IMAP cannot carry and names them, and sets each keyword once', () => {
    const result = appendFlags({
      flags: { seen: false, answered: false, flagged: false, draft: false, deleted: false },
      keywords: ['Red category', 'Work', 'work', '\\Recent', 'a(b', 'Späť'],
    });
    expect(result.flags).toEqual(['Work']);
    expect(result.dropped).toEqual(['Red category', '\\Recent', 'a(b', 'Späť']);
  });

  it('recognises IMAP keyword atoms', () => {
    expect(isImapKeyword('$Forwarded')).toBe(true);
    expect(isImapKeyword('NonJunk')).toBe(true);
    expect(isImapKeyword('')).toBe(false);
    expect(isImapKeyword('two words')).toBe(false);
    expect(isImapKeyword('quote"')).toBe(false);
    expect(isImapKeyword('star*')).toBe(false);
  });
});
