import { describe, expect, it } from 'vitest';
import type { SearchFilter } from '../search/search-sql.js';
import type { SearchRepository } from '../search/repositories/search.repository.js';
import { RecordResolve, RESOLVE_PAGE_ROWS, toResolvedRecord } from './record-resolve.js';
import type { ResolveRepository } from './repositories/resolve.repository.js';
import type { ResolveRow } from './resolve-sql.js';
import { ResolveErrorCode, ResolveException } from './resolve.exception.js';

const TENANT = 'acme';

function row(id: string, mailbox: string, minute: number): ResolveRow {
  const date = new Date(Date.UTC(2025, 0, 1, 0, minute));
  return {
    id,
    mailbox,
    folder: 'INBOX',
    content_id: 'a'.repeat(64),
    message_id: `<${id}@x>`,
    submission_date: date,
    internal_date: date,
    subject: `subject ${id}`,
    seen: true,
    answered: false,
    flagged: true,
    draft: false,
    deleted: false,
    keywords: null,
    size: 42n,
    item_type: 'mail',
    form: 'rfc5322',
  };
}

/** Repositories over a fixed set of rows, recording what they were asked. */
function resolverOver(rows: ResolveRow[]) {
  const asked: { counts: Array<{ filter: SearchFilter; limit: number }>; pages: number } = { counts: [], pages: 0 };
  const sorted = [...rows].sort((a, b) => b.submission_date!.getTime() - a.submission_date!.getTime());
  const records: ResolveRepository = {
    existing: async (tenantId, ids) =>
      tenantId === TENANT ? rows.filter((r) => ids.includes(r.id)).map((r) => ({ id: r.id, mailbox: r.mailbox })) : [],
    byIds: async (_tenant, ids, mailboxes, after, take) => {
      asked.pages++;
      const start = after ? sorted.findIndex((r) => r.id === after.id) + 1 : 0;
      return sorted
        .slice(start)
        .filter((r) => ids.includes(r.id) && (!mailboxes || mailboxes.includes(r.mailbox)))
        .slice(0, take);
    },
    countUpTo: async (filter, limit) => {
      asked.counts.push({ filter, limit });
      return Math.min(limit, sorted.filter((r) => !filter.mailboxes || filter.mailboxes.includes(r.mailbox)).length);
    },
  };
  const search: SearchRepository = {
    page: async (filter, after, take) => {
      asked.pages++;
      const start = after ? sorted.findIndex((r) => r.id === after.id) + 1 : 0;
      return sorted
        .slice(start)
        .filter((r) => !filter.mailboxes || filter.mailboxes.includes(r.mailbox))
        .slice(0, take) as never;
    },
  };
  return { resolver: new RecordResolve(records, search), asked };
}

async function refusalOf(promise: Promise<unknown>): Promise<ResolveException> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ResolveException) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const rows = [row('r1', 'alice', 1), row('r2', 'alice', 2), row('r3', 'bob', 3)];

describe('toResolvedRecord', () => {
  it('carries what the connector needs to recreate the message', () => {
    expect(toResolvedRecord(rows[0]!)).toEqual({
      recordId: 'r1',
      contentId: 'a'.repeat(64),
      mailbox: 'alice',
      folder: 'INBOX',
      messageId: '<r1@x>',
      subject: 'subject r1',
      internalDate: '2025-01-01T00:01:00.000Z',
      flags: { seen: true, answered: false, flagged: true, draft: false, deleted: false },
      keywords: [],
      size: 42,
      itemType: 'mail',
      form: 'rfc5322',
    });
  });
});

describe('RecordResolve', () => {
  it('reports unknown ids before invisible ones, and reads no page when refusing', async () => {
    const { resolver, asked } = resolverOver(rows);
    const missing = await refusalOf(
      resolver.resolve({
        tenantId: TENANT,
        visibleMailboxes: ['alice'],
        selection: { recordIds: ['r1', 'r3', 'gone'] },
      }),
    );
    expect(missing).toMatchObject({ code: ResolveErrorCode.RECORDS_NOT_FOUND });
    expect(missing.message).toContain('gone');
    const hidden = await refusalOf(
      resolver.resolve({ tenantId: TENANT, visibleMailboxes: ['alice'], selection: { recordIds: ['r1', 'r3'] } }),
    );
    expect(hidden).toMatchObject({ code: ResolveErrorCode.RECORDS_NOT_VISIBLE });
    expect(hidden.message).toContain('r3');
    expect(asked.pages).toBe(0);
  });

  it('resolves ids newest first', async () => {
    const { resolver } = resolverOver(rows);
    const page = await resolver.resolve({
      tenantId: TENANT,
      visibleMailboxes: 'all',
      selection: { recordIds: ['r1', 'r3', 'r2', 'r1'] },
    });
    expect(page.items.map((item) => item.recordId)).toEqual(['r3', 'r2', 'r1']);
    expect(page.nextCursor).toBeNull();
  });

  it('counts a search once, up to one more than allowed, and scopes it to the visible mailboxes', async () => {
    const { resolver, asked } = resolverOver(rows);
    const refused = await refusalOf(
      resolver.resolve({ tenantId: TENANT, visibleMailboxes: 'all', selection: { query: {} }, maxItems: 2 }),
    );
    expect(refused).toMatchObject({ code: ResolveErrorCode.TOO_MANY_RECORDS, field: 'selection.query' });
    expect(asked.counts.at(-1)?.limit).toBe(3);
    const page = await resolver.resolve({
      tenantId: TENANT,
      visibleMailboxes: ['alice'],
      selection: { query: {} },
      maxItems: 2,
    });
    expect(page.items.map((item) => item.recordId)).toEqual(['r2', 'r1']);
    expect(asked.counts.at(-1)?.filter.mailboxes).toEqual(['alice']);
  });

  it('continues a long selection with a cursor, and refuses the cursor for another selection', async () => {
    const many = Array.from({ length: RESOLVE_PAGE_ROWS + 5 }, (_, i) => row(`m${i}`, 'alice', i));
    const { resolver } = resolverOver(many);
    const request = { tenantId: TENANT, visibleMailboxes: 'all' as const, selection: { query: {} } };
    const first = await resolver.resolve(request);
    expect(first.items).toHaveLength(RESOLVE_PAGE_ROWS);
    expect(first.nextCursor).not.toBeNull();
    const second = await resolver.resolve({ ...request, cursor: first.nextCursor! });
    expect(second.items).toHaveLength(5);
    expect(second.nextCursor).toBeNull();
    const other = await refusalOf(
      resolver.resolve({ ...request, selection: { query: { folder: 'INBOX' } }, cursor: first.nextCursor! }),
    );
    expect(other).toMatchObject({ code: ResolveErrorCode.INVALID_CURSOR, field: 'cursor' });
  });
});
