import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { messageObjectKey } from '@mlr/objectstore';
import {
  REPO_ROOT,
  addDovecotUser,
  corpusMessages,
  emptyFolder,
  folderFingerprints,
  freePort,
  provisionConnector,
  seedFolder,
} from '@mlr/testing';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-individual';
const CONNECTOR = 'imap-individual';
const MAILBOX = 'ines';

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

  const inboxFingerprints = () => folderFingerprints(imap, MAILBOX, 'INBOX');

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
    original = await inboxFingerprints();
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
    await emptyFolder(imap, MAILBOX, 'INBOX');
    const { jobId } = await platform.restore(TENANT, {
      query: { mailboxes: [MAILBOX], folder: 'INBOX' },
      target: { kind: 'original' },
    });
    const job = await platform.waitForJob(TENANT, jobId);
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');
    expect(await inboxFingerprints()).toEqual(original);
  });
});
