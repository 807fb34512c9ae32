import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { contentId, deriveTenantKeys, type TenantKeys } from '@mlr/crypto';
import {
  REPO_ROOT,
  addDovecotUser,
  corpusMessages,
  corruptObjectInPlace,
  emptyFolder,
  fetchFolder,
  folderFingerprints,
  freePort,
  provisionConnector,
  seedFolder,
  type ProvisionedConnector,
} from '@mlr/testing';
import { readEmlZip, readMboxrd } from '@mlr/connector-core';
import { runConnectorCli } from './support/connector-cli.js';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-restore';
const CONNECTOR = 'imap-restore';
const FOLDER = 'Projects/Restore';

interface ItemView {
  seq: number;
  recordId: string;
  mailbox: string;
  folder: string;
  outcome: 'pending' | 'restored' | 'skipped' | 'failed';
  reason: string | null;
  targetMailbox: string | null;
  targetFolder: string | null;
}

/**
 * Search and restore across the real processes: backup from Dovecot, delete, restore through the
 * gateway (scheduling → connector ← storage), and check what Dovecot serves afterwards.
 */
describe('restore end to end', () => {
  const infra = inject('infra');
  const imap = infra.imap!;
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-restore-'));
  const exportDir = join(dir, 'exports');
  const platform = new PlatformFixture(infra, dir);
  let connector: ProvisionedConnector;
  let keys: TenantKeys;
  let original: string[];

  const restore = (body: Record<string, unknown>) => platform.restore(TENANT, body);

  async function items(jobId: string): Promise<ItemView[]> {
    const all: ItemView[] = [];
    let after = -1;
    for (;;) {
      const { status, body } = await platform.http<{ items: ItemView[]; nextAfter: number | null }>(
        'GET',
        `/v1/tenants/${TENANT}/jobs/${jobId}/items?after=${after}&limit=500`,
      );
      expect(status).toBe(200);
      all.push(...body.items);
      if (body.nextAfter === null) return all;
      after = body.nextAfter;
    }
  }

  const fingerprints = (user: string, folder: string) => folderFingerprints(imap, user, folder);

  async function recordIdsOf(mailbox: string, folder: string): Promise<string[]> {
    const records = await platform.prisma.indexRecord.findMany({
      where: { tenantId: TENANT, mailbox, folder },
    });
    // In UID order (the key's id is text: '10' sorts before '9').
    return records.sort((a, b) => Number(a.sightingId) - Number(b.sightingId)).map((record) => record.id);
  }

  beforeAll(async () => {
    for (const name of ['rosa', 'ruben']) {
      await addDovecotUser(join(infra.dir, 'dovecot'), { name, password: `${name}-password` });
    }
    // Forty corpus messages with a variety of flags, keywords and dates, in a nested folder.
    const corpus = corpusMessages().slice(40, 80);
    await seedFolder(
      imap,
      'rosa',
      FOLDER,
      corpus.map((m, i) => ({
        bytes: m.bytes,
        flags: [
          ...(i % 2 === 0 ? ['\\Seen'] : []),
          ...(i % 3 === 0 ? ['\\Flagged'] : []),
          ...(i % 5 === 0 ? ['\\Answered', '$Forwarded'] : []),
          ...(i % 7 === 0 ? ['$Label3'] : []),
        ],
        internalDate: new Date(Date.UTC(2023, i % 12, 1 + (i % 27), i % 24, i, 0)),
      })),
    );
    original = await fingerprints('rosa', FOLDER);
    expect(original).toHaveLength(40);

    await platform.startPlatform();
    const healthPort = await freePort();
    connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir,
      mailboxes: ['rosa', 'ruben'],
      healthPort,
    });
    const config = JSON.parse(readFileSync(connector.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(connector.configFile, JSON.stringify({ ...config, restore: { exportDir } }, null, 2));
    keys = deriveTenantKeys(Buffer.from(connector.rootKeyHex, 'hex'));
    await platform.startConnector(connector.configFile, healthPort);

    const planId = await platform.createPlan(TENANT, {
      name: 'rosa',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: ['rosa'] },
    });
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    expect(job.state).toBe('succeeded');
    expect(job.counters.seen).toBe(40);
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
  });

  it('restores deleted messages into their folder: same bytes, flags, keywords and INTERNALDATE', async () => {
    await emptyFolder(imap, 'rosa', FOLDER);
    expect(await fingerprints('rosa', FOLDER)).toEqual([]);

    const accepted = await restore({ query: { mailboxes: ['rosa'], folder: FOLDER }, target: { kind: 'original' } });
    expect(accepted.itemCount).toBe(40);
    const job = await platform.waitForJob(TENANT, accepted.jobId);
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');
    expect(job.counters.restored).toBe(40);
    expect(await fingerprints('rosa', FOLDER)).toEqual(original);

    const results = await items(accepted.jobId);
    expect(results.map((item) => item.outcome)).toEqual(Array(40).fill('restored'));
    expect(new Set(results.map((item) => `${item.targetMailbox}/${item.targetFolder}`))).toEqual(
      new Set([`rosa/${FOLDER}`]),
    );
  });

  it('a restore run twice leaves exactly one copy of each message', async () => {
    const accepted = await restore({ recordIds: await recordIdsOf('rosa', FOLDER), target: { kind: 'original' } });
    const job = await platform.waitForJob(TENANT, accepted.jobId);
    expect(job.state).toBe('succeeded');
    expect(job.counters.skipped).toBe(40);
    expect(job.counters.restored).toBe(0);
    expect(await fingerprints('rosa', FOLDER)).toEqual(original);
    expect((await items(accepted.jobId)).every((item) => item.outcome === 'skipped')).toBe(true);
  });

  it('restores into another folder (created) and, as tenant admin, into another mailbox', async () => {
    const ids = await recordIdsOf('rosa', FOLDER);
    const toFolder = await restore({ recordIds: ids, target: { kind: 'folder', folder: 'Restored Items/2026-11-24' } });
    expect((await platform.waitForJob(TENANT, toFolder.jobId)).state).toBe('succeeded');
    expect(await fingerprints('rosa', 'Restored Items/2026-11-24')).toEqual(original);

    const toMailbox = await restore({
      recordIds: ids,
      target: { kind: 'mailbox', mailbox: 'ruben', folder: 'From Rosa' },
    });
    const job = await platform.waitForJob(TENANT, toMailbox.jobId);
    expect(job.state).toBe('succeeded');
    expect(await fingerprints('ruben', 'From Rosa')).toEqual(original);
  });

  it("refuses a plain user restoring another user's mail, writes nothing, and audits it", async () => {
    const ruben = { sub: 'ruben@e2e', role: 'user' as const, tenant: TENANT, mailboxes: ['ruben'] };
    const jobsBefore = await platform.prisma.job.count({ where: { tenantId: TENANT } });
    const rubensFolders = await fetchFolder(imap, 'ruben', 'INBOX');
    // Even run with his own credentials (never by the agent for a user), Rosa's records are not his.
    const refused = await platform.http<{ message: string; field: string }>(
      'POST',
      `/v1/tenants/${TENANT}/restores`,
      { recordIds: await recordIdsOf('rosa', FOLDER), target: { kind: 'original' }, runBy: 'caller' },
      { as: ruben },
    );
    expect(refused.status).toBe(403);
    expect(refused.body.field).toBe('recordIds');
    const intoOther = await platform.http<{ message: string }>(
      'POST',
      `/v1/tenants/${TENANT}/restores`,
      { query: { mailboxes: ['rosa'] }, target: { kind: 'mailbox', mailbox: 'ruben' } },
      { as: ruben },
    );
    expect(intoOther.status).toBe(403);
    const search = await platform.http<{ message: string }>(
      'POST',
      `/v1/tenants/${TENANT}/search`,
      { mailboxes: ['rosa'] },
      { as: ruben },
    );
    expect(search.status).toBe(403);
    expect(await platform.prisma.job.count({ where: { tenantId: TENANT } })).toBe(jobsBefore);
    expect((await fetchFolder(imap, 'ruben', 'INBOX')).size).toBe(rubensFolders.size);
    const denied = await platform.prisma.auditEvent.findMany({
      where: { tenantId: TENANT, actor: ruben.sub, outcome: 'denied' },
    });
    expect(denied.length).toBeGreaterThanOrEqual(3);
  });

  /** Five records of Rosa's folder whose objects share one pack, the first at the pack's start. */
  async function fiveOfOnePack() {
    const records = await platform.prisma.indexRecord.findMany({
      where: { tenantId: TENANT, mailbox: 'rosa', folder: FOLDER },
      include: { object: true },
    });
    const byPack = new Map<string | null, typeof records>();
    for (const record of records)
      byPack.set(record.object.packId, [...(byPack.get(record.object.packId) ?? []), record]);
    const members = [...byPack.values()].sort((a, b) => b.length - a.length)[0]!;
    expect(members.length).toBeGreaterThanOrEqual(5);
    return members.sort((a, b) => Number(a.object.byteOffset) - Number(b.object.byteOffset)).slice(0, 5);
  }

  it('restores every member of a pack over which a newer version was written: reads pin the version', async () => {
    const records = await fiveOfOnePack();
    const pack = await platform.prisma.pack.findUniqueOrThrow({ where: { id: records[0]!.object.packId! } });
    // Anyone who may write to the bucket can put a new version over the key; Object Lock keeps the
    // original, and the locators name it.
    await platform.store.put({ bucket: pack.bucket, key: pack.key }, randomBytes(Number(pack.size)));

    const accepted = await restore({
      recordIds: records.map((record) => record.id),
      target: { kind: 'folder', folder: 'Overwritten Pack' },
    });
    const job = await platform.waitForJob(TENANT, accepted.jobId);
    expect(job.state).toBe('succeeded');
    expect(job.counters.restored).toBe(5);
    const restored = await fetchFolder(imap, 'rosa', 'Overwritten Pack');
    expect(new Set([...restored.values()].map((m) => contentId(keys, m.bytes)))).toEqual(
      new Set(records.map((record) => record.contentId)),
    );
  });

  it('fails only the member of a pack that was corrupted in place, saying why, and restores its pack-mates', async () => {
    const records = await fiveOfOnePack();
    const victim = records[0]!;
    // Bit rot under S3: one byte of the victim's ciphertext changes in Ceph itself, in the very
    // version its locator pins.
    const repair = await corruptObjectInPlace({
      cephDir: join(infra.dir, 'ceph'),
      key: victim.object.key,
      versionId: victim.object.versionId!,
      offset: Number(victim.object.byteOffset) + Number(victim.object.byteLength) - 20,
    });

    const accepted = await restore({
      recordIds: records.map((record) => record.id),
      target: { kind: 'folder', folder: 'Tamper Check' },
    });
    const job = await platform.waitForJob(TENANT, accepted.jobId);
    expect(job.state).toBe('partially_failed');
    expect(job.counters.restored).toBe(4);
    expect(job.counters.failed).toBe(1);
    const results = await items(accepted.jobId);
    const failed = results.filter((item) => item.outcome === 'failed');
    expect(failed).toEqual([
      expect.objectContaining({
        recordId: victim.id,
        reason: expect.stringMatching(/tampered or wrong key \(Tampered/),
      }),
    ]);
    expect((await fetchFolder(imap, 'rosa', 'Tamper Check')).size).toBe(4);
    // The same byte flipped back, for the tests after this one.
    await repair();
  });

  it('exports to mbox and to a zip of .eml files, every message byte-identical', async () => {
    const ids = await recordIdsOf('rosa', FOLDER);
    const expected = new Set(
      (await platform.prisma.indexRecord.findMany({ where: { id: { in: ids } }, select: { contentId: true } })).map(
        (record) => record.contentId,
      ),
    );

    const mbox = await restore({ recordIds: ids, target: { kind: 'export', format: 'mbox', fileName: 'rosa.mbox' } });
    expect((await platform.waitForJob(TENANT, mbox.jobId)).state).toBe('succeeded');
    const fromMbox = await readMboxrd(join(exportDir, 'rosa.mbox'));
    expect(fromMbox).toHaveLength(40);
    expect(new Set(fromMbox.map((bytes) => contentId(keys, bytes)))).toEqual(expected);

    const zip = await restore({ recordIds: ids, target: { kind: 'export', format: 'eml-zip', fileName: 'rosa.zip' } });
    expect((await platform.waitForJob(TENANT, zip.jobId)).state).toBe('succeeded');
    const fromZip = (await readEmlZip(join(exportDir, 'rosa.zip'))).filter((entry) => entry.name.endsWith('.eml'));
    expect(fromZip).toHaveLength(40);
    expect(new Set(fromZip.map((entry) => contentId(keys, entry.data)))).toEqual(expected);
  });

  it('without "Receive As", restores from the connector CLI with the owner\'s own IMAP login', async () => {
    // A connector whose configuration has no service account: only the owner's own login opens rosa.
    const config = JSON.parse(readFileSync(connector.configFile, 'utf8')) as { source: Record<string, unknown> };
    const { serviceAccount: _serviceAccount, ...source } = config.source;
    const ownConfig = join(dir, 'connector-own-credentials.json');
    writeFileSync(ownConfig, JSON.stringify({ ...config, source: { ...source, mailboxes: [] } }, null, 2));
    const token = await platform.token({ sub: 'rosa@e2e', role: 'user', tenant: TENANT, mailboxes: ['rosa'] });
    const gateway = `http://127.0.0.1:${platform.app('gateway').port}`;
    const args = ['restore', '--config', ownConfig, '--gateway', gateway, '--token', token, '--json'];
    const selection = ['--mailbox', 'rosa', '--folder', FOLDER, '--target', 'folder:Own Credentials'];

    // Through the agent, the service account would open her mailbox: it acts only for tenant admins
    // with "Receive As", so the request is refused, says what to do instead, and is audited.
    const jobsBefore = await platform.prisma.job.count({ where: { tenantId: TENANT } });
    const viaAgent = await runConnectorCli([
      ...['restore', '--config', connector.configFile, '--gateway', gateway, '--token', token, '--json'],
      ...selection,
    ]);
    expect(viaAgent.code, viaAgent.stderr).toBe(1);
    expect(viaAgent.stderr).toContain('HTTP 403');
    expect(viaAgent.stderr).toContain('connector restore --own-credentials --login <address>');
    expect(await platform.prisma.job.count({ where: { tenantId: TENANT } })).toBe(jobsBefore);
    const denied = await platform.prisma.auditEvent.findMany({
      where: { tenantId: TENANT, actor: 'rosa@e2e', action: 'restore.create', outcome: 'denied' },
    });
    expect(denied.map((event) => (event.detail as { runBy?: string } | null)?.runBy)).toContain('connector');

    // An export opens no mailbox: no credentials to give.
    const exported = await runConnectorCli(
      [...args, '--mailbox', 'rosa', '--target', 'mbox:rosa.mbox', '--own-credentials', '--login', 'rosa'],
      { MLR_MAILBOX_PASSWORD: 'rosa-password' },
    );
    expect(exported.code).toBe(2);
    expect(exported.stderr).toContain('an export opens no mailbox, so it needs no --own-credentials');

    const wrong = await runConnectorCli([...args, ...selection, '--own-credentials', '--login', 'rosa'], {
      MLR_MAILBOX_PASSWORD: 'not-her-password',
    });
    expect(wrong.code, wrong.stderr).toBe(1);
    expect(JSON.parse(wrong.stdout.trim().split('\n').pop()!)).toMatchObject({ state: 'failed' });

    const { stdout, stderr, code } = await runConnectorCli(
      [...args, ...selection, '--own-credentials', '--login', 'rosa'],
      { MLR_MAILBOX_PASSWORD: 'rosa-password' },
    );
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as {
      jobId: string;
      state: string;
      counters: { restored: number };
    };
    expect(summary).toMatchObject({ state: 'succeeded', counters: { restored: 40 } });
    expect(await fingerprints('rosa', 'Own Credentials')).toEqual(original);
    // Never queued for the agent: the job was handed to the command line when it was created.
    const job = await platform.prisma.job.findUniqueOrThrow({ where: { id: summary.jobId } });
    expect(job.publishedAt?.getTime()).toBe(job.createdAt.getTime());
    expect(JSON.stringify(job.request)).not.toContain('rosa-password');

    // Rosa's job list holds her jobs only; the tenant admin's holds the others too.
    const rosas = await platform.http<{ jobs: Array<{ id: string; requestedBy: string }> }>(
      'GET',
      `/v1/tenants/${TENANT}/jobs?limit=1`,
      undefined,
      { token },
    );
    expect(rosas.body.jobs).toEqual([expect.objectContaining({ id: summary.jobId, requestedBy: 'rosa@e2e' })]);
    const all = await platform.http<{ jobs: Array<{ requestedBy: string }> }>(
      'GET',
      `/v1/tenants/${TENANT}/jobs?limit=100`,
    );
    expect(new Set(all.body.jobs.map((listed) => listed.requestedBy)).size).toBeGreaterThan(1);
  });

  it('without "Receive As", backs up the owner\'s mailbox from the connector CLI with her own IMAP login', async () => {
    const config = JSON.parse(readFileSync(connector.configFile, 'utf8')) as { source: Record<string, unknown> };
    const { serviceAccount: _serviceAccount, ...source } = config.source;
    const ownConfig = join(dir, 'connector-own-backup.json');
    writeFileSync(ownConfig, JSON.stringify({ ...config, source: { ...source, mailboxes: [] } }, null, 2));
    const args = ['backup', '--config', ownConfig, '--own-credentials', '--login', 'rosa', '--json'];

    const someoneElse = await runConnectorCli([...args, '--mailbox', 'ruben'], {
      MLR_MAILBOX_PASSWORD: 'rosa-password',
    });
    expect(someoneElse.code).toBe(2);
    expect(someoneElse.stderr).toContain('--own-credentials backs up only the mailbox of rosa, not ruben');

    const wrong = await runConnectorCli(args, { MLR_MAILBOX_PASSWORD: 'not-her-password' });
    expect(wrong.code, wrong.stderr).toBe(1);
    expect(JSON.parse(wrong.stdout.trim().split('\n').pop()!)).toMatchObject({ state: 'failed' });

    const { stdout, stderr, code } = await runConnectorCli(args, { MLR_MAILBOX_PASSWORD: 'rosa-password' });
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as {
      state: string;
      counters: { seen: number; failed: number; new: number; deduplicated: number };
    };
    expect(summary.state).toBe('succeeded');
    expect(summary.counters.seen).toBeGreaterThanOrEqual(40);
    expect(summary.counters.failed).toBe(0);
    expect(stdout + stderr).not.toContain('rosa-password');
  });

  it('refuses a bad restore request whole, naming the problem', async () => {
    const noSelection = await platform.http<{ message: string }>('POST', `/v1/tenants/${TENANT}/restores`, {
      target: { kind: 'original' },
    });
    expect(noSelection.status).toBe(400);
    const unknown = await platform.http<{ message: string }>('POST', `/v1/tenants/${TENANT}/restores`, {
      recordIds: ['does-not-exist'],
      target: { kind: 'original' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/does-not-exist/);
    const badExport = await platform.http<{ message: string }>('POST', `/v1/tenants/${TENANT}/restores`, {
      recordIds: await recordIdsOf('rosa', FOLDER),
      target: { kind: 'export', format: 'mbox', fileName: '../../etc/passwd' },
    });
    expect(badExport.status).toBe(400);
  });
});
