import type { JobView } from '@mlr/testing';
import { describe, expect, it } from 'vitest';
import { checkBackups, type BackupOutcome } from './backup-checks.js';

const job = (overrides: Partial<JobView> = {}, counters: Partial<JobView['counters']> = {}): JobView => ({
  id: 'job-1',
  state: 'succeeded',
  counters: {
    seen: 500,
    new: 500,
    deduplicated: 0,
    bytes: 25_000_000,
    failed: 0,
    restored: 0,
    skipped: 0,
    ...counters,
  },
  errorCount: 0,
  errors: [],
  ...overrides,
});
const outcome = (overrides: Partial<BackupOutcome> = {}): BackupOutcome => ({
  tenantId: 'bench',
  mailbox: 'bench',
  expected: 500,
  job: job(),
  indexRecords: 500,
  storedObjects: 500,
  unreferencedMembers: 0,
  ...overrides,
});

describe('what a backup benchmark achieved', () => {
  it('passes a job that succeeded with every message seen, stored and indexed', () => {
    const checked = checkBackups([outcome()]);
    expect(checked.failures).toEqual([]);
    expect(checked.achieved).toBe(500);
    expect(checked.verification.every((v) => v.ok)).toBe(true);
  });

  it('fails a job that did not succeed, or failed messages, whatever the database holds', () => {
    expect(
      checkBackups([outcome({ job: job({ state: 'partially_failed' }, { failed: 3, new: 497 }) })]).failures,
    ).toEqual([
      'tenant bench, job job-1 ended partially_failed, not succeeded',
      'tenant bench, job job-1 failed 3 messages',
      'tenant bench, job job-1 stored 497 new objects, not 500',
    ]);
    const withErrors = job({ errorCount: 2, errors: [{ scope: 'message', target: 'INBOX/7', message: 'timeout' }] });
    expect(checkBackups([outcome({ job: withErrors })]).failures).toEqual([
      'tenant bench, job job-1 recorded 2 errors, first: {"scope":"message","target":"INBOX/7","message":"timeout"}',
    ]);
  });

  it('fails, and counts only what the index holds, when a succeeded job left the index short', () => {
    const checked = checkBackups([outcome({ indexRecords: 480 }), outcome({ tenantId: 'bench-2', mailbox: 'bench2' })]);
    expect(checked.failures).toEqual(['the index holds 480 records of tenant bench, job job-1, not 500']);
    expect(checked.achieved).toBe(980);
  });

  it('fails when the job saw fewer messages than were seeded, or storage recorded more objects', () => {
    expect(
      checkBackups([outcome({ job: job({}, { seen: 450, new: 450 }), indexRecords: 450, storedObjects: 501 })])
        .failures,
    ).toEqual([
      'tenant bench, job job-1 saw 450 messages, not 500',
      'tenant bench, job job-1 stored 450 new objects, not 500',
      'the index holds 450 records of tenant bench, job job-1, not 500',
      'storage recorded 501 objects of tenant bench, job job-1, not 500',
    ]);
  });

  it('fails when packs hold members no stored object points at', () => {
    const checked = checkBackups([outcome({ unreferencedMembers: 3 })]);
    expect(checked.failures).toEqual(['3 pack members of tenant bench, job job-1 are referenced by no stored object']);
    expect(checked.verification.find((v) => v.check.startsWith('unreferenced'))).toMatchObject({
      actual: 3,
      ok: false,
    });
  });
});
