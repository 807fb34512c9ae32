import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  indexRecordSchema,
  reportedCheckpointSchema,
  jobEventSchema,
  type FolderCheckpoint,
  type IndexRecord,
  type JobEvent,
  type JobEventState,
} from '@mlr/contracts';
import { deriveTenantKeys, generateRootKey, type SealedMessage, type TenantKeys } from '@mlr/crypto';
import { createLogger } from '@mlr/telemetry';
import { addDovecotUser, imapSessionAs, seedFolder } from '@mlr/testing';
import type { ImapSourceConfig } from '../config/connector-config.js';
import { BackupRunner, type MailSource, type SightingUploader, type UploadOutcome } from '@mlr/connector-core';
import { connectorMailSource } from '../sources/connector-sources.js';
import { ImapMailSource } from '../sources/imap/imap-mail-source.js';
import { JobReporter } from './job-reporter.js';
import type { PlatformPublisher } from './commit-batcher.js';

const TENANT = 'backup-it';

/** Takes every sighting as stored, keeping the records in the order they were handed over. */
class RecordingUploader implements SightingUploader {
  readonly records: IndexRecord[] = [];
  async upload(_jobId: string, _sealed: SealedMessage, record: IndexRecord): Promise<UploadOutcome> {
    this.records.push(indexRecordSchema.parse(record));
    return { objectStored: 'new', recordStored: 'new' };
  }
  readonly flushes: string[] = [];
  flush(jobId: string): void {
    this.flushes.push(jobId);
  }
}

const message = (subject: string) =>
  Buffer.from(
    `From: carol@example.org\r\nTo: owner@example.org\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '-')}@example.org>\r\nDate: Tue, 24 Nov 2026 08:00:00 +0000\r\n\r\n${subject}\r\n`,
  );

describe('BackupRunner against Dovecot', () => {
  const infra = inject('infra');
  const imap = infra.imap!;
  const logger = createLogger({ service: 'backup-it', level: 'silent' });
  // A mailbox of its own per run: the infrastructure (and its mail) may be reused between runs.
  const owner = { name: `bkp-${randomBytes(4).toString('hex')}`, password: 'bkp-owner-secret' };
  let keys: TenantKeys;
  let uids: number[];

  const source = (): ImapSourceConfig => ({
    kind: 'imap',
    host: imap.host,
    port: imap.port,
    secure: false,
    allowSelfSigned: false,
    serviceAccount: { user: imap.masterUser.name, password: imap.masterUser.password },
    mailboxes: [{ address: owner.name }],
  });

  async function backUp(
    jobId: string,
    checkpoints: FolderCheckpoint[],
    now?: () => Date,
    mailSource: MailSource = new ImapMailSource(source()),
  ): Promise<{ state: JobEventState; records: IndexRecord[]; checkpoints: FolderCheckpoint[] }> {
    const events: JobEvent[] = [];
    const publisher = {
      publish: async (_channel: string, _subject: string, event: JobEvent) => {
        events.push(jobEventSchema.parse(event));
      },
    } as unknown as PlatformPublisher;
    const reporter = new JobReporter(publisher, { tenantId: TENANT, jobId, connectorId: 'imap-1', kind: 'backup' });
    const uploader = new RecordingUploader();
    const runner = new BackupRunner(mailSource, keys, uploader, reporter, logger, {
      publicFolders: false,
      ...(now ? { now } : {}),
    });
    const state = await runner.run({
      kind: 'backup',
      jobId,
      tenantId: TENANT,
      connectorId: 'imap-1',
      requestedAt: new Date().toISOString(),
      requestedBy: 'admin@example.com',
      mailboxes: { kind: 'all' },
      filter: {},
      full: false,
      checkpoints,
    });
    const latest = new Map<string, FolderCheckpoint>();
    for (const checkpoint of events.flatMap((event) => event.checkpoints)) {
      latest.set(JSON.stringify([checkpoint.mailbox, checkpoint.folder]), checkpoint);
    }
    return { state, records: uploader.records, checkpoints: [...latest.values()] };
  }

  beforeAll(async () => {
    await addDovecotUser(join(infra.dir, 'dovecot'), owner);
    keys = deriveTenantKeys(generateRootKey());
    const seeded = await seedFolder(imap, owner.name, 'INBOX', [
      { bytes: message('first message'), flags: ['\\Seen'] },
      { bytes: message('second message') },
    ]);
    uids = seeded.map((result) => result.uid!);
  });

  it('dates each record with the moment its flags were read, and a later run with a later moment', async () => {
    // A clock an hour behind that answers a new second at every reading: each message must get a
    // reading of its own.
    const readings: string[] = [];
    const hourAgo = Date.now() - 3_600_000;
    const clock = () => {
      const reading = new Date(hourAgo + readings.length * 1_000);
      readings.push(reading.toISOString());
      return reading;
    };
    const first = await backUp('job-observed-1', [], clock);
    expect(first.state).toBe('succeeded');
    expect(first.records.map((record) => Number(record.sourceKey.id)).sort()).toEqual([...uids].sort());
    const observed = first.records.map((record) => record.observedAt);
    expect(new Set(observed).size).toBe(2);
    for (const at of observed) expect(readings).toContain(at);
    const firstOf = (uid: number) => first.records.find((record) => Number(record.sourceKey.id) === uid)!;
    expect(firstOf(uids[1]!).flags.flagged).toBe(false);

    // The user flags the second message; the next (incremental) run re-sends it with its new flags.
    const session = await imapSessionAs(imap, owner.name);
    try {
      await session.mailboxOpen('INBOX');
      await session.messageFlagsAdd(String(uids[1]), ['\\Flagged'], { uid: true });
    } finally {
      await session.logout();
    }
    const started = Date.now();
    const second = await backUp('job-observed-2', first.checkpoints);
    const finished = Date.now();
    expect(second.state).toBe('succeeded');
    expect(second.records).toHaveLength(1);
    const [changed] = second.records as [IndexRecord];
    expect(changed).toMatchObject({
      sourceKey: { source: 'imap', id: String(uids[1]) },
      backupJobId: 'job-observed-2',
    });
    expect(changed.flags.flagged).toBe(true);
    // Without an injected clock, the connector's own clock dates the reading, within the run.
    const at = Date.parse(changed.observedAt);
    expect(at).toBeGreaterThanOrEqual(started);
    expect(at).toBeLessThanOrEqual(finished);
    expect(at).toBeGreaterThan(Date.parse(firstOf(uids[1]!).observedAt));
  });

  it("goes on from a checkpoint of the IMAP form (a migrated one, or an earlier connector's) without re-sending a message", async () => {
    const session = await imapSessionAs(imap, owner.name);
    let box: { uidValidity: bigint; uidNext: number; highestModseq?: bigint };
    try {
      box = await session.mailboxOpen('INBOX', { readOnly: true });
    } finally {
      await session.logout();
    }
    // What the platform had stored before cursors were source-neutral, read as the migration reads it.
    const legacy = reportedCheckpointSchema.parse({
      mailbox: owner.name,
      folder: 'INBOX',
      uidValidity: box.uidValidity.toString(),
      lastUid: box.uidNext - 1,
      highestModSeq: box.highestModseq?.toString() ?? null,
    });
    const resumed = await backUp('job-legacy-1', [legacy]);
    expect(resumed.state).toBe('succeeded');
    expect(resumed.records).toEqual([]);
    const inbox = (checkpoints: FolderCheckpoint[]) => checkpoints.filter((c) => c.folder === 'INBOX');
    expect(inbox(resumed.checkpoints)).toEqual([legacy]);

    // A cursor this adapter cannot go on from (another source's) reads the folder again: nothing is
    // lost, and storage and indexing take the messages as the ones they hold.
    const foreign = { ...legacy, cursor: { ...legacy.cursor, source: 'pst' } };
    const again = await backUp('job-legacy-2', [foreign]);
    expect(again.records.map((record) => Number(record.sourceKey.id)).sort()).toEqual([...uids].sort());
    expect(inbox(again.checkpoints)).toEqual([legacy]);
  });

  it('backs up the mailboxes of several sources under one connector, each with its own credentials', async () => {
    // Two sources on one server here (a master user's, and a mailbox with its own password only);
    // on a customer's site, two mail systems.
    const other = { name: `own-${randomBytes(4).toString('hex')}`, password: 'own-secret' };
    await addDovecotUser(join(infra.dir, 'dovecot'), other);
    await seedFolder(imap, other.name, 'INBOX', [{ bytes: message('from the second source') }]);
    const sources = [
      { name: 'master', ...source() },
      {
        name: 'own',
        kind: 'imap' as const,
        host: imap.host,
        port: imap.port,
        secure: false,
        allowSelfSigned: false,
        mailboxes: [{ address: other.name, password: other.password }],
      },
    ];
    const both = await backUp('job-sources-1', [], undefined, connectorMailSource({ sources }));
    expect(both.state).toBe('succeeded');
    expect(both.records.filter((r) => r.mailbox === other.name).map((r) => r.subject)).toEqual([
      'from the second source',
    ]);
    expect(both.records.filter((r) => r.mailbox === owner.name)).toHaveLength(uids.length);

    // A wrong password on the second source fails its mailbox alone.
    const wrong = [sources[0]!, { ...sources[1]!, mailboxes: [{ address: other.name, password: 'wrong' }] }];
    const partly = await backUp('job-sources-2', [], undefined, connectorMailSource({ sources: wrong }));
    expect(partly.state).toBe('partially_failed');
    expect(partly.records.every((r) => r.mailbox === owner.name)).toBe(true);
  });
});
