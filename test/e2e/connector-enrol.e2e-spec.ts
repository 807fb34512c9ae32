import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CAPABILITY_WARNINGS,
  serviceSubject,
  subjects,
  tenantCallSubjects,
  tenantInboxPrefix,
  type ConnectorView,
  type CreatedConnector,
  type SearchResult,
} from '@mlr/contracts';
import { contentId } from '@mlr/crypto';
import { connectMessaging, connectorUserClaims, tenantCallClient, type MessagingConnection } from '@mlr/messaging';
import {
  REPO_ROOT,
  compiledMain,
  ensureBuilt,
  fetchFolder,
  freePort,
  natsUserCreds,
  servicesNatsClientOptions,
  waitFor,
} from '@mlr/testing';
import { decode, parseCreds, type User } from '@nats-io/jwt';
import { loadConnectorConfig, natsCredentials } from '../../apps/connector/src/config/connector-config.js';
import { loadTenantKeys } from '../../apps/connector/src/keys/key-file.js';
import { enrollArgs as enrollArgsOf, writePreEnrolmentConfig } from './support/connector-cli.js';
import { seedOwnMailbox } from './support/mailboxes.js';
import { PlatformFixture } from './support/platform-fixture.js';

const execFileAsync = promisify(execFile);
const PASSPHRASE = 'a long recovery passphrase';
/** The mailbox the enrolled connectors protect: a user of its own (e2e files share Dovecot). */
const MAILBOX = 'enid';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `connector enroll` as a customer runs it: against the whole platform (gateway, licensing and the
 * rest), the real Dovecot (the Receive-As check) and the platform's own NATS in operator mode. The
 * credentials it writes open NATS for its own tenant only, and are all the connector needs to back
 * up its mailboxes on the platform.
 */
describe('connector enroll (CLI)', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'connector-enroll-'));
  const suffix = Date.now().toString(36);
  const platform = new PlatformFixture(infra, dir);
  let client: ClientProxy;
  let gatewayUrl: string;
  let tenantId: string;
  /** The health port of connector A (enrolled with the master user), for `connector run`. */
  let healthPortA: number;
  const connections: MessagingConnection[] = [];

  async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    ensureBuilt();
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, [compiledMain('connector'), ...args], {
        cwd: REPO_ROOT,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', ...env },
        timeout: 90_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  /** `connector enroll` of the configuration at `configPath` with `token`, through the gateway. */
  const enrollArgs = (configPath: string, token: string, ...extra: string[]) =>
    enrollArgsOf(gatewayUrl, configPath, token, ...extra);

  async function createConnector(name: string): Promise<CreatedConnector> {
    return (await firstValueFrom(
      client
        .send(serviceSubject('licensing', 'connectors.create'), { tenantId, name, kind: 'imap', actor: 'admin@acme' })
        .pipe(timeout(15_000)),
    )) as CreatedConnector;
  }

  /** A configuration as the customer writes it before enrolment: mail server, NATS address, state. */
  function preEnrolmentConfig(
    name: string,
    serviceAccount: { user: string; password: string },
    extra: Record<string, unknown> = {},
  ): string {
    const imap = infra.imap!;
    const source = {
      kind: 'imap',
      host: imap.host,
      port: imap.port,
      serviceAccount,
      mailboxes: [{ address: MAILBOX }],
    };
    return writePreEnrolmentConfig(dir, name, infra.nats!.url, source, extra);
  }

  beforeAll(async () => {
    await seedOwnMailbox(infra, MAILBOX, 100, 112);
    await platform.startPlatform();
    gatewayUrl = `http://127.0.0.1:${platform.app('gateway').port}`;
    tenantId = (
      await platform.prisma.tenant.create({
        data: { name: 'Acme', slug: `cli-enrol-${suffix}`, mlrEnabled: true, enabledAt: new Date(), enabledBy: 'e2e' },
      })
    ).id;
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: servicesNatsClientOptions(infra) });
    await client.connect();
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled(connections.map((c) => c.close()));
    await client?.close();
    await platform.stop();
  });

  it('enrols with the master user: Receive As found, creds and key written 0600, NATS works for its tenant only', async () => {
    const created = await createConnector(`cli-a-${suffix}`);
    const imap = infra.imap!;
    healthPortA = await freePort();
    const configPath = preEnrolmentConfig(
      'a',
      { user: imap.masterUser.name, password: imap.masterUser.password },
      { health: { port: healthPortA } },
    );
    const result = await cli(enrollArgs(configPath, created.enrolmentToken));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Service account check: receive-as yes: the service account opened mailbox/);
    expect(result.stdout).toMatch(new RegExp(`Enrolled connector ${created.connector.id} of tenant ${tenantId}`));
    expect(result.stdout).toMatch(/Created the tenant key [0-9a-f]{16}/);
    expect(result.stdout).toMatch(/If both the key file and the recovery kit are lost, the backups cannot be read/);

    const config = loadConnectorConfig(configPath);
    expect(config).toMatchObject({ tenantId, connectorId: created.connector.id });
    const credsFile = config.nats.credsFile!;
    expect(statSync(credsFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(config.stateDir, 'tenant.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(credsFile, 'utf8')).toMatch(/BEGIN NATS USER JWT[\s\S]*BEGIN USER NKEY SEED/);

    const row = await platform.prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } });
    expect(row).toMatchObject({ receiveAs: 'yes', capabilityWarnings: [] });

    // The creds it wrote open the platform's NATS, for its own tenant only.
    const connection = await connectMessaging({
      servers: infra.nats!.url,
      name: 'enrolled',
      credentials: { kind: 'creds', creds: readFileSync(credsFile, 'utf8') },
      inboxPrefix: tenantInboxPrefix(tenantId),
    });
    connections.push(connection);
    const violations: string[] = [];
    void (async () => {
      for await (const status of connection.nc.status()) {
        const error = (status as { error?: { name?: string; operation?: string; subject?: string } }).error;
        if (error?.name === 'PermissionViolationError') violations.push(`${error.operation} ${error.subject}`);
      }
    })();
    // Its tenant's calls are answered (the reply comes back under its tenant's inbox) ...
    const status = await tenantCallClient(connection).request(
      'tenant.status',
      tenantCallSubjects['tenant.status'](tenantId),
      { tenantId },
    );
    expect(status).toMatchObject({ ok: true, value: { tenantId, mlrEnabled: true, backupAllowed: true } });
    // ... another tenant's subjects are refused by the server.
    connection.nc.publish(subjects.objects('globex'), 'other');
    await connection.nc.flush();
    await waitFor(() => violations.length > 0, { what: 'the permission violation', timeoutMs: 5_000 });
    expect(violations).toEqual(['publish mlr.globex.objects']);

    // The token cannot be used twice.
    const again = await cli(enrollArgs(configPath, created.enrolmentToken));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already used/);
  });

  it('the enrolled connector, with only the creds file enrolment wrote, backs up its mailbox on the platform', async () => {
    const configPath = join(dir, 'a', 'connector.json');
    const config = loadConnectorConfig(configPath);
    // What enrolment wrote is all it has: no password anywhere in its configuration.
    expect(config.nats).toEqual({ url: infra.nats!.url, credsFile: join(dir, 'a', 'state', 'nats.creds') });
    await platform.startConnector(configPath, healthPortA);

    const planId = await platform.createPlan(tenantId, {
      name: `enid-${suffix}`,
      connectorId: config.connectorId,
      mailboxes: { kind: 'list', mailboxes: [MAILBOX] },
    });
    const job = await platform.waitForJob(tenantId, await platform.runPlan(tenantId, planId), {
      timeoutMs: 180_000,
    });
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');
    expect(job.counters.seen).toBe(12);
    expect(job.counters.new + job.counters.deduplicated).toBe(12);
    expect(job.counters.failed).toBe(0);

    // Stored and indexed under the tenant's own key: the search through the gateway finds exactly
    // the messages Dovecot serves.
    const keys = loadTenantKeys(join(config.stateDir, 'tenant.key'));
    const served = [...(await fetchFolder(infra.imap!, MAILBOX, 'INBOX')).values()].map((m) =>
      contentId(keys, m.bytes),
    );
    const found = await platform.http<SearchResult>('POST', `/v1/tenants/${tenantId}/search`, {
      mailboxes: [MAILBOX],
      limit: 100,
    });
    expect(found.status).toBe(200);
    expect(found.body.items.map((hit) => hit.contentId).sort()).toEqual([...served].sort());
    expect(found.body.items.every((hit) => hit.mailbox === MAILBOX && hit.folder === 'INBOX')).toBe(true);
    const objects = await platform.prisma.storedObject.count({ where: { tenantId, contentId: { in: served } } });
    expect(objects).toBe(new Set(served).size);
  });

  it('renews credentials from an older build when it starts: same key, the permissions and limits of today', async () => {
    const configPath = join(dir, 'a', 'connector.json');
    const config = loadConnectorConfig(configPath);
    const credsFile = config.nats.credsFile!;
    await platform.app('connector').stop();
    // What an older build's enrolment gave: no sightings.status permission, no limits.
    const { key: seed } = await parseCreds(readFileSync(credsFile));
    const today = connectorUserClaims(tenantId, config.connectorId);
    const nats = infra.nats!;
    const older = await natsUserCreds(
      { publicKey: nats.accountPublicKey, signingSeed: nats.accountSigningSeed },
      `connector-${tenantId}-${config.connectorId}`,
      {
        seed,
        claims: {
          ...today,
          pub: { allow: (today.pub?.allow ?? []).filter((subject) => !subject.endsWith('.sightings')) },
          subs: -1,
          payload: -1,
        },
      },
    );
    writeFileSync(credsFile, older.creds, { mode: 0o600 });

    await platform.startConnector(configPath, healthPortA);
    let renewed = { jwt: older.jwt, key: seed };
    await waitFor(
      async () => {
        renewed = await parseCreds(readFileSync(credsFile));
        return renewed.jwt !== older.jwt;
      },
      { what: 'the renewed creds file', timeoutMs: 60_000 },
    );
    expect(renewed.key).toBe(seed); // the same key: its seed never left the connector
    expect(decode<User>(renewed.jwt).nats).toMatchObject(today);
    expect(statSync(credsFile).mode & 0o777).toBe(0o600);
    const audited = await platform.prisma.auditEvent.findMany({
      where: { tenantId, action: 'connector.credentials.refresh', target: `connector:${config.connectorId}` },
    });
    expect(audited.map((event) => [event.actor, event.outcome])).toEqual([[`nkey:${older.publicKey}`, 'success']]);
    // It runs on with them, healthy.
    await waitFor(
      async () => {
        const response = await fetch(`http://127.0.0.1:${healthPortA}/health`).catch(() => undefined);
        return response?.status === 200;
      },
      { what: 'the connector to be healthy', timeoutMs: 60_000 },
    );
  });

  it('records "no" with the warning when the service account cannot open other mailboxes, and imports the key from a recovery kit', async () => {
    // A recovery kit of connector A's key (the tenant key is one per tenant).
    const configA = join(dir, 'a', 'connector.json');
    const kitFile = join(dir, 'kit.json');
    const exported = await cli(['export-recovery-kit', '--config', configA, '--out', kitFile], {
      MLR_RECOVERY_PASSPHRASE: PASSPHRASE,
    });
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/Wrote the recovery kit of tenant key [0-9a-f]{16}/);
    expect(statSync(kitFile).mode & 0o777).toBe(0o600);

    const created = await createConnector(`cli-b-${suffix}`);
    const alice = infra.imap!.users[0]!;
    const configPath = preEnrolmentConfig('b', { user: alice.name, password: alice.password });
    const args = enrollArgs(configPath, created.enrolmentToken, '--recovery-kit', kitFile);
    // A wrong passphrase is refused before the token is spent.
    const wrong = await cli(args, { MLR_RECOVERY_PASSPHRASE: 'not the right passphrase' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    expect(
      (await platform.prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } })).enrolmentTokenUsedAt,
    ).toBeNull();

    const result = await cli(args, { MLR_RECOVERY_PASSPHRASE: PASSPHRASE });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/receive-as no: the service account logs in but cannot open mailbox/);
    expect(result.stdout).toContain(`WARNING: ${CAPABILITY_WARNINGS.notFullAdministrator}`);
    expect(result.stdout).toMatch(/Imported the tenant key [0-9a-f]{16} from the recovery kit/);
    const keyA = readFileSync(join(dir, 'a', 'state', 'tenant.key'), 'utf8');
    expect(readFileSync(join(dir, 'b', 'state', 'tenant.key'), 'utf8')).toBe(keyA);
    const row = await platform.prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } });
    expect(row).toMatchObject({ receiveAs: 'no', capabilityWarnings: [CAPABILITY_WARNINGS.notFullAdministrator] });
  });

  it("refuses a connector that would make a key of its own (the tenant's backups are sealed with A's), writing nothing; its token then enrols it with the kit", async () => {
    const keyIdA = loadTenantKeys(join(dir, 'a', 'state', 'tenant.key')).keyId;
    const tenant = await platform.http<{ tenantKeyId: string | null }>('GET', `/v1/tenants/${tenantId}`);
    expect(tenant.status).toBe(200);
    expect(tenant.body.tenantKeyId).toBe(keyIdA);

    const created = await createConnector(`cli-d-${suffix}`);
    const imap = infra.imap!;
    const configPath = preEnrolmentConfig('d', { user: imap.masterUser.name, password: imap.masterUser.password });
    const before = readFileSync(configPath, 'utf8');
    const enroll = enrollArgs(configPath, created.enrolmentToken);
    const refused = await cli(enroll);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        `HTTP 409: tenantKeyId: the backups of tenant ${tenantId} are sealed with tenant key ${keyIdA}, but this ` +
          'connector would use key [0-9a-f]{16}; .*--recovery-kit <file> \\(a recovery kit made by "connector ' +
          'export-recovery-kit" on a connector that has the key\\)\\. The token was not used',
      ),
    );
    // Nothing written: no creds, no key, the configuration as it was.
    expect(readFileSync(configPath, 'utf8')).toBe(before);
    expect(() => statSync(join(dir, 'd', 'state', 'nats.creds'))).toThrow();
    expect(() => statSync(join(dir, 'd', 'state', 'tenant.key'))).toThrow();
    // The token is still usable, and the refused attempt is in the tenant's audit trail.
    const row = await platform.prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } });
    expect(row).toMatchObject({ enrolmentTokenUsedAt: null, natsUserPublicKey: null });
    const audit = await platform.prisma.auditEvent.findMany({
      where: { tenantId, action: 'connector.enroll', target: `connector:${created.connector.id}` },
    });
    expect(audit.map((event) => [event.outcome, (event.detail as { reason?: string }).reason])).toEqual([
      ['denied', 'TENANT_KEY_MISMATCH'],
    ]);

    // With the recovery kit of A's key, the same token enrols it.
    const enrolled = await cli([...enroll, '--recovery-kit', join(dir, 'kit.json')], {
      MLR_RECOVERY_PASSPHRASE: PASSPHRASE,
    });
    expect(enrolled.stderr).toBe('');
    expect(enrolled.code).toBe(0);
    expect(enrolled.stdout).toContain(`Imported the tenant key ${keyIdA} from the recovery kit`);
    expect(loadTenantKeys(join(dir, 'd', 'state', 'tenant.key')).keyId).toBe(keyIdA);
  });

  it('refuses an expired token through the gateway, saying so, and writes nothing', async () => {
    const created = await createConnector(`cli-c-${suffix}`);
    await platform.prisma.connector.update({
      where: { id: created.connector.id },
      data: { enrolmentTokenExpiresAt: new Date(Date.now() - 1_000) },
    });
    const imap = infra.imap!;
    const configPath = preEnrolmentConfig('c', { user: imap.masterUser.name, password: imap.masterUser.password });
    const before = readFileSync(configPath, 'utf8');
    const result = await cli(enrollArgs(configPath, created.enrolmentToken));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/expired on/);
    expect(readFileSync(configPath, 'utf8')).toBe(before);
    expect(() => statSync(join(dir, 'c', 'state', 'nats.creds'))).toThrow();
  });

  it('revoking a connector cuts its NATS credentials: the running agent stops saying why, its sibling keeps working', async () => {
    const configA = loadConnectorConfig(join(dir, 'a', 'connector.json'));
    const configB = loadConnectorConfig(join(dir, 'b', 'connector.json'));
    const agent = platform.app('connector');

    const revoked = await platform.http<ConnectorView>(
      'POST',
      `/v1/tenants/${tenantId}/connectors/${configA.connectorId}/revoke`,
    );
    expect(revoked.status).toBe(200);
    expect(revoked.body.state).toBe('revoked');
    expect(revoked.body.natsRevokedAt).not.toBeNull();

    // The server closed the agent's connection and refuses its credentials: it stops, saying why.
    const exit = await Promise.race([
      agent.exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 60_000)),
    ]);
    expect(exit).toMatchObject({ code: 1 });
    expect(readFileSync(agent.logFile, 'utf8')).toMatch(
      /no longer accepts this connector's NATS credentials .*probably revoked/,
    );
    const refused = await connectMessaging({
      servers: infra.nats!.url,
      name: 'revoked-connector',
      credentials: natsCredentials(configA),
      inboxPrefix: tenantInboxPrefix(tenantId),
    }).then(
      async (connection) => {
        await connection.close();
        return 'connected';
      },
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/authorization violation/i);

    // Connector B of the same tenant still asks its tenant calls with its own credentials.
    const b = await connectMessaging({
      servers: infra.nats!.url,
      name: 'connector-b',
      credentials: natsCredentials(configB),
      inboxPrefix: tenantInboxPrefix(tenantId),
    });
    connections.push(b);
    const status = await tenantCallClient(b).request('tenant.status', tenantCallSubjects['tenant.status'](tenantId), {
      tenantId,
    });
    expect(status).toMatchObject({ ok: true, value: { mlrEnabled: true } });
  });
});
