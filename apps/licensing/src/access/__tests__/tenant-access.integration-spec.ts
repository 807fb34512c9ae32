import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { serviceSubject, type TenantAccess } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { REPO_ROOT, servicesNatsClientOptions, startApp, type RunningApp } from '@mlr/testing';

/**
 * licensing `tenants.access` over real NATS and PostgreSQL: only connectors in service (enrolled,
 * not revoked) count, and a named connector is answered for by its own capability.
 */
describe('licensing: tenants.access counts connectors in service', () => {
  const infra = inject('infra');
  const suffix = randomBytes(3).toString('hex');
  const tenant = `access-${suffix}`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'licensing-access-'));
  const checkedAt = new Date('2026-11-24T08:00:00Z');
  let app: RunningApp;
  let prisma: PrismaClient;
  let client: ClientProxy;

  const send = (request: unknown) =>
    firstValueFrom(client.send<unknown>(serviceSubject('licensing', 'tenants.access'), request).pipe(timeout(15_000)));
  const access = async (request: { tenantId: string; connectorId?: string }) => (await send(request)) as TenantAccess;

  /** A connector row as licensing writes it at each step of its life. */
  async function connector(
    name: string,
    receiveAs: 'yes' | 'no' | 'unknown',
    life: 'enrolled' | 'provisioned' | 'awaiting' | 'expired' | 'revoked',
  ): Promise<string> {
    const id = `${tenant}-${name}`;
    const token = { enrolmentTokenHash: randomBytes(32).toString('hex') };
    await prisma.connector.create({
      data: {
        id,
        tenantId: tenant,
        name,
        kind: 'imap',
        receiveAs,
        ...(life === 'enrolled' || life === 'revoked'
          ? { ...token, enrolmentTokenUsedAt: checkedAt, capabilityCheckedAt: checkedAt }
          : {}),
        // Provisioned directly (tests, demo): no token at all, its credentials handed over.
        ...(life === 'provisioned' ? { capabilityCheckedAt: checkedAt } : {}),
        ...(life === 'awaiting' ? { ...token, enrolmentTokenExpiresAt: new Date(Date.now() + 86_400_000) } : {}),
        ...(life === 'expired' ? { ...token, enrolmentTokenExpiresAt: new Date(Date.now() - 60_000) } : {}),
        ...(life === 'revoked' ? { revokedAt: new Date() } : {}),
      },
    });
    return id;
  }

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    await prisma.tenant.create({ data: { id: tenant, name: tenant, slug: tenant } });
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: servicesNatsClientOptions(infra) });
    await client.connect();
    app = await startApp({ app: 'licensing', env: infra.serviceEnv, logDir });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await client?.close();
    await prisma?.$disconnect();
  });

  it('lets neither a connector awaiting enrolment nor a revoked one narrow the tenant', async () => {
    const enrolled = await connector('enrolled', 'yes', 'enrolled');
    await connector('awaiting', 'unknown', 'awaiting');
    await connector('expired', 'unknown', 'expired');
    await connector('revoked', 'no', 'revoked');
    expect(await access({ tenantId: tenant })).toEqual({
      tenantId: tenant,
      receiveAs: true,
      connectors: [{ id: enrolled, name: 'enrolled', receiveAs: 'yes', checkedAt: checkedAt.toISOString() }],
    });
  });

  it('answers for the named connector, whatever the others say', async () => {
    const without = await connector('without', 'no', 'provisioned');
    const whole = await access({ tenantId: tenant });
    // Both are in service now; one says no, so the tenant as a whole has no Receive As.
    expect(whole.receiveAs).toBe(false);
    expect(whole.connectors.map((c) => [c.name, c.receiveAs])).toEqual([
      ['enrolled', 'yes'],
      ['without', 'no'],
    ]);
    expect((await access({ tenantId: tenant, connectorId: `${tenant}-enrolled` })).receiveAs).toBe(true);
    const named = await access({ tenantId: tenant, connectorId: without });
    expect(named.receiveAs).toBe(false);
    expect(named.connectors).toEqual(whole.connectors);
  });

  it('says no for a named connector that is not in service, or not the tenant’s', async () => {
    for (const name of ['awaiting', 'expired', 'revoked', 'no-such-connector']) {
      expect((await access({ tenantId: tenant, connectorId: `${tenant}-${name}` })).receiveAs, name).toBe(false);
    }
    expect((await access({ tenantId: `other-${suffix}`, connectorId: `${tenant}-enrolled` })).receiveAs).toBe(false);
  });

  it('refuses a malformed connector id, naming it', async () => {
    const refusal = await send({ tenantId: tenant, connectorId: 'Not An Id' }).catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: 'invalid_request', field: 'connectorId' });
  });
});
