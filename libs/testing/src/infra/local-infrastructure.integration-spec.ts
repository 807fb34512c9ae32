import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { credsAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { servicesNatsClientOptions } from '../nats-credentials.js';
import { REPO_ROOT } from '../paths.js';
import { startInfrastructure, type StartedInfrastructure } from './local-infrastructure.js';
import { startNats } from './nats.js';
import { writeJson } from './process.js';

const mode = (file: string) => statSync(file).mode & 0o777;

/**
 * The platform's NATS in the local infrastructure: operator mode, keys created once per directory,
 * creds files for the services and the system account, and the same keys, creds and JetStream data
 * after a restart.
 */
describe('local infrastructure NATS (operator mode)', () => {
  const dirs: string[] = [];
  const started: StartedInfrastructure[] = [];
  const connections: NatsConnection[] = [];

  const natsOnly = async (dir: string) => {
    const infra = await startInfrastructure({ dir, services: ['nats'] });
    started.push(infra);
    return infra;
  };
  const connectAsServices = async (infra: StartedInfrastructure['infra']) => {
    const nc = await connect({ ...servicesNatsClientOptions(infra), name: 'local-infra-test' });
    connections.push(nc);
    return nc;
  };

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    for (const infra of started) await infra.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('writes owner-only creds files and the environment the services and licensing need', async () => {
    const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'local-infra-'));
    dirs.push(dir);
    const { infra } = await natsOnly(dir);
    const nats = infra.nats!;
    expect(nats.servicesCredsFile).toBe(join(dir, 'nats', 'services.creds'));
    expect(nats.systemCredsFile).toBe(join(dir, 'nats', 'system.creds'));
    for (const file of [nats.servicesCredsFile, nats.systemCredsFile, join(dir, 'secrets.json')]) {
      expect(mode(file)).toBe(0o600);
    }
    // Every state file too: infra.json holds every service's secrets, the token issuer its private key.
    const stateFiles = [dir, join(dir, 'nats')].flatMap((d) =>
      readdirSync(d)
        .filter((name) => /\.(json|creds|pem)$/.test(name))
        .map((name) => join(d, name)),
    );
    expect(stateFiles).toEqual(expect.arrayContaining([join(dir, 'infra.json'), join(dir, 'nats', 'state.json')]));
    for (const file of stateFiles) expect({ file, mode: mode(file) }).toEqual({ file, mode: 0o600 });
    expect(nats.accountPublicKey).toMatch(/^A/);
    expect(nats.accountSigningSeed).toMatch(/^SA/);
    expect(nats.operatorSigningSeed).toMatch(/^SO/);
    expect(infra.serviceEnv).toMatchObject({
      NATS_URL: nats.url,
      NATS_CREDS: nats.servicesCredsFile,
      LICENSING_NATS_ACCOUNT_PUBLIC_KEY: nats.accountPublicKey,
      LICENSING_NATS_ACCOUNT_SIGNING_SEED: nats.accountSigningSeed,
      LICENSING_NATS_OPERATOR_SIGNING_SEED: nats.operatorSigningSeed,
      LICENSING_NATS_SYSTEM_CREDS: nats.systemCredsFile,
    });
    expect(infra.serviceEnv).not.toHaveProperty('NATS_USER');
    expect(infra.serviceEnv).not.toHaveProperty('NATS_PASSWORD');

    // The services' user (the whole platform account) and the system account's user.
    const services = await connectAsServices(infra);
    const info = await (await jetstreamManager(services)).getAccountInfo();
    expect(info.limits.max_storage).toBe(-1);
    const system = await connect({
      servers: nats.url,
      authenticator: credsAuthenticator(readFileSync(nats.systemCredsFile)),
    });
    connections.push(system);
    const reply = await system.request(`$SYS.REQ.ACCOUNT.${nats.accountPublicKey}.CLAIMS.LOOKUP`, '', {
      timeout: 5_000,
    });
    expect(reply.string()).toMatch(/^eyJ/);
  });

  it('keeps keys, creds files and JetStream data when reused and after a restart', async () => {
    const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'local-infra-'));
    dirs.push(dir);
    const first = await natsOnly(dir);
    const creds = readFileSync(first.infra.nats!.servicesCredsFile, 'utf8');
    const nc = await connectAsServices(first.infra);
    await (await jetstreamManager(nc)).streams.add({ name: 'KEPT', subjects: ['kept.>'] });
    await jetstream(nc).publish('kept.a', 'still here');

    const reused = await startInfrastructure({ dir, services: ['nats'] });
    expect(reused.infra.nats).toEqual(first.infra.nats);

    await first.stop();
    await nc.close();
    const restarted = await natsOnly(dir);
    expect(restarted.infra.nats).toEqual(first.infra.nats);
    expect(readFileSync(restarted.infra.nats!.servicesCredsFile, 'utf8')).toBe(creds);
    const after = await connectAsServices(restarted.infra);
    const message = await (await jetstreamManager(after)).streams.getMessage('KEPT', { seq: 1 });
    expect(message?.string()).toBe('still here');
  });

  it('moves a directory of the password-account days to operator mode', async () => {
    const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'local-infra-'));
    dirs.push(dir);
    // What an older checkout left: secrets without NATS keys and a password-account server running.
    writeJson(join(dir, 'secrets.json'), {
      natsServicesPassword: 'old-password',
      s3AccessKey: 'MLROLDKEY',
      s3SecretKey: 'old-secret',
      imapMasterPassword: 'old-imap',
    });
    const old = await startNats({
      dir: join(dir, 'nats'),
      accounts: { MLR: { jetstream: true, users: [{ user: 'mlr-services', password: 'old-password' }] } },
    });
    const state = JSON.parse(readFileSync(join(dir, 'nats', 'state.json'), 'utf8')) as { mode?: string };
    delete state.mode;
    writeFileSync(join(dir, 'nats', 'state.json'), JSON.stringify(state));

    const { infra } = await natsOnly(dir);
    expect(infra.nats!.url).toBe(old.info.url);
    await connectAsServices(infra);
    await expect(connect({ servers: infra.nats!.url, user: 'mlr-services', pass: 'old-password' })).rejects.toThrow(
      /authorization/i,
    );
    // The other secrets are kept.
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8'))).toMatchObject({
      s3AccessKey: 'MLROLDKEY',
      s3SecretKey: 'old-secret',
      imapMasterPassword: 'old-imap',
    });
  });
});
