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
