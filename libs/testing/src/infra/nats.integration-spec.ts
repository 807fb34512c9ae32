import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Algorithms, decode, encodeAccount, fromPublic, fromSeed, type Account } from '@nats-io/jwt';
import { credsAuthenticator } from '@nats-io/nats-core';
import { createOperator } from '@nats-io/nkeys';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorPermissions, subjects, tenantCallSubjects, tenantInboxPrefix } from '@mlr/contracts';
import { REPO_ROOT } from '../paths.js';
import {
  createNatsOperator,
  natsUserCreds,
  reloadNatsAccounts,
  startNats,
  type NatsAccount,
  type NatsInfo,
  type NatsOperator,
} from './nats.js';
import type { ServiceHandle } from './types.js';

const encoder = new TextEncoder();

/**
 * The multi-tenant NATS set-up is real: a connector user of tenant A, with the permissions the
 * platform gives connectors, cannot touch tenant B's subjects or the services' subjects.
 */
describe('NATS accounts and tenant isolation', () => {
  let dir: string;
  let nats: ServiceHandle<NatsInfo>;
  const connections: NatsConnection[] = [];
  const services = { user: 'svc', password: 'svc-secret' };
  const accounts = (extraUsers: NatsAccount['users'] = []): Record<string, NatsAccount> => ({
    MLR: {
      jetstream: true,
      users: [
        services,
        { user: 'acme-imap-1', password: 'a-secret', permissions: connectorPermissions('acme', 'imap-1') },
        ...extraUsers,
      ],
    },
  });

  async function connectAs(user: string, password: string, tenant?: string): Promise<NatsConnection> {
    const nc = await connect({
      servers: nats.info.url,
      user,
      pass: password,
      ...(tenant ? { inboxPrefix: tenantInboxPrefix(tenant) } : {}),
    });
    connections.push(nc);
    return nc;
  }

  /** The server's permission violation for `action` as "<operation> <subject>", or null when none came. */
  async function permissionErrorFor(nc: NatsConnection, action: () => void): Promise<string | null> {
    const violations: string[] = [];
    const statuses = nc.status();
    void (async () => {
      for await (const status of statuses) {
        const error = (status as { error?: { name?: string; operation?: string; subject?: string } }).error;
        if (error?.name === 'PermissionViolationError') violations.push(`${error.operation} ${error.subject}`);
      }
    })();
    action();
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    return violations[0] ?? null;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'nats-accounts-'));
    nats = await startNats({ dir: join(dir, 'nats'), accounts: accounts() });
    // Tenant B's connector arrives later: added by a configuration reload, no restart.
    await reloadNatsAccounts(
      join(dir, 'nats'),
      accounts([
        { user: 'globex-imap-1', password: 'b-secret', permissions: connectorPermissions('globex', 'imap-1') },
      ]),
    );
  });

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a connector publish on its own tenant subject', async () => {
    const service = await connectAs(services.user, services.password);
    const sub = service.subscribe(subjects.objects('acme'), { max: 1 });
    await service.flush();
    const a = await connectAs('acme-imap-1', 'a-secret', 'acme');
    expect(await permissionErrorFor(a, () => a.publish(subjects.objects('acme'), 'hello'))).toBeNull();
    for await (const message of sub) {
      expect(message.string()).toBe('hello');
      break;
    }
  });

  it("refuses tenant A publishing on tenant B's subjects", async () => {
    const service = await connectAs(services.user, services.password);
    const received: string[] = [];
    const sub = service.subscribe('mlr.globex.>');
    void (async () => {
      for await (const message of sub) received.push(message.subject);
    })();
    await service.flush();
    const a = await connectAs('acme-imap-1', 'a-secret', 'acme');
    const error = await permissionErrorFor(a, () => a.publish(subjects.objects('globex'), 'intrusion'));
    expect(error).toBe('publish mlr.globex.objects');
    expect(received).toEqual([]);
    sub.unsubscribe();
  });

  it("refuses tenant A subscribing to tenant B's subjects", async () => {
    const a = await connectAs('acme-imap-1', 'a-secret', 'acme');
    const error = await permissionErrorFor(a, () => a.subscribe(subjects.indexed('globex')));
    expect(error).toBe('subscription mlr.globex.indexed');
  });

  it("refuses tenant A calling the services' subjects", async () => {
    const a = await connectAs('acme-imap-1', 'a-secret', 'acme');
    await expect(a.request('mlr.svc.storage.health', '{}', { timeout: 1_000 })).rejects.toThrow(
      /permission|503|no responders|timeout/i,
    );
    const error = await permissionErrorFor(a, () => a.publish('mlr.svc.storage.health', '{}'));
    expect(error).toBe('publish mlr.svc.storage.health');
  });

  it("refuses tenant B's connector on tenant A's jobs", async () => {
    const b = await connectAs('globex-imap-1', 'b-secret', 'globex');
    const error = await permissionErrorFor(b, () => b.subscribe(subjects.jobs('acme', 'imap-1')));
    expect(error).toBe('subscription mlr.acme.jobs.imap-1');
  });

  it("lets a connector call its own tenant's restore subjects, never another tenant's", async () => {
    const a = await connectAs('acme-imap-1', 'a-secret', 'acme');
    expect(await permissionErrorFor(a, () => a.publish(tenantCallSubjects['objects.fetch']('acme'), '{}'))).toBeNull();
    expect(
      await permissionErrorFor(a, () => a.publish(tenantCallSubjects['restore.items']('acme', 'job-1'), '{}')),
    ).toBeNull();
    const b = await connectAs('globex-imap-1', 'b-secret', 'globex');
    expect(await permissionErrorFor(b, () => b.publish(tenantCallSubjects['objects.fetch']('acme'), '{}'))).toBe(
      'publish mlr.acme.fetch',
    );
    expect(await permissionErrorFor(b, () => b.publish(tenantCallSubjects['restore.items']('acme', 'x'), '{}'))).toBe(
      'publish mlr.acme.restore.x',
    );
  });

  it('refuses a wrong password', async () => {
    await expect(connect({ servers: nats.info.url, user: 'acme-imap-1', pass: 'wrong' })).rejects.toThrow(
      /authorization/i,
    );
  });
});

/**
 * Operator (JWT) mode as the platform runs it: account JWTs in a `full` resolver, updated at runtime
 * through the system account with a JWT re-signed by the operator's signing key (here: a user
 * revocation), and a restarted server that keeps both the update and the JetStream data.
 */
describe('NATS operator mode with the full account resolver', () => {
  let dir: string;
  let operator: NatsOperator;
  let nats: ServiceHandle<NatsInfo>;
  const connections: NatsConnection[] = [];

  const connectWith = async (creds: string, name: string) => {
    const nc = await connect({
      servers: nats.info.url,
      name,
      authenticator: credsAuthenticator(encoder.encode(creds)),
    });
    connections.push(nc);
    return nc;
  };

  /** The MLR account's JWT, with `revocations`, signed by `signingSeed` (an operator key). */
  async function accountJwtRevoking(userPublicKey: string, signingSeed: string): Promise<string> {
    const account = operator.accounts['MLR']!;
    const {
      type: _type,
      version: _version,
      ...claims
    } = decode<Account>(account.jwt).nats as Account & {
      type?: unknown;
      version?: unknown;
    };
    return encodeAccount(
      account.name,
      fromPublic(account.publicKey),
      { ...claims, revocations: { [userPublicKey]: Math.floor(Date.now() / 1000) } },
      { algorithm: Algorithms.v2, signer: fromSeed(encoder.encode(signingSeed)) },
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'nats-operator-'));
    operator = await createNatsOperator(['MLR']);
    nats = await startNats({ dir: join(dir, 'nats'), operator });
  });

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the operator signing key in the operator JWT', () => {
    const claims = decode<{ signing_keys?: string[]; system_account?: string }>(operator.operatorJwt);
    expect(claims.sub).toBe(operator.operatorPublicKey);
    expect(claims.nats.signing_keys).toEqual([operator.operatorSigningPublicKey]);
    expect(claims.nats.system_account).toBe(operator.system.publicKey);
    expect(operator.operatorSigningSeed).toMatch(/^SO/);
  });

  it('reuses the running server when asked again with the same operator', async () => {
    const again = await startNats({ dir: join(dir, 'nats'), operator });
    expect(again.reused).toBe(true);
    expect(again.info.url).toBe(nats.info.url);
  });

  it('takes a revocation through $SYS.REQ.CLAIMS.UPDATE and keeps it and the JetStream data over a restart', async () => {
    const account = operator.accounts['MLR']!;
    const services = await natsUserCreds(account, 'services');
    const doomed = await natsUserCreds(account, 'doomed');
    const system = await natsUserCreds(operator.system, 'system');

    const nc = await connectWith(services.creds, 'services');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await jetstream(nc).publish('keep.one', 'kept across restarts');
    await (await connectWith(doomed.creds, 'doomed')).flush();

    // A JWT issued in the same second as the preloaded one would not count as newer on a restart.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const sys = await connectWith(system.creds, 'system');

    // Signed by a key the operator does not list: nats-server 2.9.10 answers "jwt updated" but does
    // not apply it (it checks the issuer only when it loads the claims).
    await sys.request(
      '$SYS.REQ.CLAIMS.UPDATE',
      await accountJwtRevoking(doomed.publicKey, new TextDecoder().decode(createOperator().getSeed())),
      { timeout: 5_000 },
    );
    await (await connectWith(doomed.creds, 'doomed-after-rogue-update')).flush();

    const reply = await sys.request(
      '$SYS.REQ.CLAIMS.UPDATE',
      await accountJwtRevoking(doomed.publicKey, operator.operatorSigningSeed),
      { timeout: 5_000 },
    );
    expect(reply.json<{ data?: { code?: number }; error?: unknown }>()).toMatchObject({ data: { code: 200 } });
    await expect(connectWith(doomed.creds, 'doomed-again')).rejects.toThrow(/authorization/i);

    await nats.stop();
    nats = await startNats({ dir: join(dir, 'nats'), operator });
    expect(nats.reused).toBe(false);
    // The preloaded (older) account JWT did not undo the revocation.
    await expect(connectWith(doomed.creds, 'doomed-after-restart')).rejects.toThrow(/authorization/i);
    const after = await connectWith(services.creds, 'services-after-restart');
    const message = await (await jetstreamManager(after)).streams.getMessage('KEEP', { seq: 1 });
    expect(message?.string()).toBe('kept across restarts');
  });

  it('refuses to reload password accounts into an operator-mode server', async () => {
    await expect(reloadNatsAccounts(join(dir, 'nats'), {})).rejects.toThrow(/operator mode/);
  });
});
