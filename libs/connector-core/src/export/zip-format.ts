import { open } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';

/*
 * The parts of the ZIP format (PKWARE APPNOTE 6.3) an export needs: entries stored or deflated,
 * sizes known before each entry is written (no data descriptors), ZIP64 records once an entry, an
 * offset or the entry count no longer fits the classic 16/32-bit fields.
 */

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EXTRA = 0x0001;
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;
/** 2.0: deflate; 4.5: ZIP64. */
const VERSION_DEFLATE = 20;
const VERSION_ZIP64 = 45;
/** Made by: Unix (upper byte 3), spec 4.5. */
const VERSION_MADE_BY = (3 << 8) | VERSION_ZIP64;
/** Regular file, rw-r--r--, in the upper half of the external attributes (Unix). */
const UNIX_FILE_ATTRIBUTES = (0o100644 << 16) >>> 0;
/** Bit 11: the name is UTF-8. */
const FLAG_UTF8 = 0x0800;

export const METHOD_STORED = 0;
export const METHOD_DEFLATED = 8;

export interface ZipEntryRecord {
  name: string;
  method: typeof METHOD_STORED | typeof METHOD_DEFLATED;
  crc: number;
  compressedSize: number;
  size: number;
  /** Where its local header starts. */
  offset: number;
  modified: Date;
}

/** MS-DOS date and time (2-second steps, 1980–2107), from the UTC fields of `date`. */
function dosDateTime(date: Date): { time: number; date: number } {
  const valid = Number.isNaN(date.getTime()) ? new Date(0) : date;
  const year = Math.min(Math.max(valid.getUTCFullYear(), 1980), 2107);
  if (year !== valid.getUTCFullYear()) {
    return { time: 0, date: ((year - 1980) << 9) | (1 << 5) | 1 };
  }
  return {
    time: (valid.getUTCHours() << 11) | (valid.getUTCMinutes() << 5) | (valid.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((valid.getUTCMonth() + 1) << 5) | valid.getUTCDate(),
  };
}

function nameBytes(name: string): { bytes: Buffer; flags: number } {
  const bytes = Buffer.from(name, 'utf8');
  // eslint-disable-next-line no-control-regex
  return { bytes, flags: /^[\x00-\x7f]*$/.test(name) ? 0 : FLAG_UTF8 };
}

function zip64Extra(values: bigint[]): Buffer {
  if (values.length === 0) return Buffer.alloc(0);
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(ZIP64_EXTRA, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  values.forEach((value, i) => extra.writeBigUInt64LE(value, 4 + 8 * i));
  return extra;
}

/** The local header that goes right before the entry's data. */
export function localHeader(entry: ZipEntryRecord): Buffer {
  const { bytes, flags } = nameBytes(entry.name);
  const large = entry.size >= MAX_U32 || entry.compressedSize >= MAX_U32;
  const extra = large ? zip64Extra([BigInt(entry.size), BigInt(entry.compressedSize)]) : Buffer.alloc(0);
  const { time, date } = dosDateTime(entry.modified);
  const header = Buffer.alloc(30);
  header.writeUInt32LE(LOCAL_HEADER, 0);
  header.writeUInt16LE(large ? VERSION_ZIP64 : VERSION_DEFLATE, 4);
  header.writeUInt16LE(flags, 6);
  header.writeUInt16LE(entry.method, 8);
  header.writeUInt16LE(time, 10);
  header.writeUInt16LE(date, 12);
  header.writeUInt32LE(entry.crc >>> 0, 14);
  header.writeUInt32LE(large ? MAX_U32 : entry.compressedSize, 18);
  header.writeUInt32LE(large ? MAX_U32 : entry.size, 22);
  header.writeUInt16LE(bytes.length, 26);
  header.writeUInt16LE(extra.length, 28);
  return Buffer.concat([header, bytes, extra]);
}

function centralHeader(entry: ZipEntryRecord): Buffer {
  const { bytes, flags } = nameBytes(entry.name);
  const zip64: bigint[] = [];
  if (entry.size >= MAX_U32) zip64.push(BigInt(entry.size));
  if (entry.compressedSize >= MAX_U32) zip64.push(BigInt(entry.compressedSize));
  if (entry.offset >= MAX_U32) zip64.push(BigInt(entry.offset));
  const extra = zip64Extra(zip64);
  const { time, date } = dosDateTime(entry.modified);
  const header = Buffer.alloc(46);
  header.writeUInt32LE(CENTRAL_HEADER, 0);
  header.writeUInt16LE(VERSION_MADE_BY, 4);
  header.writeUInt16LE(zip64.length > 0 ? VERSION_ZIP64 : VERSION_DEFLATE, 6);
  header.writeUInt16LE(flags, 8);
  header.writeUInt16LE(entry.method, 10);
  header.writeUInt16LE(time, 12);
  header.writeUInt16LE(date, 14);
  header.writeUInt32LE(entry.crc >>> 0, 16);
  header.writeUInt32LE(Math.min(entry.compressedSize, MAX_U32), 20);
  header.writeUInt32LE(Math.min(entry.size, MAX_U32), 24);
  header.writeUInt16LE(bytes.length, 28);
  header.writeUInt16LE(extra.length, 30);
  header.writeUInt16LE(0, 32); // comment length
  header.writeUInt16LE(0, 34); // disk number start
  header.writeUInt16LE(0, 36); // internal attributes
  header.writeUInt32LE(UNIX_FILE_ATTRIBUTES, 38);
  header.writeUInt32LE(Math.min(entry.offset, MAX_U32), 42);
  return Buffer.concat([header, bytes, extra]);
}

/** Central directory and end records, for an archive whose entries end at `directoryOffset`. */
export function centralDirectory(entries: ZipEntryRecord[], directoryOffset: number): Buffer {
  const directory = Buffer.concat(entries.map(centralHeader));
  const count = entries.length;
  const needsZip64 = count >= MAX_U16 || directory.length >= MAX_U32 || directoryOffset >= MAX_U32;
  const parts: Buffer[] = [directory];
  if (needsZip64) {
    const zip64End = Buffer.alloc(56);
    zip64End.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY, 0);
    zip64End.writeBigUInt64LE(44n, 4);
    zip64End.writeUInt16LE(VERSION_MADE_BY, 12);
    zip64End.writeUInt16LE(VERSION_ZIP64, 14);
    zip64End.writeUInt32LE(0, 16);
    zip64End.writeUInt32LE(0, 20);
    zip64End.writeBigUInt64LE(BigInt(count), 24);
    zip64End.writeBigUInt64LE(BigInt(count), 32);
    zip64End.writeBigUInt64LE(BigInt(directory.length), 40);
    zip64End.writeBigUInt64LE(BigInt(directoryOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP64_LOCATOR, 0);
    locator.writeUInt32LE(0, 4);
    locator.writeBigUInt64LE(BigInt(directoryOffset + directory.length), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(zip64End, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
  end.writeUInt16LE(Math.min(count, MAX_U16), 8);
  end.writeUInt16LE(Math.min(count, MAX_U16), 10);
  end.writeUInt32LE(Math.min(directory.length, MAX_U32), 12);
  end.writeUInt32LE(Math.min(directoryOffset, MAX_U32), 16);
  parts.push(end);
  return Buffer.concat(parts);
}

export const zipCrc32 = (data: Buffer): number => crc32(data) >>> 0;

// ---------------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------------

interface CentralEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
}

function u64(buffer: Buffer, at: number, what: string): number {
  const value = buffer.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${value} is too large`);
  return Number(value);
}

function parseCentralDirectory(directory: Buffer, count: number, path: string): CentralEntry[] {
  const entries: CentralEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_HEADER) {
      throw new Error(`${path}: central directory entry ${i + 1} of ${count} is damaged`);
    }
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    const name = directory.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    let size = directory.readUInt32LE(at + 24);
    let compressedSize = directory.readUInt32LE(at + 20);
    let offset = directory.readUInt32LE(at + 42);
    const extra = directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
    for (let e = 0; e + 4 <= extra.length;) {
      const id = extra.readUInt16LE(e);
      const length = extra.readUInt16LE(e + 2);
      if (id === ZIP64_EXTRA) {
        let field = e + 4;
        const next = (what: string) => {
          const value = u64(extra, field, what);
          field += 8;
          return value;
        };
        if (size === MAX_U32) size = next(`size of ${name}`);
        if (compressedSize === MAX_U32) compressedSize = next(`compressed size of ${name}`);
        if (offset === MAX_U32) offset = next(`offset of ${name}`);
      }
      e += 4 + length;
    }
    entries.push({
      name,
      method: directory.readUInt16LE(at + 10),
      crc: directory.readUInt32LE(at + 16),
      compressedSize,
      size,
      offset,
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

const WHOLE_FILE_LIMIT = 512 * 1024 * 1024;

/** Every entry of a ZIP file, decompressed and checked against its CRC-32 and size. */
export async function readZipEntries(path: string): Promise<Array<{ name: string; data: Buffer }>> {
  const handle = await open(path, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    // The entries all end up in memory anyway: a file that fits is read at once, which spares a
    // system call per header; a larger one is read entry by entry.
    const whole = fileSize <= WHOLE_FILE_LIMIT ? await handle.readFile() : undefined;
    const read = async (position: number, length: number): Promise<Buffer> => {
      if (position + length > fileSize) {
        throw new Error(`${path} ends early (${length} bytes wanted at ${position}, the file has ${fileSize})`);
      }
      if (whole) return whole.subarray(position, position + length);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead !== length) throw new Error(`${path} ends early (at ${position + bytesRead} of ${fileSize} bytes)`);
      return buffer;
    };
    const tailLength = Math.min(fileSize, 22 + MAX_U16 + 20);
    const tail = await read(fileSize - tailLength, tailLength);
    let endAt = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === END_OF_CENTRAL_DIRECTORY) {
        endAt = i;
        break;
      }
    }
    if (endAt < 0) throw new Error(`${path} is not a ZIP file (no end of central directory record)`);
    let count = tail.readUInt16LE(endAt + 10);
    let directorySize = tail.readUInt32LE(endAt + 12);
    let directoryOffset = tail.readUInt32LE(endAt + 16);
    if (endAt >= 20 && tail.readUInt32LE(endAt - 20) === ZIP64_LOCATOR) {
      const zip64End = await read(u64(tail, endAt - 20 + 8, 'ZIP64 end record offset'), 56);
      if (zip64End.readUInt32LE(0) !== ZIP64_END_OF_CENTRAL_DIRECTORY) {
        throw new Error(`${path}: the ZIP64 end of central directory record is damaged`);
      }
      count = u64(zip64End, 32, 'entry count');
      directorySize = u64(zip64End, 40, 'central directory size');
      directoryOffset = u64(zip64End, 48, 'central directory offset');
    }
    const entries = parseCentralDirectory(await read(directoryOffset, directorySize), count, path);
    const result: Array<{ name: string; data: Buffer }> = [];
    for (const entry of entries) {
      const local = await read(entry.offset, 30);
      if (local.readUInt32LE(0) !== LOCAL_HEADER)
        throw new Error(`${path}: the local header of ${entry.name} is damaged`);
      const dataAt = entry.offset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const stored = await read(dataAt, entry.compressedSize);
      let data: Buffer;
      if (entry.method === METHOD_STORED) data = stored;
      else if (entry.method === METHOD_DEFLATED) data = inflateRawSync(stored);
      else throw new Error(`${path}: ${entry.name} uses compression method ${entry.method}, which is not supported`);
      if (data.length !== entry.size || zipCrc32(data) !== entry.crc >>> 0) {
        throw new Error(`${path}: ${entry.name} is corrupt (its size or CRC-32 does not match the directory)`);
      }
      result.push({ name: entry.name, data });
    }
    return result;
  } finally {
    await handle.close();
  }
}
