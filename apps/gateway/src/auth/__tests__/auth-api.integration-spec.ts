import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AccessTokenClaimsInput, AuditEvent } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { fetchHealth, mintAccessToken, REPO_ROOT, startApp, waitFor, type RunningApp } from '@mlr/testing';

/**
 * Who may do what, through the real gateway: tokens (401 and why), roles and tenants (403 and why),
 * the mailboxes a search may see (user: their own; tenant admin: all with "Receive As", else their
 * own), and the audit trail of it all, readable by operators and by each tenant's admins.
 */
describe('gateway: authentication, authorisation and audit', () => {
  const infra = inject('infra');
  const suffix = randomBytes(3).toString('hex');
  /** Receive As = yes: the admin sees every mailbox. */
  const acme = `auth-acme-${suffix}`;
  /** Receive As = no: the admin falls back to their own mailboxes. */
  const globex = `auth-globex-${suffix}`;
  /** Receive As = unknown (enrolment could not verify): the same fallback. */
  const initech = `auth-initech-${suffix}`;
  const mailbox = (name: string, tenant: string) => `${name}@${tenant}.test`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'gw-auth-'));
  const apps: RunningApp[] = [];
  let prisma: PrismaClient;
  let port: number;
  /** Record ids per tenant and mailbox. */
  const records = new Map<string, string[]>();

  const alice: AccessTokenClaimsInput = {
    sub: mailbox('alice', acme),
    role: 'user',
    tenant: acme,
    mailboxes: [mailbox('alice', acme)],
  };
  const acmeAdmin: AccessTokenClaimsInput = {
    sub: mailbox('admin', acme),
    role: 'tenant_admin',
    tenant: acme,
    mailboxes: [mailbox('admin', acme)],
  };
  const adminOf = (tenant: string): AccessTokenClaimsInput => ({
    sub: mailbox('admin', tenant),
    role: 'tenant_admin',
    tenant,
    // The admin's own mailbox is bob's here, so that the fallback scope has records to show.
    mailboxes: [mailbox('bob', tenant)],
  });
  const operator: AccessTokenClaimsInput = { sub: `ops-${suffix}@msp.test`, role: 'operator' };

  // The answers are JSON of any shape; every use below checks what it reads with expect().
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Json = any;

  async function call(
    method: string,
    path: string,
    options: { as?: AccessTokenClaimsInput; token?: string; authorization?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: Json; headers: Headers }> {
    const token = options.token ?? (options.as ? await mintAccessToken(infra.tokens, options.as) : undefined);
    const authorization = options.authorization ?? (token ? `Bearer ${token}` : undefined);
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  const search = (tenant: string, as: AccessTokenClaimsInput, criteria: Record<string, unknown> = {}) =>
    call('POST', `/v1/tenants/${tenant}/search`, { as, body: { limit: 100, ...criteria } });
  const mailboxesOf = (body: Json) =>
    [...new Set((body.items as Array<{ mailbox: string }>).map((i) => i.mailbox))].sort();
  const idsOf = (tenant: string, ...names: string[]) =>
    names.flatMap((name) => records.get(`${tenant}/${mailbox(name, tenant)}`) ?? []).sort();

  async function seed(tenant: string, receiveAs: 'yes' | 'no' | 'unknown'): Promise<void> {
    await prisma.tenant.create({ data: { id: tenant, name: tenant, slug: tenant } });
    await prisma.connector.create({
      data: { id: `${tenant}-imap`, tenantId: tenant, name: 'imap', kind: 'imap', receiveAs },
    });
    // Revoked connectors do not count, whatever they said.
    await prisma.connector.create({
      data: {
        id: `${tenant}-old`,
        tenantId: tenant,
        name: 'old',
        kind: 'imap',
        receiveAs: 'no',
        revokedAt: new Date(),
      },
    });
    // Nor does a connector still awaiting enrolment: nobody has checked its service account yet.
    await prisma.connector.create({
      data: {
        id: `${tenant}-new`,
        tenantId: tenant,
        name: 'new',
        kind: 'imap',
        enrolmentTokenHash: randomBytes(32).toString('hex'),
        enrolmentTokenExpiresAt: new Date(Date.now() + 86_400_000),
      },
    });
    let uid = 0;
    for (const [name, count] of [
      ['alice', 3],
      ['bob', 2],
    ] as const) {
      for (let n = 0; n < count; n++) {
        uid++;
        const contentId = randomBytes(32).toString('hex');
        const object = await prisma.storedObject.create({
          data: {
            tenantId: tenant,
            contentId,
            bucket: 'mlr-objects',
            key: `tenants/${tenant}/objects/${contentId.slice(0, 2)}/${contentId}`,
            plainSize: 500,
            sealedSize: 600,
            keyId: '0123456789abcdef',
            refCount: 1,
          },
        });
        const record = await prisma.indexRecord.create({
          data: {
            tenantId: tenant,
            mailbox: mailbox(name, tenant),
            folder: 'INBOX',
            sightingSource: 'imap',
            sightingEpoch: '1',
            sightingId: String(uid),
            contentId,
            objectId: object.id,
            sender: 'someone@example.org',
            subject: `Message ${uid}`,
            submissionDate: new Date(Date.UTC(2025, 0, uid)),
            size: 500,
          },
        });
        const key = `${tenant}/${mailbox(name, tenant)}`;
        records.set(key, [...(records.get(key) ?? []), record.id]);
      }
    }
  }

  async function audit(path: string, as: AccessTokenClaimsInput): Promise<AuditEvent[]> {
    const answer = await call('GET', path, { as });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body.events as AuditEvent[];
  }

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    await seed(acme, 'yes');
    await seed(globex, 'no');
    await seed(initech, 'unknown');
    const started = await Promise.all(
      (['licensing', 'indexing', 'scheduling'] as const).map((app) =>
        startApp({ app, env: infra.serviceEnv, logDir: join(logDir, app) }),
      ),
    );
    apps.push(...started);
    const gateway = await startApp({ app: 'gateway', env: infra.serviceEnv, logDir, waitHealthy: false });
    apps.push(gateway);
    port = gateway.port;
    await waitFor(
      async () => {
        const checks = (await fetchHealth(port)).body?.checks;
        return ['licensing', 'indexing', 'scheduling'].every((s) => checks?.[`service:${s}`]?.ok === true);
      },
      { what: 'the gateway to reach licensing, indexing and scheduling', timeoutMs: 60_000, intervalMs: 250 },
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.stop()));
    await prisma?.$disconnect();
  });

  describe('tokens (401)', () => {
    it('asks for a bearer token, and says how to send it', async () => {
      const answer = await call('GET', `/v1/tenants/${acme}/plans`);
      expect(answer.status).toBe(401);
      expect(answer.body.message).toBe('a bearer token is required: send "Authorization: Bearer <token>"');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="mlr", error="invalid_request"/);
      const basic = await call('GET', '/v1/licence', { authorization: 'Basic YWRtaW46YWRtaW4=' });
      expect(basic.status).toBe(401);
      expect(basic.body.message).toBe('the Authorization header must be "Bearer <token>"');
    });

    it('says why a token is refused: expired, other issuer, other audience, bad signature, malformed', async () => {
      const cases: Array<[string, Promise<string>, string]> = [
        [
          'expired',
          mintAccessToken(infra.tokens, operator, { expiresAt: Math.floor(Date.now() / 1000) - 3_600 }),
          'the token has expired',
        ],
        [
          'issuer',
          mintAccessToken(infra.tokens, operator, { issuer: 'https://elsewhere.example' }),
          'the token was issued by another issuer',
        ],
        [
          'audience',
          mintAccessToken(infra.tokens, operator, { audience: 'another-api' }),
          'the token is meant for another audience',
        ],
        [
          'signature',
          new SignJWT({ role: 'operator', mailboxes: [] })
            .setProtectedHeader({ alg: 'EdDSA' })
            .setSubject('intruder')
            .setIssuer(infra.tokens.issuer)
            .setAudience(infra.tokens.audience)
            .setExpirationTime('10m')
            .sign(generateKeyPairSync('ed25519').privateKey),
          'the token signature is not valid',
        ],
        ['malformed', Promise.resolve('abc.def.ghi'), 'the token is malformed'],
      ];
      for (const [what, token, message] of cases) {
        const answer = await call('GET', '/v1/licence', { token: await token });
        expect(answer.status, what).toBe(401);
        expect(answer.body.message, what).toContain(message);
        expect(answer.headers.get('www-authenticate'), what).toMatch(/error="invalid_token"/);
      }
    });

    it('refuses a token whose claims break the rules (a user without tenant)', async () => {
      const key = await import('jose').then(({ importPKCS8 }) => importPKCS8(infra.tokens.privateKeyPem, 'EdDSA'));
      const token = await new SignJWT({ role: 'user', mailboxes: ['x@y'] })
        .setProtectedHeader({ alg: 'EdDSA' })
        .setSubject('x@y')
        .setIssuer(infra.tokens.issuer)
        .setAudience(infra.tokens.audience)
        .setExpirationTime('10m')
        .sign(key);
      const answer = await call('GET', `/v1/tenants/${acme}/jobs`, { token });
      expect(answer.status).toBe(401);
      expect(answer.body.message).toBe("the token's claims are not valid: tenant: is required for the role user");
    });

    it('leaves health and metrics open', async () => {
      expect((await call('GET', '/health')).status).not.toBe(401);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^# HELP/m);
    });
  });

  describe('roles and tenants (403)', () => {
    it('keeps operators out of mail content', async () => {
      const answer = await search(acme, operator);
      expect(answer.status).toBe(403);
      expect(answer.body.message).toBe('an operator may not do this: it is for tenant admins and users');
    });

    it('keeps tenant admins and users out of the operators’ routes', async () => {
      for (const path of ['/v1/licence', '/v1/tenants', '/v1/usage', `/v1/tenants/${acme}`, '/v1/audit']) {
        const answer = await call('GET', path, { as: acmeAdmin });
        expect(answer.status, path).toBe(403);
        expect(answer.body.message, path).toBe('a tenant admin may not do this: it is for operators');
      }
      expect((await call('GET', `/v1/tenants/${acme}/plans`, { as: alice })).body.message).toBe(
        'a user may not do this: it is for operators and tenant admins',
      );
    });

    it('refuses a tenant admin on another tenant, and audits it under their own tenant', async () => {
      const answer = await search(globex, acmeAdmin);
      expect(answer.status).toBe(403);
      expect(answer.body.message).toBe(`your token is for tenant "${acme}", not for tenant "${globex}"`);
      const events = await audit(`/v1/tenants/${acme}/audit?action=search&outcome=denied`, acmeAdmin);
      expect(events.find((e) => e.detail?.['requestedTenant'] === globex)).toMatchObject({
        tenantId: acme,
        actor: acmeAdmin.sub,
        role: 'tenant_admin',
        action: 'search',
        outcome: 'denied',
      });
    });
  });

  describe('what a search may see', () => {
    it('shows a user their own mailbox only', async () => {
      const answer = await search(acme, alice);
      expect(answer.status).toBe(200);
      expect(answer.body.items.map((i: { id: string }) => i.id).sort()).toEqual(idsOf(acme, 'alice'));
      expect(mailboxesOf(answer.body)).toEqual([mailbox('alice', acme)]);
    });

    it('refuses a user who names another user’s mailbox, audits it, and the tenant admin reads it', async () => {
      const before = new Date().toISOString();
      const answer = await search(acme, alice, { mailboxes: [mailbox('bob', acme)] });
      expect(answer.status).toBe(403);
      expect(answer.body.message).toBe(
        `you may search only your own and delegated mailboxes (${mailbox('alice', acme)}); not yours: ${mailbox('bob', acme)}`,
      );
      const get = await call('GET', `/v1/tenants/${acme}/search?mailboxes=${mailbox('bob', acme)}`, { as: alice });
      expect(get.status).toBe(403);

      const events = await audit(`/v1/tenants/${acme}/audit?action=search&since=${before}`, acmeAdmin);
      const denied = events.filter((e) => e.actor === alice.sub && e.outcome === 'denied');
      expect(denied).toHaveLength(2);
      expect(denied[0]).toMatchObject({
        tenantId: acme,
        role: 'user',
        target: `tenant:${acme}`,
        detail: { mailboxes: [mailbox('bob', acme)], scope: [mailbox('alice', acme)], status: 403 },
      });
      // The user cannot read the trail.
      expect((await call('GET', `/v1/tenants/${acme}/audit`, { as: alice })).status).toBe(403);
    });

    it('shows a tenant admin every mailbox while the connectors in service have Receive As', async () => {
      const answer = await search(acme, acmeAdmin);
      expect(answer.status).toBe(200);
      expect(answer.body.items.map((i: { id: string }) => i.id).sort()).toEqual(idsOf(acme, 'alice', 'bob'));
      const bob = await search(acme, acmeAdmin, { mailboxes: [mailbox('bob', acme)] });
      expect(bob.status).toBe(200);
      expect(mailboxesOf(bob.body)).toEqual([mailbox('bob', acme)]);
    });

    it.each([
      ['no', () => globex],
      ['unknown', () => initech],
    ])('keeps a tenant admin to their own mailboxes when Receive As is %s', async (_receiveAs, tenantOf) => {
      const tenant = tenantOf();
      const answer = await search(tenant, adminOf(tenant));
      expect(answer.status).toBe(200);
      expect(answer.body.items.map((i: { id: string }) => i.id).sort()).toEqual(idsOf(tenant, 'bob'));
      const other = await search(tenant, adminOf(tenant), { mailboxes: [mailbox('alice', tenant)] });
      expect(other.status).toBe(403);
    });

    it('keeps a tenant admin without Receive As from backing up every mailbox', async () => {
      const plan = {
        name: 'everyone',
        connectorId: `${globex}-imap`,
        mailboxes: { kind: 'all' },
        schedule: null,
      };
      const all = await call('POST', `/v1/tenants/${globex}/plans`, { as: adminOf(globex), body: plan });
      expect(all.status).toBe(403);
      expect(all.body.message).toMatch(/may back up only your own mailboxes/);
      const own = await call('POST', `/v1/tenants/${globex}/plans`, {
        as: adminOf(globex),
        body: { ...plan, name: 'mine', mailboxes: { kind: 'list', mailboxes: [mailbox('bob', globex)] } },
      });
      expect(own.status, JSON.stringify(own.body)).toBe(201);
      expect(own.body.createdBy).toBe(adminOf(globex).sub);
    });
  });

  describe('the audit trail', () => {
    it('records plan changes with their target, and operators read every tenant', async () => {
      const created = await call('POST', `/v1/tenants/${acme}/plans`, {
        as: acmeAdmin,
        body: { name: 'nightly', connectorId: `${acme}-imap`, mailboxes: { kind: 'all' }, schedule: null },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const planId = created.body.id as string;
      expect((await call('DELETE', `/v1/tenants/${acme}/plans/${planId}`, { as: operator })).status).toBe(200);

      const ofAcme = await audit(`/v1/tenants/${acme}/audit?action=plan`, acmeAdmin);
      expect(ofAcme.map((e) => [e.action, e.actor, e.target, e.outcome])).toEqual([
        ['plan.delete', operator.sub, `plan:${planId}`, 'success'],
        ['plan.create', acmeAdmin.sub, `plan:${planId}`, 'success'],
      ]);
      expect(ofAcme.every((e) => e.tenantId === acme)).toBe(true);

      const all = await audit(`/v1/audit?actor=${encodeURIComponent(operator.sub)}`, operator);
      expect(all[0]).toMatchObject({ action: 'plan.delete', tenantId: acme, role: 'operator' });
      const globexOnly = await audit(`/v1/audit?tenantId=${globex}`, operator);
      expect(globexOnly.length).toBeGreaterThan(0);
      expect(globexOnly.every((e) => e.tenantId === globex)).toBe(true);
    });

    it('keeps each tenant admin to their own tenant’s trail', async () => {
      const answer = await call('GET', `/v1/tenants/${globex}/audit`, { as: acmeAdmin });
      expect(answer.status).toBe(403);
      const events = await audit(`/v1/tenants/${globex}/audit`, adminOf(globex));
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.tenantId === globex)).toBe(true);
    });

    it('pages newest first and filters by outcome and time', async () => {
      const first = await call('GET', `/v1/tenants/${acme}/audit?limit=2`, { as: acmeAdmin });
      expect(first.status).toBe(200);
      expect(first.body.events).toHaveLength(2);
      expect(first.body.nextCursor).toBe(first.body.events[1].id);
      const second = await call('GET', `/v1/tenants/${acme}/audit?limit=2&cursor=${first.body.nextCursor}`, {
        as: acmeAdmin,
      });
      expect(Number(second.body.events[0].id)).toBeLessThan(Number(first.body.events[1].id));
      const ats = [...first.body.events, ...second.body.events].map((e: AuditEvent) => Date.parse(e.at));
      expect([...ats].sort((a, b) => b - a)).toEqual(ats);

      const denied = await audit(`/v1/tenants/${acme}/audit?outcome=denied`, acmeAdmin);
      expect(denied.length).toBeGreaterThan(0);
      expect(denied.every((e) => e.outcome === 'denied')).toBe(true);
      expect(
        await audit(`/v1/tenants/${acme}/audit?since=${new Date(Date.now() + 60_000).toISOString()}`, acmeAdmin),
      ).toEqual([]);

      const bad = await call('GET', `/v1/tenants/${acme}/audit?outcome=maybe&cursor=x`, { as: acmeAdmin });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/outcome/);
      expect(bad.body.message).toMatch(/cursor must be the nextCursor of the previous page/);
    });

    it('keeps the event of a tenant that does not exist, platform-wide and naming the tenant', async () => {
      const ghost = `auth-ghost-${suffix}`;
      const stranger: AccessTokenClaimsInput = { sub: `x-${suffix}@ghost.test`, role: 'user', tenant: ghost };
      expect((await search(ghost, stranger)).body.items).toEqual([]);
      const events = await audit(`/v1/audit?actor=${encodeURIComponent(stranger.sub)}`, operator);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ tenantId: null, action: 'search', outcome: 'success' });
      expect(events[0]?.detail?.['unknownTenant']).toBe(ghost);
    });

    it('records operator changes of tenants, whatever their outcome', async () => {
      const slug = `auth-new-${suffix}`;
      const answer = await call('POST', '/v1/tenants', { as: operator, body: { name: 'New tenant', slug } });
      // With or without a licence that has room (the database is shared), the attempt is recorded.
      const events = await audit(`/v1/audit?action=tenant.create&actor=${encodeURIComponent(operator.sub)}`, operator);
      expect(events[0]).toMatchObject({
        action: 'tenant.create',
        role: 'operator',
        tenantId: null,
        outcome: answer.status === 201 ? 'success' : 'failure',
        ...(answer.status === 201 ? { target: `tenant:${answer.body.id}` } : {}),
      });
    });
  });
});
