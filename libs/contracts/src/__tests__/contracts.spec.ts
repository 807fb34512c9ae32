import { describe, expect, it } from 'vitest';
import {
  ContractViolation,
  backupFilterSchema,
  connectorPermissions,
  parseChannelPayload,
  parseContract,
  parseSubject,
  subjects,
  tenantChunksStream,
  tenantOfChunksStream,
  uploadQuotaInputSchema,
  UPLOAD_QUOTA_DEFAULT_BYTES,
  UPLOAD_QUOTA_MIN_BYTES,
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

describe("tenants' chunk streams and upload quotas", () => {
  it('name one stream per tenant over its chunk subjects only, and read the tenant back', () => {
    expect(tenantChunksStream('acme')).toEqual({
      name: 'MLR_CHUNKS_acme',
      subjects: ['mlr.acme.chunks.*'],
      retention: 'limits',
    });
    expect(tenantOfChunksStream('MLR_CHUNKS_acme')).toBe('acme');
    expect(tenantOfChunksStream('MLR_CHUNKS')).toBeNull();
    expect(tenantOfChunksStream('MLR_CHUNKS_')).toBeNull();
    expect(tenantOfChunksStream('MLR_OBJECTS')).toBeNull();
    expect(() => tenantChunksStream('acme.*')).toThrow(/tenantId: "acme\.\*" is not a valid id/);
  });

  it('take a whole number of bytes between 16 MiB and 1 TiB, or null for the default', () => {
    expect(UPLOAD_QUOTA_DEFAULT_BYTES).toBe(1024 ** 3);
    expect(uploadQuotaInputSchema.parse({ bytes: UPLOAD_QUOTA_MIN_BYTES })).toEqual({ bytes: 16 * 1024 * 1024 });
    expect(uploadQuotaInputSchema.parse({ bytes: null })).toEqual({ bytes: null });
    for (const bytes of [UPLOAD_QUOTA_MIN_BYTES - 1, 1.5 * 1024 ** 3 + 0.5, 1024 ** 4 + 1, '1GiB', undefined]) {
      expect(uploadQuotaInputSchema.safeParse({ bytes }).success).toBe(false);
    }
    expect(uploadQuotaInputSchema.safeParse({ bytes: null, extra: 1 }).success).toBe(false);
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

/** A valid index record as a connector builds it; fields given override. */
function anIndexRecord(overrides: Record<string, unknown> = {}) {
  return {
    tenantId: 'acme',
    mailbox: 'alice@acme.example',
    folder: 'INBOX',
    sourceKey: { source: 'imap', epoch: '1700000000', id: '7' },
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
    ...overrides,
  };
}

describe('index records', () => {
  const record = anIndexRecord();

  const item = (overrides: Record<string, unknown>, sealed: unknown = { kind: 'inline', offset: 0, length: 100 }) => ({
    contentId: 'c'.repeat(64),
    keyId: '0123456789abcdef',
    plainSize: 10,
    sealed,
    record: { ...record, ...overrides },
  });
  const commit = (overrides: Record<string, unknown>, sealed?: unknown) => ({
    tenantId: 'acme',
    jobId: 'job-1',
    batchId: 'b1',
    items: [item(overrides, sealed)],
  });

  it('carry when the connector read the flags', () => {
    const parsed = parseChannelPayload('objects', 'mlr.acme.objects', commit({}));
    expect(parsed.items[0]!.record.observedAt).toBe('2026-11-24T06:00:01.250Z');
    const offset = parseChannelPayload(
      'objects',
      'mlr.acme.objects',
      commit({ observedAt: '2026-11-24T07:00:01+01:00' }),
    );
    expect(offset.items[0]!.record.observedAt).toBe('2026-11-24T07:00:01+01:00');
  });

  it('are refused without an observation time, or with one that is not a date-time', () => {
    expect(() => parseChannelPayload('objects', 'mlr.acme.objects', commit({ observedAt: undefined }))).toThrow(
      /items\.0\.record\.observedAt/,
    );
    expect(() => parseChannelPayload('objects', 'mlr.acme.objects', commit({ observedAt: 'yesterday' }))).toThrow(
      /record\.observedAt: must be an ISO 8601 date-time/,
    );
  });

  it('are mail stored as RFC 5322 unless they say otherwise (a record of an older connector)', () => {
    const older: Record<string, unknown> = { ...record };
    delete older.form;
    delete older.kindFields;
    const parsed = parseChannelPayload('objects', 'mlr.acme.objects', {
      ...commit({}),
      items: [{ ...item({}), record: older }],
    });
    expect(parsed.items[0]!.record).toMatchObject({ form: 'rfc5322', kindFields: null });
  });

  it('carry the fields of their kind, and are refused when kind, form and fields disagree', () => {
    const contact = {
      kind: 'contact',
      uid: 'u1',
      displayName: 'Zoë',
      givenName: null,
      familyName: null,
      organization: null,
      jobTitle: null,
      emails: [{ value: 'zoe@example.com', type: 'work' }],
      phones: [],
      addresses: [],
      birthday: '1980-02-29',
      isGroup: false,
      members: [],
    };
    const ok = parseChannelPayload(
      'objects',
      'mlr.acme.objects',
      commit({ itemType: 'contact', form: 'vcard', kindFields: contact }),
    );
    expect(ok.items[0]!.record.kindFields).toEqual(contact);
    expect(() =>
      parseChannelPayload('objects', 'mlr.acme.objects', commit({ itemType: 'mail', form: 'vcard' })),
    ).toThrow(/record\.form: an item of kind mail is not stored as vcard/);
    expect(() =>
      parseChannelPayload(
        'objects',
        'mlr.acme.objects',
        commit({ itemType: 'task', form: 'icalendar', kindFields: contact }),
      ),
    ).toThrow(/record\.kindFields: fields of kind contact on an item of kind task/);
    expect(() =>
      parseChannelPayload(
        'objects',
        'mlr.acme.objects',
        commit({ itemType: 'contact', form: 'vcard', kindFields: { ...contact, birthday: 'soon' } }),
      ),
    ).toThrow(/kindFields\.birthday/);
    expect(() =>
      parseChannelPayload(
        'objects',
        'mlr.acme.objects',
        commit({ itemType: 'contact', form: 'vcard', kindFields: { ...contact, extra: 1 } }),
      ),
    ).toThrow(/kindFields/);
  });
});

describe('commit batches', () => {
  const batch = (items: unknown[]) => ({ tenantId: 'acme', jobId: 'job-1', batchId: 'b1', items });
  const record = (tenantId = 'acme', contentId = 'c'.repeat(64)) => anIndexRecord({ tenantId, contentId });

  const item = (sealed: unknown, rec = record()) => ({
    contentId: 'c'.repeat(64),
    keyId: '0123456789abcdef',
    plainSize: 10,
    sealed,
    record: rec,
  });

  it('take inline objects and chunked ones whose chunks add up', () => {
    const chunks = {
      kind: 'chunks',
      uploadId: 'u1',
      sealedSize: 30,
      chunks: [
        { sequence: 7, offset: 0, length: 20 },
        { sequence: 9, offset: 20, length: 10 },
      ],
    };
    expect(
      parseChannelPayload(
        'objects',
        'mlr.acme.objects',
        batch([item({ kind: 'inline', offset: 0, length: 5 }), item(chunks)]),
      ).items,
    ).toHaveLength(2);
  });

  it('refuse chunks with gaps or a wrong total, and records of another tenant or content', () => {
    const gap = { kind: 'chunks', uploadId: 'u1', sealedSize: 30, chunks: [{ sequence: 1, offset: 5, length: 25 }] };
    expect(() => parseChannelPayload('objects', 'mlr.acme.objects', batch([item(gap)]))).toThrow(
      /chunk 0 starts at byte 5/,
    );
    const short = { kind: 'chunks', uploadId: 'u1', sealedSize: 31, chunks: [{ sequence: 1, offset: 0, length: 30 }] };
    expect(() => parseChannelPayload('objects', 'mlr.acme.objects', batch([item(short)]))).toThrow(
      /hold 30 bytes, not 31/,
    );
    const inline = { kind: 'inline', offset: 0, length: 5 };
    expect(() => parseChannelPayload('objects', 'mlr.acme.objects', batch([item(inline, record('other'))]))).toThrow(
      /record belongs to another tenant/,
    );
    expect(() =>
      parseChannelPayload('objects', 'mlr.acme.objects', batch([item(inline, record('acme', 'd'.repeat(64)))])),
    ).toThrow(/record names another content id/);
    expect(() => parseChannelPayload('objects', 'mlr.acme.objects', batch([]))).toThrow(/items/);
  });
});
