import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, freePort, provisionConnector } from '@mlr/testing';
import { seedOwnMailbox } from './support/mailboxes.js';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-gate';
const CONNECTOR = 'imap-gate';
/** A mailbox of this file's own (e2e files share Dovecot). */
const MAILBOX = 'gwen';

/**
 * A job waits in the connector's queue while the operator disables MLR for the tenant: when the
 * connector takes it, it asks licensing again and refuses it before any mail is read, saying why.
 */
describe('a queued job of a tenant whose MLR was disabled meanwhile', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-gate-'));
  const platform = new PlatformFixture(infra, dir);

  beforeAll(async () => {
    await seedOwnMailbox(infra, MAILBOX, 200, 205);
    await platform.startPlatform();
  }, 300_000);

  afterAll(async () => {
    await platform.stop();
  });

  it('is refused by the connector when it takes it, with the reason, and nothing is read', async () => {
    const healthPort = await freePort();
    const connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir,
      mailboxes: [MAILBOX],
      healthPort,
    });
    const planId = await platform.createPlan(TENANT, {
      name: 'gwen',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: [MAILBOX] },
    });
    // Queued while MLR is enabled; the connector is not running yet.
    const jobId = await platform.runPlan(TENANT, planId);
    // Scheduling keeps licensing's answer in its own table, for a licensing outage (it reads no
    // table of licensing's).
    const verdict = () => platform.prisma.tenantMlrVerdict.findUnique({ where: { tenantId: TENANT } });
    expect(await verdict()).toMatchObject({ mlrEnabled: true });

    const disabled = await platform.http('POST', `/v1/tenants/${TENANT}/mlr/disable`, {});
    expect(disabled.status, JSON.stringify(disabled.body)).toBeLessThan(300);

    await platform.startConnector(connector.configFile, healthPort);
    const job = await platform.waitForJob(TENANT, jobId, { timeoutMs: 120_000 });
    expect(job.state).toBe('failed');
    expect(job.counters.seen).toBe(0);
    expect(JSON.stringify(job.errors)).toMatch(/refused before any mail was read: .*MLR/);
    expect(await platform.prisma.indexRecord.count({ where: { tenantId: TENANT } })).toBe(0);

    // Enabled again (in the database, as the fixture enabled it: no licence is imported here), the
    // same plan runs.
    await platform.prisma.tenant.update({ where: { id: TENANT }, data: { mlrEnabled: true, enabledAt: new Date() } });
    const again = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId), { timeoutMs: 120_000 });
    expect(again.state).toBe('succeeded');
    expect(again.counters.seen).toBe(5);
    expect(await verdict()).toMatchObject({ mlrEnabled: true });

    // Disabled again, the next run is refused by scheduling itself, which remembers that answer.
    await platform.http('POST', `/v1/tenants/${TENANT}/mlr/disable`, {});
    const refused = await platform.http('POST', `/v1/tenants/${TENANT}/plans/${planId}/run`, {});
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(await verdict()).toMatchObject({ mlrEnabled: false });
  });
});
