import { describe, expect, it } from 'vitest';
import type { RestoreItem } from '@mlr/contracts';
import { deriveTenantKeys, generateRootKey, sealMessage } from '@mlr/crypto';
import { createLogger } from '@mlr/telemetry';
import { BackupRunner } from '../backup/backup-runner.js';
import { RestoreRunner } from '../restore/restore-runner.js';
import {
  InMemoryMailSource,
  InMemoryMailTarget,
  RecordingProgress,
  RecordingUploader,
} from '../testing/in-memory-ports.js';
import { RoutedMailSource, RoutedMailTarget } from './routed.js';

const logger = createLogger({ service: 'routed-spec', level: 'silent' });
const mail = (subject: string) =>
  Buffer.from(`Subject: ${subject}\r\nMessage-ID: <${subject}@x>\r\n\r\n${subject}\r\n`);

/** ann and the shared box are in the first source, ben in the second; anyone else in none. */
const routing = (mailbox: string) => {
  if (mailbox === 'ann' || mailbox === 'shared') return 0;
  if (mailbox === 'ben') return 1;
  throw new Error(`mailbox ${mailbox} is in no source`);
};

describe('several sources as one', () => {
  it('backs up every mailbox from the source that holds it, a name two sources give once, and reports one no source holds', async () => {
    const first = new InMemoryMailSource();
    const second = new InMemoryMailSource();
    first.add('ann', 'INBOX', mail('a1'));
    first.add('shared', 'INBOX', mail('s1'));
    second.add('ben', 'INBOX', mail('b1'));
    // The second source also names a box it does not hold: it is not read from there.
    second.add('shared', 'INBOX', mail('not-held'));
    const routed = new RoutedMailSource(
      [
        { name: 'first', port: first },
        { name: 'second', port: second },
      ],
      routing,
    );
    const keys = deriveTenantKeys(generateRootKey());
    const job = {
      kind: 'backup' as const,
      jobId: 'job-1',
      tenantId: 'acme',
      connectorId: 'c',
      requestedAt: new Date().toISOString(),
      requestedBy: 'admin',
      filter: {},
      full: false,
      checkpoints: [],
    };
    const uploader = new RecordingUploader();
    const all = await new BackupRunner(routed, keys, uploader, new RecordingProgress(), logger).run({
      ...job,
      mailboxes: { kind: 'all' },
    });
    expect(all).toBe('succeeded');
    expect(uploader.records.map((r) => `${r.mailbox}:${r.subject}`).sort()).toEqual(['ann:a1', 'ben:b1', 'shared:s1']);

    const progress = new RecordingProgress();
    const listed = new RecordingUploader();
    const state = await new BackupRunner(routed, keys, listed, progress, logger).run({
      ...job,
      mailboxes: { kind: 'list', mailboxes: ['ben', 'carol'] },
    });
    expect(state).toBe('partially_failed');
    expect(listed.records.map((r) => r.mailbox)).toEqual(['ben']);
    expect(progress.errorList).toEqual([
      expect.objectContaining({ scope: 'mailbox', target: 'carol', message: 'mailbox carol is in no source' }),
    ]);
  });

  it('restores each mailbox through the target that holds it', async () => {
    const keys = deriveTenantKeys(generateRootKey());
    const objects = new Map<string, Buffer>();
    const items: RestoreItem[] = [];
    for (const [seq, mailbox] of ['ann', 'ben', 'carol'].entries()) {
      const raw = mail(`r-${mailbox}`);
      const sealed = await sealMessage(keys, raw);
      objects.set(sealed.contentId, sealed.sealed);
      items.push({
        seq,
        recordId: `rec-${seq}`,
        contentId: sealed.contentId,
        mailbox,
        folder: 'INBOX',
        messageId: null,
        subject: null,
        internalDate: null,
        flags: { seen: false, answered: false, flagged: false, draft: false, deleted: false },
        keywords: [],
        size: raw.length,
        itemType: 'mail',
        form: 'rfc5322',
      });
    }
    const [first, second] = [new InMemoryMailTarget(), new InMemoryMailTarget()];
    const progress = new RecordingProgress();
    const state = await new RestoreRunner({
      target: new RoutedMailTarget(
        [
          { name: 'first', port: first },
          { name: 'second', port: second },
        ],
        routing,
      ),
      keys,
      items: { page: async (after) => ({ items: items.filter((i) => i.seq > after), total: items.length }) },
      objects: { fetchSealed: async (id) => objects.get(id) as Buffer },
      exportDir: '/nonexistent',
      reporter: progress,
      logger,
    }).run({
      kind: 'restore',
      jobId: 'job-2',
      tenantId: 'acme',
      connectorId: 'c',
      requestedAt: new Date().toISOString(),
      requestedBy: 'admin',
      itemCount: items.length,
      target: { kind: 'original' },
      duplicate: false,
    });
    expect(state).toBe('partially_failed');
    expect(first.written('ann', 'INBOX')).toHaveLength(1);
    expect(second.written('ben', 'INBOX')).toHaveLength(1);
    expect(first.written('ben', 'INBOX')).toHaveLength(0);
    expect(progress.results.find((r) => r.seq === 2)).toMatchObject({
      outcome: 'failed',
      reason: expect.stringMatching(/mailbox carol is unreachable: mailbox carol is in no source/),
    });
  });
});
