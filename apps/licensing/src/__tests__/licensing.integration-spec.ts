import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  serviceSubject,
  type LicenceView,
  type ServiceCalls,
  type ServiceVerb,
  type SignedLicence,
} from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { BackupHistory, REPO_ROOT, servicesNatsClientOptions, startApp, waitFor, type RunningApp } from '@mlr/testing';
import { testVendor } from './licence-factory.js';

const DAY = 86_400_000;
const suffix = randomBytes(4).toString('hex');
const unique = (prefix: string) => `${prefix}-${suffix}-${randomBytes(2).toString('hex')}`;

/**
 * The licensing service as its own process against the shared PostgreSQL and NATS. The licence is
 * platform-wide, so each test imports the licence it needs (issued now, hence newer than any before);
 * tenant limits are set relative to the tenants other test files have left in the database.
 */
describe('licensing service', () => {
  const infra = inject('infra');
  // The infrastructure's vendor: the licence this file leaves in force verifies for every file after it.
  const vendor = testVendor(readFileSync(join(infra.licenceVendor.keyDir, 'vendor-private.pem'), 'utf8'));
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'licensing-'));
  let app: RunningApp;
  /** Licensing asks them what it meters: protected mailboxes (scheduling), stored objects (storage). */
  let scheduling: RunningApp | undefined;
  let storage: RunningApp | undefined;
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
  const importLicence = (licence: SignedLicence) => call('licence.import', { licence, actor: 'operator@msp' });

  /** A fresh licence whose tenant limits leave `room` tenants (and MLR tenants) free. */
  async function licenceWithRoom(room: number, terms: Parameters<typeof vendor.issue>[0] = {}): Promise<LicenceView> {
    const counts = (await importLicence(vendor.issue())).tenants;
    return importLicence(vendor.issue({ maxTenants: counts.total + room, ...terms }));
  }

  async function createTenant(name = 'Tenant'): Promise<string> {
    const slug = unique('lic');
    const tenant = await call('tenants.create', { name, slug, actor: 'operator@msp' });
    expect(tenant).toMatchObject({ slug, name, mlrEnabled: false, enabledAt: null });
    return tenant.id;
  }

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    client = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: servicesNatsClientOptions(infra),
    });
    await client.connect();
    [app, scheduling, storage] = await Promise.all([
      startApp({ app: 'licensing', env: infra.serviceEnv, logDir }),
      startApp({ app: 'scheduling', env: infra.serviceEnv, logDir: join(logDir, 'scheduling') }),
      startApp({ app: 'storage', env: infra.serviceEnv, logDir: join(logDir, 'storage') }),
    ]);
  }, 120_000);

  afterAll(async () => {
    // Leave a generous licence in force for the test files that run after this one.
    if (app) await importLicence(vendor.issue({ maxTenants: 100_000 })).catch(() => undefined);
    await app?.stop();
    await Promise.allSettled([scheduling?.stop(), storage?.stop()]);
    await client?.close();
    await prisma?.$disconnect();
  });

  it('refuses tampered, foreign, malformed and expired licences, saying which', async () => {
    const licence = vendor.issue();
    const changedDocument = { ...licence, document: { ...licence.document, licensee: 'Examplf MSP Ltd' } };
    const signature = Buffer.from(licence.signature, 'base64');
    signature[10] = (signature[10] ?? 0) ^ 0xff;
    const changedSignature = { ...licence, signature: signature.toString('base64') };
    for (const tampered of [changedDocument, changedSignature]) {
      const refused = await refusal('licence.import', { licence: tampered, actor: 'operator@msp' });
      expect(refused).toMatchObject({ code: 'invalid_request', field: 'licence.signature' });
      expect(refused.message).toMatch(/^tampered licence: .*changed after it was signed/);
    }

    const foreign = testVendor().issue();
    const wrongKey = await refusal('licence.import', { licence: foreign, actor: 'operator@msp' });
    expect(wrongKey).toMatchObject({ code: 'invalid_request', field: 'licence.keyId' });
    expect(wrongKey.message).toMatch(/^wrong vendor key: .* trusts only vendor key/);

    const malformed = await refusal('licence.import', {
      licence: { ...licence, signature: 'not base64!' },
      actor: 'operator@msp',
    });
    expect(malformed.message).toMatch(/^malformed licence: signature must be the base64/);

    const expired = vendor.issue({
      issuedAt: new Date(Date.now() - 400 * DAY).toISOString(),
      expiresAt: new Date(Date.now() - 20 * DAY).toISOString(),
      graceDays: 14,
    });
    const lapsed = await refusal('licence.import', { licence: expired, actor: 'operator@msp' });
    expect(lapsed.message).toMatch(/^expired licence: licence TEST-.* grace period ended on/);

    // Nothing refused was stored.
    const serials = [licence, foreign, expired].map((l) => l.document['serial'] as string);
    expect(await prisma.licence.count({ where: { serial: { in: serials } } })).toBe(0);
  });

  it('imports a licence that supersedes the previous one; importing it again changes nothing; an older one is refused', async () => {
    const first = vendor.issue({ features: ['mlr', 'archive'] });
    const imported = await importLicence(first);
    expect(imported).toMatchObject({
      serial: first.document['serial'],
      licensee: 'Example MSP Ltd',
      features: ['mlr', 'archive'],
      keyId: vendor.trusted.keyId,
      importedBy: 'operator@msp',
      status: { state: 'valid', daysLeft: 365, graceDaysLeft: 379 },
    });
    expect(await importLicence(first)).toMatchObject({ serial: first.document['serial'] });

    const second = vendor.issue();
    await importLicence(second);
    const current = await call('licence.get', {});
    expect(current.serial).toBe(second.document['serial']);
    const stored = await prisma.licence.findMany({
      where: { serial: { in: [first.document['serial'] as string, second.document['serial'] as string] } },
    });
    expect(stored.find((l) => l.serial === first.document['serial'])?.supersededAt).not.toBeNull();
    expect(stored.find((l) => l.serial === second.document['serial'])?.supersededAt).toBeNull();

    const again = await refusal('licence.import', { licence: first, actor: 'operator@msp' });
    expect(again).toMatchObject({ code: 'conflict' });
    expect(again.message).toMatch(/superseded on .*; import a newer licence/);
    const older = vendor.issue({ issuedAt: new Date(Date.now() - DAY).toISOString() });
    expect((await refusal('licence.import', { licence: older, actor: 'operator@msp' })).message).toMatch(
      /before licence .* in force/,
    );
  });

  it('creates tenants up to the licence limit and refuses the next one with the reason', async () => {
    const licence = await licenceWithRoom(1);
    const id = await createTenant('Acme, Inc.');
    expect(await call('tenants.get', { tenantId: id })).toMatchObject({ id, name: 'Acme, Inc.' });

    const full = await refusal('tenants.create', { name: 'One too many', slug: unique('lic'), actor: 'operator@msp' });
    expect(full.code).toBe('conflict');
    expect(full.message).toBe(
      `tenant limit reached: licence ${licence.serial} (Example MSP Ltd) allows ${licence.maxTenants} tenants and there are already ${licence.maxTenants}`,
    );

    await licenceWithRoom(5);
    const slug = (await call('tenants.get', { tenantId: id })).slug;
    const taken = await refusal('tenants.create', { name: 'Copy', slug, actor: 'operator@msp' });
    expect(taken).toMatchObject({ code: 'conflict', field: 'slug' });
    expect(taken.message).toBe(`slug: "${slug}" is already the slug of tenant ${id}`);
    expect(await refusal('tenants.get', { tenantId: 'no-such-tenant' })).toMatchObject({
      code: 'not_found',
      field: 'tenantId',
    });
    const bad = await refusal('tenants.create', { name: '', slug: 'Not A Slug', actor: 'operator@msp' });
    expect(bad).toMatchObject({ code: 'invalid_request', field: 'name' });
    expect(bad.message).toMatch(/slug: slug must be 1-63 lower-case letters/);

    const page = await call('tenants.list', { limit: 1000 });
    expect(page.tenants.map((t) => t.id)).toContain(id);
  });

  it('refuses to enable MLR when the licence lacks the feature or the MLR tenant limit is reached', async () => {
    await licenceWithRoom(3);
    const [a, b] = [await createTenant('A'), await createTenant('B')];

    const withoutMlr = await licenceWithRoom(3, { features: ['archive'] });
    const lacking = await refusal('tenants.enableMlr', { tenantId: a, actor: 'operator@msp' });
    expect(lacking.code).toBe('conflict');
    expect(lacking.message).toMatch(
      new RegExp(
        `MLR cannot be enabled for tenant lic-.*: licence ${withoutMlr.serial} \\(Example MSP Ltd\\) does not include the "mlr" feature \\(it has: archive\\)`,
      ),
    );
    expect((await call('tenants.get', { tenantId: a })).mlrEnabled).toBe(false);

    // Room for exactly one more tenant with MLR.
    const mlrTenants = (await call('licence.get', {})).tenants.mlrEnabled;
    const tight = await importLicence(vendor.issue({ maxTenants: mlrTenants + 1 }));
    const enabled = await call('tenants.enableMlr', { tenantId: a, actor: 'operator@msp' });
    expect(enabled).toMatchObject({ id: a, mlrEnabled: true, enabledBy: 'operator@msp' });
    expect(await call('tenants.enableMlr', { tenantId: a, actor: 'someone-else' })).toMatchObject({
      enabledBy: 'operator@msp',
    });
    const beyond = await refusal('tenants.enableMlr', { tenantId: b, actor: 'operator@msp' });
    expect(beyond.code).toBe('conflict');
    expect(beyond.message).toMatch(
      new RegExp(
        `licence ${tight.serial} \\(Example MSP Ltd\\) allows MLR for ${tight.maxTenants} tenants and ${tight.maxTenants} already have it enabled`,
      ),
    );

    // Disabling frees the slot; a disabled tenant's jobs are refused with the reason.
    const disabled = await call('tenants.disableMlr', { tenantId: a, actor: 'operator@msp' });
    expect(disabled).toMatchObject({ mlrEnabled: false });
    expect(disabled.disabledAt).not.toBeNull();
    expect(await call('tenants.status', { tenantId: a })).toMatchObject({
      allowed: false,
      reason: 'mlr_disabled',
      licence: 'valid',
    });
    expect(await call('tenants.enableMlr', { tenantId: b, actor: 'operator@msp' })).toMatchObject({ mlrEnabled: true });
    expect(await call('tenants.status', { tenantId: b })).toMatchObject({ allowed: true, reason: null });
    expect(await call('tenants.status', { tenantId: 'no-such-tenant' })).toMatchObject({
      allowed: false,
      reason: 'tenant_not_found',
    });
  });

  it('refuses to enable MLR, and refuses jobs, once the licence has expired past its grace period', async () => {
    await licenceWithRoom(2);
    const [enabled, other] = [await createTenant('Enabled'), await createTenant('Other')];
    await call('tenants.enableMlr', { tenantId: enabled, actor: 'operator@msp' });

    const issuedAt = new Date();
    const shortLived = vendor.issue({
      issuedAt: issuedAt.toISOString(),
      expiresAt: new Date(issuedAt.getTime() + 2_000).toISOString(),
      graceDays: 0,
    });
    await importLicence(shortLived);
    await waitFor(async () => (await call('licence.get', {})).status.state === 'expired', {
      what: 'the short-lived licence to expire',
      timeoutMs: 20_000,
      intervalMs: 250,
    });

    const lapsed = await refusal('tenants.enableMlr', { tenantId: other, actor: 'operator@msp' });
    expect(lapsed.code).toBe('conflict');
    expect(lapsed.message).toMatch(
      /MLR cannot be enabled for tenant .*: licence TEST-.* expired on .*; its grace period ended on/,
    );
    expect(
      (await refusal('tenants.create', { name: 'x', slug: unique('lic'), actor: 'operator@msp' })).message,
    ).toMatch(/expired on/);
    const status = await call('tenants.status', { tenantId: enabled });
    expect(status).toMatchObject({ allowed: false, reason: 'licence_expired', mlrEnabled: true, licence: 'expired' });

    await importLicence(vendor.issue());
    expect(await call('tenants.status', { tenantId: enabled })).toMatchObject({ allowed: true, licence: 'valid' });
  });

  it('reports usage per tenant from its backups and stored objects, and keeps it as a usage sample', async () => {
    const tenantId = unique('lic-usage');
    await prisma.tenant.create({ data: { id: tenantId, name: 'Usage Ltd', slug: tenantId, mlrEnabled: true } });
    const sizes = [1_000, 2_500, 40_000];
    const objects: Array<{ id: string; contentId: string }> = [];
    for (const [i, sealedSize] of sizes.entries()) {
      objects.push(
        await prisma.storedObject.create({
          data: {
            tenantId,
            contentId: randomBytes(32).toString('hex'),
            bucket: 'mlr-test',
            key: `tenants/${tenantId}/objects/${i}`,
            plainSize: BigInt(sealedSize * 2),
            sealedSize: BigInt(sealedSize),
            keyId: 'k1',
            refCount: 1,
          },
        }),
      );
    }
    const record = (mailbox: string, folder: string, uid: number, objectIndex: number) => ({
      tenantId,
      mailbox,
      folder,
      sightingSource: 'imap',
      sightingEpoch: String(1n),
      sightingId: String(BigInt(uid)),
      contentId: objects[objectIndex]!.contentId,
      objectId: objects[objectIndex]!.id,
      size: 100n,
    });
    await prisma.indexRecord.createMany({
      data: [
        record('alice@usage.example', 'INBOX', 1, 0),
        record('alice@usage.example', 'Sent', 1, 1),
        record('bob@usage.example', 'INBOX', 1, 1),
        record('carol@usage.example', 'INBOX', 1, 2),
      ],
    });
    // Every message was indexed 40 days ago: nothing new arrived since.
    await prisma.$executeRaw`UPDATE index_records SET created_at = now() - interval '40 days',
      updated_at = now() - interval '40 days' WHERE tenant_id = ${tenantId}`;
    const history = await BackupHistory.forNewConnector(infra.postgres!.databaseUrl, tenantId);
    for (const mailbox of ['alice@usage.example', 'bob@usage.example', 'carol@usage.example']) {
      await history.checkpoint(mailbox, 'INBOX', 40);
    }
    // Alice and Bob are backed up every week with nothing new; Carol's last backup was 31 days ago.
    for (const daysAgo of [22, 15, 8, 1])
      await history.backupJob(['alice@usage.example', 'bob@usage.example'], daysAgo);
    await history.backupJob(['carol@usage.example'], 31);

    const report = await call('usage.report', { tenantId });
    expect(report.windowDays).toBe(30);
    expect(report.tenants).toEqual([
      {
        tenantId,
        slug: tenantId,
        name: 'Usage Ltd',
        mlrEnabled: true,
        protectedMailboxes: 2,
        storedObjects: 3,
        storedBytes: 43_500,
      },
    ]);
    expect(report.totals).toEqual({
      tenants: 1,
      mlrTenants: 1,
      protectedMailboxes: 2,
      storedObjects: 3,
      storedBytes: 43_500,
    });
    const samples = await prisma.usageSample.findMany({ where: { tenantId } });
    expect(samples.map((s) => [s.protectedMailboxes, s.storedObjects, s.storedBytes])).toEqual([[2, 3n, 43_500n]]);
    expect(samples[0]?.sampledAt.toISOString()).toBe(report.generatedAt);

    const all = await call('usage.report', {});
    expect(all.tenants.find((row) => row.tenantId === tenantId)).toMatchObject({ storedBytes: 43_500 });
    expect(all.totals.tenants).toBe(all.tenants.length);
    expect(all.limits).not.toBeNull();
    // The licence limit counts the same mailboxes: those of the tenants with MLR enabled.
    const mlrProtected = all.tenants.filter((row) => row.mlrEnabled).reduce((n, row) => n + row.protectedMailboxes, 0);
    expect((await call('tenants.status', { tenantId })).protectedMailboxes.count).toBe(mlrProtected);
    expect(await refusal('usage.report', { tenantId: 'no-such-tenant' })).toMatchObject({ code: 'not_found' });
  });
  it('enforces the protected-mailbox limit: no new MLR tenant when full, no backups (but restores) beyond it', async () => {
    const tenantId = unique('lic-seats');
    await prisma.tenant.create({ data: { id: tenantId, name: 'Seats Ltd', slug: tenantId, mlrEnabled: true } });
    const history = await BackupHistory.forNewConnector(infra.postgres!.databaseUrl, tenantId);
    for (const mailbox of ['erin@seats.example', 'frank@seats.example']) await history.checkpoint(mailbox, 'INBOX', 10);
    await history.backupJob('all', 1);
    await licenceWithRoom(5);
    const protectedNow = (await call('tenants.status', { tenantId })).protectedMailboxes.count;
    expect(protectedNow).toBeGreaterThanOrEqual(2);

    // Exactly full: MLR for another tenant would protect more than the licence allows.
    await licenceWithRoom(5, { maxProtectedMailboxes: protectedNow });
    const other = await createTenant('Seatless');
    expect(await refusal('tenants.enableMlr', { tenantId: other, actor: 'operator@msp' })).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(
        new RegExp(`allows ${protectedNow} protected mailboxes and ${protectedNow} are already protected`),
      ),
    });
    expect(await call('tenants.status', { tenantId })).toMatchObject({ allowed: true, backupAllowed: true });

    // Beyond the limit: backups refused with the reason, restores still allowed.
    await licenceWithRoom(5, { maxProtectedMailboxes: protectedNow - 1 });
    const status = await call('tenants.status', { tenantId });
    expect(status).toMatchObject({
      allowed: true,
      backupAllowed: false,
      reason: 'mailbox_limit_exceeded',
      protectedMailboxes: { count: protectedNow, limit: protectedNow - 1 },
    });
    expect(status.message).toMatch(/backups of tenant .* are refused: .* restores still run/);
    await licenceWithRoom(5);
  });
  it('treats a stored licence that no longer verifies as no licence, saying why, until the genuine one is imported again', async () => {
    const total = (await importLicence(vendor.issue())).tenants.total;
    const signed = vendor.issue({ maxTenants: total + 5, maxProtectedMailboxes: 100_000 });
    const serial = signed.document['serial'] as string;
    await importLicence(signed);
    const [enabled, candidate] = [await createTenant('Enabled before'), await createTenant('Candidate')];
    await call('tenants.enableMlr', { tenantId: enabled, actor: 'operator@msp' });
    const doesNotVerify = `no valid licence is in force: the stored licence ${serial} does not verify`;

    // The limit raised in the row's column, the signed document left as it was.
    await prisma.$executeRaw`UPDATE licences SET max_protected_mailboxes = 999999999 WHERE serial = ${serial}`;
    const refused = await refusal('tenants.enableMlr', { tenantId: candidate, actor: 'operator@msp' });
    expect(refused.code).toBe('conflict');
    expect(refused.message).toBe(
      `MLR cannot be enabled for tenant ${(await call('tenants.get', { tenantId: candidate })).slug}: ${doesNotVerify}: its max_protected_mailboxes column differs from its signed document, so the row was changed after the import; import the vendor's signed licence again (POST /v1/licence)`,
    );
    expect((await call('tenants.get', { tenantId: candidate })).mlrEnabled).toBe(false);

    // The document edited as well, consistently with the column: the signature no longer matches.
    await prisma.$executeRaw`UPDATE licences
      SET document = replace(document, '"maxProtectedMailboxes":100000', '"maxProtectedMailboxes":999999999')
      WHERE serial = ${serial}`;
    expect((await prisma.licence.findUniqueOrThrow({ where: { serial } })).document).toContain(
      '"maxProtectedMailboxes":999999999',
    );
    const tampered = await refusal('tenants.enableMlr', { tenantId: candidate, actor: 'operator@msp' });
    expect(tampered.message).toMatch(
      new RegExp(
        `: ${doesNotVerify}: the signature of vendor key ${vendor.trusted.keyId} does not match its document; the document was changed after it was signed`,
      ),
    );
    expect(
      (await refusal('tenants.create', { name: 'x', slug: unique('lic'), actor: 'operator@msp' })).message,
    ).toMatch(new RegExp(`^tenants cannot be created: ${doesNotVerify}`));
    // Where the licence's status is reported: the licence itself, a tenant's status, the usage report.
    expect(await refusal('licence.get', {})).toMatchObject({
      code: 'not_found',
      message: expect.stringMatching(new RegExp(`^${doesNotVerify}: the signature`)),
    });
    const status = await call('tenants.status', { tenantId: enabled });
    expect(status).toMatchObject({
      allowed: false,
      backupAllowed: false,
      licence: 'none',
      reason: 'licence_lacks_mlr',
    });
    expect(status.message).toMatch(new RegExp(`^MLR is enabled for tenant .*, but ${doesNotVerify}`));
    const usage = await call('usage.report', {});
    expect(usage.limits).toBeNull();
    expect(usage.warnings[0]).toMatch(new RegExp(`^no licence limits apply: ${doesNotVerify}`));
    await waitFor(() => /"licence\.unverified"/.test(readFileSync(app.logFile, 'utf8')), {
      what: 'the unverified licence to be logged',
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    expect(readFileSync(app.logFile, 'utf8')).toMatch(/tenant\.mlr\.enable\.refused.*does not verify/);

    // Importing the genuine licence again replaces the edited row.
    expect(await importLicence(signed)).toMatchObject({ serial, maxProtectedMailboxes: 100_000 });
    expect(await call('tenants.enableMlr', { tenantId: candidate, actor: 'operator@msp' })).toMatchObject({
      mlrEnabled: true,
    });
    expect(await call('tenants.status', { tenantId: enabled })).toMatchObject({ allowed: true, licence: 'valid' });
  });

  it('asks scheduling and storage for what it meters: without scheduling, usage is refused as unavailable, jobs still run', async () => {
    const tenantId = unique('lic-outage');
    await prisma.tenant.create({ data: { id: tenantId, name: 'Outage Ltd', slug: tenantId, mlrEnabled: true } });
    await importLicence(vendor.issue({ maxTenants: 100_000, maxProtectedMailboxes: 100_000 }));
    const before = await call('tenants.status', { tenantId });
    expect(before).toMatchObject({ allowed: true, backupAllowed: true });

    await scheduling?.stop();
    scheduling = undefined;
    expect(await refusal('usage.report', { tenantId })).toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/^scheduling could not be asked mailboxes\.protected .*try again when it is back/),
    });
    // A job's check goes on with scheduling's last count, and says so in the log.
    expect(await call('tenants.status', { tenantId })).toMatchObject({
      allowed: true,
      backupAllowed: true,
      protectedMailboxes: { count: before.protectedMailboxes.count },
    });
    await waitFor(() => /"protected-mailboxes\.stale"/.test(readFileSync(app.logFile, 'utf8')), {
      what: 'the stale count to be logged',
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    // Enabling MLR needs the count: refused until scheduling answers again.
    const other = await createTenant('Waits for scheduling');
    expect(await refusal('tenants.enableMlr', { tenantId: other, actor: 'operator@msp' })).toMatchObject({
      code: 'unavailable',
    });
  });
});
