import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  FreezingProxy,
  REPO_ROOT,
  addDovecotUser,
  corpusMessages,
  emptyFolder,
  folderFingerprints,
  freePort,
  provisionConnector,
  seedFolder,
  type JobView,
} from '@mlr/testing';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-beside';
const CONNECTOR = 'imap-beside';
const FOLDER = 'Contracts';

/**
 * A restore never waits behind a backup, and restores run beside each other: the connector reaches
 * Dovecot through a proxy that freezes the backup's IMAP session in the middle of its FETCHes, so
 * the backup is certainly still running (no timing involved) while restores are asked for, run and
 * finish; then the backup goes on and completes.
 */
describe('restores beside a running backup', () => {
  const infra = inject('infra');
  const imap = infra.imap!;
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-beside-'));
  const platform = new PlatformFixture(infra, dir);
  let proxy: FreezingProxy;
  let original: string[];
  let bigPlan: string;

  const restore = async (body: Record<string, unknown>) => (await platform.restore(TENANT, body)).jobId;

  const job = async (jobId: string) =>
    (await platform.http<JobView>('GET', `/v1/tenants/${TENANT}/jobs/${jobId}`)).body;
  const fingerprints = (user: string, folder: string) => folderFingerprints(imap, user, folder);

  beforeAll(async () => {
    for (const name of ['bea', 'rik']) {
      await addDovecotUser(join(infra.dir, 'dovecot'), { name, password: `${name}-password` });
    }
    const corpus = corpusMessages().filter((m) => m.bytes.length < 100_000);
    // Rik's folder is what gets restored; Bea's mailbox is the long backup.
    await seedFolder(
      imap,
      'rik',
      FOLDER,
      corpus.slice(0, 30).map((m, i) => ({
        bytes: m.bytes,
        flags: i % 2 === 0 ? ['\\Seen'] : ['\\Flagged', '$Label2'],
        internalDate: new Date(Date.UTC(2024, i % 12, 1 + i, 8, i, 0)),
      })),
    );
    original = await fingerprints('rik', FOLDER);
    await seedFolder(
      imap,
      'bea',
      'INBOX',
      Array.from({ length: 300 }, (_, i) => ({ bytes: corpus[i % corpus.length]!.bytes })),
    );

    proxy = await FreezingProxy.start({ host: imap.host, port: imap.port });
    await platform.startPlatform();
    const healthPort = await freePort();
    const connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir,
      mailboxes: ['bea', 'rik'],
      healthPort,
    });
    const config = JSON.parse(readFileSync(connector.configFile, 'utf8')) as { source: Record<string, unknown> };
    writeFileSync(
      connector.configFile,
      JSON.stringify({ ...config, source: { ...config.source, host: '127.0.0.1', port: proxy.port } }, null, 2),
    );
    await platform.startConnector(connector.configFile, healthPort);

    const rikPlan = await platform.createPlan(TENANT, {
      name: 'rik',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: ['rik'] },
    });
    const first = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, rikPlan));
    expect(first.state).toBe('succeeded');
    expect(first.counters.seen).toBe(30);
    bigPlan = await platform.createPlan(TENANT, {
      name: 'bea',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: ['bea'] },
    });
  }, 600_000);

  afterAll(async () => {
    proxy?.thaw();
    await platform.stop();
    await proxy?.stop();
  });

  it('restores while the backup is held mid-way, several restores at once, one copy each; then the backup completes', async () => {
    await emptyFolder(imap, 'rik', FOLDER);

    // The backup's session freezes once Dovecot has sent it 256 KiB: in the middle of its FETCHes.
    proxy.arm(256 * 1024);
    const backupId = await platform.runPlan(TENANT, bigPlan);
    const deadline = Date.now() + 120_000;
    while (proxy.frozen === 0) {
      if (Date.now() > deadline) throw new Error('the backup never reached the point where it is held');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    proxy.disarm();
    expect((await job(backupId)).state).toBe('running');

    // One restore into the original folder, then two at once of the same messages into one new folder.
    const back = await platform.waitForJob(
      TENANT,
      await restore({ query: { mailboxes: ['rik'], folder: FOLDER }, target: { kind: 'original' } }),
      { timeoutMs: 120_000 },
    );
    expect(back.errors ?? []).toEqual([]);
    expect(back.state).toBe('succeeded');
    expect(back.counters.restored).toBe(30);
    expect(await fingerprints('rik', FOLDER)).toEqual(original);

    const request = { query: { mailboxes: ['rik'], folder: FOLDER }, target: { kind: 'folder', folder: 'Twice' } };
    const [a, b] = await Promise.all([restore(request), restore(request)]);
    const pair = await Promise.all([a, b].map((id) => platform.waitForJob(TENANT, id, { timeoutMs: 120_000 })));
    for (const done of pair) {
      expect(done.errors ?? []).toEqual([]);
      expect(done.state).toBe('succeeded');
    }
    // Each message restored by one of the two and found there by the other.
    expect(pair.map((done) => done.counters.restored + done.counters.skipped)).toEqual([30, 30]);
    expect(pair[0]!.counters.restored + pair[1]!.counters.restored).toBe(30);
    expect(await fingerprints('rik', 'Twice')).toEqual(original);

    // All of that while the backup was held: it is still running, and goes on now.
    expect((await job(backupId)).state).toBe('running');
    proxy.thaw();
    const backup = await platform.waitForJob(TENANT, backupId);
    expect(backup.errors ?? []).toEqual([]);
    expect(backup.state).toBe('succeeded');
    expect(backup.counters.seen).toBe(300);
  });
});
