import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  Injectable,
  Module,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ClientsModule, Transport } from '@nestjs/microservices';
import type { Subscription } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { restoreAcceptedSchema, serviceSubject } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { connectMessaging, type MessagingConnection } from '@mlr/messaging';
import { REPO_ROOT, startApp, type LocalInfrastructure, type RunningApp } from '@mlr/testing';
import { ServiceClient, SERVICES_CLIENT } from '../../services/service-client.js';
import { RestoresController } from '../restores.controller.js';

/**
 * The restore API over HTTP: the gateway's restore controller in this process (behind a stand-in
 * for the authentication guard that takes the principal from a header), real scheduling and
 * indexing services behind it, and a stand-in for licensing's `tenants.access`.
 */
const PRINCIPAL_HEADER = 'x-test-principal';

@Injectable()
class HeaderPrincipalGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string>; principal?: unknown }>();
    const header = request.headers[PRINCIPAL_HEADER];
    if (header) request.principal = JSON.parse(header);
    return true;
  }
}

@Module({})
class RestoreApiTestModule {
  static forRoot(infra: LocalInfrastructure): DynamicModule {
    const nats = infra.nats!;
    return {
      module: RestoreApiTestModule,
      imports: [
        ClientsModule.register([
          {
            name: SERVICES_CLIENT,
            transport: Transport.NATS,
            options: { servers: [nats.url], user: nats.servicesUser.user, pass: nats.servicesUser.password },
          },
        ]),
      ],
      controllers: [RestoresController],
      providers: [ServiceClient, { provide: APP_GUARD, useClass: HeaderPrincipalGuard }],
    };
  }
}

describe('gateway: restores API', () => {
  const infra = inject('infra');
  const tenantId = `gw-restore-${randomBytes(4).toString('hex')}`;
  const connectorId = `${tenantId}-imap`;
  const disabledTenant = `${tenantId}-off`;
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'gw-restore-'));
  const ALICE = 'alice@acme.test';
  const BOB = 'bob@acme.test';
  const apps: RunningApp[] = [];
  let prisma: PrismaClient;
  let messaging: MessagingConnection;
  let accessStandIn: Subscription;
  let gateway: INestApplication;
  let base: string;
  const recordIds: Record<string, string[]> = {};

  const principals = {
    admin: { sub: 'admin@acme.test', role: 'tenant_admin', tenant: tenantId, mailboxes: ['admin@acme.test'] },
    alice: { sub: ALICE, role: 'user', tenant: tenantId, mailboxes: [ALICE] },
    operator: { sub: 'ops@msp.test', role: 'operator', tenant: null, mailboxes: [] },
    disabledAdmin: { sub: 'admin@off.test', role: 'tenant_admin', tenant: disabledTenant, mailboxes: [] },
  } as const;

  async function insertRecord(tenant: string, uid: number, mailbox: string): Promise<string> {
    const contentId = randomBytes(32).toString('hex');
    const object = await prisma.storedObject.create({
      data: {
        tenantId: tenant,
        contentId,
        bucket: 'mlr-objects',
        key: `tenants/${tenant}/objects/${contentId.slice(0, 2)}/${contentId}`,
        plainSize: 1_000,
        sealedSize: 1_100,
        keyId: '0123456789abcdef',
        refCount: 1,
      },
    });
    const record = await prisma.indexRecord.create({
      data: {
        tenantId: tenant,
        mailbox,
        folder: 'INBOX',
        uidValidity: 1,
        uid,
        contentId,
        objectId: object.id,
        messageId: `<m${uid}@${tenant}>`,
        submissionDate: new Date(Date.UTC(2025, 5, 1) + uid * 60_000),
        subject: `Report ${uid}`,
        size: 1_000,
      },
      select: { id: true },
    });
    return record.id;
  }

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    for (const [id, enabled] of [
      [tenantId, true],
      [disabledTenant, false],
    ] as const) {
      await prisma.tenant.create({ data: { id, name: id, slug: id, mlrEnabled: enabled } });
      await prisma.connector.create({ data: { id: `${id}-imap`, tenantId: id, name: 'imap', kind: 'imap' } });
    }
    recordIds[ALICE] = [];
    for (let uid = 1; uid <= 5; uid++) recordIds[ALICE].push(await insertRecord(tenantId, uid, ALICE));
    recordIds[BOB] = [await insertRecord(tenantId, 6, BOB)];
    recordIds[disabledTenant] = [await insertRecord(disabledTenant, 1, ALICE)];

    const nats = infra.nats!;
    messaging = await connectMessaging({
      servers: nats.url,
      name: 'gateway-restore-test',
      credentials: { kind: 'userPassword', user: nats.servicesUser.user, password: nats.servicesUser.password },
    });
    // licensing `tenants.access` (Nest's NATS packets): this file's tenants' connectors have Receive As.
    accessStandIn = messaging.nc.subscribe(serviceSubject('licensing', 'tenants.access'));
    void (async () => {
      for await (const message of accessStandIn) {
        const packet = message.json<{ id: string; data: { tenantId: string } }>();
        const tenant = packet.data.tenantId;
        if (tenant !== tenantId && tenant !== disabledTenant) continue;
        const response = {
          tenantId: tenant,
          receiveAs: true,
          connectors: [{ id: `${tenant}-imap`, name: 'imap', receiveAs: 'yes', checkedAt: null }],
        };
        message.respond(JSON.stringify({ id: packet.id, response, isDisposed: true }));
      }
    })();

    apps.push(await startApp({ app: 'indexing', env: infra.serviceEnv, logDir }));
    apps.push(await startApp({ app: 'scheduling', env: { ...infra.serviceEnv, SCHEDULING_TICK_MS: '500' }, logDir }));
    gateway = await NestFactory.create(RestoreApiTestModule.forRoot(infra), { logger: false });
    await gateway.listen(0, '127.0.0.1');
    const { port } = gateway.getHttpServer().address() as AddressInfo;
    base = `http://127.0.0.1:${port}/v1/tenants`;
  }, 180_000);

  afterAll(async () => {
    await gateway?.close();
    accessStandIn?.unsubscribe();
    await Promise.allSettled(apps.map((app) => app.stop()));
    await messaging?.close();
    await prisma?.$disconnect();
  });

  // The answers are JSON of any shape; every use below checks what it reads with expect().
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Json = any;

  async function http(
    principal: object,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json; location: string | null }> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        [PRINCIPAL_HEADER]: JSON.stringify(principal),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? JSON.parse(text) : undefined,
      location: response.headers.get('location'),
    };
  }

  const jobs = (tenant: string) => prisma.job.count({ where: { tenantId: tenant } });

  it('queues a restore: 202 with the accepted job and its Location', async () => {
    const reply = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'mailbox', mailbox: BOB, folder: 'From Alice' },
    });
    expect(reply.status).toBe(202);
    const accepted = restoreAcceptedSchema.parse(reply.body);
    expect(accepted).toMatchObject({ state: 'queued', kind: 'restore', itemCount: 5, connectorId });
    expect(reply.location).toBe(`/v1/tenants/${tenantId}/jobs/${accepted.jobId}`);
    const job = await prisma.job.findUniqueOrThrow({ where: { id: accepted.jobId } });
    expect(job).toMatchObject({ kind: 'restore', requestedBy: principals.admin.sub });

    const exported = await http(principals.alice, 'POST', `/${tenantId}/restores`, {
      query: { subject: 'report' },
      target: { kind: 'export', format: 'eml-zip', fileName: 'reports.zip' },
    });
    expect(exported.status).toBe(202);
    // Alice's search covers her own mailbox only.
    expect(exported.body).toMatchObject({ kind: 'export', itemCount: 5 });
  });

  it('refuses a bad body with 400 naming the field, before any service is asked', async () => {
    const before = await jobs(tenantId);
    const both = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      query: { subject: 'report' },
      target: { kind: 'original' },
    });
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ field: 'recordIds' });
    expect(both.body.message).toContain('exactly one');

    const path = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'export', format: 'mbox', fileName: '../../etc/cron.d/x' },
    });
    expect(path.status).toBe(400);
    expect(path.body.field).toBe('target.fileName');

    const unknownField = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
      overwrite: true,
    });
    expect(unknownField.status).toBe(400);

    // A connector the tenant does not have: refused by scheduling, still 400.
    const connector = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      connectorId: 'no-such-connector',
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
    });
    expect(connector.status).toBe(400);
    expect(connector.body).toMatchObject({ error: 'invalid_request', field: 'connectorId' });
    expect(await jobs(tenantId)).toBe(before);
  });

  it('refuses with 403 what the requester may not do, and writes nothing', async () => {
    const before = await jobs(tenantId);
    const elsewhere = await http(principals.alice, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'mailbox', mailbox: BOB },
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body).toMatchObject({ error: 'forbidden', field: 'target' });

    const bobsMail = await http(principals.alice, 'POST', `/${tenantId}/restores`, {
      recordIds: [...recordIds[ALICE]!, ...recordIds[BOB]!],
      target: { kind: 'original' },
    });
    expect(bobsMail.status).toBe(403);
    expect(bobsMail.body.message).toContain(recordIds[BOB]![0]);

    const operator = await http(principals.operator, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
    });
    expect(operator.status).toBe(403);
    expect(await jobs(tenantId)).toBe(before);
  });

  it('refuses with 409 a tenant without MLR enabled', async () => {
    const reply = await http(principals.disabledAdmin, 'POST', `/${disabledTenant}/restores`, {
      recordIds: recordIds[disabledTenant],
      target: { kind: 'original' },
    });
    expect(reply.status).toBe(409);
    expect(reply.body.message).toContain('MLR is not enabled');
    expect(await jobs(disabledTenant)).toBe(0);
  });

  it('lists the items of a job with their results, by outcome and in pages', async () => {
    const created = await http(principals.admin, 'POST', `/${tenantId}/restores`, {
      recordIds: recordIds[ALICE],
      target: { kind: 'original' },
    });
    const jobId = created.body.jobId as string;
    const first = await http(principals.admin, 'GET', `/${tenantId}/jobs/${jobId}/items?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.items.map((item: Json) => item.seq)).toEqual([0, 1]);
    expect(first.body.items[0]).toMatchObject({ mailbox: ALICE, outcome: 'pending', reason: null });
    expect(first.body.nextAfter).toBe(1);
    const rest = await http(principals.admin, 'GET', `/${tenantId}/jobs/${jobId}/items?after=1&limit=10`);
    expect(rest.body).toMatchObject({ nextAfter: null });
    expect(rest.body.items.map((item: Json) => item.seq)).toEqual([2, 3, 4]);

    const restored = await http(principals.alice, 'GET', `/${tenantId}/jobs/${jobId}/items?outcome=restored`);
    expect(restored.body).toEqual({ items: [], nextAfter: null });

    const bad = await http(principals.admin, 'GET', `/${tenantId}/jobs/${jobId}/items?outcome=lost`);
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('outcome');

    const unknown = await http(principals.admin, 'GET', `/${tenantId}/jobs/no-such-job/items`);
    expect(unknown.status).toBe(404);

    const operator = await http(principals.operator, 'GET', `/${tenantId}/jobs/${jobId}/items`);
    expect(operator.status).toBe(403);
  });
});
