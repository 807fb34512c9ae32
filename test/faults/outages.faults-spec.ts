import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  REPO_ROOT,
  restartPostgres,
  restartS3Gateway,
  type LocalInfrastructure,
  type PlatformService,
} from '@mlr/testing';
import { loadMessages, startBackupScenario, type BackupScenario } from '../e2e/support/backup-scenario.js';
import { PlatformFixture } from '../e2e/support/platform-fixture.js';
import { expectBackedUpOnce, failedUids, killAndRestart } from './support/backup-checks.js';

const MESSAGES = 600;

interface Fault {
  name: string;
  tenant: string;
  mailbox: string;
  /** The processes the fault kills on purpose (their exit is expected). */
  kills?: Array<PlatformService | 'connector'>;
  inject(infra: LocalInfrastructure, platform: PlatformFixture, scenario: BackupScenario): Promise<void>;
}

const FAULTS: Fault[] = [
  {
    name: 'PostgreSQL stopped for 15 s',
    tenant: 'faults-pg',
    mailbox: 'paula',
    inject: (infra) => restartPostgres(infra, 15_000),
  },
  {
    name: 'the S3 gateway stopped for 15 s',
    tenant: 'faults-s3',
    mailbox: 'sam',
    inject: (infra) => restartS3Gateway(infra, 15_000),
  },
  {
    name: 'scheduling, licensing and the gateway SIGKILLed and started again',
    tenant: 'faults-kill',
    mailbox: 'kim',
    kills: ['scheduling', 'licensing', 'gateway'],
    async inject(_infra, platform) {
      for (const service of ['scheduling', 'licensing', 'gateway'] as const) await killAndRestart(platform, service);
    },
  },
  {
    name: 'the connector SIGKILLed and started again',
    tenant: 'faults-kill-connector',
    mailbox: 'conny',
    kills: ['connector'],
    async inject(_infra, platform, scenario) {
      await platform.app('connector').kill();
      await sleep(2_000);
      // Its job comes back to it once the jobs consumer has missed its word for the ack wait (90 s).
      await platform.startConnector(scenario.configFile, scenario.healthPort);
    },
  },
];

/**
 * Outages of what the platform depends on, and of its own services, in the middle of a backup
 * (issue 13): the job ends in an honest state — never `running` for ever, never a message reported
 * failed that was stored — a re-run (when the first did not succeed) completes, and every message
 * is then indexed and stored exactly once, every locator opening.
 */
describe.each(FAULTS)('a backup through $name', (fault) => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', `${fault.tenant}-`));
  const platform = new PlatformFixture(infra, dir);
  let scenario: BackupScenario;

  beforeAll(async () => {
    scenario = await startBackupScenario(infra, platform, {
      tenantId: fault.tenant,
      mailbox: fault.mailbox,
      dir,
      messages: loadMessages(fault.tenant, MESSAGES),
      ackTimeoutSeconds: 20,
    });
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
  });

  it('ends honestly, and leaves every message stored and indexed exactly once', async () => {
    const exits: string[] = [];
    for (const name of ['storage', 'indexing', 'scheduling', 'licensing', 'gateway', 'connector']) {
      if (fault.kills?.includes(name as PlatformService | 'connector')) continue;
      void platform.app(name).exited.then(({ code, signal }) => exits.push(`${name} exited (${code ?? signal})`));
    }
    const count = () => platform.prisma.indexRecord.count({ where: { tenantId: fault.tenant } });

    const jobId = await platform.runPlan(fault.tenant, scenario.planId);
    while ((await count()) < 150) await sleep(50);
    await fault.inject(infra, platform, scenario);

    const first = await platform.waitForJob(fault.tenant, jobId, { timeoutMs: 600_000 });
    const stored = new Set(
      (
        await platform.prisma.indexRecord.findMany({ where: { tenantId: fault.tenant }, select: { sightingId: true } })
      ).map((r) => Number(r.sightingId)),
    );
    expect(failedUids(first).filter((uid) => stored.has(uid))).toEqual([]);
    if (first.state === 'succeeded') {
      expect(first.errors ?? []).toEqual([]);
      expect(stored.size).toBe(MESSAGES);
    } else {
      const again = await platform.waitForJob(fault.tenant, await platform.runPlan(fault.tenant, scenario.planId), {
        timeoutMs: 600_000,
      });
      expect(again.errors ?? []).toEqual([]);
      expect(again.state).toBe('succeeded');
    }
    expect(exits).toEqual([]);
    await expectBackedUpOnce(platform, fault.tenant, scenario.keys, MESSAGES);
  });
});
