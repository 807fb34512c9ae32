import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TenantKeys } from '@mlr/crypto';
import { REPO_ROOT, restartNats } from '@mlr/testing';
import { PlatformFixture } from '../e2e/support/platform-fixture.js';
import { loadMessages, startBackupScenario } from '../e2e/support/backup-scenario.js';
import { expectBackedUpOnce, failedUids } from './support/backup-checks.js';

/** 40 of them large. */
const MESSAGES = 400;
const TENANT = 'faults-nats';
const MAILBOX = 'nadia';

/** A message too large to travel inline with its commit: its sealed bytes go through the chunk stream. */
function largeMessage(i: number): Buffer {
  // Every fourth one beyond the 4 MiB storage holds in memory: its chunks are read out of NATS again
  // while its PUT runs, which a NATS restart makes fail half way.
  const size = i % 80 === 5 ? 5 * 1024 * 1024 : 300 * 1024 + (i % 7) * 100 * 1024;
  const attachment = randomBytes(size).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `From: sender${i}@example.org\r\nTo: ${MAILBOX}@example.org\r\nSubject: large message ${i}\r\n` +
      `Message-ID: <large-${i}@faults.example>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: application/octet-stream; name="blob-${i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      `${attachment}\r\n`,
  );
}

/**
 * NATS restarts in the middle of a backup (issue 13, finding 1): storage reads large messages' chunks
 * out of JetStream while the server goes away. No process may die of it, the job must end in an
 * honest state (never `running` for ever, never a message reported failed that was stored), and a
 * re-run must leave every message stored and indexed exactly once.
 */
describe('a NATS restart during a backup', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', `${TENANT}-`));
  const platform = new PlatformFixture(infra, dir);
  let planId: string;
  let keys: TenantKeys;

  beforeAll(async () => {
    const small = loadMessages(TENANT, MESSAGES);
    // Every tenth message is large, spread over the whole backup.
    const messages = small.map((message, i) => (i % 10 === 5 ? { bytes: largeMessage(i) } : message));
    ({ planId, keys } = await startBackupScenario(infra, platform, {
      tenantId: TENANT,
      mailbox: MAILBOX,
      dir,
      messages,
      ackTimeoutSeconds: 20,
    }));
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
  });

  const indexedUids = async () =>
    (await platform.prisma.indexRecord.findMany({ where: { tenantId: TENANT }, select: { sightingId: true } })).map(
      (r) => Number(r.sightingId),
    );

  it('kills no process, ends the job honestly, and a re-run stores every message exactly once', async () => {
    const exits: string[] = [];
    for (const name of ['storage', 'indexing', 'scheduling', 'licensing', 'gateway', 'connector']) {
      void platform.app(name).exited.then(({ code, signal }) => exits.push(`${name} exited (${code ?? signal})`));
    }

    const firstJob = await platform.runPlan(TENANT, planId);
    while ((await indexedUids()).length < 80) await sleep(50);
    await restartNats(infra, 5_000);

    const first = await platform.waitForJob(TENANT, firstJob, { timeoutMs: 300_000 });
    expect(exits).toEqual([]);
    expect(['succeeded', 'partially_failed', 'failed']).toContain(first.state);
    // A message reported failed must really be missing: never "failed" for what was stored.
    const stored = new Set(await indexedUids());
    expect(failedUids(first).filter((uid) => stored.has(uid))).toEqual([]);
    if (first.state === 'succeeded') expect(stored.size).toBe(MESSAGES);

    const second = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId), { timeoutMs: 300_000 });
    expect(second.errors ?? []).toEqual([]);
    expect(second.state).toBe('succeeded');
    expect(exits).toEqual([]);
    await expectBackedUpOnce(platform, TENANT, keys, MESSAGES);
  });
});
