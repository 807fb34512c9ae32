import type { ObjectCommit } from '@mlr/contracts';
import { describe, expect, it } from 'vitest';
import { storedRecordMsgId } from './stored-record-id.js';

const contentId = 'c'.repeat(64);
const commit = {
  tenantId: 'acme',
  jobId: 'job-1',
  contentId,
  keyId: '0123456789abcdef',
  plainSize: 10,
  upload: null,
  record: {
    tenantId: 'acme',
    mailbox: 'alice@acme.test',
    folder: 'INBOX',
    sourceKey: { uidValidity: '7', uid: 42 },
    contentId,
  },
} as unknown as ObjectCommit;

describe('storedRecordMsgId', () => {
  it('is the same for every redelivery of one commit message', () => {
    expect(storedRecordMsgId(commit, 17)).toBe(storedRecordMsgId(structuredClone(commit), 17));
    expect(storedRecordMsgId(commit, 17)).toMatch(/^stored-[0-9a-f]{64}$/);
  });

  it('differs for another sighting, job or commit message', () => {
    const id = storedRecordMsgId(commit, 17);
    const other = (change: (c: ObjectCommit) => void) => {
      const copy = structuredClone(commit);
      change(copy);
      return storedRecordMsgId(copy, 17);
    };
    expect(storedRecordMsgId(commit, 18)).not.toBe(id);
    expect(other((c) => (c.record.mailbox = 'bob@acme.test'))).not.toBe(id);
    expect(other((c) => (c.record.folder = 'Sent'))).not.toBe(id);
    expect(other((c) => (c.record.sourceKey.uid = 43))).not.toBe(id);
    expect(other((c) => (c.record.sourceKey.uidValidity = '8'))).not.toBe(id);
    expect(other((c) => (c.jobId = 'job-2'))).not.toBe(id);
    expect(other((c) => (c.tenantId = 'other'))).not.toBe(id);
  });

  it('cannot be forged by moving text between fields', () => {
    const a = structuredClone(commit);
    a.record.mailbox = 'a|b';
    a.record.folder = 'c';
    const b = structuredClone(commit);
    b.record.mailbox = 'a';
    b.record.folder = 'b|c';
    expect(storedRecordMsgId(a, 1)).not.toBe(storedRecordMsgId(b, 1));
  });
});
