import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CAPABILITY_WARNINGS,
  serviceSubject,
  subjects,
  tenantInboxPrefix,
  type CreatedConnector,
} from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { connectMessaging, type MessagingConnection } from '@mlr/messaging';
import {
  createNatsOperator,
  REPO_ROOT,
  startApp,
  startNats,
  waitFor,
  type NatsInfo,
  type NatsOperator,
  type RunningApp,
  type ServiceHandle,
} from '@mlr/testing';
import { loadConnectorConfig } from '../../apps/connector/src/config/connector-config.js';

const execFileAsync = promisify(execFile);
const PASSPHRASE = 'a long recovery passphrase';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `connector enroll` as a customer runs it: against the real gateway and licensing services, the
 * real Dovecot (the Receive-As check) and a real NATS server in operator mode that the credentials
 * it writes must open — for its own tenant only.
 */
describe('connector enroll (CLI)', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'connector-enroll-'));
  const suffix = Date.now().toString(36);
  let nats: ServiceHandle<NatsInfo>;
  let operator: NatsOperator;
  let prisma: PrismaClient;
  let client: ClientProxy;
  let gatewayUrl: string;
  let tenantId: string;
  const apps: RunningApp[] = [];
  const connections: MessagingConnection[] = [];

  async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    try {
      const { stdout, stderr } = await execFileAsync(
        process.execPath,
        ['--import', '@swc-node/register/esm-register', 'apps/connector/src/main.ts', ...args],
        {
          cwd: REPO_ROOT,
          env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', ...env },
          timeout: 90_000,
        },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  async function createConnector(name: string): Promise<CreatedConnector> {
    return (await firstValueFrom(
      client
        .send(serviceSubject('licensing', 'connectors.create'), { tenantId, name, kind: 'imap', actor: 'admin@acme' })
        .pipe(timeout(15_000)),
    )) as CreatedConnector;
  }

  /** A configuration as the customer writes it before enrolment: mail server, NATS address, state. */
  function preEnrolmentConfig(name: string, serviceAccount: { user: string; password: string }): string {
    const imap = infra.imap!;
    const home = join(dir, name);
    mkdirSync(home, { recursive: true });
    const path = join(home, 'connector.json');
    writeFileSync(
      path,
      JSON.stringify(
        {
          nats: { url: nats.info.url },
          source: {
            kind: 'imap',
            host: imap.host,
            port: imap.port,
            serviceAccount,
            mailboxes: imap.users.map((user) => ({ address: user.name })),
          },
          stateDir: join(home, 'state'),
          logLevel: 'warn',
        },
        null,
        2,
      ),
    );
    return path;
  }

  beforeAll(async () => {
    operator = await createNatsOperator(['MLR']);
    nats = await startNats({ dir: join(dir, 'nats'), operator });
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    tenantId = (await prisma.tenant.create({ data: { name: 'Acme', slug: `cli-enrol-${suffix}` } })).id;
    client = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: {
        servers: [infra.nats!.url],
        user: infra.nats!.servicesUser.user,
        pass: infra.nats!.servicesUser.password,
      },
    });
    await client.connect();
    const account = operator.accounts['MLR']!;
    const logDir = join(dir, 'logs');
    apps.push(
      await startApp({
        app: 'licensing',
        env: {
          ...infra.serviceEnv,
          LICENSING_NATS_ACCOUNT_PUBLIC_KEY: account.publicKey,
          LICENSING_NATS_ACCOUNT_SIGNING_SEED: account.signingSeed,
        },
        logDir,
      }),
    );
    // The gateway's health needs every service; enrolment needs only licensing.
    const gateway = await startApp({ app: 'gateway', env: infra.serviceEnv, logDir, waitHealthy: false });
    apps.push(gateway);
    gatewayUrl = `http://127.0.0.1:${gateway.port}`;
    await waitFor(
      async () => {
        const response = await fetch(`${gatewayUrl}/v1/enrolments`, { method: 'POST', body: '{}' }).catch(
          () => undefined,
        );
        return response?.status === 400;
      },
      { what: 'the gateway to answer', timeoutMs: 60_000 },
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(connections.map((c) => c.close()));
    await Promise.allSettled(apps.map((app) => app.stop()));
    await client?.close();
    await prisma?.$disconnect();
    await nats?.stop();
  });

  it('enrols with the master user: Receive As found, creds and key written 0600, NATS works for its tenant only', async () => {
    const created = await createConnector(`cli-a-${suffix}`);
    const imap = infra.imap!;
    const configPath = preEnrolmentConfig('a', { user: imap.masterUser.name, password: imap.masterUser.password });
    const result = await cli([
      'enroll',
      '--config',
      configPath,
      '--gateway',
      gatewayUrl,
      '--enrolment-token',
      created.enrolmentToken,
    ]);
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

    const row = await prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } });
    expect(row).toMatchObject({ receiveAs: 'yes', capabilityWarnings: [] });

    // The creds it wrote open the NATS server, for its own tenant only.
    const connection = await connectMessaging({
      servers: nats.info.url,
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
    connection.nc.publish(subjects.objects(tenantId), 'own');
    connection.nc.publish(subjects.objects('globex'), 'other');
    await connection.nc.flush();
    await waitFor(() => violations.length > 0, { what: 'the permission violation', timeoutMs: 5_000 });
    expect(violations).toEqual(['publish mlr.globex.objects']);

    // The token cannot be used twice.
    const again = await cli([
      'enroll',
      '--config',
      configPath,
      '--gateway',
      gatewayUrl,
      '--enrolment-token',
      created.enrolmentToken,
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already used/);
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
    const args = [
      'enroll',
      '--config',
      configPath,
      '--gateway',
      gatewayUrl,
      '--enrolment-token',
      created.enrolmentToken,
      '--recovery-kit',
      kitFile,
    ];
    // A wrong passphrase is refused before the token is spent.
    const wrong = await cli(args, { MLR_RECOVERY_PASSPHRASE: 'not the right passphrase' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    expect(
      (await prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } })).enrolmentTokenUsedAt,
    ).toBeNull();

    const result = await cli(args, { MLR_RECOVERY_PASSPHRASE: PASSPHRASE });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/receive-as no: the service account logs in but cannot open mailbox/);
    expect(result.stdout).toContain(`WARNING: ${CAPABILITY_WARNINGS.notFullAdministrator}`);
    expect(result.stdout).toMatch(/Imported the tenant key [0-9a-f]{16} from the recovery kit/);
    const keyA = readFileSync(join(dir, 'a', 'state', 'tenant.key'), 'utf8');
    expect(readFileSync(join(dir, 'b', 'state', 'tenant.key'), 'utf8')).toBe(keyA);
    const row = await prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } });
    expect(row).toMatchObject({ receiveAs: 'no', capabilityWarnings: [CAPABILITY_WARNINGS.notFullAdministrator] });
  });

  it('refuses an expired token through the gateway, saying so, and writes nothing', async () => {
    const created = await createConnector(`cli-c-${suffix}`);
    await prisma.connector.update({
      where: { id: created.connector.id },
      data: { enrolmentTokenExpiresAt: new Date(Date.now() - 1_000) },
    });
    const imap = infra.imap!;
    const configPath = preEnrolmentConfig('c', { user: imap.masterUser.name, password: imap.masterUser.password });
    const before = readFileSync(configPath, 'utf8');
    const result = await cli([
      'enroll',
      '--config',
      configPath,
      '--gateway',
      gatewayUrl,
      '--enrolment-token',
      created.enrolmentToken,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/expired on/);
    expect(readFileSync(configPath, 'utf8')).toBe(before);
    expect(() => statSync(join(dir, 'c', 'state', 'nats.creds'))).toThrow();
  });
});
