import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  resolveRecordsResponseSchema,
  serviceErrorReplySchema,
  serviceSubject,
  type ResolvedRecord,
  type ResolveRecordsResponse,
  type ServiceErrorReply,
} from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { REPO_ROOT, servicesNatsClientOptions, startApp, type RunningApp } from '@mlr/testing';
import { aRecord, insertRecords, resultOrder, type StoredSpec } from '../../search/__tests__/search-fixtures.js';

/** `records.resolve` over NATS against a real indexing service and PostgreSQL. */
const infra = inject('infra');
const tenantId = `resolve-it-${randomBytes(4).toString('hex')}`;
const otherTenantId = `${tenantId}-other`;
const logDir = join(REPO_ROOT, 'tmp', 'test-logs', tenantId);

const ALICE = 'alice@acme.test';
const BOB = 'bob@acme.test';

let app: RunningApp;
let prisma: PrismaClient;
let client: ClientProxy;
let records: StoredSpec[];
let otherRecords: StoredSpec[];
/** Records with subjects so long that their items do not fit one reply. */
let bulky: StoredSpec[];

function send(request: unknown): Promise<unknown> {
  return firstValueFrom(
    client.send<unknown>(serviceSubject('indexing', 'records.resolve'), request).pipe(timeout(20_000)),
  );
}

async function resolvePage(request: Record<string, unknown>): Promise<ResolveRecordsResponse> {
  return resolveRecordsResponseSchema.parse(await send(request));
}

/** Every page of a selection, in order. */
async function resolveAll(request: Record<string, unknown>): Promise<{ items: ResolvedRecord[]; pages: number }> {
  const items: ResolvedRecord[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: ResolveRecordsResponse = await resolvePage({ ...request, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor;
    if (++pages > 100) throw new Error('the selection never ends');
  } while (cursor);
  return { items, pages };
}

async function refusal(request: Record<string, unknown>): Promise<ServiceErrorReply> {
  try {
    await send(request);
  } catch (error) {
    return serviceErrorReplySchema.parse(error);
  }
  throw new Error('records.resolve was expected to be refused');
}

const recordIds = (items: readonly { recordId: string }[]) => items.map((item) => item.recordId);
const newestFirst = (specs: readonly StoredSpec[]) => [...specs].sort(resultOrder).map((spec) => spec.id);

beforeAll(async () => {
  if (!infra.postgres || !infra.nats) throw new Error('the integration tier needs PostgreSQL and NATS');
  prisma = createPrismaClient(infra.postgres.databaseUrl, { maxConnections: 4 });
  for (const id of [tenantId, otherTenantId]) {
    await prisma.tenant.create({ data: { id, name: `Resolve IT ${id}`, slug: id } });
  }
  records = await insertRecords(
    prisma,
    Array.from({ length: 12 }, (_, i) =>
      aRecord(tenantId, i + 1, {
        mailbox: i % 3 === 0 ? BOB : ALICE,
        folder: i % 2 === 0 ? 'INBOX' : 'Projects/Zeta',
        subject: i % 4 === 0 ? `Budget ${i}` : `Lunch ${i}`,
        seen: i % 2 === 0,
        flagged: i % 5 === 0,
      }),
    ),
  );
  // Flags and keywords the search fixtures do not write.
  const first = records[0]!;
  await prisma.indexRecord.update({
    where: { id: first.id },
    data: { draft: true, deleted: true, answered: true, keywords: ['$Forwarded', '$Label1'] },
  });
  otherRecords = await insertRecords(prisma, [aRecord(otherTenantId, 1, { mailbox: ALICE })]);
  bulky = await insertRecords(
    prisma,
    Array.from({ length: 120 }, (_, i) =>
      aRecord(tenantId, 1_000 + i, { mailbox: 'bulk@acme.test', subject: `${'x'.repeat(8_000)} ${i}` }),
    ),
  );
  app = await startApp({ app: 'indexing', env: { ...infra.serviceEnv, LOG_LEVEL: 'info' }, logDir });
  client = ClientProxyFactory.create({ transport: Transport.NATS, options: servicesNatsClientOptions(infra) });
  await client.connect();
}, 120_000);

afterAll(async () => {
  await client?.close();
  await app?.stop();
  await prisma?.$disconnect();
});

describe('records.resolve by record ids', () => {
  it('answers every item with what the connector needs, newest message first', async () => {
    const chosen = [records[0]!, records[5]!, records[7]!];
    const page = await resolvePage({
      tenantId,
      visibleMailboxes: 'all',
      selection: { recordIds: chosen.map((r) => r.id) },
    });
    expect(page.nextCursor).toBeNull();
    expect(recordIds(page.items)).toEqual(newestFirst(chosen));
    const row = await prisma.indexRecord.findUniqueOrThrow({ where: { id: records[0]!.id } });
    expect(page.items.find((item) => item.recordId === row.id)).toEqual({
      recordId: row.id,
      contentId: row.contentId,
      mailbox: BOB,
      folder: 'INBOX',
      messageId: row.messageId,
      subject: 'Budget 0',
      internalDate: row.internalDate!.toISOString(),
      flags: { seen: true, answered: true, flagged: true, draft: true, deleted: true },
      keywords: ['$Forwarded', '$Label1'],
      size: Number(row.size),
      itemType: 'mail',
      form: 'rfc5322',
    });
  });

  it('names the same record once, however often it is given', async () => {
    const id = records[1]!.id;
    const page = await resolvePage({ tenantId, visibleMailboxes: 'all', selection: { recordIds: [id, id, id] } });
    expect(recordIds(page.items)).toEqual([id]);
  });

  it('refuses ids the tenant does not have, listing them, and resolves nothing', async () => {
    const foreign = otherRecords[0]!.id;
    const reply = await refusal({
      tenantId,
      visibleMailboxes: 'all',
      selection: { recordIds: [records[2]!.id, 'no-such-record', foreign] },
    });
    expect(reply.code).toBe('not_found');
    expect(reply.field).toBe('selection.recordIds');
    expect(reply.message).toContain('no-such-record');
    // Another tenant's record is just as unknown here.
    expect(reply.message).toContain(foreign);
    expect(reply.message).not.toContain(records[2]!.id);
  });

  it('refuses records in mailboxes the requester may not see (forbidden), even with visible ones', async () => {
    const alices = records.filter((r) => r.mailbox === ALICE).slice(0, 2);
    const bobs = records.find((r) => r.mailbox === BOB)!;
    const reply = await refusal({
      tenantId,
      visibleMailboxes: [ALICE],
      selection: { recordIds: [...alices.map((r) => r.id), bobs.id] },
    });
    expect(reply.code).toBe('forbidden');
    expect(reply.message).toContain(bobs.id);
    expect(reply.message).not.toContain(alices[0]!.id);

    const allowed = await resolvePage({
      tenantId,
      visibleMailboxes: [ALICE],
      selection: { recordIds: alices.map((r) => r.id) },
    });
    expect(recordIds(allowed.items)).toEqual(newestFirst(alices));
  });

  it('refuses more ids than maxItems', async () => {
    const reply = await refusal({
      tenantId,
      visibleMailboxes: 'all',
      selection: { recordIds: records.slice(0, 3).map((r) => r.id) },
      maxItems: 2,
    });
    expect(reply).toMatchObject({ code: 'invalid_request', field: 'selection.recordIds' });
  });

  it('pages through a selection too large for one reply, without repeats or gaps', async () => {
    const { items, pages } = await resolveAll({
      tenantId,
      visibleMailboxes: 'all',
      selection: { recordIds: bulky.map((r) => r.id) },
    });
    expect(pages).toBeGreaterThan(1);
    expect(recordIds(items)).toEqual(newestFirst(bulky));
  });
});

describe('records.resolve by query', () => {
  it('resolves every match of the search criteria', async () => {
    const { items } = await resolveAll({
      tenantId,
      visibleMailboxes: 'all',
      selection: { query: { subject: 'budget' } },
    });
    expect(recordIds(items)).toEqual(newestFirst(records.filter((r) => r.subject?.startsWith('Budget'))));
  });

  it('resolves only matches in the visible mailboxes', async () => {
    const { items } = await resolveAll({
      tenantId,
      visibleMailboxes: [ALICE],
      selection: { query: { folder: 'INBOX' } },
    });
    expect(recordIds(items)).toEqual(newestFirst(records.filter((r) => r.mailbox === ALICE && r.folder === 'INBOX')));
    // Asking for an invisible mailbox finds nothing rather than something.
    const none = await resolvePage({
      tenantId,
      visibleMailboxes: [ALICE],
      selection: { query: { mailboxes: [BOB] } },
    });
    expect(none).toEqual({ items: [], nextCursor: null });
  });

  it('refuses a search with more matches than maxItems (invalid_request)', async () => {
    const reply = await refusal({
      tenantId,
      visibleMailboxes: 'all',
      selection: { query: { mailboxes: [ALICE] } },
      maxItems: 3,
    });
    expect(reply).toMatchObject({ code: 'invalid_request', field: 'selection.query' });
    expect(reply.message).toContain('more than 3');
    // Exactly maxItems is fine.
    const alices = records.filter((r) => r.mailbox === ALICE);
    const { items } = await resolveAll({
      tenantId,
      visibleMailboxes: 'all',
      selection: { query: { mailboxes: [ALICE] } },
      maxItems: alices.length,
    });
    expect(recordIds(items)).toEqual(newestFirst(alices));
  });

  it('pages through many large matches, and refuses a cursor of another selection', async () => {
    const request = { tenantId, visibleMailboxes: 'all', selection: { query: { mailboxes: ['bulk@acme.test'] } } };
    const first = await resolvePage(request);
    expect(first.nextCursor).not.toBeNull();
    const { items } = await resolveAll(request);
    expect(recordIds(items)).toEqual(newestFirst(bulky));
    const reply = await refusal({ ...request, selection: { query: { folder: 'INBOX' } }, cursor: first.nextCursor });
    expect(reply).toMatchObject({ code: 'invalid_request', field: 'cursor' });
  });

  it('refuses a request that breaks the contract, naming the field', async () => {
    const reply = await refusal({ tenantId, visibleMailboxes: 'all', selection: { query: { fromDate: 'yesterday' } } });
    expect(reply.code).toBe('invalid_request');
    expect(reply.message).toContain('fromDate');
  });
});
