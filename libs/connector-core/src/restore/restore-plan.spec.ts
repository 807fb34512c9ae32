import { describe, expect, it } from 'vitest';
import type { RestoreItem } from '@mlr/contracts';
import { boundedReason, countOutcomes, destinationOf, restoreJobState } from './restore-plan.js';

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

describe('destinationOf', () => {
  it('puts each message back where it came from for the original target', () => {
    expect(destinationOf({ kind: 'original' }, item)).toEqual({
      kind: 'mailbox',
      mailbox: 'alice@example.com',
      folder: 'Projects/2026',
    });
  });

  it('keeps the mailbox and replaces the folder for a folder target', () => {
    expect(destinationOf({ kind: 'folder', folder: 'Restored Items/2026-11-24' }, item)).toEqual({
      kind: 'mailbox',
      mailbox: 'alice@example.com',
      folder: 'Restored Items/2026-11-24',
    });
  });

  it('uses the other mailbox, and the target folder or else the original one, for a mailbox target', () => {
    expect(destinationOf({ kind: 'mailbox', mailbox: 'bob@example.com' }, item)).toEqual({
      kind: 'mailbox',
      mailbox: 'bob@example.com',
      folder: 'Projects/2026',
    });
    expect(destinationOf({ kind: 'mailbox', mailbox: 'bob@example.com', folder: 'From Alice' }, item)).toEqual({
      kind: 'mailbox',
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

describe('restoreJobState', () => {
  it('succeeds when nothing failed (skipped items are not failures)', () => {
    expect(restoreJobState({ restored: 3, skipped: 2, failed: 0, refused: 0 })).toBe('succeeded');
    expect(restoreJobState({ restored: 0, skipped: 5, failed: 0, refused: 0 })).toBe('succeeded');
  });

  it('is partially failed when some items failed', () => {
    expect(restoreJobState({ restored: 3, skipped: 0, failed: 1, refused: 0 })).toBe('partially_failed');
    expect(restoreJobState({ restored: 0, skipped: 1, failed: 1, refused: 0 })).toBe('partially_failed');
  });

  it('fails when every item failed or the job could not run', () => {
    expect(restoreJobState({ restored: 0, skipped: 0, failed: 4, refused: 0 })).toBe('failed');
    expect(restoreJobState({ restored: 0, skipped: 0, failed: 0, refused: 0 }, { jobFailed: true })).toBe('failed');
    expect(restoreJobState({ restored: 2, skipped: 0, failed: 0, refused: 0 }, { jobFailed: true })).toBe(
      'partially_failed',
    );
  });

  it('counts outcomes', () => {
    expect(countOutcomes([{ outcome: 'restored' }, { outcome: 'failed' }, { outcome: 'restored' }])).toEqual({
      restored: 2,
      skipped: 0,
      failed: 1,
      refused: 0,
    });
  });
});

describe('boundedReason', () => {
  it('keeps reasons within the contract limit', () => {
    expect(boundedReason('short')).toBe('short');
    expect(boundedReason('x'.repeat(5000))).toHaveLength(2048);
  });
});
