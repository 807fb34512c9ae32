import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  PLATFORM_SERVICES,
  REPO_ROOT,
  fetchHealth,
  freePort,
  mayReceive,
  provisionConnector,
  startApp,
  type RunningApp,
} from '@mlr/testing';

/**
 * Every app of the platform, started as its own process against the real infrastructure, reports
 * healthy, and stops by itself on SIGTERM (no SIGKILL needed).
 */
describe('the platform starts, reports healthy and stops cleanly', () => {
  const infra = inject('infra');
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-platform-'));
  const apps = new Map<string, RunningApp>();

  beforeAll(async () => {
    // Services in parallel; the gateway last, since its health includes theirs.
    const services = PLATFORM_SERVICES.filter((s) => s !== 'gateway');
    const started = await Promise.all(services.map((app) => startApp({ app, env: infra.serviceEnv, logDir })));
    for (const app of started) apps.set(app.name, app);
    apps.set('gateway', await startApp({ app: 'gateway', env: infra.serviceEnv, logDir }));

    // The connector: its own NATS user (a JWT with its tenant's permissions), the IMAP service
    // account, a config file.
    const healthPort = await freePort();
    const { configFile } = await provisionConnector(infra, {
      tenantId: 'e2e-health',
      connectorId: 'imap-1',
      dir: join(logDir, 'connector'),
      mailboxes: ['alice', 'bob'],
      healthPort,
    });
    apps.set(
      'connector',
      await startApp({ app: 'connector', args: ['run', '--config', configFile], env: {}, logDir, port: healthPort }),
    );
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled([...apps.values()].map((app) => app.kill()));
  });

  it.each([...PLATFORM_SERVICES])('%s reports every dependency healthy', async (name) => {
    const health = await fetchHealth(apps.get(name)!.port);
    expect(health.status).toBe(200);
    expect(health.body?.status).toBe('ok');
    const checks = Object.keys(health.body?.checks ?? {});
    expect(checks).toContain('nats');
    if (['licensing', 'scheduling', 'indexing', 'storage'].includes(name)) expect(checks).toContain('postgres');
    if (name === 'storage') expect(checks).toContain('s3');
    if (name === 'gateway') {
      expect(checks).toEqual(
        expect.arrayContaining(['service:licensing', 'service:scheduling', 'service:indexing', 'service:storage']),
      );
    }
  });

  it('the connector reaches NATS with its tenant credentials and the mail server with its service account', async () => {
    const health = await fetchHealth(apps.get('connector')!.port);
    expect(health.status).toBe(200);
    expect(health.body?.checks).toEqual({ nats: { ok: true }, imap: { ok: true } });
  });

  it.each([...PLATFORM_SERVICES])('%s holds only its own secrets in its environment', (name) => {
    // What the process was started with, as the kernel keeps it (not what the harness meant to give).
    const entries = readFileSync(`/proc/${apps.get(name)!.pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const);
    const environment = entries.map(([variable]) => variable);
    // DATABASE_URL is each service's own URL under the common name; no other variable is another's.
    const foreign = environment.filter((variable) => variable !== 'DATABASE_URL' && !mayReceive(name, variable));
    expect(foreign).toEqual([]);
    const database = entries.find(([variable]) => variable === 'DATABASE_URL')?.[1];
    if (name !== 'gateway') {
      // Its own role, never the owner's (the cluster's superuser runs the migrations here).
      expect(new URL(database ?? 'postgresql://none@x/').username).toBe(`mlr_${name}`);
    }
    const secrets = ['DATABASE_URL', 'S3_SECRET_KEY', 'AUTH_JWT_PUBLIC_KEY', 'LICENSING_NATS_ACCOUNT_SIGNING_SEED'];
    const expected = {
      licensing: ['DATABASE_URL', 'LICENSING_NATS_ACCOUNT_SIGNING_SEED'],
      scheduling: ['DATABASE_URL'],
      indexing: ['DATABASE_URL'],
      storage: ['DATABASE_URL', 'S3_SECRET_KEY'],
      gateway: ['AUTH_JWT_PUBLIC_KEY'],
    }[name];
    expect(secrets.filter((secret) => environment.includes(secret)).sort()).toEqual(expected.sort());
  });

  it('serves Prometheus metrics', async () => {
    const response = await fetch(`http://127.0.0.1:${apps.get('storage')!.port}/metrics`);
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/service_name="mlr-storage"/);
  });

  it('the gateway reports a stopped service as down', async () => {
    const indexing = apps.get('indexing')!;
    await indexing.stop();
    const health = await fetchHealth(apps.get('gateway')!.port);
    expect(health.status).toBe(503);
    expect(health.body?.checks?.['service:indexing']?.ok).toBe(false);
    apps.set('indexing', await startApp({ app: 'indexing', env: infra.serviceEnv, logDir }));
  });

  it.each([...PLATFORM_SERVICES, 'connector'])('%s stops by itself on SIGTERM', async (name) => {
    const app = apps.get(name)!;
    process.kill(app.pid, 'SIGTERM');
    const ended = await Promise.race([
      app.exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 15_000)),
    ]);
    expect(ended).not.toBe('still running');
    // Nest re-raises the signal after its shutdown hooks have run; the connector exits with 0.
    expect(ended === 'still running' ? null : ended.code === 0 || ended.signal === 'SIGTERM').toBe(true);
    expect(readFileSync(app.logFile, 'utf8')).toMatch(/stopped/);
  });
});
