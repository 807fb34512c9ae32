import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TenantKeys } from '@mlr/crypto';
import { FreezingProxy, REPO_ROOT } from '@mlr/testing';
import { PlatformFixture } from '../e2e/support/platform-fixture.js';
import { loadMessages, startBackupScenario } from '../e2e/support/backup-scenario.js';
import { expectBackedUpOnce, failedUids } from './support/backup-checks.js';

const MESSAGES = 1_500;
const TENANT = 'faults-cut';
const MAILBOX = 'otto';
const ACK_TIMEOUT_SECONDS = 10;

/**
 * The connector is cut off from NATS (its link stops carrying anything, then closes) for longer than
 * its acknowledgement timeout in the middle of a backup (issue 13, finding 1): the platform stores
 * and indexes what it had, and the acknowledgements are lost with the link. The connector
 * must learn their fate instead of reporting stored messages failed, and finish the backup.
 */
describe('the connector cut off from NATS during a backup', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', `${TENANT}-`));
  const platform = new PlatformFixture(infra, dir);
  let proxy: FreezingProxy;
  let planId: string;
  let keys: TenantKeys;

  beforeAll(async () => {
    const nats = new URL(infra.nats!.url);
    proxy = await FreezingProxy.start({ host: nats.hostname, port: Number(nats.port) });
    ({ planId, keys } = await startBackupScenario(infra, platform, {
      tenantId: TENANT,
      mailbox: MAILBOX,
      dir,
      messages: loadMessages(TENANT, MESSAGES),
      ackTimeoutSeconds: ACK_TIMEOUT_SECONDS,
      natsUrl: `nats://127.0.0.1:${proxy.port}`,
    }));
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
    await proxy?.stop();
  });

  it('reports no stored message failed, and finishes the backup once the link is back', async () => {
    const jobId = await platform.runPlan(TENANT, planId);
    while ((await platform.prisma.indexRecord.count({ where: { tenantId: TENANT } })) < 200) await sleep(50);
    proxy.freezeAll();
    // Longer than the acknowledgement timeout; then the link is given up, and whatever it held with
    // it: every acknowledgement sent meanwhile is lost, while the platform stored and indexed what it
    // had received.
    await sleep((ACK_TIMEOUT_SECONDS * 2 + 5) * 1000);
    proxy.dropAll();

    const job = await platform.waitForJob(TENANT, jobId, { timeoutMs: 600_000 });
    const stored = new Set(
      (await platform.prisma.indexRecord.findMany({ where: { tenantId: TENANT }, select: { sightingId: true } })).map(
        (r) => Number(r.sightingId),
      ),
    );
    expect(failedUids(job).filter((uid) => stored.has(uid))).toEqual([]);
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');
    expect(job.counters.seen).toBe(MESSAGES);
    await expectBackedUpOnce(platform, TENANT, keys, MESSAGES);
  });
});
