import { describe, expect, it } from 'vitest';
import {
  ContractViolation,
  backupFilterSchema,
  connectorPermissions,
  parseChannelPayload,
  parseContract,
  parseSubject,
  subjects,
  type ChannelPayloads,
  type Channel,
  type Subject,
} from '../index.js';

const validJob = {
  kind: 'backup',
  jobId: 'job-1',
  tenantId: 'acme',
  connectorId: 'imap-1',
  requestedAt: '2026-11-24T06:00:00.000Z',
  requestedBy: 'admin@acme.example',
  mailboxes: { kind: 'all' },
  filter: { fromDate: '2026-01-01T00:00:00Z' },
};

/** The shape of a typed publisher: the payload type follows from the subject's channel. */
const published: Array<[string, unknown]> = [];
function publish<C extends Channel>(subject: Subject<C>, payload: ChannelPayloads[C]): void {
  published.push([subject, payload]);
}

describe('subjects', () => {
  it('builds and reads tenant subjects', () => {
    expect(subjects.jobs('acme', 'imap-1')).toBe('mlr.acme.jobs.imap-1');
    expect(parseSubject('mlr.acme.jobs.imap-1')).toEqual({ channel: 'jobs', tenantId: 'acme', connectorId: 'imap-1' });
    expect(parseSubject('mlr.acme.objects')).toEqual({ channel: 'objects', tenantId: 'acme' });
    expect(parseSubject('mlr.svc.storage.health')).toBeNull();
    expect(parseSubject('other.acme.objects')).toBeNull();
  });

  it('refuses ids that would smuggle wildcards or separators into a subject', () => {
    expect(() => subjects.objects('acme.*')).toThrow(/tenantId: "acme\.\*" is not a valid id/);
    expect(() => subjects.jobs('acme', '>')).toThrow(ContractViolation);
  });

  it('types payloads by subject so a wrong payload does not compile', () => {
    publish(subjects.jobs('acme', 'imap-1'), parseChannelPayload('jobs', 'mlr.acme.jobs.imap-1', validJob));
    // @ts-expect-error an index event is not a job command
    publish(subjects.jobs('acme', 'imap-1'), {
      tenantId: 'acme',
      jobId: 'j',
      contentId: 'x',
    } as ChannelPayloads['indexed']);
    // @ts-expect-error a plain string is not a subject
    publish('mlr.acme.jobs.imap-1', validJob as ChannelPayloads['jobs']);
    expect(published.map(([subject]) => subject)).toContain('mlr.acme.jobs.imap-1');
  });
});

describe('inbound validation', () => {
  it('accepts a valid job command and fills defaults', () => {
    const job = parseChannelPayload('jobs', 'mlr.acme.jobs.imap-1', validJob);
    expect(job.kind).toBe('backup');
    expect(job.kind === 'backup' && job.full).toBe(false);
  });

  it('names the bad field', () => {
    const bad = { ...validJob, jobId: 42 };
    expect(() => parseChannelPayload('jobs', 'mlr.acme.jobs.imap-1', bad)).toThrow(/jobId: .*expected string/i);
  });

  it('names a nested bad field and reversed dates', () => {
    const bad = {
      ...validJob,
      filter: { fromDate: '2026-05-01T00:00:00Z', toDate: '2026-01-01T00:00:00Z', minSize: -1 },
    };
    try {
      parseChannelPayload('jobs', 'mlr.acme.jobs.imap-1', bad);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ContractViolation);
      const message = (error as Error).message;
      expect(message).toMatch(/filter\.minSize/);
    }
    const reversed = backupFilterSchema.safeParse({ fromDate: '2026-05-01T00:00:00Z', toDate: '2026-01-01T00:00:00Z' });
    expect(reversed.success).toBe(false);
    expect(() =>
      parseContract('filter', backupFilterSchema, { fromDate: '2026-05-01T00:00:00Z', toDate: '2026-01-01T00:00:00Z' }),
    ).toThrow(/toDate: toDate is before fromDate/);
  });

  it('refuses unknown fields instead of ignoring them', () => {
    expect(() => parseContract('filter', backupFilterSchema, { fromDat: '2026-01-01T00:00:00Z' })).toThrow(/fromDat/);
  });

  it('refuses a payload whose tenant differs from the subject tenant', () => {
    expect(() => parseChannelPayload('jobs', 'mlr.other.jobs.imap-1', validJob)).toThrow(
      /does not match the subject's tenant/,
    );
  });

  it('refuses a payload on the wrong channel', () => {
    expect(() => parseChannelPayload('jobs', 'mlr.acme.objects', validJob)).toThrow(/is not a jobs subject/);
  });
});

describe('connector permissions', () => {
  it('stay within the tenant', () => {
    const permissions = connectorPermissions('acme', 'imap-1');
    for (const subject of [...permissions.publish, ...permissions.subscribe]) {
      expect(subject.startsWith('mlr.acme.') || subject.startsWith('$JS.') || subject.startsWith('_INBOX_acme.')).toBe(
        true,
      );
    }
    expect(permissions.publish.some((s) => s.includes('>') && s.startsWith('$JS.API'))).toBe(false);
  });
});

describe('index records', () => {
  const record = {
    tenantId: 'acme',
    mailbox: 'alice@acme.example',
    folder: 'INBOX',
    sourceKey: { uidValidity: '1700000000', uid: 7 },
    contentId: 'c'.repeat(64),
    messageId: null,
    submissionDate: null,
    internalDate: null,
    from: null,
    to: [],
    cc: [],
    bcc: [],
    subject: null,
    attachmentNames: [],
    hasAttachment: false,
    importance: 'normal',
    followUp: false,
    itemType: 'mail',
    flags: { seen: true, answered: false, flagged: false, draft: false, deleted: false },
    keywords: [],
    observedAt: '2026-11-24T06:00:01.250Z',
    size: 10,
    parseProblems: [],
    backupJobId: 'job-1',
  };
  const commit = (overrides: Record<string, unknown>) => ({
    tenantId: 'acme',
    jobId: 'job-1',
    contentId: 'c'.repeat(64),
    keyId: '0123456789abcdef',
    plainSize: 10,
    upload: null,
    record: { ...record, ...overrides },
  });

  it('carry when the connector read the flags', () => {
    const parsed = parseChannelPayload('objects', 'mlr.acme.objects', commit({}));
    expect(parsed.record.observedAt).toBe('2026-11-24T06:00:01.250Z');
    const offset = parseChannelPayload(
      'objects',
      'mlr.acme.objects',
      commit({ observedAt: '2026-11-24T07:00:01+01:00' }),
    );
    expect(offset.record.observedAt).toBe('2026-11-24T07:00:01+01:00');
  });

  it('are refused without an observation time, or with one that is not a date-time', () => {
    expect(() => parseChannelPayload('objects', 'mlr.acme.objects', commit({ observedAt: undefined }))).toThrow(
      /record\.observedAt/,
    );
    expect(() => parseChannelPayload('objects', 'mlr.acme.objects', commit({ observedAt: 'yesterday' }))).toThrow(
      /record\.observedAt: must be an ISO 8601 date-time/,
    );
  });
});
