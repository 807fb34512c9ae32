import { chmodSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CAPABILITY_WARNINGS, serviceSubject, type CreatedConnector, type SearchResult } from '@mlr/contracts';
import { contentId } from '@mlr/crypto';
import {
  REPO_ROOT,
  corpusMessages,
  fetchFolder,
  freePort,
  seedFolder,
  servicesNatsClientOptions,
  startDovecot,
  startTestIdentityProvider,
  type ImapInfo,
  type ServiceHandle,
  type TestIdentityProvider,
} from '@mlr/testing';
import { loadConnectorConfig } from '../../apps/connector/src/config/connector-config.js';
import { loadTenantKeys } from '../../apps/connector/src/keys/key-file.js';
import { enrollArgs, runConnectorCli, writePreEnrolmentConfig } from './support/connector-cli.js';
import { PlatformFixture } from './support/platform-fixture.js';

const MEGAN = 'megan@contoso.test';
const ADELE = 'adele@contoso.test';
const IMAP_APP_ROLE = 'IMAP.AccessAsApp';

/** A folder's messages as exact bytes, in an order that does not depend on UIDs. */
function bytes(messages: Map<number, { bytes: Buffer }>): string[] {
  return [...messages.values()].map((m) => m.bytes.toString('base64')).sort();
}

/**
 * A Microsoft 365 customer: no service account password, an Entra ID app with the application
 * permission IMAP.AccessAsApp instead. The stand-ins are a token endpoint that issues app-only tokens
 * as Entra does (client credentials) and a real Dovecot that, like Exchange Online, takes those
 * tokens over XOAUTH2 for any mailbox and refuses tokens without the permission. Enrolment checks
 * the app (the Microsoft 365 capability check); the agent then backs up and restores with it.
 */
describe('Microsoft 365 connector (app-only IMAP)', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-m365-'));
  const suffix = Date.now().toString(36);
  const platform = new PlatformFixture(infra, dir);
  const backupApp = { clientId: `mlr-backup-${suffix}`, clientSecret: 'backup-app-secret', roles: [IMAP_APP_ROLE] };
  const readerApp = { clientId: `mail-reader-${suffix}`, clientSecret: 'reader-app-secret', roles: ['Mail.Read'] };
  let identity: TestIdentityProvider;
  let exchange: ServiceHandle<ImapInfo>;
  let client: ClientProxy;
  let gatewayUrl: string;
  let tenantId: string;
  let healthPort: number;

  async function createTenant(name: string): Promise<string> {
    const slug = `${name.toLowerCase()}-${suffix}`;
    return (
      await platform.prisma.tenant.create({
        data: { name, slug, mlrEnabled: true, enabledAt: new Date(), enabledBy: 'e2e' },
      })
    ).id;
  }

  async function createConnector(tenant: string, name: string): Promise<CreatedConnector> {
    return (await firstValueFrom(
      client
        .send(serviceSubject('licensing', 'connectors.create'), {
          tenantId: tenant,
          name,
          kind: 'imap',
          actor: 'admin@contoso',
        })
        .pipe(timeout(15_000)),
    )) as CreatedConnector;
  }

  /** The connector's configuration before enrolment, as the customer writes it for Microsoft 365. */
  function m365Config(name: string, app: { clientId: string; clientSecret: string }, extra = {}): string {
    const { clientId, clientSecret } = app;
    const microsoft365App = { tenant: identity.tenant, clientId, clientSecret, authorityHost: identity.authorityHost };
    const source = {
      kind: 'imap',
      host: exchange.info.host,
      port: exchange.info.port,
      microsoft365App,
      mailboxes: [{ address: MEGAN }, { address: ADELE }],
    };
    return writePreEnrolmentConfig(dir, name, infra.nats!.url, source, extra);
  }

  /** Enrols the configuration as a connector of `tenant` (one tenant key per tenant: each test's own tenant). */
  async function enroll(configPath: string, tenant: string) {
    const created = await createConnector(tenant, `m365-${suffix}`);
    const result = await runConnectorCli(enrollArgs(gatewayUrl, configPath, created.enrolmentToken));
    const row = await platform.prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } });
    return { result, row };
  }

  beforeAll(async () => {
    // Dovecot's unprivileged processes pass through this directory to their own below it.
    chmodSync(dir, 0o711);
    identity = await startTestIdentityProvider({ apps: [backupApp, readerApp], deviceCodeIntervalSeconds: 0 });
    exchange = await startDovecot({
      dir: join(dir, 'exchange'),
      users: [
        { name: MEGAN, password: 'megan-password' },
        { name: ADELE, password: 'adele-password' },
      ],
      oauth2: { introspectionUrl: identity.introspectionUrl, requiredScope: IMAP_APP_ROLE },
    });
    // Messages with distinct Message-IDs: a restore skips one already in its target folder.
    const corpus = corpusMessages();
    await seedFolder(
      exchange.info,
      MEGAN,
      'INBOX',
      corpus.slice(213, 221).map((message) => ({ bytes: message.bytes, flags: ['\\Seen'] })),
    );
    await seedFolder(
      exchange.info,
      ADELE,
      'Projects',
      corpus.slice(221, 226).map((message) => ({ bytes: message.bytes })),
    );
    await platform.startPlatform();
    gatewayUrl = `http://127.0.0.1:${platform.app('gateway').port}`;
    tenantId = await createTenant('Contoso');
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: servicesNatsClientOptions(infra) });
    await client.connect();
  }, 300_000);

  afterAll(async () => {
    await client?.close();
    await platform.stop();
    await exchange?.stop();
    await identity?.close();
  });

  it('enrols with an app that holds IMAP.AccessAsApp: the check signs in, opens a mailbox and records "Receive As"', async () => {
    healthPort = await freePort();
    const { result, row } = await enroll(m365Config('backup', backupApp, { health: { port: healthPort } }), tenantId);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `Microsoft 365 app check: receive-as yes: the app holds the application permission ${IMAP_APP_ROLE} and opened mailbox ${MEGAN}.`,
    );
    expect(result.stdout).not.toContain('WARNING');
    expect(row).toMatchObject({ receiveAs: 'yes', capabilityWarnings: [] });
  });

  it('the agent backs up every mailbox with the app’s token, one sign-in for all, and restores into a mailbox', async () => {
    const configPath = join(dir, 'backup', 'connector.json');
    const config = loadConnectorConfig(configPath);
    const signInsBefore = identity.issued;
    await platform.startConnector(configPath, healthPort);
    const planId = await platform.createPlan(tenantId, {
      name: `m365-${suffix}`,
      connectorId: config.connectorId,
      mailboxes: { kind: 'list', mailboxes: [MEGAN, ADELE] },
    });
    const job = await platform.waitForJob(tenantId, await platform.runPlan(tenantId, planId), { timeoutMs: 180_000 });
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');
    expect(job.counters).toMatchObject({ seen: 13, failed: 0 });

    // The search finds exactly what the mail server serves, mailbox by mailbox.
    const keys = loadTenantKeys(join(config.stateDir, 'tenant.key'));
    for (const [mailbox, folder] of [
      [MEGAN, 'INBOX'],
      [ADELE, 'Projects'],
    ] as const) {
      const served = [...(await fetchFolder(exchange.info, mailbox, folder)).values()].map((m) =>
        contentId(keys, m.bytes),
      );
      const found = await platform.http<SearchResult>('POST', `/v1/tenants/${tenantId}/search`, {
        mailboxes: [mailbox],
        limit: 100,
      });
      expect(found.status).toBe(200);
      expect(found.body.items.map((hit) => hit.contentId).sort()).toEqual(served.sort());
      expect(found.body.items.every((hit) => hit.folder === folder)).toBe(true);
    }

    // Adele's project mail restored into Megan's mailbox: the same bytes, through the app's token.
    const adeles = await platform.prisma.indexRecord.findMany({ where: { tenantId, mailbox: ADELE } });
    const restore = await platform.http<{ jobId: string }>('POST', `/v1/tenants/${tenantId}/restores`, {
      recordIds: adeles.map((record) => record.id),
      target: { kind: 'mailbox', mailbox: MEGAN, folder: 'From Adele' },
    });
    expect(restore.status).toBe(202);
    const restored = await platform.waitForJob(tenantId, restore.body.jobId, { timeoutMs: 120_000 });
    expect(restored.state).toBe('succeeded');
    expect(bytes(await fetchFolder(exchange.info, MEGAN, 'From Adele'))).toEqual(
      bytes(await fetchFolder(exchange.info, ADELE, 'Projects')),
    );
    // The agent signed in once and used that token for every mailbox, backup and restore alike.
    expect(identity.issued - signInsBefore).toBe(1);
  });

  it('a mailbox owner restores her own mail from the connector CLI with her own Microsoft 365 sign-in', async () => {
    const token = await platform.token({ sub: MEGAN, role: 'user', tenant: tenantId, mailboxes: [MEGAN] });
    const args = [
      ...['restore', '--config', join(dir, 'backup', 'connector.json'), '--gateway', gatewayUrl, '--token', token],
      ...['--mailbox', MEGAN, '--folder', 'INBOX', '--target', 'folder:Own Sign-in', '--json'],
      ...['--own-credentials', '--login', MEGAN],
    ];
    // Someone else signing in for her mailbox is refused before anything is asked of the platform.
    identity.signInWithDeviceCode(() => ({ user: ADELE }));
    const jobsBefore = await platform.prisma.job.count({ where: { tenantId } });
    const wrong = await runConnectorCli(args);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`the sign-in was ${ADELE}'s, but the mailbox is ${MEGAN}: sign in as ${MEGAN}`);
    expect(await platform.prisma.job.count({ where: { tenantId } })).toBe(jobsBefore);

    identity.signInWithDeviceCode(() => ({ user: MEGAN }));
    const { stdout, stderr, code } = await runConnectorCli(args);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/open the page https:\/\/microsoft\.com\/devicelogin and enter the code [A-Z0-9]{9}/);
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as { jobId: string; state: string };
    expect(summary).toMatchObject({ state: 'succeeded', counters: { restored: 8 } });
    expect(bytes(await fetchFolder(exchange.info, MEGAN, 'Own Sign-in'))).toEqual(
      bytes(await fetchFolder(exchange.info, MEGAN, 'INBOX')),
    );
    // Run by the command line, not queued for the agent; her token went nowhere but the mail server.
    const job = await platform.prisma.job.findUniqueOrThrow({ where: { id: summary.jobId } });
    expect(job.publishedAt?.getTime()).toBe(job.createdAt.getTime());
    expect(JSON.stringify(job.request)).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  });

  it('a mailbox owner backs up her own mailbox from the connector CLI with her own Microsoft 365 sign-in', async () => {
    identity.signInWithDeviceCode(() => ({ user: MEGAN }));
    const args = ['backup', '--config', join(dir, 'backup', 'connector.json'), '--json'];
    const { stdout, stderr, code } = await runConnectorCli([...args, '--own-credentials', '--login', MEGAN]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/enter the code [A-Z0-9]{9} to authenticate\.\nSign in as megan@contoso\.test\./);
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as {
      state: string;
      counters: { seen: number; failed: number };
    };
    expect(summary.state).toBe('succeeded');
    expect(summary.counters.failed).toBe(0);
    // Her folders, including the two restored into, are all in the index now; nobody else's was opened.
    const folders = await platform.prisma.indexRecord.groupBy({
      by: ['mailbox', 'folder'],
      where: { tenantId, mailbox: MEGAN },
      _count: true,
    });
    expect(Object.fromEntries(folders.map((f) => [f.folder, f._count]))).toEqual({
      INBOX: 8,
      'From Adele': 5,
      'Own Sign-in': 8,
    });
  });

  it('records "no" with the warning for an app whose permissions do not include IMAP.AccessAsApp', async () => {
    const { result, row } = await enroll(m365Config('reader', readerApp), await createTenant('Fabrikam'));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `Microsoft 365 app check: receive-as no: the app's application permissions (Mail.Read) do not include ${IMAP_APP_ROLE}.`,
    );
    expect(result.stdout).toContain(`WARNING: ${CAPABILITY_WARNINGS.notFullAdministrator}`);
    expect(row).toMatchObject({ receiveAs: 'no', capabilityWarnings: [CAPABILITY_WARNINGS.notFullAdministrator] });
  });

  it('records "unknown" with the caution when the app cannot sign in, saying what Entra answered', async () => {
    const { result, row } = await enroll(
      m365Config('wrong-secret', { clientId: backupApp.clientId, clientSecret: 'not-the-secret' }),
      await createTenant('Northwind'),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Microsoft 365 app check: receive-as unknown: the app could not sign in: sign-in of app mlr-backup-\S+ of Microsoft 365 tenant \S+ was refused \(HTTP 401 invalid_client\): AADSTS7000215: Invalid client secret provided/,
    );
    expect(result.stdout).toContain(`WARNING: ${CAPABILITY_WARNINGS.cannotVerify}`);
    expect(row).toMatchObject({ receiveAs: 'unknown', capabilityWarnings: [CAPABILITY_WARNINGS.cannotVerify] });
  });
});
