import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  indexRecordSchema,
  ITEM_FORM_FILES,
  restoreItemResultSchema,
  type IndexRecord,
  type RestoreItem,
  type RestoreTarget,
} from '@mlr/contracts';
import { deriveTenantKeys, generateRootKey, openSealedObject, type TenantKeys } from '@mlr/crypto';
import { sampleItemsOfEveryKind } from '@mlr/pim';
import { createLogger } from '@mlr/telemetry';
import { BackupRunner } from './backup/backup-runner.js';
import { readEmlZip, readExportManifest } from './export/index.js';
import { RestoreRunner } from './restore/restore-runner.js';
import {
  InMemoryMailSource,
  InMemoryMailTarget,
  RecordingProgress,
  RecordingUploader,
} from './testing/in-memory-ports.js';

const logger = createLogger({ service: 'item-kinds-spec', level: 'silent' });

/** A backup of every mailbox of the source, from scratch. */
const backupJob = (jobId: string) => ({
  kind: 'backup' as const,
  jobId,
  tenantId: 'acme',
  connectorId: 'c-1',
  requestedAt: new Date().toISOString(),
  requestedBy: 'admin',
  mailboxes: { kind: 'all' as const },
  filter: {},
  full: false,
  checkpoints: [],
});

/*
 * Items of every kind through the runners: a source that holds appointments, tasks, notes, contacts,
 * phone messages and notifications as fields; the core writes each in its canonical form, indexes
 * its kind's fields, and a restore puts each where its form can go (refusing the rest, per item).
 */
describe('items of every kind', () => {
  let keys: TenantKeys;
  let records: IndexRecord[];
  const sealedByContent = new Map<string, Buffer>();
  const samples = sampleItemsOfEveryKind('alice@example.com');

  beforeAll(async () => {
    keys = deriveTenantKeys(generateRootKey());
    const source = new InMemoryMailSource();
    source.add(
      'alice@example.com',
      'INBOX',
      Buffer.from('From: a@example.com\r\nSubject: plain mail\r\n\r\nhello\r\n'),
    );
    for (const item of samples) source.addStructured('alice@example.com', 'Items', item, ['\\Seen']);
    // An item whose source gave nonsense: it fails alone, with the reason.
    source.addStructured('alice@example.com', 'Items', {
      kind: 'task',
      uid: 'broken',
      modifiedAt: 'not a date',
      summary: 'x',
    });
    const uploader = new RecordingUploader();
    const reporter = new RecordingProgress();
    const state = await new BackupRunner(source, keys, uploader, reporter, logger).run(backupJob('job-1'));
    expect(state).toBe('partially_failed');
    expect(reporter.errorList).toHaveLength(1);
    expect(reporter.errorList[0]).toMatchObject({ scope: 'message', item: { folder: 'Items' } });
    expect(reporter.errorList[0]?.message).toMatch(/cannot be written: modifiedAt/);
    records = uploader.records;
    for (const record of records) indexRecordSchema.parse(record);
    for (const sealed of uploader.sealed) sealedByContent.set(sealed.contentId, sealed.sealed);
  });

  it('backs each kind up in its canonical form with the fields of its kind', async () => {
    const items = records
      .filter((r) => r.folder === 'Items')
      .sort((a, b) => Number(a.sourceKey.id) - Number(b.sourceKey.id));
    expect(items.map((r) => [r.itemType, r.form])).toEqual([
      ['appointment', 'icalendar'],
      ['appointment', 'icalendar'],
      ['task', 'icalendar'],
      ['task', 'icalendar'],
      ['note', 'icalendar'],
      ['contact', 'vcard'],
      ['contact', 'vcard'],
      ['phone_message', 'rfc5322'],
      ['notification', 'rfc5322'],
    ]);
    expect(items[0]?.kindFields).toMatchObject({
      kind: 'appointment',
      location: 'Köln, Raum 3 (2. OG)',
      allDay: false,
    });
    expect(items[5]?.kindFields).toMatchObject({ kind: 'contact', organization: 'Beispiel GmbH; Vertrieb' });
    expect(items[7]?.kindFields).toMatchObject({ kind: 'phone_message', callback: true, urgent: true });
    expect(items[8]?.kindFields).toBeNull();
    expect(items.every((r) => r.flags.seen)).toBe(true);
    const mail = records.find((r) => r.folder === 'INBOX');
    expect(mail).toMatchObject({ itemType: 'mail', form: 'rfc5322', kindFields: null });
    // What is sealed is the canonical form: it opens to an iCalendar object.
    const sealed = sealedByContent.get(items[0]!.contentId)!;
    const raw = await openSealedObject(keys, sealed, { expectedContentId: items[0]!.contentId });
    expect(raw.toString('utf8')).toMatch(/^BEGIN:VCALENDAR\r\n[\s\S]*BEGIN:VEVENT\r\n/);
  });

  it('gives an unchanged item the same bytes on the next run (the same content id)', async () => {
    const source = new InMemoryMailSource();
    for (const item of samples) source.addStructured('alice@example.com', 'Items', item);
    const uploader = new RecordingUploader();
    await new BackupRunner(source, keys, uploader, new RecordingProgress(), logger).run(backupJob('job-2'));
    const before = records
      .filter((r) => r.folder === 'Items')
      .map((r) => r.contentId)
      .sort();
    expect(uploader.records.map((r) => r.contentId).sort()).toEqual(before);
  });

  async function restoreItems(): Promise<RestoreItem[]> {
    const list: RestoreItem[] = [];
    for (const record of records) {
      list.push({
        seq: list.length,
        recordId: `rec-${list.length}`,
        contentId: record.contentId,
        mailbox: record.mailbox,
        folder: record.folder,
        messageId: record.messageId,
        subject: record.subject,
        internalDate: record.internalDate,
        flags: record.flags,
        keywords: record.keywords,
        size: record.size,
        itemType: record.itemType,
        form: record.form,
      });
    }
    return list;
  }

  async function restore(items: RestoreItem[], target: RestoreTarget, mailTarget = new InMemoryMailTarget()) {
    const reporter = new RecordingProgress();
    const exportDir = mkdtempSync(join(tmpdir(), 'mlr-kinds-spec-'));
    const runner = new RestoreRunner({
      target: mailTarget,
      keys,
      items: { page: async (after) => ({ items: items.filter((i) => i.seq > after), total: items.length }) },
      objects: {
        fetchSealed: async (id) => {
          const sealed = sealedByContent.get(id);
          if (!sealed) throw new Error(`no object ${id}`);
          return sealed;
        },
      },
      exportDir,
      reporter,
      logger,
    });
    const state = await runner.run({
      kind: 'restore',
      jobId: 'job-r',
      tenantId: 'acme',
      connectorId: 'c-1',
      requestedAt: new Date().toISOString(),
      requestedBy: 'admin',
      itemCount: items.length,
      target,
      duplicate: false,
    });
    for (const result of reporter.results) restoreItemResultSchema.parse(result);
    return { state, exportDir, results: [...reporter.results].sort((a, b) => a.seq - b.seq), mailTarget };
  }

  it('restores mail-like items into a mailbox and refuses, per item with the reason, what a mailbox cannot hold', async () => {
    const items = await restoreItems();
    const { state, results, mailTarget } = await restore(items, { kind: 'original' });
    expect(state).toBe('partially_failed');
    for (const item of items) {
      const result = results.find((r) => r.seq === item.seq);
      if (item.form === 'rfc5322') {
        expect(result?.outcome).toBe('restored');
      } else {
        expect(result?.outcome).toBe('refused');
        expect(result?.reason).toMatch(
          new RegExp(
            `the test target cannot hold this ${item.itemType.replace('_', ' ')} \\(stored as ${item.form}; it takes rfc5322\\): export it with format items-zip`,
          ),
        );
      }
    }
    expect(mailTarget.written('alice@example.com', 'Items')).toHaveLength(2);
    // A target that holds every form takes them all.
    const everything = new InMemoryMailTarget();
    everything.forms = ['rfc5322', 'icalendar', 'vcard'];
    const all = await restore(items, { kind: 'original' }, everything);
    expect(all.state).toBe('succeeded');
    expect(everything.written('alice@example.com', 'Items')).toHaveLength(9);
  });

  it('exports every kind into an items-zip in its own form, and an mbox file refuses what is not a message', async () => {
    const items = await restoreItems();
    const zip = await restore(items, { kind: 'export', format: 'items-zip', fileName: 'items.zip' });
    expect(zip.state).toBe('succeeded');
    const path = join(zip.exportDir, 'items.zip');
    const entries = await readEmlZip(path);
    const manifest = await readExportManifest(path);
    expect(entries).toHaveLength(items.length);
    for (const entry of manifest!.messages) {
      expect(entry.entry.endsWith(`.${ITEM_FORM_FILES[entry.form].extension}`)).toBe(true);
      const data = entries.find((e) => e.name === entry.entry)?.data;
      const record = records.find((r) => r.contentId === entry.contentId);
      expect(data?.length).toBe(record?.size);
      expect(entry).toMatchObject({ itemType: record?.itemType, form: record?.form });
    }
    expect(manifest!.messages.map((m) => m.entry).filter((name) => name.endsWith('.vcf'))).toHaveLength(2);

    const mbox = await restore(items, { kind: 'export', format: 'mbox', fileName: 'mail.mbox' });
    expect(mbox.state).toBe('partially_failed');
    const refused = mbox.results.filter((r) => r.outcome === 'refused');
    expect(refused).toHaveLength(items.filter((i) => i.form !== 'rfc5322').length);
    expect(refused[0]?.reason).toMatch(
      /^an mbox file holds messages only; this .* is stored as (icalendar|vcard): export it with format items-zip$/,
    );
    expect(mbox.results.filter((r) => r.outcome === 'restored')).toHaveLength(3);
  });
});
