import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { restoreItemResultSchema, type RestoreItem, type RestoreTarget } from '@mlr/contracts';
import { deriveTenantKeys, generateRootKey, sealMessage, type TenantKeys } from '@mlr/crypto';
import { createLogger } from '@mlr/telemetry';
import type { ExportWriter } from '../export/index.js';
import { digest, InMemoryMailTarget, RecordingProgress } from '../testing/in-memory-ports.js';
import type { SealedObjectSource } from './open-restore-item.js';
import { RestoreRunner, type OpenExportWriter } from './restore-runner.js';
import { TargetLocks } from './target-locks.js';

const logger = createLogger({ service: 'restore-spec', level: 'silent' });

/** An export writer that records what it is given, and fails the `failAt`-th add when asked. */
class RecordingWriter implements ExportWriter {
  readonly added: Buffer[] = [];
  closed = false;
  aborted = false;
  constructor(private readonly failAt?: number) {}
  async add(_item: RestoreItem, raw: Buffer): Promise<string> {
    if (this.added.length + 1 === this.failAt) throw new Error('disk full');
    this.added.push(raw);
    return `entry-${this.added.length}`;
  }
  async close(): Promise<{ path: string; count: number; bytes: number }> {
    this.closed = true;
    return { path: 'x', count: this.added.length, bytes: 0 };
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
}

describe('RestoreRunner exports', () => {
  let keys: TenantKeys;
  let items: RestoreItem[];
  let raws: Buffer[];
  const objects = new Map<string, Buffer>();
  const source: SealedObjectSource = {
    fetchSealed: async (id) => {
      const sealed = objects.get(id);
      if (!sealed) throw new Error(`no object ${id}`);
      return sealed;
    },
  };

  beforeAll(async () => {
    keys = deriveTenantKeys(generateRootKey());
    raws = Array.from({ length: 5 }, (_, i) =>
      Buffer.from(`From: a@example.com\r\nSubject: ${i}\r\nMessage-ID: <m${i}@example.com>\r\n\r\nbody ${i}\r\n`),
    );
    items = [];
    for (const [seq, raw] of raws.entries()) {
      const sealed = await sealMessage(keys, raw);
      if (seq !== 3) objects.set(sealed.contentId, sealed.sealed);
      items.push({
        seq,
        recordId: `rec-${seq}`,
        contentId: sealed.contentId,
        mailbox: 'alice',
        folder: 'INBOX',
        messageId: `<m${seq}@example.com>`,
        subject: String(seq),
        internalDate: null,
        flags: { seen: false, answered: false, flagged: false, draft: false, deleted: false },
        keywords: [],
        size: raw.length,
        itemType: 'mail',
        form: 'rfc5322',
      });
    }
  });

  async function run(target: RestoreTarget, openExportWriter: OpenExportWriter) {
    const reporter = new RecordingProgress();
    const runner = new RestoreRunner({
      target: new InMemoryMailTarget(),
      keys,
      items: { page: async (after) => ({ items: items.filter((i) => i.seq > after), total: items.length }) },
      objects: source,
      openExportWriter,
      exportDir: mkdtempSync(join(tmpdir(), 'mlr-restore-spec-')),
      reporter,
      logger,
      concurrency: 2,
    });
    const state = await runner.run(restoreJob(items.length, target));
    const events = reporter.events.map((e) => ({ ...e, errors: reporter.errorList }));
    for (const result of reporter.results) restoreItemResultSchema.parse(result);
    return { state, events, results: [...reporter.results].sort((a, b) => a.seq - b.seq) };
  }

  it('writes every verified message in order, fails the one it cannot fetch, and reports results once the file is closed', async () => {
    const writer = new RecordingWriter();
    const opened: Array<[string, string]> = [];
    const { state, events, results } = await run(
      { kind: 'export', format: 'eml-zip', fileName: 'case.zip' },
      async (format, path) => {
        opened.push([format, path]);
        return writer;
      },
    );
    expect(opened).toHaveLength(1);
    expect(opened[0]?.[0]).toBe('eml-zip');
    expect(opened[0]?.[1]).toMatch(/\/case\.zip$/);
    expect(writer.added).toEqual([raws[0], raws[1], raws[2], raws[4]]);
    expect(writer.closed).toBe(true);
    expect(state).toBe('partially_failed');
    expect(results.map((r) => r.outcome)).toEqual(['restored', 'restored', 'restored', 'failed', 'restored']);
    expect(results[0]?.targetFolder).toBe('case.zip');
    expect(results[3]?.reason).toMatch(/^cannot fetch the sealed object/);
    // Every result travels in the final event: none before the file exists.
    expect(events.slice(0, -1).flatMap((e) => e.items)).toEqual([]);
  });

  it('stops at a failed write, removes the file and fails every item', async () => {
    const writer = new RecordingWriter(2);
    const { state, results, events } = await run(
      { kind: 'export', format: 'mbox', fileName: 'case.mbox' },
      async () => writer,
    );
    expect(writer.aborted).toBe(true);
    expect(writer.closed).toBe(false);
    expect(state).toBe('failed');
    expect(
      results.every((r) => r.outcome === 'failed' && /could not be completed: disk full/.test(r.reason ?? '')),
    ).toBe(true);
    expect(events.at(-1)?.errors).toEqual([expect.objectContaining({ scope: 'job', target: 'job-1' })]);
  });

  it('fails the job when the export file cannot be created', async () => {
    const { state, results } = await run({ kind: 'export', format: 'mbox', fileName: 'case.mbox' }, async () => {
      throw new Error('export file case.mbox already exists');
    });
    expect(state).toBe('failed');
    expect(results).toHaveLength(items.length);
    expect(results.every((r) => /already exists/.test(r.reason ?? ''))).toBe(true);
  });
});

function restoreJob(itemCount: number, target: RestoreTarget, duplicate = false) {
  return {
    kind: 'restore' as const,
    jobId: 'job-1',
    tenantId: 'acme',
    connectorId: 'imap-1',
    requestedAt: new Date().toISOString(),
    requestedBy: 'admin',
    itemCount,
    target,
    duplicate,
  };
}

describe('RestoreRunner into a mail target (in-memory port)', () => {
  let keys: TenantKeys;
  const objects = new Map<string, Buffer>();
  const fetchSource: SealedObjectSource = {
    fetchSealed: async (id) => {
      const sealed = objects.get(id);
      if (!sealed) throw new Error(`no object ${id}`);
      return sealed;
    },
  };

  beforeAll(() => {
    keys = deriveTenantKeys(generateRootKey());
  });

  async function itemsOf(raws: Buffer[], folder = 'INBOX', mailbox = 'alice'): Promise<RestoreItem[]> {
    const items: RestoreItem[] = [];
    for (const [seq, raw] of raws.entries()) {
      const sealed = await sealMessage(keys, raw);
      objects.set(sealed.contentId, sealed.sealed);
      items.push({
        seq,
        recordId: `rec-${seq}`,
        contentId: sealed.contentId,
        mailbox,
        folder,
        messageId: null,
        subject: null,
        internalDate: '2026-03-01T10:00:00.000Z',
        flags: { seen: seq % 2 === 0, answered: false, flagged: true, draft: false, deleted: false },
        keywords: seq === 0 ? ['$Label1', 'Project X'] : [],
        size: raw.length,
        itemType: 'mail',
        form: 'rfc5322',
      });
    }
    return items;
  }

  const mail = (n: number, tag = 'm') =>
    Buffer.from(`Subject: ${tag}${n}\r\nMessage-ID: <${tag}${n}@x>\r\n\r\nbody ${n}\r\n`);

  async function restore(
    target: InMemoryMailTarget,
    items: RestoreItem[],
    where: RestoreTarget = { kind: 'original' },
    options: { duplicate?: boolean; locks?: TargetLocks; sessionsPerMailbox?: number } = {},
  ) {
    const reporter = new RecordingProgress();
    const runner = new RestoreRunner({
      target,
      keys,
      items: { page: async (after) => ({ items: items.filter((i) => i.seq > after), total: items.length }) },
      objects: fetchSource,
      exportDir: mkdtempSync(join(tmpdir(), 'mlr-restore-spec-')),
      reporter,
      logger,
      ...(options.locks ? { locks: options.locks } : {}),
      ...(options.sessionsPerMailbox ? { sessionsPerMailbox: options.sessionsPerMailbox } : {}),
    });
    const state = await runner.run(restoreJob(items.length, where, options.duplicate));
    for (const result of reporter.results) restoreItemResultSchema.parse(result);
    return { state, reporter, results: [...reporter.results].sort((a, b) => a.seq - b.seq) };
  }

  it('writes every item with its attributes, checks copies in batches, and a second run skips them all', async () => {
    const raws = Array.from({ length: 20 }, (_, i) => mail(i));
    const items = await itemsOf(raws);
    const target = new InMemoryMailTarget();
    const first = await restore(target, items);
    expect(first.state).toBe('succeeded');
    expect(first.results.map((r) => r.outcome)).toEqual(raws.map(() => 'restored'));
    const written = target.written('alice', 'INBOX');
    expect(written.map((w) => w.raw.toString()).sort()).toEqual(raws.map((r) => r.toString()).sort());
    const zero = written.find((w) => w.raw.equals(raws[0] as Buffer));
    expect(zero?.item).toMatchObject({ flags: { seen: true, flagged: true }, keywords: ['$Label1', 'Project X'] });
    expect(zero?.item.internalDate).toBe('2026-03-01T10:00:00.000Z');
    // What the target could not carry is named in the item's result.
    expect(first.results[0]?.reason).toMatch(/without keywords the test target cannot carry: Project X/);
    // Batches: fewer duplicate checks than items, none larger than the batch.
    expect(target.checks.length).toBeLessThan(items.length);
    expect(Math.max(...target.checks)).toBeLessThanOrEqual(8);

    const again = await restore(target, items);
    expect(again.state).toBe('succeeded');
    expect(again.results.every((r) => r.outcome === 'skipped' && r.reason === 'already in INBOX')).toBe(true);
    expect(target.written('alice', 'INBOX')).toHaveLength(raws.length);
  });

  it('writes the same message twice in one batch once, unless the job asks for duplicates', async () => {
    const raw = mail(1, 'twice');
    const items = await itemsOf([raw, raw, mail(2, 'twice')]);
    const target = new InMemoryMailTarget();
    const { results } = await restore(target, items);
    expect(results.map((r) => r.outcome)).toEqual(['restored', 'skipped', 'restored']);
    expect(target.written('alice', 'INBOX')).toHaveLength(2);

    const dup = await restore(target, items, { kind: 'original' }, { duplicate: true });
    expect(dup.results.map((r) => r.outcome)).toEqual(['restored', 'restored', 'restored']);
    expect(target.written('alice', 'INBOX')).toHaveLength(5);
  });

  it('opens a dropped session again and counts a write that landed before the drop as restored, once', async () => {
    const raws = Array.from({ length: 6 }, (_, i) => mail(i, 'drop'));
    const items = await itemsOf(raws);
    const target = new InMemoryMailTarget();
    target.dropAfterWrite.add(digest(raws[2] as Buffer));
    const { state, results } = await restore(target, items, { kind: 'folder', folder: 'Restored' });
    expect(state).toBe('succeeded');
    expect(results.map((r) => r.outcome)).toEqual(raws.map(() => 'restored'));
    expect(results.every((r) => r.targetFolder === 'Restored')).toBe(true);
    expect(target.written('alice', 'Restored')).toHaveLength(raws.length);
    expect(target.opened).toBeGreaterThan(1);
  });

  it('writes the second of two same messages in a batch when the target refused the first', async () => {
    const raw = mail(1, 'refused-once');
    const items = await itemsOf([raw, raw]);
    const target = new InMemoryMailTarget();
    target.refuseWriteOnce.add(digest(raw));
    const { results } = await restore(target, items);
    expect(results.map((r) => r.outcome)).toEqual(['failed', 'restored']);
    expect(target.written('alice', 'INBOX')).toHaveLength(1);
  });

  it('survives a dropped copy check and then a dropped write in the same batch: every item once', async () => {
    const raws = Array.from({ length: 5 }, (_, i) => mail(i, 'twice-dropped'));
    const items = await itemsOf(raws);
    const target = new InMemoryMailTarget();
    target.dropChecks = 1;
    target.dropAfterWrite.add(digest(raws[1] as Buffer));
    const { state, results } = await restore(target, items, { kind: 'original' }, { sessionsPerMailbox: 1 });
    expect(state).toBe('succeeded');
    expect(results.map((r) => r.outcome)).toEqual(raws.map(() => 'restored'));
    expect(target.written('alice', 'INBOX')).toHaveLength(raws.length);

    // Two dropped checks in a row: the batch's items fail, saying why; nothing is written twice.
    const more = await itemsOf([mail(9, 'twice-dropped')]);
    target.dropChecks = 2;
    const failedRun = await restore(target, more, { kind: 'original' }, { sessionsPerMailbox: 1 });
    expect(failedRun.results.map((r) => [r.outcome, r.reason])).toEqual([
      ['failed', expect.stringMatching(/connection lost during the copy check/)],
    ]);
  });

  it('fails an item the target refuses alone, and every item of a mailbox that cannot be opened', async () => {
    const raws = [mail(1, 'ref'), mail(2, 'ref'), mail(3, 'ref')];
    const alice = await itemsOf(raws);
    const bob = (await itemsOf([mail(4, 'ref'), mail(5, 'ref')], 'INBOX', 'bob')).map((item, i) => ({
      ...item,
      seq: 10 + i,
    }));
    const target = new InMemoryMailTarget();
    target.refuseWrite.add(digest(raws[1] as Buffer));
    target.refused.set('bob', 'login refused');
    const { state, results, reporter } = await restore(target, [...alice, ...bob]);
    expect(state).toBe('partially_failed');
    expect(results.map((r) => r.outcome)).toEqual(['restored', 'failed', 'restored', 'failed', 'failed']);
    expect(results[1]?.reason).toMatch(/cannot restore into alice\/INBOX: the target refused the item/);
    expect(results[3]?.reason).toMatch(/mailbox bob is unreachable: login refused/);
    expect(reporter.errorList).toEqual([expect.objectContaining({ scope: 'mailbox', target: 'bob' })]);
  });

  it('two jobs side by side with shared locks write one copy of each message', async () => {
    const raws = Array.from({ length: 12 }, (_, i) => mail(i, 'side'));
    const items = await itemsOf(raws);
    const target = new InMemoryMailTarget();
    const locks = new TargetLocks();
    const [a, b] = await Promise.all([
      restore(target, items, { kind: 'original' }, { locks }),
      restore(target, items, { kind: 'original' }, { locks }),
    ]);
    const outcomes = [...a.results, ...b.results].map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'restored')).toHaveLength(raws.length);
    expect(outcomes.filter((o) => o === 'skipped')).toHaveLength(raws.length);
    expect(target.written('alice', 'INBOX')).toHaveLength(raws.length);
    expect(locks.size).toBe(0);
  });
});
