import { describe, expect, it } from 'vitest';
import type { RestoreItem } from '@mlr/contracts';
import {
  appendFlags,
  boundedReason,
  countOutcomes,
  destinationOf,
  isImapKeyword,
  restoreJobState,
} from './restore-plan.js';

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
};

describe('destinationOf', () => {
  it('puts each message back where it came from for the original target', () => {
    expect(destinationOf({ kind: 'original' }, item)).toEqual({
      kind: 'imap',
      mailbox: 'alice@example.com',
      folder: 'Projects/2026',
    });
  });

  it('keeps the mailbox and replaces the folder for a folder target', () => {
    expect(destinationOf({ kind: 'folder', folder: 'Restored Items/2026-11-24' }, item)).toEqual({
      kind: 'imap',
      mailbox: 'alice@example.com',
      folder: 'Restored Items/2026-11-24',
    });
  });

  it('uses the other mailbox, and the target folder or else the original one, for a mailbox target', () => {
    expect(destinationOf({ kind: 'mailbox', mailbox: 'bob@example.com' }, item)).toEqual({
      kind: 'imap',
      mailbox: 'bob@example.com',
      folder: 'Projects/2026',
    });
    expect(destinationOf({ kind: 'mailbox', mailbox: 'bob@example.com', folder: 'From Alice' }, item)).toEqual({
      kind: 'imap',
      mailbox: 'bob@example.com',
      folder: 'From Alice',
    });
  });

  it('names the export file for an export target', () => {
    expect(destinationOf({ kind: 'export', format: 'mbox', fileName: 'case-17.mbox' }, item)).toEqual({
      kind: 'export',
      fileName: 'case-17.mbox',
    });
  });
});

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

describe('restoreJobState', () => {
  it('succeeds when nothing failed (skipped items are not failures)', () => {
    expect(restoreJobState({ restored: 3, skipped: 2, failed: 0 })).toBe('succeeded');
    expect(restoreJobState({ restored: 0, skipped: 5, failed: 0 })).toBe('succeeded');
  });

  it('is partially failed when some items failed', () => {
    expect(restoreJobState({ restored: 3, skipped: 0, failed: 1 })).toBe('partially_failed');
    expect(restoreJobState({ restored: 0, skipped: 1, failed: 1 })).toBe('partially_failed');
  });

  it('fails when every item failed or the job could not run', () => {
    expect(restoreJobState({ restored: 0, skipped: 0, failed: 4 })).toBe('failed');
    expect(restoreJobState({ restored: 0, skipped: 0, failed: 0 }, { jobFailed: true })).toBe('failed');
    expect(restoreJobState({ restored: 2, skipped: 0, failed: 0 }, { jobFailed: true })).toBe('partially_failed');
  });

  it('counts outcomes', () => {
    expect(countOutcomes([{ outcome: 'restored' }, { outcome: 'failed' }, { outcome: 'restored' }])).toEqual({
      restored: 2,
      skipped: 0,
      failed: 1,
    });
  });
});

describe('boundedReason', () => {
  it('keeps reasons within the contract limit', () => {
    expect(boundedReason('short')).toBe('short');
    expect(boundedReason('x'.repeat(5000))).toHaveLength(2048);
  });
});
