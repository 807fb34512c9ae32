import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { IMPORTANCE, type SearchHit } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { REPO_ROOT, startApp, type RunningApp } from '@mlr/testing';
import type { SearchPosition } from '../search-cursor.js';
import {
  containsPattern,
  probeable,
  probeStatement,
  searchStatement,
  type SearchFilter,
  type SearchRow,
} from '../search-sql.js';
import {
  aRecord,
  insertRecords,
  messageDate,
  resultOrder,
  SearchClient,
  type RecordSpec,
  type StoredSpec,
} from './search-fixtures.js';

/** `records.search` over NATS against a real indexing service and PostgreSQL. */
const infra = inject('infra');
const tenantId = `search-it-${randomBytes(4).toString('hex')}`;
const otherTenantId = `${tenantId}-other`;
const logDir = join(REPO_ROOT, 'tmp', 'test-logs', tenantId);

const ALICE = 'alice@acme.test';
const BOB = 'bob@acme.test';
const SHARED = 'shared@acme.test';
const TIE = new Date('2024-06-01T12:00:00.000Z');

/** A small deterministic generator, so that a failure can be reproduced. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** 72 records that between them exercise every criterion, equal dates and missing dates included. */
function dataset(tenant: string): RecordSpec[] {
  const random = prng(42);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const subjects = [
    'Quarterly budget review',
    'Re: budget 100% approved',
    'Lunch on Friday',
    'Invoice_2024 attached',
    'Zanzibar trip photos',
    // Would match '100%' and 'e_2' if LIKE's wildcards were not escaped.
    'Sales up 100 percent',
    'Invoice 2024 draft',
    null,
  ];
  const attachments = [[], [], ['report-Q3.pdf'], ['invoice_2024.xlsx', 'notes.txt'], ['IMG 0042.JPG']];
  const senders = ['carol@example.org', 'dave@sub.example.org', 'erin@other.test', ALICE];
  return Array.from({ length: 72 }, (_, i) => {
    const uid = i + 1;
    const names = pick(attachments);
    let submissionDate: Date | null = new Date(Date.UTC(2023, 0, 1) + Math.floor(random() * 700 * 86_400_000));
    let internalDate: Date | null = new Date(submissionDate.getTime() + 90_000);
    if (uid % 10 === 0) submissionDate = TIE;
    if (uid % 13 === 0) submissionDate = null;
    if (uid % 29 === 0) internalDate = submissionDate = null;
    return aRecord(tenant, uid, {
      mailbox: pick([ALICE, BOB, SHARED]),
      folder: pick(['INBOX', 'Sent', 'Projects/Zeta']),
      submissionDate,
      internalDate,
      sender: uid % 31 === 0 ? null : pick(senders),
      to: random() < 0.5 ? [pick([ALICE, BOB])] : [pick([ALICE, BOB]), 'frank@example.org'],
      cc: random() < 0.3 ? ['grace@example.net'] : [],
      bcc: random() < 0.2 ? ['heidi@acme.test'] : [],
      subject: pick(subjects),
      attachmentNames: names,
      hasAttachment: names.length > 0,
      followUp: random() < 0.2,
      importance: pick(IMPORTANCE),
      itemType: random() < 0.8 ? 'mail' : pick(['task', 'appointment'] as const),
      seen: random() < 0.6,
      answered: random() < 0.3,
      flagged: random() < 0.2,
      size: 100 + Math.floor(random() * 100_000),
      backupJobId: pick(['job-1', 'job-2']),
    });
  });
}

type Criteria = Record<string, unknown>;

const inRange = (spec: RecordSpec, from?: string, to?: string) => {
  const date = messageDate(spec);
  if (date === null) return false;
  return (!from || date.getTime() >= Date.parse(from)) && (!to || date.getTime() <= Date.parse(to));
};
const addressMatches = (address: string | null, wanted: string) => {
  if (address === null) return false;
  const w = wanted.toLowerCase().replace(/^@/, '');
  return wanted.includes('@') && !wanted.startsWith('@') ? address === w : address.split('@').pop() === w;
};
const contains = (text: string | null, part: string) => (text ?? '').toLowerCase().includes(part.toLowerCase());

/** The documented meaning of each criterion, written independently of the SQL. */
function matches(spec: RecordSpec, c: Criteria): boolean {
  const s = (key: string) => c[key] as string | undefined;
  if ((c['fromDate'] || c['toDate']) && !inRange(spec, s('fromDate'), s('toDate'))) return false;
  if (c['from'] !== undefined && !addressMatches(spec.sender, s('from')!)) return false;
  if (c['to'] !== undefined && ![...spec.to, ...spec.cc, ...spec.bcc].some((a) => addressMatches(a, s('to')!)))
    return false;
  if (c['subject'] !== undefined && !contains(spec.subject, s('subject')!)) return false;
  if (c['attachmentName'] !== undefined && !spec.attachmentNames.some((n) => contains(n, s('attachmentName')!)))
    return false;
  if (c['mailboxes'] !== undefined && !(c['mailboxes'] as string[]).includes(spec.mailbox)) return false;
  for (const key of ['folder', 'itemType', 'seen', 'answered', 'flagged', 'followUp', 'importance', 'hasAttachment'])
    if (c[key] !== undefined && spec[key as keyof RecordSpec] !== c[key]) return false;
  if (c['backupJobId'] !== undefined && spec.backupJobId !== c['backupJobId']) return false;
  if (c['minSize'] !== undefined && spec.size < (c['minSize'] as number)) return false;
  if (c['maxSize'] !== undefined && spec.size > (c['maxSize'] as number)) return false;
  return true;
}

let app: RunningApp;
let prisma: PrismaClient;
let client: SearchClient;
let records: StoredSpec[];
let otherRecords: StoredSpec[];

const base = () => ({ tenantId, visibleMailboxes: 'all' as const });
const ids = (items: readonly { id: string }[]) => items.map((item) => item.id);
const expected = (criteria: Criteria, within: readonly StoredSpec[] = records) =>
  ids([...within].filter((spec) => matches(spec, criteria)).sort(resultOrder));

beforeAll(async () => {
  if (!infra.postgres || !infra.nats) throw new Error('the integration tier needs PostgreSQL and NATS');
  prisma = createPrismaClient(infra.postgres.databaseUrl, { maxConnections: 4 });
  for (const id of [tenantId, otherTenantId]) {
    await prisma.tenant.create({ data: { id, name: `Search IT ${id}`, slug: id } });
  }
  records = await insertRecords(prisma, dataset(tenantId));
  // Another tenant with the very same mailboxes, people and subjects.
  otherRecords = await insertRecords(prisma, dataset(otherTenantId));
  app = await startApp({ app: 'indexing', env: { ...infra.serviceEnv, LOG_LEVEL: 'info' }, logDir });
  client = await SearchClient.connect(infra);
});

afterAll(async () => {
  await client?.close();
  await app?.stop();
  await prisma?.$disconnect();
});

describe('records.search', () => {
  it('returns every record of the tenant, newest message date first, undated last', async () => {
    const { items, pages } = await client.all({ ...base(), limit: 7 });
    expect(ids(items)).toEqual(expected({}));
    expect(pages).toBe(Math.ceil(records.length / 7));
    const undated = items.filter((item) => item.date === null);
    expect(undated.length).toBeGreaterThan(0);
    expect(items.slice(-undated.length)).toEqual(undated);
  });

  it('returns what a user needs to recognise and restore a message', async () => {
    const spec = records.find((r) => r.submissionDate && r.attachmentNames.length > 0 && r.sender)!;
    const { items } = await client.all({ ...base(), mailboxes: [spec.mailbox], limit: 500 });
    const hit = items.find((item) => item.id === spec.id) as SearchHit;
    const row = await prisma.indexRecord.findUniqueOrThrow({ where: { id: spec.id } });
    expect(hit).toEqual({
      id: spec.id,
      mailbox: spec.mailbox,
      folder: spec.folder,
      contentId: row.contentId,
      messageId: row.messageId,
      date: spec.submissionDate!.toISOString(),
      submissionDate: spec.submissionDate!.toISOString(),
      internalDate: spec.internalDate!.toISOString(),
      from: { address: spec.sender, name: spec.senderName },
      to: spec.to,
      cc: spec.cc,
      bcc: spec.bcc,
      subject: spec.subject,
      attachmentNames: spec.attachmentNames,
      hasAttachment: spec.hasAttachment,
      flags: { seen: spec.seen, answered: spec.answered, flagged: spec.flagged, draft: false, deleted: false },
      followUp: spec.followUp,
      keywords: [],
      importance: spec.importance,
      itemType: spec.itemType,
      form: 'rfc5322',
      kindFields: null,
      size: spec.size,
      backupJobId: spec.backupJobId,
    });
  });

  const single: Array<[string, Criteria]> = [
    ['from date (inclusive)', { fromDate: '2024-06-01T12:00:00.000Z' }],
    ['to date (inclusive)', { toDate: '2024-06-01T12:00:00Z' }],
    ['date range in another offset', { fromDate: '2023-03-01T00:00:00+02:00', toDate: '2023-09-30T23:59:59-05:00' }],
    ['exact sender, any case', { from: 'Carol@Example.ORG' }],
    ['sender domain, not its subdomains', { from: 'example.org' }],
    ['sender subdomain with @', { from: '@sub.example.org' }],
    ['recipient in to', { to: BOB }],
    ['recipient in cc, by domain', { to: 'example.net' }],
    ['recipient in bcc', { to: 'heidi@acme.test' }],
    ['subject contains, any case', { subject: 'BUDGET' }],
    ['subject contains a literal %', { subject: '100%' }],
    ['subject contains a literal _', { subject: 'e_2' }],
    ['attachment name contains', { attachmentName: 'report' }],
    ['attachment name contains, any case', { attachmentName: '.jpg' }],
    ['one mailbox', { mailboxes: [BOB] }],
    ['several mailboxes', { mailboxes: [ALICE, SHARED] }],
    ['folder', { folder: 'Projects/Zeta' }],
    ['item type', { itemType: 'task' }],
    ['seen', { seen: true }],
    ['unseen', { seen: false }],
    ['answered', { answered: true }],
    ['flagged', { flagged: true }],
    ['follow-up', { followUp: true }],
    ['importance', { importance: 'high' }],
    ['at least a size', { minSize: 50_000 }],
    ['at most a size', { maxSize: 20_000 }],
    ['size range', { minSize: 20_000, maxSize: 60_000 }],
    ['with attachments', { hasAttachment: true }],
    ['without attachments', { hasAttachment: false }],
    ['backup job', { backupJobId: 'job-2' }],
  ];
  it.each(single)('finds by %s', async (_what, criteria) => {
    const want = expected(criteria);
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(records.length);
    const { items } = await client.all({ ...base(), ...criteria, limit: 5 });
    expect(ids(items)).toEqual(want);
  });

  const combined: Array<[string, Criteria]> = [
    [
      'mailbox + date range + attachments',
      { mailboxes: [ALICE], fromDate: '2023-01-01T00:00:00Z', toDate: '2024-12-31T00:00:00Z', hasAttachment: true },
    ],
    ['sender domain + recipient + subject', { from: 'example.org', to: ALICE, subject: 'budget' }],
    ['folder + unseen + importance', { folder: 'INBOX', seen: false, importance: 'normal' }],
    ['sender + size + job', { from: 'erin@other.test', maxSize: 80_000, backupJobId: 'job-1' }],
    [
      'recipient domain + attachment + date',
      { to: '@acme.test', attachmentName: 'pdf', fromDate: '2023-06-01T00:00:00Z' },
    ],
  ];
  it.each(combined)('combines %s (every criterion must hold)', async (_what, criteria) => {
    const want = expected(criteria);
    expect(want.length).toBeGreaterThan(0);
    const { items } = await client.all({ ...base(), ...criteria, limit: 3 });
    expect(ids(items)).toEqual(want);
  });

  it('finds nothing when nothing matches', async () => {
    expect(await client.search({ ...base(), from: 'nobody@nowhere.test' })).toEqual({ items: [], nextCursor: null });
    // The names are searched one by one, never across two of them.
    expect(records.some((r) => r.attachmentNames.join(' ').includes('xlsx notes'))).toBe(true);
    expect(await client.search({ ...base(), attachmentName: 'xlsx notes' })).toEqual({ items: [], nextCursor: null });
  });

  it('pages through records of equal date by id, without duplicates or gaps', async () => {
    const tie = TIE.toISOString();
    const want = expected({ fromDate: tie, toDate: tie });
    expect(want.length).toBeGreaterThanOrEqual(4);
    const { items, pages } = await client.all({ ...base(), fromDate: tie, toDate: tie, limit: 2 });
    expect(ids(items)).toEqual(want);
    expect(pages).toBe(Math.ceil(want.length / 2));
    expect(new Set(ids(items)).size).toBe(want.length);
  });

  it('pages through undated records too', async () => {
    const everything = await client.all({ ...base(), limit: 1 });
    expect(ids(everything.items)).toEqual(expected({}));
  });

  it('never returns another tenant’s records', async () => {
    const mine = new Set(ids(records));
    const theirs = new Set(ids(otherRecords));
    for (const criteria of [{}, { text: 'budget' }, { from: 'example.org' }, { mailboxes: [ALICE] }]) {
      const { items } = await client.all({ ...base(), ...criteria, limit: 500 });
      expect(items.length).toBeGreaterThan(0);
      expect(items.every((item) => mine.has(item.id) && !theirs.has(item.id))).toBe(true);
    }
    const other = await client.all({ tenantId: otherTenantId, visibleMailboxes: 'all', limit: 500 });
    expect(ids(other.items)).toEqual(expected({}, otherRecords));
    // A cursor of one tenant's search does not continue in another tenant's.
    const page = await client.search({ ...base(), limit: 1 });
    const refusal = await client.refusal({
      tenantId: otherTenantId,
      visibleMailboxes: 'all',
      limit: 1,
      cursor: page.nextCursor,
    });
    expect(refusal).toMatchObject({ code: 'invalid_request', field: 'cursor' });
  });

  it('shows only the mailboxes the requester may see', async () => {
    const onlyBob = await client.all({ tenantId, visibleMailboxes: [BOB], limit: 10 });
    expect(ids(onlyBob.items)).toEqual(expected({ mailboxes: [BOB] }));
    const narrowed = await client.all({
      tenantId,
      visibleMailboxes: [BOB, SHARED],
      mailboxes: [ALICE, SHARED],
      limit: 10,
    });
    expect(ids(narrowed.items)).toEqual(expected({ mailboxes: [SHARED] }));
    expect(await client.search({ tenantId, visibleMailboxes: [BOB], mailboxes: [ALICE] })).toEqual({
      items: [],
      nextCursor: null,
    });
    expect(await client.search({ tenantId, visibleMailboxes: [] })).toEqual({ items: [], nextCursor: null });
    const text = await client.all({ tenantId, visibleMailboxes: [BOB], text: 'budget', limit: 500 });
    expect(text.items.every((item) => item.mailbox === BOB)).toBe(true);
  });

  describe('full text', () => {
    const subjectIs = (...subjects: string[]) =>
      ids(records.filter((r) => r.subject !== null && subjects.includes(r.subject)).sort(resultOrder));

    it.each([
      ['a subject word, any case', 'ZANZIBAR', ['Zanzibar trip photos']],
      ['words of a phrase', '"budget review"', ['Quarterly budget review']],
      ['a word but not another', 'budget -approved', ['Quarterly budget review']],
      ['either word', 'zanzibar or lunch', ['Zanzibar trip photos', 'Lunch on Friday']],
    ])('matches %s', async (_what, text, subjects) => {
      const want = subjectIs(...subjects);
      expect(want.length).toBeGreaterThan(0);
      const { items } = await client.all({ ...base(), text, limit: 500 });
      expect(ids(items)).toEqual(want);
    });

    it('matches addresses, their domains, sender names and attachment names', async () => {
      const byText = async (text: string) => ids((await client.all({ ...base(), text, limit: 500 })).items);
      expect(await byText('grace@example.net')).toEqual(expected({ to: 'grace@example.net' }));
      expect(await byText('example.net')).toEqual(expected({ to: 'example.net' }));
      expect(await byText('notes.txt')).toEqual(expected({ attachmentName: 'notes.txt' }));
      const named = ids(records.filter((r) => r.senderName?.includes('Sender')).sort(resultOrder));
      expect(await byText('sender')).toEqual(named);
    });

    it('combines with the other criteria', async () => {
      const { items } = await client.all({ ...base(), text: 'budget', mailboxes: [ALICE], limit: 2 });
      expect(ids(items)).toEqual(expected({ subject: 'budget', mailboxes: [ALICE] }));
    });
  });

  describe('bad requests', () => {
    it.each([
      [{ colour: 'red' }, undefined, /Unrecognized key.*colour/],
      [{ fromDate: '2024-02-01T00:00:00Z', toDate: '2024-01-01T00:00:00Z' }, 'toDate', /toDate is before fromDate/],
      [{ from: 'bob at example.org' }, 'from', /e-mail address/],
      [{ limit: 0 }, 'limit', /limit:/],
      [{ limit: 501 }, 'limit', /limit:/],
      [{ cursor: 'garbage!' }, 'cursor', /cursor: is not a cursor of this search API/],
      [{ minSize: 5, maxSize: 1 }, 'maxSize', /maxSize is smaller than minSize/],
    ])('refuses %j naming the problem', async (change, field, message) => {
      const refusal = await client.refusal({ ...base(), ...change });
      expect(refusal.code).toBe('invalid_request');
      expect(refusal.field).toBe(field);
      expect(refusal.message).toMatch(message);
    });

    it('refuses a cursor of a search with other criteria', async () => {
      const page = await client.search({ ...base(), subject: 'budget', limit: 1 });
      expect(page.nextCursor).not.toBeNull();
      const refusal = await client.refusal({ ...base(), subject: 'lunch', limit: 1, cursor: page.nextCursor });
      expect(refusal).toMatchObject({ code: 'invalid_request', field: 'cursor' });
      expect(refusal.message).toMatch(/other criteria/);
    });
  });
});

/**
 * The newest-rows probe (`probeStatement`) answers a page only when it comes back full: then it is
 * exactly the page the whole search gives, for any window, cursor and criteria.
 */
describe('the newest-rows probe', () => {
  const filters: SearchFilter[] = [
    { tenantId, subjectPattern: containsPattern('budget') },
    { tenantId, subjectPattern: containsPattern('invoice'), seen: false },
    { tenantId, mailboxes: [ALICE], subjectPattern: containsPattern('e') },
    { tenantId, mailboxes: [BOB], attachmentPattern: containsPattern('.'), followUp: false },
    { tenantId, subjectPattern: containsPattern('o'), participantKeys: ['to:frank@example.org'] },
    { tenantId, attachmentPattern: containsPattern('.'), fromDate: '2023-06-01T00:00:00Z' },
  ];

  it.each(filters)('gives the full search’s page whenever it is full (%o)', async (filter) => {
    expect(probeable(filter)).toBe(true);
    const run = async (statement: ReturnType<typeof searchStatement>) => prisma.$queryRaw<SearchRow[]>(statement);
    let full = 0;
    for (const window of [3, 8, 20, 200]) {
      let after: SearchPosition | null = null;
      for (let page = 0; page < 30; page++) {
        const whole = await run(searchStatement(filter, after, 4));
        const probe = await run(probeStatement(filter, after, 4, window));
        if (probe.length === 4) {
          full++;
          expect(probe.map((row) => row.id)).toEqual(whole.map((row) => row.id));
        } else {
          expect(probe.length).toBeLessThan(4);
        }
        const last = whole.at(-1);
        if (whole.length < 4 || !last) break;
        const date = last.submission_date ?? last.internal_date;
        after = { date: date?.toISOString() ?? null, id: last.id };
      }
    }
    expect(full).toBeGreaterThan(0);
  });

  it('is used for "contains" searches only, and not where another index serves or the order cannot be walked', () => {
    const subject = containsPattern('budget');
    expect(probeable({ tenantId })).toBe(false);
    expect(probeable({ tenantId, mailboxes: [ALICE], seen: false })).toBe(false);
    // Most participants are too rare to fill a page from the newest rows (measured: slower).
    expect(probeable({ tenantId, participantKeys: ['to:frank@example.org'] })).toBe(false);
    expect(probeable({ tenantId, subjectPattern: subject, text: 'budget' })).toBe(false);
    expect(probeable({ tenantId, subjectPattern: subject, sender: 'carol@example.org' })).toBe(false);
    expect(probeable({ tenantId, subjectPattern: subject, mailboxes: [ALICE, BOB] })).toBe(false);
  });
});
