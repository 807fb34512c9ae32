import { beforeAll, describe, expect, it } from 'vitest';
import { indexRecordSchema, type BackupFilter, type FolderCheckpoint } from '@mlr/contracts';
import { deriveTenantKeys, generateRootKey, openSealedObject, type TenantKeys } from '@mlr/crypto';
import { createLogger } from '@mlr/telemetry';
import type { IndexRecord } from '@mlr/contracts';
import { InMemoryMailSource, RecordingProgress, RecordingUploader } from '../testing/in-memory-ports.js';
import { BackupRunner } from './backup-runner.js';

const logger = createLogger({ service: 'backup-spec', level: 'silent' });

/** The in-memory source's cursor: epoch 1, everything up to `position`, changes up to `changes`. */
const cursor = (position: number, changes: string | null) => ({
  source: 'memory',
  version: 1,
  epoch: '1',
  position: String(position),
  changes,
  state: null,
});

const mail = (subject: string, from = 'carol@example.org') =>
  Buffer.from(
    `From: ${from}\r\nTo: owner@example.org\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '-')}@example.org>\r\nDate: Tue, 24 Nov 2026 08:00:00 +0000\r\n\r\n${subject}\r\n`,
  );

describe('BackupRunner on a mail source (in-memory port)', () => {
  let keys: TenantKeys;
  beforeAll(() => {
    keys = deriveTenantKeys(generateRootKey());
  });

  async function backUp(
    source: InMemoryMailSource,
    checkpoints: FolderCheckpoint[] = [],
    options: { filter?: BackupFilter; full?: boolean; uploader?: RecordingUploader; concurrency?: number } = {},
  ) {
    const reporter = new RecordingProgress();
    const uploader = options.uploader ?? new RecordingUploader();
    const runner = new BackupRunner(source, keys, uploader, reporter, logger, {
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    });
    const state = await runner.run({
      kind: 'backup',
      jobId: 'job-1',
      tenantId: 'acme',
      connectorId: 'imap-1',
      requestedAt: new Date().toISOString(),
      requestedBy: 'admin',
      mailboxes: { kind: 'all' },
      filter: options.filter ?? {},
      full: options.full ?? false,
      checkpoints,
    });
    for (const record of uploader.records) indexRecordSchema.parse(record);
    return { state, reporter, uploader, records: uploader.records, checkpoints: reporter.lastCheckpoints() };
  }

  const keyOf = (r: IndexRecord) => `${r.mailbox}/${r.folder}/${r.sourceKey.id}`;

  it('backs up every item of every mailbox and container, sealed, with its index record and cursor', async () => {
    const source = new InMemoryMailSource();
    source.add('ann', 'INBOX', mail('a1'), ['\\Seen']);
    source.add('ann', 'INBOX', mail('a2'));
    source.add('ann', 'Sent', mail('a3'));
    source.add('ben', 'INBOX', mail('b1'), ['\\Flagged', '$Label1']);
    const { state, records, checkpoints, reporter, uploader } = await backUp(source);
    expect(state).toBe('succeeded');
    expect(records.map(keyOf).sort()).toEqual(['ann/INBOX/1', 'ann/INBOX/2', 'ann/Sent/1', 'ben/INBOX/1']);
    const b1 = records.find((r) => r.mailbox === 'ben') as IndexRecord;
    expect(b1.subject).toBe('b1');
    expect(b1.flags.flagged).toBe(true);
    expect(b1.keywords).toEqual(['$Label1']);
    expect(b1.backupJobId).toBe('job-1');
    expect(checkpoints).toEqual(
      expect.arrayContaining([
        { mailbox: 'ann', folder: 'INBOX', cursor: cursor(2, '2') },
        { mailbox: 'ann', folder: 'Sent', cursor: cursor(1, '1') },
        { mailbox: 'ben', folder: 'INBOX', cursor: cursor(1, '1') },
      ]),
    );
    expect(reporter.counters).toMatchObject({ seen: 4, new: 4, failed: 0 });
    expect(uploader.flushes).toEqual(['job-1']);
    expect(reporter.states).toEqual(['running', 'succeeded']);
  });

  it('seals the exact bytes: the sealed object opens to them under the content id of the record', async () => {
    const source = new InMemoryMailSource();
    const raw = mail('exact');
    source.add('ann', 'INBOX', raw);
    const sealed: Buffer[] = [];
    const uploader = new RecordingUploader();
    const upload = uploader.upload.bind(uploader);
    uploader.upload = async (jobId, message, record) => {
      sealed.push(message.sealed);
      expect(record.contentId).toBe(message.contentId);
      return upload(jobId, message, record);
    };
    await backUp(source, [], { uploader });
    expect(
      await openSealedObject(keys, sealed[0] as Buffer, { expectedContentId: uploader.records[0]?.contentId }),
    ).toEqual(raw);
  });

  it('goes on incrementally: new items and attribute changes only, nothing sent twice', async () => {
    const source = new InMemoryMailSource();
    source.add('ann', 'INBOX', mail('i1'));
    const seen = source.add('ann', 'INBOX', mail('i2'));
    const first = await backUp(source);
    source.add('ann', 'INBOX', mail('i3'));
    source.setFlags('ann', 'INBOX', seen, ['\\Seen']);
    const second = await backUp(source, first.checkpoints);
    expect(second.records.map(keyOf)).toEqual(['ann/INBOX/3', 'ann/INBOX/2']);
    expect(second.records[1]?.flags.seen).toBe(true);
    // A changed item is sent again (storage keeps one object) but is not a new message.
    expect(second.reporter.counters).toMatchObject({ seen: 2, new: 1 });
    const third = await backUp(source, second.checkpoints);
    expect(third.records).toEqual([]);
    expect(third.checkpoints).toEqual(second.checkpoints);
  });

  it('starts a container over when its epoch changed, and when the job asks for a full backup', async () => {
    const source = new InMemoryMailSource();
    source.add('ann', 'INBOX', mail('e1'));
    const first = await backUp(source);
    source.renumber('ann', 'INBOX');
    const renumbered = await backUp(source, first.checkpoints);
    expect(renumbered.records.map((r) => r.sourceKey)).toEqual([{ source: 'memory', epoch: '2', id: '1' }]);
    const full = await backUp(source, renumbered.checkpoints, { full: true });
    expect(full.records.map(keyOf)).toEqual(['ann/INBOX/1']);
  });

  it('reads a container in full from a cursor its source cannot go on from (another source or version)', async () => {
    const source = new InMemoryMailSource();
    source.add('ann', 'INBOX', mail('c1'));
    const first = await backUp(source);
    const [checkpoint] = first.checkpoints as [FolderCheckpoint];
    for (const cursor of [
      { ...checkpoint.cursor, source: 'imap' },
      { ...checkpoint.cursor, version: 2 },
    ]) {
      const again = await backUp(source, [{ ...checkpoint, cursor }]);
      expect(again.records.map(keyOf)).toEqual(['ann/INBOX/1']);
      expect(again.checkpoints).toEqual(first.checkpoints);
    }
  });

  it('holds the checkpoint before an item that failed, so the next run tries it again', async () => {
    const source = new InMemoryMailSource();
    for (const n of [1, 2, 3, 4]) source.add('ann', 'INBOX', mail(`f${n}`));
    let refuse = true;
    const uploader = new RecordingUploader((record) => refuse && record.sourceKey.id === '2');
    const first = await backUp(source, [], { uploader });
    expect(first.state).toBe('partially_failed');
    expect(first.reporter.errorList).toEqual([
      expect.objectContaining({
        scope: 'message',
        target: 'ann/INBOX memory item 2',
        message: expect.stringMatching(/refused/),
        item: { mailbox: 'ann', folder: 'INBOX', sourceKey: { source: 'memory', epoch: '1', id: '2' } },
      }),
    ]);
    // Attribute changes are not covered either: the cursor keeps the earlier change counter.
    expect(first.checkpoints).toEqual([{ mailbox: 'ann', folder: 'INBOX', cursor: cursor(1, null) }]);
    refuse = false;
    const second = await backUp(source, first.checkpoints);
    expect(second.records.map(keyOf)).toEqual(['ann/INBOX/2', 'ann/INBOX/3', 'ann/INBOX/4']);
    expect(second.checkpoints[0]?.cursor.position).toBe('4');
  });

  it('skips what the filter leaves out, and moves past it and past items gone meanwhile', async () => {
    const source = new InMemoryMailSource();
    source.add('ann', 'INBOX', mail('keep', 'alice@example.com'));
    source.add('ann', 'INBOX', mail('drop', 'mallory@example.net'));
    const gone = source.add('ann', 'INBOX', mail('gone', 'alice@example.com'));
    source.add('ann', 'Junk', mail('junk', 'alice@example.com'));
    source.vanishing.set('ann/INBOX', new Set([gone]));
    const { state, records, checkpoints, reporter } = await backUp(source, [], {
      filter: { fromAddress: 'alice@example.com', excludeFolders: ['Junk'] },
    });
    expect(state).toBe('succeeded');
    expect(records.map((r) => r.subject)).toEqual(['keep']);
    expect(reporter.counters).toMatchObject({ seen: 2, skipped: 1 });
    expect(checkpoints).toEqual([{ mailbox: 'ann', folder: 'INBOX', cursor: cursor(3, '3') }]);
  });

  it('records a mailbox that cannot be opened and a container whose session drops, and goes on', async () => {
    const source = new InMemoryMailSource();
    source.add('ann', 'Broken', mail('x1'));
    source.add('ann', 'INBOX', mail('x2'));
    source.add('ben', 'INBOX', mail('x3'));
    source.refused.set('ben', 'login refused');
    source.droppingScans.add('ann/Broken');
    const { state, records, reporter } = await backUp(source);
    expect(state).toBe('partially_failed');
    expect(records.map(keyOf)).toEqual(['ann/INBOX/1']);
    expect(reporter.errorList).toEqual([
      expect.objectContaining({ scope: 'folder', target: 'ann/Broken' }),
      expect.objectContaining({ scope: 'mailbox', target: 'ben', message: 'login refused' }),
    ]);
    // The dropped session was opened again for the next container.
    expect(source.opened).toBe(2);

    source.refused.set('ann', 'login refused');
    expect((await backUp(source)).state).toBe('failed');
  });

  it('bounds what is in flight and still backs up a large container in order', async () => {
    const source = new InMemoryMailSource();
    for (let n = 0; n < 300; n++) source.add('ann', 'INBOX', mail(`big${n}`));
    const { records, checkpoints } = await backUp(source, [], { concurrency: 4 });
    expect(records).toHaveLength(300);
    expect(checkpoints[0]?.cursor.position).toBe('300');
  });
});
