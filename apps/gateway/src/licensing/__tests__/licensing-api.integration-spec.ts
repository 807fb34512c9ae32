import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, sign as ed25519Sign } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalJson, LICENCE_FORMAT, tenantChunksStream, UPLOAD_QUOTA_DEFAULT_BYTES } from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { connectMessaging } from '@mlr/messaging';
import { PlatformRunner, REPO_ROOT, servicesNatsCredentials, waitFor } from '@mlr/testing';

const suffix = randomBytes(4).toString('hex');
const unique = (prefix: string) => `${prefix}-${suffix}-${randomBytes(2).toString('hex')}`;

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}
interface TenantBody {
  id: string;
  slug: string;
  mlrEnabled: boolean;
}
interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  field?: string;
}

/**
 * The operator's licensing API through the gateway, with every service running as in production.
 * Licences are made with the vendor's licence tool, as the vendor would.
 */
describe('gateway: licence, tenants, MLR enablement and usage', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'gateway-licensing-'));
  /** Where this file's `keygen` writes (the tool under test). */
  const newKeyDir = join(dir, 'vendor-keys');
  /**
   * The vendor key licences are signed with: the local infrastructure's (same layout as `keygen`'s),
   * which every licensing process of the test run trusts, so the licence left in force verifies for
   * the files that run after this one.
   */
  const keyDir = infra.licenceVendor.keyDir;
  let platform: PlatformRunner;
  let prisma: PrismaClient;
  let vendorKeyId: string;

  /** Runs the licence tool as the vendor does (its own process); returns what it printed. */
  async function tool(...argv: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', '@swc-node/register/esm-register', 'tools/licence/licence-tool.ts', ...argv],
      { cwd: REPO_ROOT },
    );
    return stdout;
  }

  /** A licence signed by the tool (one process per licence: used where the tool itself is under test). */
  async function toolSigned(options: { maxTenants: number }): Promise<Record<string, unknown>> {
    const expires = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
    const text = await tool(
      'sign',
      '--key',
      join(keyDir, 'vendor-private.pem'),
      '--licensee',
      'Example MSP Ltd',
      '--features',
      'mlr',
      '--max-tenants',
      String(options.maxTenants),
      '--max-mailboxes',
      '5000',
      '--expires',
      expires,
    );
    return JSON.parse(text) as Record<string, unknown>;
  }

  /** The same signature, made here: the service cannot tell, and the test does not wait for a process each time. */
  function sign(options: { features?: string; maxTenants: number }): Record<string, unknown> {
    const issuedAt = new Date();
    const document = {
      format: LICENCE_FORMAT,
      serial: unique('GW'),
      licensee: 'Example MSP Ltd',
      features: (options.features ?? 'mlr').split(','),
      maxTenants: options.maxTenants,
      maxProtectedMailboxes: 5000,
      issuedAt: issuedAt.toISOString(),
      expiresAt: new Date(issuedAt.getTime() + 365 * 86_400_000).toISOString(),
      graceDays: 14,
    };
    const privateKey = createPrivateKey(readFileSync(join(keyDir, 'vendor-private.pem'), 'utf8'));
    const signature = ed25519Sign(null, Buffer.from(canonicalJson(document)), privateKey).toString('base64');
    return { document, signature, keyId: vendorKeyId };
  }

  const http = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
    platform.http<T>(method, path, body) as Promise<Answer<T>>;

  /** Imports a licence with room for `room` more tenants than there are. */
  async function licenceWithRoom(room: number, features = 'mlr'): Promise<Record<string, unknown>> {
    const total = await prisma.tenant.count();
    const imported = await http('POST', '/v1/licence', sign({ features, maxTenants: total + room }));
    expect(imported.status).toBe(201);
    return imported.body;
  }

  async function createTenant(): Promise<TenantBody> {
    const created = await http<TenantBody>('POST', '/v1/tenants', { name: 'Tenant', slug: unique('gw') });
    expect(created.status).toBe(201);
    return created.body;
  }

  beforeAll(async () => {
    const keygen = await tool('keygen', '--out', newKeyDir);
    expect(statSync(join(newKeyDir, 'vendor-private.pem')).mode & 0o777).toBe(0o600);
    expect(keygen).toMatch(/^LICENSING_VENDOR_PUBLIC_KEY=.+$/m);
    expect(keygen).toMatch(/^vendor key [0-9a-f]{16}$/m);
    vendorKeyId = (await toolSigned({ maxTenants: 1 }))['keyId'] as string;
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    platform = new PlatformRunner(
      {
        ...infra,
        serviceEnv: { ...infra.serviceEnv, SCHEDULING_TICK_MS: '300' },
      },
      dir,
    );
    await platform.startPlatform();
  }, 180_000);

  afterAll(async () => {
    // Leave a generous licence in force for the test files that run after this one.
    if (platform?.apps.has('gateway')) {
      await http('POST', '/v1/licence', sign({ maxTenants: 100_000 })).catch(() => undefined);
    }
    await platform?.stop();
    await prisma?.$disconnect();
  });

  it('imports the licence the tool signed, and refuses it once a byte is changed', async () => {
    const licence = await toolSigned({ maxTenants: 100_000 });
    const text = JSON.stringify(licence);
    const tamperedText = text.replace('"maxTenants":100000', '"maxTenants":900000');
    expect(tamperedText).not.toBe(text);
    const tampered = await http<ErrorBody>('POST', '/v1/licence', JSON.parse(tamperedText));
    expect(tampered.status).toBe(400);
    expect(tampered.body.message).toMatch(/^tampered licence: /);

    const imported = await http('POST', '/v1/licence', licence);
    expect(imported.status).toBe(201);
    expect(imported.body).toMatchObject({ licensee: 'Example MSP Ltd', features: ['mlr'], maxTenants: 100_000 });
    const current = await http('GET', '/v1/licence');
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({ serial: (licence['document'] as { serial: string }).serial });
    expect((current.body['status'] as { state: string }).state).toBe('valid');

    const envelope = await http<ErrorBody>('POST', '/v1/licence', { document: licence['document'] });
    expect(envelope.status).toBe(400);
    expect(envelope.body.field).toBe('signature');
  });

  it('creates, lists and shows tenants, and refuses one beyond the licence limit', async () => {
    await licenceWithRoom(1);
    const created = await http<TenantBody>('POST', '/v1/tenants', { name: 'Acme', slug: unique('gw') });
    expect(created.status).toBe(201);
    // Packed storage unless the operator asks for one S3 object per message.
    expect(created.body).toMatchObject({ name: 'Acme', mlrEnabled: false, objectLayout: 'packed' });
    expect((await http('GET', `/v1/tenants/${created.body.id}`)).body).toMatchObject({ id: created.body.id });
    const listed = await http<{ tenants: TenantBody[] }>('GET', '/v1/tenants?limit=1000');
    expect(listed.body.tenants.map((t) => t.id)).toContain(created.body.id);

    const beyond = await http<ErrorBody>('POST', '/v1/tenants', { name: 'Beyond', slug: unique('gw') });
    expect(beyond.status).toBe(409);
    expect(beyond.body.message).toMatch(/^tenant limit reached: licence .* allows \d+ tenants and there are already/);
    expect((await http<ErrorBody>('GET', '/v1/tenants/no-such-tenant')).status).toBe(404);
    expect((await http<ErrorBody>('POST', '/v1/tenants', { name: 'x', slug: 'Bad Slug' })).body.field).toBe('slug');
    const layout = await http<ErrorBody>('POST', '/v1/tenants', { name: 'x', slug: unique('gw'), objectLayout: 'zip' });
    expect(layout.status).toBe(400);
    expect(layout.body.field).toBe('objectLayout');
  });

  it('creates a tenant whose messages are stored one S3 object each', async () => {
    await licenceWithRoom(1_000);
    const created = await http<TenantBody>('POST', '/v1/tenants', {
      name: 'Strict policy',
      slug: unique('gw'),
      objectLayout: 'individual',
    });
    expect(created.status).toBe(201);
    expect((await http('GET', `/v1/tenants/${created.body.id}`)).body).toMatchObject({ objectLayout: 'individual' });
  });

  it('refuses to enable MLR without the feature, and enables it with the feature', async () => {
    await licenceWithRoom(2, 'archive');
    const tenant = await createTenant();
    const lacking = await http<ErrorBody>('POST', `/v1/tenants/${tenant.id}/mlr/enable`);
    expect(lacking.status).toBe(409);
    expect(lacking.body.message).toMatch(/does not include the "mlr" feature \(it has: archive\)/);

    await licenceWithRoom(2);
    const enabled = await http<TenantBody>('POST', `/v1/tenants/${tenant.id}/mlr/enable`);
    expect(enabled.status).toBe(200);
    expect(enabled.body.mlrEnabled).toBe(true);
    const disabled = await http<TenantBody>('POST', `/v1/tenants/${tenant.id}/mlr/disable`);
    expect(disabled.body.mlrEnabled).toBe(false);
  });

  it("sets a tenant's upload quota (operators only): the byte limit of its chunk stream, refused when NATS has no room", async () => {
    await licenceWithRoom(2);
    const tenant = await createTenant();
    const operator = { as: { sub: 'ops@msp.test', role: 'operator' as const } };
    const quota = (bytes: unknown) =>
      platform.http<TenantBody & { uploadQuota: { bytes: number; isDefault: boolean } } & ErrorBody>(
        'PUT',
        `/v1/tenants/${tenant.id}/upload-quota`,
        { bytes },
        operator,
      );
    const messaging = await connectMessaging({
      servers: infra.nats!.url,
      name: 'licensing-api-it',
      credentials: servicesNatsCredentials(infra),
    });
    const maxBytes = async () =>
      (await (await messaging.manager()).streams.info(tenantChunksStream(tenant.id).name)).config.max_bytes;
    try {
      expect((await http<{ uploadQuota: unknown }>('GET', `/v1/tenants/${tenant.id}`)).body.uploadQuota).toEqual({
        bytes: UPLOAD_QUOTA_DEFAULT_BYTES,
        isDefault: true,
      });
      // Enabling MLR makes the tenant's chunk stream, with the default quota.
      expect((await http('POST', `/v1/tenants/${tenant.id}/mlr/enable`)).status).toBe(200);
      expect(await maxBytes()).toBe(UPLOAD_QUOTA_DEFAULT_BYTES);

      const set = await quota(64 * 1024 * 1024);
      expect(set.status).toBe(200);
      expect(set.body.uploadQuota).toEqual({ bytes: 64 * 1024 * 1024, isDefault: false });
      expect(await maxBytes()).toBe(64 * 1024 * 1024);

      // A tenant admin may not set it (the platform runner's default principal for this path).
      expect((await platform.http('PUT', `/v1/tenants/${tenant.id}/upload-quota`, { bytes: 1 << 30 })).status).toBe(
        403,
      );
      for (const bad of [1024, 2.5, '64MiB', 2 * 1024 ** 4]) {
        const refused = await quota(bad);
        expect(refused.status).toBe(400);
        expect(refused.body.message).toMatch(/^invalid request body: bytes: /);
      }
      // NATS reserves every quota in its file store (1 TiB here, part of it reserved by other tenants).
      const tooMuch = await quota(1024 ** 4);
      expect(tooMuch.status).toBe(409);
      expect(tooMuch.body.message).toMatch(/NATS cannot reserve 1099511627776 bytes .*max_file_store/);
      expect(await maxBytes()).toBe(64 * 1024 * 1024); // nothing changed
      expect((await http<{ uploadQuota: unknown }>('GET', `/v1/tenants/${tenant.id}`)).body.uploadQuota).toEqual({
        bytes: 64 * 1024 * 1024,
        isDefault: false,
      });

      const reset = await quota(null);
      expect(reset.body.uploadQuota).toEqual({ bytes: UPLOAD_QUOTA_DEFAULT_BYTES, isDefault: true });
      expect(await maxBytes()).toBe(UPLOAD_QUOTA_DEFAULT_BYTES);
      const unknown = await platform.http<ErrorBody>(
        'PUT',
        '/v1/tenants/no-such-tenant/upload-quota',
        { bytes: null },
        operator,
      );
      expect(unknown.status).toBe(404);

      const audited = () =>
        prisma.auditEvent.findMany({
          where: { action: 'tenant.quota.set', target: `tenant:${tenant.id}` },
          orderBy: { id: 'asc' },
        });
      await waitFor(async () => (await audited()).length >= 8, { what: 'the audit events', timeoutMs: 10_000 });
      expect((await audited()).map((event) => [event.actor, event.outcome])).toEqual([
        ['ops@msp.test', 'success'],
        ['admin@platform-runner', 'denied'],
        ...Array(5).fill(['ops@msp.test', 'failure']),
        ['ops@msp.test', 'success'],
      ]);
    } finally {
      await messaging.close();
    }
  });

  it("sets a tenant's default object retention (operators only), which storage then locks its new objects for", async () => {
    await licenceWithRoom(2);
    const tenant = await createTenant();
    const operator = { as: { sub: 'ops@msp.test', role: 'operator' as const } };
    const retention = (days: unknown) =>
      platform.http<TenantBody & { objectRetentionDays: number | null } & ErrorBody>(
        'PUT',
        `/v1/tenants/${tenant.id}/object-retention`,
        { days },
        operator,
      );
    expect(
      (await http<{ objectRetentionDays: unknown }>('GET', `/v1/tenants/${tenant.id}`)).body.objectRetentionDays,
    ).toBe(null);
    const set = await retention(365);
    expect(set.status).toBe(200);
    expect(set.body.objectRetentionDays).toBe(365);
    // What storage asks licensing (tenants.get) carries it.
    expect(
      (await http<{ objectRetentionDays: unknown }>('GET', `/v1/tenants/${tenant.id}`)).body.objectRetentionDays,
    ).toBe(365);
    expect(
      (await platform.http('PUT', `/v1/tenants/${tenant.id}/object-retention`, { days: 1 })).status,
      'a tenant admin may not shorten it',
    ).toBe(403);
    for (const bad of [0, -1, 2.5, '30d', 36_501]) {
      const refused = await retention(bad);
      expect(refused.status).toBe(400);
      expect(refused.body.message).toMatch(/^invalid request body: days: /);
    }
    expect((await retention(null)).body.objectRetentionDays).toBe(null);
    expect(
      (await platform.http('PUT', '/v1/tenants/no-such-tenant/object-retention', { days: 1 }, operator)).status,
    ).toBe(404);
    const audited = () =>
      prisma.auditEvent.findMany({
        where: { action: 'tenant.retention.set', target: `tenant:${tenant.id}` },
        orderBy: { id: 'asc' },
      });
    await waitFor(async () => (await audited()).length >= 8, { what: 'the audit events', timeoutMs: 10_000 });
    expect((await audited()).map((event) => [event.actor, event.outcome])).toEqual([
      ['ops@msp.test', 'success'],
      ['admin@platform-runner', 'denied'],
      ...Array(5).fill(['ops@msp.test', 'failure']),
      ['ops@msp.test', 'success'],
    ]);
  });

  it('refuses a run-now for a tenant without MLR before any job exists; the ticker records why it did not run', async () => {
    await licenceWithRoom(2);
    const tenant = await createTenant();
    const connectorId = unique('gw-imap');
    // With "Receive As" the tenant admin the runner acts as may back up every mailbox.
    await prisma.connector.create({
      data: { id: connectorId, tenantId: tenant.id, name: connectorId, kind: 'imap', receiveAs: 'yes' },
    });
    const planId = await platform.createPlan(tenant.id, { name: 'nightly', connectorId, mailboxes: { kind: 'all' } });

    const refused = await http<ErrorBody>('POST', `/v1/tenants/${tenant.id}/plans/${planId}/run`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.field).toBe('tenantId');
    expect(refused.body.message).toMatch(
      /^tenantId: backup refused, no job was created: MLR is not enabled for tenant gw-.*: an operator must enable it/,
    );
    expect(await prisma.job.count({ where: { tenantId: tenant.id } })).toBe(0);

    expect((await http('POST', `/v1/tenants/${tenant.id}/mlr/enable`)).status).toBe(200);
    const accepted = await http<{ jobId: string }>('POST', `/v1/tenants/${tenant.id}/plans/${planId}/run`, {});
    expect(accepted.status).toBe(202);
    expect(await prisma.job.count({ where: { tenantId: tenant.id } })).toBe(1);

    // A scheduled run after MLR was disabled: recorded as a failed job with the reason, never published.
    expect((await http('POST', `/v1/tenants/${tenant.id}/mlr/disable`)).status).toBe(200);
    const cron = await http<{ id: string }>('POST', `/v1/tenants/${tenant.id}/plans`, {
      name: 'hourly',
      connectorId,
      mailboxes: { kind: 'all' },
      schedule: { cron: '0 * * * *' },
    });
    expect(cron.status).toBe(201);
    await prisma.backupPlan.update({ where: { id: cron.body.id }, data: { nextRunAt: new Date(Date.now() - 1_000) } });
    await waitFor(async () => (await prisma.job.count({ where: { planId: cron.body.id } })) > 0, {
      what: 'the scheduler to take the due plan',
      timeoutMs: 30_000,
    });
    const jobs = await prisma.job.findMany({ where: { planId: cron.body.id } });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ state: 'failed', publishedAt: null, requestedBy: 'schedule' });
    expect(jobs[0]?.error).toMatch(/^backup refused before any mail was read: MLR is not enabled for tenant/);
    const plan = await prisma.backupPlan.findUniqueOrThrow({ where: { id: cron.body.id } });
    expect(plan.nextRunAt!.getTime()).toBeGreaterThan(Date.now());
  });

  it('serves usage as JSON and as CSV', async () => {
    const tenantId = unique('gw-usage');
    await prisma.tenant.create({
      data: { id: tenantId, name: 'Usage, "Quoted" Ltd', slug: tenantId, mlrEnabled: true },
    });
    const object = await prisma.storedObject.create({
      data: {
        tenantId,
        contentId: randomBytes(32).toString('hex'),
        bucket: 'mlr-test',
        key: `tenants/${tenantId}/objects/x`,
        plainSize: 900n,
        sealedSize: 700n,
        keyId: 'k1',
        refCount: 1,
      },
    });
    await prisma.indexRecord.create({
      data: {
        tenantId,
        mailbox: 'dora@usage.example',
        folder: 'INBOX',
        sightingSource: 'imap',
        sightingEpoch: String(7n),
        sightingId: String(1n),
        contentId: object.contentId,
        objectId: object.id,
        size: 900n,
        // Indexed long ago: Dora counts because her mailbox was backed up yesterday, nothing new or not.
        createdAt: new Date(Date.now() - 90 * 86_400_000),
      },
    });
    const connector = await prisma.connector.create({ data: { tenantId, name: 'usage-imap', kind: 'imap' } });
    await prisma.folderCheckpoint.create({
      data: {
        tenantId,
        connectorId: connector.id,
        mailbox: 'dora@usage.example',
        folder: 'INBOX',
        source: 'imap',
        cursorVersion: 1,
        epoch: '7',
        position: 1n,
      },
    });
    await prisma.$executeRaw`UPDATE folder_checkpoints SET updated_at = now() - interval '90 days'
      WHERE connector_id = ${connector.id}`;
    await prisma.$executeRaw`UPDATE index_records SET updated_at = now() - interval '90 days' WHERE tenant_id = ${tenantId}`;
    const finishedAt = new Date(Date.now() - 86_400_000);
    await prisma.job.create({
      data: {
        tenantId,
        connectorId: connector.id,
        kind: 'backup',
        state: 'succeeded',
        request: { kind: 'backup', mailboxes: { kind: 'all' } },
        requestedBy: 'schedule',
        createdAt: finishedAt,
        startedAt: finishedAt,
        finishedAt,
      },
    });

    const json = await http<{ tenants: Array<Record<string, unknown>> }>('GET', `/v1/usage?tenantId=${tenantId}`);
    expect(json.status).toBe(200);
    expect(json.body.tenants).toEqual([
      {
        tenantId,
        slug: tenantId,
        name: 'Usage, "Quoted" Ltd',
        mlrEnabled: true,
        protectedMailboxes: 1,
        storedObjects: 1,
        storedBytes: 700,
      },
    ]);

    const response = await fetch(`http://127.0.0.1:${platform.app('gateway').port}/v1/usage.csv`, {
      headers: { authorization: `Bearer ${await platform.token({ sub: 'ops@msp.test', role: 'operator' })}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toMatch(/attachment; filename="mlr-usage-.*\.csv"/);
    const lines = (await response.text()).split('\r\n');
    expect(lines[0]).toBe('generatedAt,tenantId,slug,name,mlrEnabled,protectedMailboxes,storedObjects,storedBytes');
    expect(lines.find((line) => line.includes(tenantId))).toMatch(
      new RegExp(`^[^,]+,${tenantId},${tenantId},"Usage, ""Quoted"" Ltd",true,1,1,700$`),
    );
    const samples = await prisma.usageSample.count({ where: { tenantId } });
    expect(samples).toBe(2);
    expect(readFileSync(join(newKeyDir, 'vendor-public.pem'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
  });
});
