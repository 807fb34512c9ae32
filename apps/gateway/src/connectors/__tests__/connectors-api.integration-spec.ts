import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CAPABILITY_WARNINGS } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { fetchHealth, mintAccessToken, REPO_ROOT, startApp, waitFor, type RunningApp } from '@mlr/testing';

/** Connectors and enrolment over HTTP, through the gateway to a real licensing service. */
describe('gateway: connectors and enrolment API', () => {
  const infra = inject('infra');
  const suffix = randomBytes(4).toString('hex');
  const tenantId = `gw-conn-${suffix}`;
  const otherTenant = `gw-conn-other-${suffix}`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'gw-connectors-'));
  const apps: RunningApp[] = [];
  let prisma: PrismaClient;
  let root: string;
  let adminToken: string;
  let otherAdminToken: string;
  let operatorToken: string;
  let userToken: string;

  // The answers are JSON of any shape; every use below checks what it reads with expect().
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Json = any;

  async function http(
    method: string,
    path: string,
    options: { token?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: Json; headers: Headers }> {
    const response = await fetch(`${root}${path}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  // The tenant key every connector of the tenant uses (key ids are unique across tenants).
  const tenantKeyId = randomBytes(8).toString('hex');
  const enrolment = (token: string) => ({
    token,
    natsPublicKey: createUser().getPublicKey(),
    capability: {
      receiveAs: 'unknown',
      warnings: [CAPABILITY_WARNINGS.cannotVerify],
      checkedAt: new Date().toISOString(),
    },
    agentVersion: '0.1.0-test',
    sourceKind: 'imap',
    tenantKeyId,
  });

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    for (const id of [tenantId, otherTenant]) {
      await prisma.tenant.create({ data: { id, name: id, slug: id, mlrEnabled: true } });
    }
    // The local infrastructure's environment gives licensing the platform account's signing key.
    apps.push(await startApp({ app: 'licensing', env: infra.serviceEnv, logDir }));
    const gateway = await startApp({ app: 'gateway', env: infra.serviceEnv, logDir, waitHealthy: false });
    apps.push(gateway);
    await waitFor(async () => (await fetchHealth(gateway.port)).body?.checks?.['service:licensing']?.ok === true, {
      what: 'the gateway to reach licensing',
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    root = `http://127.0.0.1:${gateway.port}`;
    adminToken = await mintAccessToken(infra.tokens, {
      sub: 'admin@acme.test',
      role: 'tenant_admin',
      tenant: tenantId,
    });
    otherAdminToken = await mintAccessToken(infra.tokens, {
      sub: 'admin@other.test',
      role: 'tenant_admin',
      tenant: otherTenant,
    });
    operatorToken = await mintAccessToken(infra.tokens, { sub: 'ops@msp.test', role: 'operator' });
    userToken = await mintAccessToken(infra.tokens, {
      sub: 'alice@acme.test',
      role: 'user',
      tenant: tenantId,
      mailboxes: ['alice'],
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.stop()));
    await prisma?.$disconnect();
  });

  it("lets the tenant's admin create a connector, shows the token once (not cached), and enrols it without a bearer token", async () => {
    const created = await http('POST', `/v1/tenants/${tenantId}/connectors`, {
      token: adminToken,
      body: { name: 'Head office', kind: 'imap' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.headers.get('location')).toBe(`/v1/tenants/${tenantId}/connectors/${created.body.connector.id}`);
    expect(created.body.enrolmentToken).toMatch(/^mlr-enrol-/);
    expect(created.body.connector).toMatchObject({ name: 'Head office', state: 'awaiting_enrolment' });

    const listed = await http('GET', `/v1/tenants/${tenantId}/connectors`, { token: adminToken });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.enrolmentToken);

    const enrolled = await http('POST', '/v1/enrolments', { body: enrolment(created.body.enrolmentToken) });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    expect(enrolled.headers.get('cache-control')).toBe('no-store');
    expect(enrolled.body).toMatchObject({ tenantId, connectorId: created.body.connector.id });
    expect(typeof enrolled.body.userJwt).toBe('string');

    const replay = await http('POST', '/v1/enrolments', { body: enrolment(created.body.enrolmentToken) });
    expect(replay.status).toBe(403);
    expect(replay.body.message).toMatch(/already used/);

    const got = await http('GET', `/v1/tenants/${tenantId}/connectors/${created.body.connector.id}`, {
      token: operatorToken,
    });
    expect(got.body).toMatchObject({ state: 'enrolled', receiveAs: 'unknown' });
  });

  it("refuses another tenant's admin and plain users; refuses bad bodies naming the field", async () => {
    const foreign = await http('POST', `/v1/tenants/${tenantId}/connectors`, {
      token: otherAdminToken,
      body: { name: 'Intruder', kind: 'imap' },
    });
    expect(foreign.status).toBe(403);
    expect((await http('GET', `/v1/tenants/${tenantId}/connectors`, { token: otherAdminToken })).status).toBe(403);
    expect((await http('GET', `/v1/tenants/${tenantId}/connectors`, { token: userToken })).status).toBe(403);
    expect((await http('GET', `/v1/tenants/${tenantId}/connectors`)).status).toBe(401);

    const badKind = await http('POST', `/v1/tenants/${tenantId}/connectors`, {
      token: adminToken,
      body: { name: 'x', kind: 'fax' },
    });
    expect(badKind.status).toBe(400);
    expect(JSON.stringify(badKind.body)).toMatch(/kind/);

    const badEnrolment = await http('POST', '/v1/enrolments', { body: { token: 'nope' } });
    expect(badEnrolment.status).toBe(400);
    expect(JSON.stringify(badEnrolment.body)).toMatch(/enrolment token/);
  });

  it('revokes a connector, after which its token is refused', async () => {
    const created = await http('POST', `/v1/tenants/${tenantId}/connectors`, {
      token: operatorToken,
      body: { name: 'Branch', kind: 'graph' },
    });
    const id = created.body.connector.id as string;
    const revoked = await http('POST', `/v1/tenants/${tenantId}/connectors/${id}/revoke`, { token: adminToken });
    expect(revoked.status).toBe(200);
    expect(revoked.body.state).toBe('revoked');
    const refused = await http('POST', '/v1/enrolments', { body: enrolment(created.body.enrolmentToken) });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/revoked/);
  });

  it('refuses (409) an agent configured for another mail system than the connector, keeping the token usable', async () => {
    const created = await http('POST', `/v1/tenants/${tenantId}/connectors`, {
      token: adminToken,
      body: { name: 'Exchange Online', kind: 'graph' },
    });
    const refused = await http('POST', '/v1/enrolments', { body: enrolment(created.body.enrolmentToken) });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(
      /created for Microsoft Graph \(graph\).*configured for an IMAP server.*not used/,
    );
    const still = await http('GET', `/v1/tenants/${tenantId}/connectors/${created.body.connector.id}`, {
      token: adminToken,
    });
    expect(still.body.state).toBe('awaiting_enrolment');
  });
});
