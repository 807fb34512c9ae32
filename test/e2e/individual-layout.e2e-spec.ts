import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { messageObjectKey } from '@mlr/objectstore';
import {
  REPO_ROOT,
  addDovecotUser,
  corpusMessages,
  fetchFolder,
  freePort,
  imapSessionAs,
  provisionConnector,
  seedFolder,
} from '@mlr/testing';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-individual';
const CONNECTOR = 'imap-individual';
const MAILBOX = 'ines';

const fingerprint = (message: { bytes: Buffer; flags: string[]; internalDate: Date | null }) =>
  `${createHash('sha256').update(message.bytes).digest('hex')} ${message.flags
    .filter((flag) => flag !== '\\Recent')
    .sort()
    .join(',')} ${message.internalDate?.toISOString() ?? '-'}`;

/**
 * A tenant whose policy wants one S3 object per message (`objectLayout: individual`): backed up,
 * each message is an S3 object of its own with its version pinned, and it restores byte-identical.
 */
describe('a tenant of the individual layout', () => {
  const infra = inject('infra');
  const imap = infra.imap!;
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-individual-'));
  const platform = new PlatformFixture(infra, dir);
  let planId: string;
  let original: string[];

  const folderFingerprints = async () =>
    [...(await fetchFolder(imap, MAILBOX, 'INBOX')).values()].map(fingerprint).sort();

  beforeAll(async () => {
    await addDovecotUser(join(infra.dir, 'dovecot'), { name: MAILBOX, password: `${MAILBOX}-password` });
    // Distinct messages: identical copies in one folder come back as one (restore's duplicate check).
    const seen = new Set<string>();
    const corpus = corpusMessages()
      .slice(100)
      .filter((m) => {
        const hash = createHash('sha256').update(m.bytes).digest('hex');
        if (seen.has(hash)) return false;
        seen.add(hash);
        return true;
      })
      .slice(0, 25);
    await seedFolder(
      imap,
      MAILBOX,
      'INBOX',
      corpus.map((m, i) => ({
        bytes: m.bytes,
        flags: i % 2 === 0 ? ['\\Seen', '$Label1'] : [],
        internalDate: new Date(Date.UTC(2022, i % 12, 3, 9, i)),
      })),
    );
    original = await folderFingerprints();
    await platform.startPlatform();
    const healthPort = await freePort();
    const connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir,
      mailboxes: [MAILBOX],
      healthPort,
      objectLayout: 'individual',
    });
    await platform.startConnector(connector.configFile, healthPort);
    planId = await platform.createPlan(TENANT, {
      name: MAILBOX,
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: [MAILBOX] },
    });
  }, 600_000);

  afterAll(async () => {
    await platform.stop();
  });

  it('stores every message as an S3 object of its own, its version pinned', async () => {
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');
    const objects = await platform.prisma.storedObject.findMany({ where: { tenantId: TENANT } });
    expect(objects).toHaveLength(new Set(original.map((f) => f.split(' ')[0])).size);
    for (const object of objects) {
      expect(object).toMatchObject({ key: messageObjectKey(TENANT, object.contentId), packId: null, byteOffset: null });
      const head = await platform.store.head({ bucket: object.bucket, key: object.key, versionId: object.versionId! });
      expect(head?.size).toBe(Number(object.sealedSize));
    }
    expect(await platform.prisma.pack.count({ where: { tenantId: TENANT } })).toBe(0);
  });

  it('restores deleted messages byte-identical, with their flags and dates', async () => {
    const session = await imapSessionAs(imap, MAILBOX);
    await session.mailboxOpen('INBOX');
    await session.messageDelete('1:*');
    await session.logout();
    const { status, body } = await platform.http<{ jobId: string; itemCount: number }>(
      'POST',
      `/v1/tenants/${TENANT}/restores`,
      { query: { mailboxes: [MAILBOX], folder: 'INBOX' }, target: { kind: 'original' } },
    );
    expect(status).toBe(202);
    const job = await platform.waitForJob(TENANT, body.jobId);
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');
    expect(await folderFingerprints()).toEqual(original);
  });
});
