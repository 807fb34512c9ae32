import { describe, expect, it } from 'vitest';
import type { SearchPosition } from './search-cursor.js';
import { MAX_REPLY_ITEM_BYTES, mailboxScope, RecordSearch, toSearchFilter } from './record-search.js';
import type { SearchRepository } from './repositories/search.repository.js';
import type { SearchFilter, SearchRow } from './search-sql.js';
import { SearchException } from './search.exception.js';
import { searchRequestSchema } from '@mlr/contracts';

function row(n: number, overrides: Partial<SearchRow> = {}): SearchRow {
  return {
    id: `id-${String(1000 - n).padStart(4, '0')}`,
    mailbox: 'alice@example.com',
    folder: 'INBOX',
    content_id: 'c'.repeat(64),
    message_id: `<m${n}@example.com>`,
    submission_date: new Date(Date.UTC(2024, 0, 31) - n * 3_600_000),
    internal_date: null,
    sender: 'bob@example.org',
    sender_name: 'Bob',
    to_addresses: ['alice@example.com'],
    cc_addresses: [],
    bcc_addresses: null,
    subject: `message ${n}`,
    attachment_names: [],
    has_attachment: false,
    seen: true,
    answered: false,
    flagged: false,
    draft: false,
    deleted: false,
    follow_up: false,
    keywords: ['$Forwarded'],
    importance: 'normal',
    item_type: 'mail',
    form: 'rfc5322',
    kind_fields: null,
    size: 1234n,
    backup_job_id: 'job-1',
    ...overrides,
  };
}

/** Serves pages from a fixed, already ordered list of rows, as the database would. */
class ListRepository implements SearchRepository {
  readonly calls: Array<{ filter: SearchFilter; after: SearchPosition | null; take: number }> = [];
  constructor(private readonly rows: SearchRow[]) {}
  async page(filter: SearchFilter, after: SearchPosition | null, take: number): Promise<SearchRow[]> {
    this.calls.push({ filter, after, take });
    const start = after === null ? 0 : this.rows.findIndex((r) => r.id === after.id) + 1;
    return this.rows.slice(start, start + take);
  }
}

const base = { tenantId: 'acme', visibleMailboxes: 'all' as const };

describe('record search', () => {
  it('pages through every row once, with a cursor until the last page', async () => {
    const repository = new ListRepository(Array.from({ length: 7 }, (_, n) => row(n)));
    const search = new RecordSearch(repository);
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await search.search({ ...base, limit: 3, ...(cursor ? { cursor } : {}) });
      ids.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(ids).toEqual(Array.from({ length: 7 }, (_, n) => row(n).id));
    expect(repository.calls.map((call) => call.take)).toEqual([4, 4, 4]);
  });

  it('maps rows to hits', async () => {
    const search = new RecordSearch(
      new ListRepository([row(1, { submission_date: null, internal_date: new Date(0) })]),
    );
    const { items, nextCursor } = await search.search(base);
    expect(nextCursor).toBeNull();
    expect(items[0]).toMatchObject({
      date: '1970-01-01T00:00:00.000Z',
      submissionDate: null,
      internalDate: '1970-01-01T00:00:00.000Z',
      from: { address: 'bob@example.org', name: 'Bob' },
      bcc: [],
      size: 1234,
      flags: { seen: true, answered: false, flagged: false, draft: false, deleted: false },
    });
  });

  it('cuts a page of large records short of the NATS message limit and continues after it', async () => {
    const big = 'x'.repeat(200 * 1024);
    const rows = Array.from({ length: 10 }, (_, n) => row(n, { subject: big }));
    const search = new RecordSearch(new ListRepository(rows));
    const first = await search.search({ ...base, limit: 10 });
    expect(first.items.length).toBeLessThan(10);
    expect(Buffer.byteLength(JSON.stringify(first.items))).toBeLessThanOrEqual(MAX_REPLY_ITEM_BYTES + 1024);
    expect(first.nextCursor).not.toBeNull();
    const second = await search.search({ ...base, limit: 10, cursor: first.nextCursor });
    expect(second.items[0]?.id).toBe(rows[first.items.length]?.id);
  });

  it('refuses a cursor of another search', async () => {
    const search = new RecordSearch(new ListRepository(Array.from({ length: 3 }, (_, n) => row(n))));
    const first = await search.search({ ...base, limit: 1, subject: 'a' });
    await expect(search.search({ ...base, limit: 1, subject: 'b', cursor: first.nextCursor })).rejects.toThrow(
      SearchException,
    );
    // The page size is not part of the search.
    await expect(search.search({ ...base, limit: 2, subject: 'a', cursor: first.nextCursor })).resolves.toBeDefined();
  });

  it('asks the database nothing when the requester may see none of the requested mailboxes', async () => {
    const repository = new ListRepository([row(1)]);
    const search = new RecordSearch(repository);
    expect(await search.search({ ...base, visibleMailboxes: [] })).toEqual({ items: [], nextCursor: null });
    expect(await search.search({ ...base, visibleMailboxes: ['a'], mailboxes: ['b'] })).toEqual({
      items: [],
      nextCursor: null,
    });
    expect(repository.calls).toHaveLength(0);
  });
});

describe('mailbox scope', () => {
  it('is the requested mailboxes the requester may see', () => {
    expect(mailboxScope(undefined, 'all')).toBeUndefined();
    expect(mailboxScope(['a', 'a', 'b'], 'all')).toEqual(['a', 'b']);
    expect(mailboxScope(undefined, ['a', 'b'])).toEqual(['a', 'b']);
    expect(mailboxScope(['a', 'c'], ['a', 'b'])).toEqual(['a']);
    expect(mailboxScope(['c'], ['a', 'b'])).toBeNull();
    expect(mailboxScope(undefined, [])).toBeNull();
  });
});

describe('search filters', () => {
  const filterOf = (request: Record<string, unknown>) =>
    toSearchFilter(searchRequestSchema.parse({ ...base, ...request }));

  it('turns an exact sender into an equality and domains and recipients into participant keys', () => {
    expect(filterOf({ from: 'Bob@Example.org' })).toEqual({ tenantId: 'acme', sender: 'bob@example.org' });
    expect(filterOf({ from: 'example.org', to: 'Alice@Example.com' })).toEqual({
      tenantId: 'acme',
      participantKeys: ['from:@example.org', 'to:alice@example.com'],
    });
    expect(filterOf({ to: '@Example.com' })?.participantKeys).toEqual(['to:@example.com']);
  });

  it('normalises dates to UTC and texts to literal patterns', () => {
    expect(filterOf({ fromDate: '2024-01-01T01:00:00+01:00', subject: '50%', attachmentName: 'a_b' })).toEqual({
      tenantId: 'acme',
      fromDate: '2024-01-01T00:00:00.000Z',
      subjectPattern: '%50\\%%',
      attachmentPattern: '%a\\_b%',
    });
  });

  it('copies the plain criteria', () => {
    const criteria = {
      folder: 'INBOX',
      itemType: 'task',
      seen: false,
      answered: true,
      flagged: false,
      followUp: true,
      importance: 'low',
      minSize: 1,
      maxSize: 2,
      hasAttachment: false,
      backupJobId: 'job-7',
      text: 'budget',
    };
    expect(filterOf(criteria)).toEqual({ tenantId: 'acme', ...criteria });
  });

  it('turns the criteria of item kinds into their columns and keys, and limits the kinds they apply to', () => {
    expect(
      filterOf({
        startsFrom: '2026-12-01T01:00:00+01:00',
        startsTo: '2026-12-31T00:00:00Z',
        attendee: 'Bob@Example.com',
        location: 'KÖLN',
        recurring: true,
      }),
    ).toEqual({
      tenantId: 'acme',
      kinds: ['appointment'],
      startsFrom: '2026-12-01T00:00:00.000Z',
      startsTo: '2026-12-31T00:00:00.000Z',
      kindKeys: ['attendee:bob@example.com', 'recurring'],
      kindTextPatterns: ['%köln%'],
    });
    expect(filterOf({ dueTo: '2026-12-31T00:00:00Z', taskStatus: 'in-process', recurring: false })).toEqual({
      tenantId: 'acme',
      kinds: ['task'],
      dueTo: '2026-12-31T00:00:00.000Z',
      taskStatus: 'in-process',
      absentKindKeys: ['recurring'],
    });
    expect(filterOf({ phone: '+49 (221) 555-0199' })).toEqual({
      tenantId: 'acme',
      kinds: ['contact', 'phone_message'],
      anyKindKeys: ['tel:215550199', 'telfull:550199', 'telfull:5550199', 'telfull:15550199', 'telfull:215550199'],
    });
    expect(filterOf({ itemType: 'contact', email: '@beispiel.de', name: 'müller' })).toEqual({
      tenantId: 'acme',
      itemType: 'contact',
      kindKeys: ['email:@beispiel.de'],
      kindTextPatterns: ['%müller%'],
    });
    expect(filterOf({ caller: '50%', callback: true, urgent: false, form: 'rfc5322' })).toEqual({
      tenantId: 'acme',
      kinds: ['phone_message'],
      form: 'rfc5322',
      kindKeys: ['callback'],
      absentKindKeys: ['urgent'],
      kindTextPatterns: ['%50\\%%'],
    });
  });
});
