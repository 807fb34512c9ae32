import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { BackupHistory } from '@mlr/testing';
import { PROTECTED_WINDOW_DAYS } from '@mlr/contracts';
import { listProtectedMailboxes, protectedMailboxesByTenant } from './protected-mailboxes.js';

const DAY = 86_400_000;

/**
 * What counts as a protected mailbox, against the real schema: the backups scheduling recorded
 * (finished jobs, their mailbox errors, folder checkpoints), not whether anything new was found.
 */
describe('protected mailboxes', () => {
  const infra = inject('infra');
  const now = new Date();
  const suffix = randomBytes(4).toString('hex');
  let prisma: PrismaClient;
  let metered: string;
  let unlicensed: string;

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    metered = `pm-metered-${suffix}`;
    unlicensed = `pm-unlicensed-${suffix}`;
    await prisma.tenant.create({ data: { id: metered, name: 'Metered', slug: metered, mlrEnabled: true } });
    await prisma.tenant.create({ data: { id: unlicensed, name: 'No MLR', slug: unlicensed, mlrEnabled: false } });

    // Nightly "back up everything" of the first connector: nothing new for two months, so
    // neither a checkpoint nor an index record has changed since.
    const nightly = await BackupHistory.forNewConnector(infra.postgres!.databaseUrl, metered, now);
    await nightly.checkpoint('alice', 'INBOX', 60);
    await nightly.checkpoint('alice', 'Sent', 60);
    // Dave's password changed: the last runs could not open his mailbox.
    await nightly.checkpoint('dave', 'INBOX', 60);
    for (const daysAgo of [25, 15, 5]) await nightly.backupJob('all', daysAgo, { mailboxErrors: ['dave'] });
    // A restore is not a backup.
    await nightly.backupJob(['dave'], 1, { kind: 'restore' });

    // A second connector backing up named mailboxes.
    const named = await BackupHistory.forNewConnector(infra.postgres!.databaseUrl, metered, now);
    // Bob was last backed up 31 days ago.
    await named.checkpoint('bob', 'INBOX', 45);
    await named.backupJob(['bob'], PROTECTED_WINDOW_DAYS + 1);
    // Carol was backed up from the connector's command line two days ago, with new mail.
    await named.checkpoint('carol', 'INBOX', 2);
    await named.backupJob(null, 2);
    // Erin's runs failed or have not finished; Frank's mailbox was never backed up (no checkpoint).
    await named.checkpoint('erin', 'INBOX', 90);
    await named.backupJob(['erin'], 3, { state: 'failed', mailboxErrors: ['erin'] });
    await named.backupJob(['erin'], 0, { state: 'running' });
    await named.backupJob(['frank'], 1);
    // Alice again, through this connector too: still one mailbox.
    await named.checkpoint('alice', 'INBOX', 80);
    await named.backupJob(['alice', 'ghost'], 20, { state: 'partially_failed', mailboxErrors: ['ghost'] });

    // A tenant without MLR: metered for usage, not counted against the licence.
    const other = await BackupHistory.forNewConnector(infra.postgres!.databaseUrl, unlicensed, now);
    await other.checkpoint('zoe', 'INBOX', 50);
    await other.backupJob('all', 1);
  });

  afterAll(async () => {
    await prisma?.$disconnect();
  });

  it('counts a mailbox backed up in the window with nothing new, and not one last backed up 31 days ago', async () => {
    expect(await listProtectedMailboxes(prisma, now, metered)).toEqual(['alice', 'carol']);
    expect(await protectedMailboxesByTenant(prisma, now, { tenantId: metered })).toEqual(new Map([[metered, 2]]));
    // 26 days later Alice's newest backup (the nightly run 5 days ago) is 31 days old; Carol's 28.
    expect(await listProtectedMailboxes(prisma, new Date(now.getTime() + 26 * DAY), metered)).toEqual(['carol']);
    expect(await listProtectedMailboxes(prisma, new Date(now.getTime() + 29 * DAY), metered)).toEqual([]);
  });

  it('meters every tenant, with MLR or without (licensing counts only those with MLR against the licence)', async () => {
    const all = await protectedMailboxesByTenant(prisma, now);
    expect(all.get(metered)).toBe(2);
    expect(all.get(unlicensed)).toBe(1);
  });
});
