import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestoreItem } from '@mlr/contracts';
import { corpusMessages } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openExportWriter, readEmlZip, readExportManifest, readMboxrd, type ExportFormat } from './index.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const hasUnzip = (() => {
  try {
    execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function item(seq: number, raw: Buffer, overrides: Partial<RestoreItem> = {}): RestoreItem {
  return {
    seq,
    recordId: `rec-${seq}`,
    contentId: sha256(raw),
    mailbox: 'alice@example.test',
    folder: 'INBOX',
    messageId: `<m${seq}@example.test>`,
    subject: `Message ${seq}`,
    internalDate: '2026-11-04T09:02:50.000Z',
    flags: { seen: true, answered: false, flagged: false, draft: false, deleted: false },
    keywords: [],
    size: raw.length,
    itemType: 'mail',
    form: 'rfc5322',
    ...overrides,
  };
}

async function readBack(format: ExportFormat, path: string): Promise<Buffer[]> {
  return format === 'mbox' ? readMboxrd(path) : (await readEmlZip(path)).map((entry) => entry.data);
}

const FORMATS: ExportFormat[] = ['mbox', 'eml-zip'];

/** Base64 text to cut message lines from (random, so that deflate has work to do). */
const TEXT_POOL = Buffer.from(randomBytes(3 * 1024 * 1024).toString('base64'));

/** A message of exactly `size` bytes: 76-character lines, every 50th a "From " line. */
function textMessage(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let at = out.write(`Subject: message ${seed}\n\n`);
  let from = (seed * 7_919) % (TEXT_POOL.length - 100);
  for (let line = 0; at < size; line++) {
    if (line % 50 === 0) {
      at += out.write('From the archive\n', at);
      continue;
    }
    const length = Math.min(76, size - at);
    TEXT_POOL.copy(out, at, from, from + length);
    at += length;
    if (at < size) out[at++] = 0x0a;
    from = (from + 77) % (TEXT_POOL.length - 100);
  }
  return out;
}

describe('export writers', () => {
  let dir: string;
  const corpus = corpusMessages();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlr-export-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has the corpus to test with', () => {
    expect(corpus.length).toBeGreaterThan(100);
  });

  describe.each(FORMATS)('%s', (format) => {
    const fileOf = (name: string) => join(dir, `${format}-${name}`);

    it('returns every corpus message byte for byte', async () => {
      const path = fileOf('corpus');
      const writer = await openExportWriter(format, path);
      const entries: string[] = [];
      for (const [seq, message] of corpus.entries()) {
        entries.push(await writer.add(item(seq, message.bytes, { subject: message.name }), message.bytes));
      }
      const result = await writer.close();
      expect(result).toEqual({ path, count: corpus.length, bytes: readFileSync(path).length });
      expect(existsSync(`${path}.partial`)).toBe(false);

      const read = await readBack(format, path);
      expect(read.map(sha256)).toEqual(corpus.map((message) => sha256(message.bytes)));

      const manifest = await readExportManifest(path);
      expect(manifest).toMatchObject({ format, file: `${format}-corpus`, count: corpus.length, bytes: result.bytes });
      expect(manifest?.messages.map((m) => m.entry)).toEqual(entries);
      expect(manifest?.messages[3]).toMatchObject({
        seq: 3,
        recordId: 'rec-3',
        sha256: sha256(corpus[3]!.bytes),
        size: corpus[3]!.bytes.length,
        itemType: 'mail',
        form: 'rfc5322',
        mailbox: 'alice@example.test',
        folder: 'INBOX',
        internalDate: '2026-11-04T09:02:50.000Z',
      });
      expect(new Set(entries).size).toBe(entries.length);
    });

    it('keeps "From " lines, CRLF line ends and a missing final line feed exactly', async () => {
      const messages = [
        Buffer.from(
          'From: a@example.test\r\nSubject: crlf\r\n\r\nFrom here on\r\n>From there\r\n>>From afar\r\nend\r\n',
        ),
        Buffer.from('Subject: no newline at the end\n\nFrom the start\nlast line without newline'),
        Buffer.from('Subject: ends with a bare CR\n\nbody\r'),
        Buffer.from('From nobody Tue Nov  4 09:02:50 2026\nSubject: starts like an mbox\n\n\n\nFrom \n'),
        Buffer.alloc(0),
        Buffer.from('\n'),
        Buffer.from('Subject: blank lines at the end\n\nbody\n\n\n'),
      ];
      const path = fileOf('edge-cases');
      const writer = await openExportWriter(format, path);
      for (const [seq, raw] of messages.entries()) await writer.add(item(seq, raw), raw);
      await writer.close();
      const read = await readBack(format, path);
      expect(read.map((m) => m.toString('latin1'))).toEqual(messages.map((m) => m.toString('latin1')));
    });

    it('writes 2,000 messages of 50 KB and a 50 MB message', { timeout: 300_000 }, async () => {
      const path = fileOf('many');
      const writer = await openExportWriter(format, path);
      const hashes: string[] = [];
      for (let seq = 0; seq < 2_000; seq++) {
        const raw = textMessage(50_000, seq);
        hashes.push(sha256(raw));
        await writer.add(item(seq, raw), raw);
      }
      const big = textMessage(50 * 1024 * 1024, 2_000);
      hashes.push(sha256(big));
      await writer.add(item(2_000, big), big);
      const result = await writer.close();
      expect(result.count).toBe(2_001);
      const read = await readBack(format, path);
      expect(read.map(sha256)).toEqual(hashes);
      rmSync(path);
    });

    it('writes messages added concurrently in the order they were added', async () => {
      const path = fileOf('concurrent');
      const writer = await openExportWriter(format, path);
      const messages = Array.from({ length: 20 }, (_, i) => Buffer.from(`Subject: ${i}\n\n${'x'.repeat(i * 1000)}\n`));
      const entries = await Promise.all(messages.map((raw, seq) => writer.add(item(seq, raw), raw)));
      await writer.close();
      expect((await readBack(format, path)).map(sha256)).toEqual(messages.map(sha256));
      expect((await readExportManifest(path))?.messages.map((m) => m.entry)).toEqual(entries);
    });

    it('leaves no file behind when aborted', async () => {
      const path = fileOf('aborted');
      const writer = await openExportWriter(format, path);
      await writer.add(item(0, corpus[0]!.bytes), corpus[0]!.bytes);
      expect(existsSync(`${path}.partial`)).toBe(true);
      await writer.abort();
      expect(readdirSync(dir).filter((name) => name.startsWith(`${format}-aborted`))).toEqual([]);
      await expect(writer.add(item(1, corpus[1]!.bytes), corpus[1]!.bytes)).rejects.toThrow(/already aborted/);
      await writer.abort();
    });

    it('refuses to overwrite an existing file', async () => {
      const path = fileOf('existing');
      writeFileSync(path, 'precious');
      await expect(openExportWriter(format, path)).rejects.toThrow(`export file ${path} already exists`);
      expect(readFileSync(path, 'utf8')).toBe('precious');
    });

    it('says which file it cannot create', async () => {
      const path = join(dir, 'missing-directory', `${format}-export`);
      await expect(openExportWriter(format, path)).rejects.toThrow(
        `cannot create export file ${path}.partial: ENOENT: no such file or directory`,
      );
    });

    it('refuses to add after close', async () => {
      const path = fileOf('closed');
      const writer = await openExportWriter(format, path);
      await writer.close();
      await expect(writer.add(item(0, corpus[0]!.bytes), corpus[0]!.bytes)).rejects.toThrow(/already closed/);
      expect(await readBack(format, path)).toEqual([]);
    });
  });

  describe('mbox', () => {
    it('writes mboxrd: From_ lines with sender and asctime date, quoted From lines, blank line between messages', async () => {
      const path = join(dir, 'layout.mbox');
      const writer = await openExportWriter('mbox', path);
      const first = Buffer.from('Return-Path: <bounce@example.test>\nSubject: one\n\nFrom me\n>From you\nend');
      const second = Buffer.from('Subject: two\r\n\r\nbody\r\n');
      expect(await writer.add(item(0, first), first)).toBe('layout.mbox#1');
      expect(await writer.add(item(1, second, { internalDate: null }), second)).toBe('layout.mbox#2');
      await writer.close();
      const text = readFileSync(path, 'latin1');
      expect(text).toMatch(
        /^From bounce@example\.test Wed Nov {2}4 09:02:50 2026\nReturn-Path: <bounce@example\.test>\nSubject: one\n\n>From me\n>>From you\nend\n\nFrom MAILER-DAEMON \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\nSubject: two\r\n\r\nbody\r\n\n$/,
      );
      const manifest = await readExportManifest(path);
      expect(manifest?.messages.map((m) => m.newlineAdded)).toEqual([true, false]);
    });

    it('refuses a file whose messages do not match the manifest', async () => {
      const path = join(dir, 'tampered.mbox');
      const writer = await openExportWriter('mbox', path);
      const raw = Buffer.from('Subject: x\n\nbody\n');
      await writer.add(item(0, raw), raw);
      await writer.close();
      writeFileSync(path, readFileSync(path, 'latin1').replace('body', 'BODY'), 'latin1');
      await expect(readMboxrd(path)).rejects.toThrow(
        /message 1 of .*tampered\.mbox \(seq 0, content id .*\) does not match/,
      );
    });
  });

  describe('eml-zip', () => {
    it('names entries <seq>-<subject>.eml, without path separators, unique', async () => {
      const path = join(dir, 'names.zip');
      const writer = await openExportWriter('eml-zip', path);
      const raw = Buffer.from('Subject: x\n\nbody\n');
      const names = [
        await writer.add(item(7, raw, { subject: '../../etc/passwd' }), raw),
        await writer.add(item(8, raw, { subject: 'Résumé: Q3 / Q4 …' }), raw),
        await writer.add(item(9, raw, { subject: null, messageId: '<abc.123@example.test>' }), raw),
        await writer.add(item(10, raw, { subject: '///', messageId: null }), raw),
        await writer.add(item(10, raw, { subject: '///', messageId: null }), raw),
        await writer.add(item(11, raw, { subject: 'x'.repeat(500) }), raw),
      ];
      await writer.close();
      expect(names.slice(0, 5)).toEqual([
        '00007-etc_passwd.eml',
        '00008-Resume_Q3_Q4.eml',
        '00009-abc.123_example.test.eml',
        '00010-message.eml',
        '00010-message-2.eml',
      ]);
      expect(names[5]).toBe(`00011-${'x'.repeat(80)}.eml`);
      expect((await readEmlZip(path)).map((entry) => entry.name)).toEqual(names);
    });

    it.skipIf(!hasUnzip)('is a ZIP file that unzip accepts', async () => {
      const path = join(dir, 'checked.zip');
      const writer = await openExportWriter('eml-zip', path);
      const chosen = corpus.slice(0, 40);
      for (const [seq, message] of chosen.entries()) await writer.add(item(seq, message.bytes), message.bytes);
      await writer.close();
      expect(execFileSync('unzip', ['-t', path], { encoding: 'utf8' })).toMatch(/No errors detected/);
      const listing = execFileSync('unzip', ['-Z1', path], { encoding: 'utf8' }).trim().split('\n');
      expect(listing).toHaveLength(40);
      const extracted = execFileSync('unzip', ['-p', path, listing[5]!]);
      expect(sha256(extracted)).toBe(sha256(chosen[5]!.bytes));
    });
  });
});
