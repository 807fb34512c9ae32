import { describe, expect, it } from 'vitest';
import { folderCheckpointSchema, jobEventSchema, reportedCheckpointSchema } from '../index.js';

const cursor = {
  source: 'imap',
  version: 1,
  epoch: '1700000000',
  position: '42',
  changes: '9001',
  state: null,
};

describe('source cursors', () => {
  it('take a versioned cursor of any source, its state opaque', () => {
    expect(folderCheckpointSchema.parse({ mailbox: 'alice', folder: 'INBOX', cursor })).toEqual({
      mailbox: 'alice',
      folder: 'INBOX',
      cursor,
    });
    const graph = { ...cursor, source: 'graph', epoch: 'delta', changes: null, state: 'https://graph/delta?token=x' };
    expect(folderCheckpointSchema.parse({ mailbox: 'a', folder: 'Inbox', cursor: graph }).cursor).toEqual(graph);
  });

  it('refuse positions and counters that are not decimal, have leading zeros or exceed a bigint', () => {
    for (const position of ['-1', '1.5', '007', '', '9223372036854775808', 'x']) {
      expect(
        folderCheckpointSchema.safeParse({ mailbox: 'a', folder: 'b', cursor: { ...cursor, position } }).success,
      ).toBe(false);
    }
    expect(
      folderCheckpointSchema.safeParse({
        mailbox: 'a',
        folder: 'b',
        cursor: { ...cursor, changes: '9223372036854775807' },
      }).success,
    ).toBe(true);
    expect(
      folderCheckpointSchema.safeParse({ mailbox: 'a', folder: 'b', cursor: { ...cursor, source: 'IMAP!' } }).success,
    ).toBe(false);
    expect(
      folderCheckpointSchema.safeParse({ mailbox: 'a', folder: 'b', cursor: { ...cursor, version: 0 } }).success,
    ).toBe(false);
  });

  it("read the IMAP form of earlier connectors' job events as the IMAP cursor", () => {
    const legacy = { mailbox: 'alice', folder: 'INBOX', uidValidity: '007', lastUid: 42, highestModSeq: '9001' };
    expect(reportedCheckpointSchema.parse(legacy)).toEqual({
      mailbox: 'alice',
      folder: 'INBOX',
      cursor: { ...cursor, epoch: '7' },
    });
    expect(reportedCheckpointSchema.parse({ ...legacy, highestModSeq: null }).cursor.changes).toBeNull();
    // The IMAP form with a field of the cursor form is neither.
    expect(reportedCheckpointSchema.safeParse({ ...legacy, cursor }).success).toBe(false);
    const event = jobEventSchema.parse({
      tenantId: 'acme',
      jobId: 'job-1',
      connectorId: 'imap-1',
      kind: 'backup',
      sequence: 1,
      at: '2026-12-07T10:00:00.000Z',
      state: 'running',
      counters: { seen: 1, new: 1, deduplicated: 0, bytes: 10, failed: 0, restored: 0, skipped: 0 },
      checkpoints: [legacy],
      errors: [],
    });
    expect(event.checkpoints[0]?.cursor.position).toBe('42');
  });
});
