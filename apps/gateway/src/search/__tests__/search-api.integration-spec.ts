import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { searchResultSchema, type SearchResult } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { PlatformRunner, REPO_ROOT } from '@mlr/testing';

/** The search API over HTTP: gateway → NATS → indexing → PostgreSQL. */
describe('gateway: search API', () => {
  const infra = inject('infra');
  const tenantId = `gw-search-${randomBytes(4).toString('hex')}`;
  const platform = new PlatformRunner(infra, mkdtempSync(join(REPO_ROOT, 'tmp', 'gw-search-')));
  const ALICE = 'alice@acme.test';
  const BOB = 'bob@acme.test';
  /** Ids in result order (newest first), with the facts the criteria below look at. */
  const rows: Array<{ id: string; mailbox: string; sender: string; subject: string; hasAttachment: boolean }> = [];
  let prisma: PrismaClient;

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    await prisma.tenant.create({ data: { id: tenantId, name: tenantId, slug: tenantId } });
    // With "Receive As" the tenant admin the runner acts as sees every mailbox of the tenant.
    await prisma.connector.create({
      data: { id: `${tenantId}-imap`, tenantId, name: 'imap', kind: 'imap', receiveAs: 'yes' },
    });
    for (let uid = 1; uid <= 9; uid++) {
      const contentId = randomBytes(32).toString('hex');
      const object = await prisma.storedObject.create({
        data: {
          tenantId,
          contentId,
          bucket: 'mlr-objects',
          key: `tenants/${tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`,
          plainSize: 1_000,
          sealedSize: 1_100,
          keyId: '0123456789abcdef',
          refCount: 1,
        },
      });
      const fact = {
        mailbox: uid % 3 === 0 ? BOB : ALICE,
        sender: uid % 2 === 0 ? 'carol@example.org' : 'dave@example.net',
        subject: uid % 4 === 0 ? `Budget review ${uid}` : `Lunch ${uid}`,
        hasAttachment: uid % 2 === 1,
      };
      const record = await prisma.indexRecord.create({
        data: {
          tenantId,
          ...fact,
          folder: 'INBOX',
          sightingSource: 'imap',
          sightingEpoch: '1',
          sightingId: String(uid),
          contentId,
          objectId: object.id,
          submissionDate: new Date(Date.UTC(2024, 4, uid)),
          toAddresses: [ALICE],
          attachmentNames: fact.hasAttachment ? [`report-${uid}.pdf`] : [],
          size: 1_000 + uid,
        },
      });
      rows.unshift({ id: record.id, ...fact });
    }
    await platform.startPlatform();
  }, 180_000);

  afterAll(async () => {
    await platform.stop();
    await prisma?.$disconnect();
  });

  // The answers are JSON of any shape; every use below checks what it reads with expect().
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Json = any;

  async function http(method: 'GET' | 'POST', query: string, body?: unknown): Promise<{ status: number; body: Json }> {
    return platform.http<Json>(method, `/v1/tenants/${tenantId}/search${query}`, body);
  }

  async function ok(method: 'GET' | 'POST', query: string, body?: unknown): Promise<SearchResult> {
    const answer = await http(method, query, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return searchResultSchema.parse(answer.body);
  }

  const ids = (result: SearchResult) => result.items.map((item) => item.id);
  const idsWhere = (keep: (row: (typeof rows)[number]) => boolean) => rows.filter(keep).map((row) => row.id);

  it('answers GET with the records of the tenant, newest first', async () => {
    const result = await ok('GET', '');
    expect(ids(result)).toEqual(rows.map((row) => row.id));
    expect(result.nextCursor).toBeNull();
    expect(result.items[0]).toMatchObject({
      mailbox: rows[0]!.mailbox,
      folder: 'INBOX',
      date: '2024-05-09T00:00:00.000Z',
      from: { address: rows[0]!.sender, name: null },
      to: [ALICE],
      subject: rows[0]!.subject,
      size: 1_009,
      itemType: 'mail',
      importance: 'normal',
      flags: { seen: false, answered: false, flagged: false, draft: false, deleted: false },
    });
    expect(result.items[0]!.contentId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('types query-string criteria and takes lists as repeated parameters', async () => {
    const params = new URLSearchParams([
      ['mailboxes', ALICE],
      ['mailboxes', BOB],
      ['from', 'example.org'],
      ['hasAttachment', 'false'],
      ['subject', 'budget'],
      ['fromDate', '2024-05-01T00:00:00Z'],
    ]);
    const result = await ok('GET', `?${params}`);
    expect(ids(result)).toEqual(
      idsWhere((row) => row.sender.endsWith('@example.org') && !row.hasAttachment && row.subject.startsWith('Budget')),
    );
    expect(ids(await ok('GET', `?mailboxes=${encodeURIComponent(BOB)}`))).toEqual(idsWhere((r) => r.mailbox === BOB));
  });

  it('answers POST with the same search as a JSON body', async () => {
    const criteria = { mailboxes: [ALICE], hasAttachment: true, text: 'dave@example.net' };
    const viaPost = await ok('POST', '', criteria);
    expect(ids(viaPost)).toEqual(idsWhere((row) => row.mailbox === ALICE && row.hasAttachment));
    const viaGet = await ok(
      'GET',
      `?mailboxes=${encodeURIComponent(ALICE)}&hasAttachment=true&text=dave%40example.net`,
    );
    expect(viaGet).toEqual(viaPost);
  });

  it('continues with nextCursor, in GET and POST alike', async () => {
    const seen: string[] = [];
    let page = await ok('GET', '?limit=4');
    seen.push(...ids(page));
    while (page.nextCursor) {
      page = await ok('GET', `?limit=4&cursor=${encodeURIComponent(page.nextCursor)}`);
      seen.push(...ids(page));
    }
    expect(seen).toEqual(rows.map((row) => row.id));
    const first = await ok('POST', '', { limit: 5 });
    const second = await ok('POST', '', { limit: 5, cursor: first.nextCursor });
    expect([...ids(first), ...ids(second)]).toEqual(rows.map((row) => row.id));
    expect(second.nextCursor).toBeNull();
  });

  it.each([
    ['GET', '?colour=red', undefined, undefined, /colour/],
    [
      'GET',
      '?fromDate=2024-05-02T00:00:00Z&toDate=2024-05-01T00:00:00Z',
      undefined,
      'toDate',
      /toDate is before fromDate/,
    ],
    ['GET', '?from=bob%20at%20example.org', undefined, 'from', /e-mail address/],
    ['GET', '?limit=0', undefined, 'limit', /limit:/],
    ['GET', '?limit=501', undefined, 'limit', /limit:/],
    ['GET', '?seen=yes', undefined, 'seen', /expected boolean/],
    ['GET', '?cursor=garbage', undefined, 'cursor', /cursor: is not a cursor of this search API/],
    ['POST', '', { mailboxes: 'alice@acme.test' }, 'mailboxes', /expected array/],
    ['POST', '', { minSize: 10, maxSize: 1 }, 'maxSize', /maxSize is smaller than minSize/],
    ['POST', '', { cursor: 'eyJ2IjoxfQ' }, 'cursor', /cursor:/],
  ] as const)('%s %s %j is a 400 that names the problem', async (method, query, body, field, message) => {
    const answer = await http(method, query, body);
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe(field);
    expect(answer.body.message).toMatch(message);
  });

  it('refuses a cursor used with other criteria', async () => {
    const first = await ok('POST', '', { limit: 1, subject: 'lunch' });
    const answer = await http('POST', '', { limit: 1, subject: 'budget', cursor: first.nextCursor });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request', field: 'cursor' });
    expect(answer.body.message).toMatch(/other criteria/);
  });

  it('refuses a malformed tenant id in the path: it is not the tenant of the token', async () => {
    const answer = await platform.http<Json>('GET', '/v1/tenants/Not.A.Tenant/search', undefined, {
      as: { sub: 'admin@acme.test', role: 'tenant_admin', tenant: tenantId },
    });
    expect(answer.status).toBe(403);
    expect(answer.body.message).toBe(`your token is for tenant "${tenantId}", not for tenant "Not.A.Tenant"`);
  });
});
