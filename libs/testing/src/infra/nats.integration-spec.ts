import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorPermissions, subjects, tenantCallSubjects, tenantInboxPrefix } from '@mlr/contracts';
import { REPO_ROOT } from '../paths.js';
import { reloadNatsAccounts, startNats, type NatsAccount } from './nats.js';
import type { ServiceHandle } from './types.js';
import type { NatsInfo } from './nats.js';

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
