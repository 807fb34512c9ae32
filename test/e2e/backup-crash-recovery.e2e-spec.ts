import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deriveTenantKeys, openSealedObject, type TenantKeys } from '@mlr/crypto';
import { REPO_ROOT, addDovecotUser, corpusMessages, freePort, provisionConnector, seedFolder } from '@mlr/testing';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-crash';
const CONNECTOR = 'imap-crash';
const MESSAGES = 2_000;

/**
 * Nothing is lost and nothing is stored twice when storage or indexing die (SIGKILL) in the middle
 * of a 2,000-message backup and come back.
 */
describe('crash recovery during a backup', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-crash-'));
  const platform = new PlatformFixture(infra, dir);
  let planId: string;
  let keys: TenantKeys;

  beforeAll(async () => {
    await addDovecotUser(join(infra.dir, 'dovecot'), { name: 'carol', password: 'carol-password' });
    // Distinct messages of realistic shapes: corpus mail made unique by a header of its own.
    const corpus = corpusMessages().filter((m) => m.bytes.length < 200_000);
    const messages = Array.from({ length: MESSAGES }, (_, i) => ({
      bytes: Buffer.concat([Buffer.from(`X-MLR-Load: ${i}\r\n`), corpus[i % corpus.length]!.bytes]),
    }));
    const seeded = await seedFolder(infra.imap!, 'carol', 'INBOX', messages);
    expect(seeded.filter((r) => r.refused)).toEqual([]);

    await platform.startPlatform();
    const healthPort = await freePort();
    const connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir,
      mailboxes: ['carol'],
      healthPort,
      // Short acknowledgement wait: messages caught in a crash are sent again sooner.
      backup: { publicFolders: false, ackTimeoutSeconds: 20 },
    });
    keys = deriveTenantKeys(Buffer.from(connector.rootKeyHex, 'hex'));
    await platform.startConnector(connector.configFile, healthPort);
    planId = await platform.createPlan(TENANT, {
      name: 'carol',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: ['carol'] },
    });
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
  });

  async function waitForRecords(atLeast: number): Promise<void> {
    while ((await platform.prisma.indexRecord.count({ where: { tenantId: TENANT } })) < atLeast) await sleep(100);
  }

  it('ends with every message stored and indexed exactly once', async () => {
    const jobId = await platform.runPlan(TENANT, planId);

    await waitForRecords(300);
    await platform.app('storage').kill();
    await sleep(2_000);
    await platform.restart('storage');

    await waitForRecords(1_000);
    await platform.app('indexing').kill();
    await sleep(2_000);
    await platform.restart('indexing');

    const job = await platform.waitForJob(TENANT, jobId);
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');

    const records = await platform.prisma.indexRecord.findMany({
      where: { tenantId: TENANT },
      select: { uid: true, contentId: true },
    });
    expect(records).toHaveLength(MESSAGES);
    expect(new Set(records.map((r) => r.uid)).size).toBe(MESSAGES);
    const objects = await platform.prisma.storedObject.findMany({ where: { tenantId: TENANT } });
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
  });
});
