import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tenantChunksStream, UPLOAD_QUOTA_MIN_BYTES } from '@mlr/contracts';
import { connectMessaging } from '@mlr/messaging';
import { REPO_ROOT, restartS3Gateway, servicesNatsCredentials } from '@mlr/testing';
import { loadMessages, startBackupScenario, type BackupScenario } from '../e2e/support/backup-scenario.js';
import { PlatformFixture } from '../e2e/support/platform-fixture.js';
import { expectBackedUpOnce } from './support/backup-checks.js';

const TENANT = 'faults-quota';
const SMALL = 200;
const LARGE = 40;

/** A message with an attachment of ~1 MiB of random bytes: sealed, about 1 MiB, sent as chunks. */
function largeMessage(i: number): { bytes: Buffer } {
  const attachment = randomBytes(768 * 1024)
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return {
    bytes: Buffer.from(
      [
        'From: Quinn <quinn@example.com>',
        'To: Sam <sam@example.com>',
        `Subject: large ${i}`,
        `Message-ID: <large-${i}@faults.example>`,
        'Date: Mon, 07 Dec 2026 10:00:00 +0000',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'see attached',
        '--b',
        'Content-Type: application/octet-stream',
        'Content-Transfer-Encoding: base64',
        `Content-Disposition: attachment; filename="blob-${i}.bin"`,
        '',
        attachment,
        '--b--',
        '',
      ].join('\r\n'),
    ),
  };
}

/**
 * Backpressure (issue 13): while S3 is down for longer than the connector's acknowledgement wait,
 * storage takes no commit and the tenant's chunk stream fills up to its upload quota; the connector
 * waits — it neither sends its sightings again nor fails them — and once S3 is back the backup
 * completes in the same run with every message stored and indexed exactly once.
 */
describe('a backup while S3 is down for longer than the acknowledgement wait, at the upload quota', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', `${TENANT}-`));
  const platform = new PlatformFixture(infra, dir);
  let scenario: BackupScenario;

  beforeAll(async () => {
    scenario = await startBackupScenario(infra, platform, {
      tenantId: TENANT,
      mailbox: 'quinn',
      dir,
      // Small and large messages interleaved, so that large ones come during the outage.
      messages: loadMessages(TENANT, SMALL).flatMap((message, i) =>
        i % (SMALL / LARGE) === 0 ? [message, largeMessage(i / (SMALL / LARGE))] : [message],
      ),
      ackTimeoutSeconds: 5,
      uploadQuotaBytes: UPLOAD_QUOTA_MIN_BYTES,
    });
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
  });

  it('slows down instead of failing messages, and completes once S3 is back', async () => {
    const exits: string[] = [];
    for (const name of ['storage', 'indexing', 'scheduling', 'licensing', 'gateway', 'connector']) {
      void platform.app(name).exited.then(({ code, signal }) => exits.push(`${name} exited (${code ?? signal})`));
    }
    const services = await connectMessaging({
      servers: infra.nats!.url,
      name: 'faults-quota',
      credentials: servicesNatsCredentials(infra),
    });
    try {
      const jsm = await services.manager();
      const count = () => platform.prisma.indexRecord.count({ where: { tenantId: TENANT } });
      const jobId = await platform.runPlan(TENANT, scenario.planId);
      while ((await count()) < 40) await sleep(50);

      // The chunk stream's fill while S3 is down (60 s: twelve acknowledgement waits).
      let fullest = 0;
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          fullest = Math.max(fullest, (await jsm.streams.info(tenantChunksStream(TENANT).name)).state.bytes);
          await sleep(250);
        }
      })();
      const indexedBefore = await count();
      await restartS3Gateway(infra, 60_000);
      watching = false;
      await watcher;
      expect(fullest).toBeGreaterThan(UPLOAD_QUOTA_MIN_BYTES - 2 * 1024 * 1024); // it filled up to the quota
      expect(fullest).toBeLessThanOrEqual(UPLOAD_QUOTA_MIN_BYTES);
      expect(indexedBefore).toBeLessThan(SMALL + LARGE);

      const job = await platform.waitForJob(TENANT, jobId, { timeoutMs: 600_000 });
      expect(job.errors ?? []).toEqual([]);
      expect(job.state).toBe('succeeded');
      expect(exits).toEqual([]);
      await expectBackedUpOnce(platform, TENANT, scenario.keys, SMALL + LARGE);
    } finally {
      await services.close();
    }
  });
});
