import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  centralDirectory,
  localHeader,
  METHOD_STORED,
  readZipEntries,
  zipCrc32,
  type ZipEntryRecord,
} from './zip-format.js';

const hasUnzip = (() => {
  try {
    execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const GIB = 1024 * 1024 * 1024;

function stored(name: string, data: Buffer, offset: number): ZipEntryRecord {
  return {
    name,
    method: METHOD_STORED,
    crc: zipCrc32(data),
    compressedSize: data.length,
    size: data.length,
    offset,
    modified: new Date('2026-11-24T09:00:00Z'),
  };
}

describe('ZIP64', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlr-zip64-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps more than 65,535 entries', async () => {
    const parts: Buffer[] = [];
    const entries: ZipEntryRecord[] = [];
    let offset = 0;
    for (let i = 0; i < 70_000; i++) {
      const data = Buffer.from(`${i}\n`);
      const entry = stored(`${i}.eml`, data, offset);
      const header = localHeader(entry);
      parts.push(header, data);
      entries.push(entry);
      offset += header.length + data.length;
    }
    parts.push(centralDirectory(entries, offset));
    const path = join(dir, 'many.zip');
    writeFileSync(path, Buffer.concat(parts));

    const read = await readZipEntries(path);
    expect(read).toHaveLength(70_000);
    expect(read[69_999]).toEqual({ name: '69999.eml', data: Buffer.from('69999\n') });
    if (hasUnzip) expect(execFileSync('unzip', ['-tq', path], { encoding: 'utf8' })).toMatch(/No errors detected/);
  });

  it('finds an entry that starts beyond 4 GiB', async () => {
    // A sparse file: the gap takes no disk space, but offsets need the ZIP64 fields.
    const path = join(dir, 'far.zip');
    const first = Buffer.from('first message\n');
    const far = Buffer.from('far message\n');
    const farOffset = 4 * GIB + 12_345;
    const entries = [stored('00000-first.eml', first, 0), stored('00001-far.eml', far, farOffset)];
    const handle = await open(path, 'w');
    try {
      await handle.write(Buffer.concat([localHeader(entries[0]!), first]), 0, undefined, 0);
      const farBytes = Buffer.concat([localHeader(entries[1]!), far]);
      await handle.write(farBytes, 0, undefined, farOffset);
      const directory = centralDirectory(entries, farOffset + farBytes.length);
      await handle.write(directory, 0, undefined, farOffset + farBytes.length);
    } finally {
      await handle.close();
    }
    expect(statSync(path).size).toBeGreaterThan(4 * GIB);
    expect(await readZipEntries(path)).toEqual([
      { name: '00000-first.eml', data: first },
      { name: '00001-far.eml', data: far },
    ]);
  });

  it('refuses a file that is not a ZIP', async () => {
    const path = join(dir, 'not.zip');
    writeFileSync(path, 'just text');
    await expect(readZipEntries(path)).rejects.toThrow(`${path} is not a ZIP file`);
  });
});
