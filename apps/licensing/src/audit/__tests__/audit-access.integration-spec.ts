import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { serviceSubject, type AuditEventInput, type ServiceCalls, type ServiceVerb } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { REPO_ROOT, servicesNatsClientOptions, startApp, type RunningApp } from '@mlr/testing';

/** The licensing service's `tenants.access`, `audit.record` and `audit.list`, over real NATS and PostgreSQL. */
describe('licensing: tenant access and the audit trail', () => {
  const infra = inject('infra');
  const suffix = randomBytes(3).toString('hex');
  const tenant = `audit-${suffix}`;
  const other = `audit-other-${suffix}`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'licensing-audit-'));
  let app: RunningApp;
  let prisma: PrismaClient;
  let client: ClientProxy;

  const send = (verb: ServiceVerb, request: unknown) =>
    firstValueFrom(client.send<unknown>(serviceSubject('licensing', verb), request).pipe(timeout(15_000)));
  const call = async <V extends ServiceVerb>(
    verb: V,
    request: ServiceCalls[V]['request'],
  ): Promise<ServiceCalls[V]['response']> => (await send(verb, request)) as ServiceCalls[V]['response'];
  const refusal = async (verb: ServiceVerb, request: unknown) => {
    try {
      await send(verb, request);
    } catch (error) {
      return error as { code: string; message: string; field?: string };
    }
    throw new Error(`${verb} was expected to be refused`);
  };
  const event = (overrides: Partial<AuditEventInput> = {}): AuditEventInput => ({
    tenantId: tenant,
    actor: `admin-${suffix}@acme.test`,
    role: 'tenant_admin',
    action: 'plan.create',
    target: 'plan:p1',
    outcome: 'success',
    detail: { request: 'POST /v1/tenants/x/plans' },
    ...overrides,
  });

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    for (const id of [tenant, other]) await prisma.tenant.create({ data: { id, name: id, slug: id } });
    client = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: servicesNatsClientOptions(infra),
    });
    await client.connect();
    app = await startApp({ app: 'licensing', env: infra.serviceEnv, logDir });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await client?.close();
    await prisma?.$disconnect();
  });

  describe('tenants.access', () => {
    it('says no Receive As for a tenant without connectors (and for a tenant that does not exist)', async () => {
      expect(await call('tenants.access', { tenantId: tenant })).toEqual({
        tenantId: tenant,
        receiveAs: false,
        connectors: [],
      });
      expect((await call('tenants.access', { tenantId: `nobody-${suffix}` })).receiveAs).toBe(false);
    });

    it('follows what enrolment found about every connector in service', async () => {
      const checkedAt = new Date('2026-11-24T08:00:00Z');
      await prisma.connector.create({
        data: {
          id: `${tenant}-a`,
          tenantId: tenant,
          name: 'a',
          kind: 'imap',
          receiveAs: 'yes',
          capabilityCheckedAt: checkedAt,
        },
      });
      await prisma.connector.create({
        data: {
          id: `${tenant}-gone`,
          tenantId: tenant,
          name: 'gone',
          kind: 'imap',
          receiveAs: 'no',
          revokedAt: new Date(),
        },
      });
      expect(await call('tenants.access', { tenantId: tenant })).toEqual({
        tenantId: tenant,
        receiveAs: true,
        connectors: [{ id: `${tenant}-a`, name: 'a', receiveAs: 'yes', checkedAt: checkedAt.toISOString() }],
      });
      await prisma.connector.create({
        data: { id: `${tenant}-b`, tenantId: tenant, name: 'b', kind: 'imap', receiveAs: 'unknown' },
      });
      const access = await call('tenants.access', { tenantId: tenant });
      expect(access.receiveAs).toBe(false);
      expect(access.connectors.map((c) => c.receiveAs)).toEqual(['yes', 'unknown']);
    });

    it('refuses a malformed tenant id, naming it', async () => {
      expect(await refusal('tenants.access', { tenantId: 'Not A Tenant' })).toMatchObject({
        code: 'invalid_request',
        field: 'tenantId',
      });
    });
  });

  describe('audit.record and audit.list', () => {
    it('records an event and lists it back with its id and time', async () => {
      const before = Date.now();
      const recorded = await call('audit.record', event());
      expect(recorded.id).toMatch(/^[0-9]+$/);
      expect(Date.parse(recorded.at)).toBeGreaterThanOrEqual(before - 1_000);
      const listed = await call('audit.list', { tenantId: tenant });
      expect(listed.events[0]).toEqual({ ...event(), id: recorded.id, at: recorded.at });
      expect(listed.nextCursor).toBeNull();
    });

    it('refuses a bad event, naming every bad field', async () => {
      const refused = await refusal('audit.record', {
        ...event(),
        action: 'Plan Create',
        outcome: 'maybe',
        role: 'root',
      });
      expect(refused.code).toBe('invalid_request');
      expect(refused.message).toMatch(/action: an action is dotted lower-case words/);
      expect(refused.message).toMatch(/outcome/);
      expect(refused.message).toMatch(/role/);
    });

    it('filters by tenant, action prefix (whole words), outcome, actor and time, newest first', async () => {
      const t0 = new Date();
      await call('audit.record', event({ action: 'plan.delete', outcome: 'failure' }));
      await call('audit.record', event({ action: 'planning', outcome: 'success' }));
      await call('audit.record', event({ action: 'search', outcome: 'denied', actor: `alice-${suffix}` }));
      await call('audit.record', event({ tenantId: other, action: 'plan.create' }));
      const t1 = new Date(Date.now() + 1);

      const plans = await call('audit.list', { tenantId: tenant, action: 'plan', since: t0.toISOString() });
      expect(plans.events.map((e) => e.action)).toEqual(['plan.delete']);
      const denied = await call('audit.list', { tenantId: tenant, outcome: 'denied' });
      expect(denied.events.map((e) => e.actor)).toEqual([`alice-${suffix}`]);
      const byActor = await call('audit.list', { actor: `alice-${suffix}` });
      expect(byActor.events).toHaveLength(1);
      const window = await call('audit.list', { tenantId: tenant, since: t0.toISOString(), until: t1.toISOString() });
      expect(window.events.map((e) => e.action)).toEqual(['search', 'planning', 'plan.delete']);
      const otherTenant = await call('audit.list', { tenantId: other });
      expect(otherTenant.events.every((e) => e.tenantId === other)).toBe(true);
      const everyone = await call('audit.list', { since: t0.toISOString() });
      expect(new Set(everyone.events.map((e) => e.tenantId))).toEqual(new Set([tenant, other]));
    });

    it('pages with a cursor without skipping or repeating', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await call('audit.list', { tenantId: tenant, limit: 2, ...(cursor ? { cursor } : {}) });
        expect(page.events.length).toBeLessThanOrEqual(2);
        seen.push(...page.events.map((e) => e.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      const all = await call('audit.list', { tenantId: tenant, limit: 500 });
      expect(seen).toEqual(all.events.map((e) => e.id));
      expect(new Set(seen).size).toBe(seen.length);
    });

    it('keeps an event about a tenant that does not exist, platform-wide and naming the tenant', async () => {
      const ghost = `ghost-${suffix}`;
      const recorded = await call('audit.record', event({ tenantId: ghost, actor: `ghost-actor-${suffix}` }));
      const listed = await call('audit.list', { actor: `ghost-actor-${suffix}` });
      expect(listed.events).toEqual([
        expect.objectContaining({
          id: recorded.id,
          tenantId: null,
          detail: { request: 'POST /v1/tenants/x/plans', unknownTenant: ghost },
        }),
      ]);
    });

    it('writes events that come together in one go, each answered with its own id, unknown tenants included', async () => {
      const ghost = `ghost-many-${suffix}`;
      const sent = Array.from({ length: 60 }, (_, i) =>
        event({
          tenantId: i % 7 === 3 ? ghost : tenant,
          actor: `many-${suffix}-${i}`,
          outcome: i % 2 === 0 ? 'success' : 'denied',
          detail: i % 5 === 0 ? null : { request: `POST /v1/tenants/x/plans/${i}` },
        }),
      );
      const recorded = await Promise.all(sent.map((e) => call('audit.record', e)));
      expect(new Set(recorded.map((r) => r.id)).size).toBe(sent.length);
      for (const [i, e] of sent.entries()) {
        const [listed] = (await call('audit.list', { actor: e.actor })).events;
        const unknown = e.tenantId === ghost;
        expect(listed).toEqual({
          ...e,
          id: recorded[i]!.id,
          at: recorded[i]!.at,
          tenantId: unknown ? null : tenant,
          detail: unknown ? { ...e.detail, unknownTenant: ghost } : e.detail,
        });
      }
    });

    it('refuses a cursor that is not one', async () => {
      expect(await refusal('audit.list', { cursor: 'abc' })).toMatchObject({
        code: 'invalid_request',
        field: 'cursor',
      });
    });
  });
});
