import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  FreezingProxy,
  REPO_ROOT,
  emptyFolder,
  folderFingerprints,
  required,
  restartNats,
  restartPostgres,
  restartS3Gateway,
  type JobView,
  type LocalInfrastructure,
} from '@mlr/testing';
import { loadMessages, startBackupScenario, type BackupScenario } from '../e2e/support/backup-scenario.js';
import { PlatformFixture } from '../e2e/support/platform-fixture.js';
import { killAndRestart } from './support/backup-checks.js';

const TENANT = 'faults-restore';
const MAILBOX = 'rosa';
const MESSAGES = 600;

interface Fault {
  name: string;
  /** The process the fault kills on purpose (its exit is expected). */
  kills?: string;
  /** The restore rides it out: the first job succeeds, nothing failed (no re-run needed). */
  ridesOut?: boolean;
  inject(infra: LocalInfrastructure, platform: PlatformFixture, scenario: BackupScenario): Promise<void>;
}

/** Between the connector and NATS (passing everything on, until a fault cuts it off). */
let proxy: FreezingProxy;

const FAULTS: Fault[] = [
  { name: 'NATS restarted (5 s down)', inject: (infra) => restartNats(infra, 5_000) },
  { name: 'PostgreSQL stopped for 15 s', ridesOut: true, inject: (infra) => restartPostgres(infra, 15_000) },
  { name: 'the S3 gateway stopped for 15 s', ridesOut: true, inject: (infra) => restartS3Gateway(infra, 15_000) },
  ...(['storage', 'indexing', 'scheduling', 'licensing', 'gateway'] as const).map((service): Fault => ({
    name: `${service} SIGKILLed and started again`,
    kills: service,
    inject: (_infra, platform) => killAndRestart(platform, service),
  })),
  {
    name: 'the connector cut off from NATS for 25 s',
    ridesOut: true,
    async inject() {
      proxy.freezeAll();
      await sleep(25_000);
      proxy.dropAll();
    },
  },
  {
    name: 'the connector SIGKILLed and started again',
    kills: 'connector',
    async inject(_infra, platform, scenario) {
      await platform.app('connector').kill();
      await sleep(2_000);
      await platform.startConnector(scenario.configFile, scenario.healthPort);
    },
  },
];

/**
 * Faults in the middle of a restore of 600 messages into the folder they came from (issue 13): the
 * job ends in an honest state — never `running` for ever, never more restored than asked — a re-run
 * (when the first did not succeed) completes, and the folder then holds every message exactly once,
 * byte for byte with its flags, however often the connector wrote in between.
 */
describe('a restore through faults', () => {
  const infra = inject('infra');
  const imap = required(infra, 'imap');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', `${TENANT}-`));
  const platform = new PlatformFixture(infra, dir);
  let scenario: BackupScenario;
  let original: string[];

  beforeAll(async () => {
    const nats = new URL(required(infra, 'nats').url);
    proxy = await FreezingProxy.start({ host: nats.hostname, port: Number(nats.port) });
    scenario = await startBackupScenario(infra, platform, {
      tenantId: TENANT,
      mailbox: MAILBOX,
      dir,
      messages: loadMessages(TENANT, MESSAGES),
      ackTimeoutSeconds: 20,
      natsUrl: `nats://127.0.0.1:${proxy.port}`,
    });
    original = await folderFingerprints(imap, MAILBOX, 'INBOX');
    const backup = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, scenario.planId));
    expect(backup.state).toBe('succeeded');
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
    await proxy?.stop();
  });

  const job = async (jobId: string) =>
    (await platform.http<JobView>('GET', `/v1/tenants/${TENANT}/jobs/${jobId}`)).body;
  const restore = async () =>
    (await platform.restore(TENANT, { query: { mailboxes: [MAILBOX], folder: 'INBOX' }, target: { kind: 'original' } }))
      .jobId;

  it.each(FAULTS)('$name: ends honestly, and the folder holds every message exactly once', async (fault) => {
    const exits: string[] = [];
    for (const name of ['storage', 'indexing', 'scheduling', 'licensing', 'gateway', 'connector']) {
      if (name === fault.kills) continue;
      void platform.app(name).exited.then(({ code, signal }) => exits.push(`${name} exited (${code ?? signal})`));
    }
    await emptyFolder(imap, MAILBOX, 'INBOX');

    const jobId = await restore();
    const deadline = Date.now() + 120_000;
    while ((await job(jobId)).counters.restored < 100) {
      if (Date.now() > deadline) throw new Error('the restore never got under way');
      await sleep(50);
    }
    await fault.inject(infra, platform, scenario);

    const first = await platform.waitForJob(TENANT, jobId, { timeoutMs: 600_000 });
    expect(first.counters.restored + first.counters.skipped + first.counters.failed).toBeLessThanOrEqual(MESSAGES);
    if (fault.ridesOut) {
      expect(first.errors ?? []).toEqual([]);
      expect(first.state).toBe('succeeded');
    }
    if (first.state !== 'succeeded') {
      const again = await platform.waitForJob(TENANT, await restore(), { timeoutMs: 600_000 });
      expect(again.errors ?? []).toEqual([]);
      expect(again.state).toBe('succeeded');
    }
    expect(exits).toEqual([]);
    expect(await folderFingerprints(imap, MAILBOX, 'INBOX')).toEqual(original);
  });
});
