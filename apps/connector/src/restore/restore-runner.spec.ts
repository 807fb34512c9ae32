import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { jobEventSchema, type JobEvent, type RestoreItem, type RestoreTarget } from '@mlr/contracts';
import { deriveTenantKeys, generateRootKey, sealMessage, type TenantKeys } from '@mlr/crypto';
import { createLogger } from '@mlr/telemetry';
import { JobReporter } from '../backup/job-reporter.js';
import type { PlatformPublisher } from '../backup/commit-batcher.js';
import type { ExportWriter } from './export/index.js';
import type { SealedObjectSource } from './open-restore-item.js';
import { RestoreRunner, type OpenExportWriter } from './restore-runner.js';

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
      });
    }
  });

  async function run(target: RestoreTarget, openExportWriter: OpenExportWriter) {
    const events: JobEvent[] = [];
    const publisher = {
      publish: async (_channel: string, _subject: string, event: JobEvent) => {
        events.push(jobEventSchema.parse(event));
      },
    } as unknown as PlatformPublisher;
    const reporter = new JobReporter(
      publisher,
      { tenantId: 'acme', jobId: 'job-1', connectorId: 'imap-1', kind: 'restore' },
      { intervalMs: 0 },
    );
    const runner = new RestoreRunner({
      source: { kind: 'imap', host: 'unused', port: 143, secure: false, allowSelfSigned: false, mailboxes: [] },
      keys,
      items: { page: async (after) => ({ items: items.filter((i) => i.seq > after), total: items.length }) },
      objects: source,
      openExportWriter,
      exportDir: mkdtempSync(join(tmpdir(), 'mlr-restore-spec-')),
      reporter,
      logger,
      concurrency: 2,
    });
    const state = await runner.run({
      kind: 'restore',
      jobId: 'job-1',
      tenantId: 'acme',
      connectorId: 'imap-1',
      requestedAt: new Date().toISOString(),
      requestedBy: 'admin',
      itemCount: items.length,
      target,
      duplicate: false,
    });
    return { state, events, results: events.flatMap((e) => e.items).sort((a, b) => a.seq - b.seq) };
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
    expect(events.flatMap((e) => e.errors)).toEqual([expect.objectContaining({ scope: 'job', target: 'job-1' })]);
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
