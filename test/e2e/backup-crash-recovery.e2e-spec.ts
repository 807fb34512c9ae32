import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openSealedObject, type TenantKeys } from '@mlr/crypto';
import { REPO_ROOT, waitFor } from '@mlr/testing';
import { PlatformFixture } from './support/platform-fixture.js';
import { loadMessages, startBackupScenario } from './support/backup-scenario.js';

const MESSAGES = 2_000;

/**
 * Nothing is lost and nothing is stored twice when storage or indexing die (SIGKILL) in the middle
 * of a 2,000-message backup and come back: with one process of each, and with two of each side by
 * side (as a cluster runs them), where the survivor takes the dead one's work meanwhile.
 */
describe.each([
  { replicas: 1, tenant: 'e2e-crash', mailbox: 'carol' },
  { replicas: 2, tenant: 'e2e-crash-replicas', mailbox: 'carlos' },
])('crash recovery during a backup, $replicas storage and indexing process(es)', ({ replicas, tenant, mailbox }) => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', `${tenant}-`));
  const platform = new PlatformFixture(infra, dir);
  let planId: string;
  let keys: TenantKeys;

  beforeAll(async () => {
    ({ planId, keys } = await startBackupScenario(infra, platform, {
      tenantId: tenant,
      mailbox,
      dir,
      messages: loadMessages(tenant, MESSAGES),
      replicas: replicas as 1 | 2,
      ackTimeoutSeconds: 20,
    }));
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
  });

  async function waitForRecords(atLeast: number): Promise<void> {
    while ((await platform.prisma.indexRecord.count({ where: { tenantId: tenant } })) < atLeast) await sleep(100);
  }

  it('ends with every message stored and indexed exactly once', async () => {
    const jobId = await platform.runPlan(tenant, planId);

    await waitForRecords(300);
    await platform.app('storage').kill();
    await sleep(2_000);
    await platform.restart('storage');

    await waitForRecords(1_000);
    await platform.app('indexing').kill();
    await sleep(2_000);
    await platform.restart('indexing');

    const job = await platform.waitForJob(tenant, jobId);
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');

    const records = await platform.prisma.indexRecord.findMany({
      where: { tenantId: tenant },
      select: { sightingId: true, contentId: true },
    });
    expect(records).toHaveLength(MESSAGES);
    expect(new Set(records.map((r) => r.sightingId)).size).toBe(MESSAGES);
    // Each referenced once, once indexing's relay brought the changes to storage (which counts).
    await waitFor(
      async () => (await platform.prisma.storedObject.count({ where: { tenantId: tenant, refCount: 1 } })) === MESSAGES,
      { what: 'every object to be referenced once in storage', timeoutMs: 30_000 },
    );
    const objects = await platform.prisma.storedObject.findMany({ where: { tenantId: tenant } });
    expect(objects).toHaveLength(MESSAGES);
    expect(objects.every((o) => o.refCount === 1)).toBe(true);
    // Every locator opens: the pinned version's range is the sealed message of that content id.
    for (const object of objects) {
      const sealed = await platform.store.getBuffer({
        bucket: object.bucket,
        key: object.key,
        versionId: object.versionId!,
        range: { offset: Number(object.byteOffset), length: Number(object.byteLength) },
      });
      await openSealedObject(keys, sealed, { expectedContentId: object.contentId });
    }
    // A pack written by a process that died before recording it, or a member another replica's copy
    // won, is unreferenced: garbage for the collector, never a second reference.
    const members = await platform.prisma.pack.aggregate({ where: { tenantId: tenant }, _sum: { memberCount: true } });
    expect(members._sum.memberCount).toBeGreaterThanOrEqual(MESSAGES);
  });
});
