import type { ObjectChunk } from '@mlr/contracts';
import { BackupError, BackupErrorCode } from './backup.exception.js';

/** A chunk found in the chunk stream: its header, where it is and how many body bytes it has. */
export interface FoundChunk {
  sequence: number;
  size: number;
  header: ObjectChunk;
}

/** A message in the upload's subject whose header is not a valid chunk header. */
export interface InvalidChunk {
  sequence: number;
  problem: string;
}

export type ChunkListing = ReadonlyArray<FoundChunk | InvalidChunk>;

/** What the commit says the upload holds. */
export interface ExpectedUpload {
  tenantId: string;
  uploadId: string;
  contentId: string;
  chunkCount: number;
  sealedSize: number;
}

/** One chunk to copy, in object order. */
export interface PlannedChunk {
  index: number;
  offset: number;
  size: number;
  /** Stream sequence of the copy to read. */
  sequence: number;
}

export type ChunkPlan =
  { complete: true; chunks: PlannedChunk[] } | { complete: false; missing: number[]; present: number };

export function isInvalidChunk(entry: FoundChunk | InvalidChunk): entry is InvalidChunk {
  return 'problem' in entry;
}

/** `0, 2-5, 9` for logs and error messages; long lists are cut. */
export function describeIndexes(indexes: readonly number[], limit = 20): string {
  const ranges: string[] = [];
  let start: number | undefined;
  let previous: number | undefined;
  const flush = () => {
    if (start === undefined || previous === undefined) return;
    ranges.push(start === previous ? `${start}` : `${start}-${previous}`);
  };
  for (const index of indexes) {
    if (previous !== undefined && index === previous + 1) {
      previous = index;
      continue;
    }
    flush();
    start = index;
    previous = index;
  }
  flush();
  return ranges.length > limit
    ? `${ranges.slice(0, limit).join(', ')}, … (${ranges.length - limit} more)`
    : ranges.join(', ');
}

function inconsistent(upload: ExpectedUpload, problem: string): BackupError {
  return new BackupError(
    BackupErrorCode.ChunksInconsistent,
    `upload ${upload.uploadId} of object ${upload.contentId} cannot be assembled: ${problem}`,
  );
}

/**
 * Checks the chunks of an upload against its commit and puts them in object order. Throws
 * ChunksInconsistent when they contradict the commit or each other (that never heals); returns the
 * missing indexes when some have not arrived (yet). Copies of one chunk (a re-sent chunk stored again
 * after the stream's duplicate window) must agree; the newest copy is read.
 */
export function planChunks(upload: ExpectedUpload, listing: ChunkListing): ChunkPlan {
  const byIndex = new Map<number, FoundChunk>();
  for (const entry of listing) {
    if (isInvalidChunk(entry))
      throw inconsistent(upload, `message ${entry.sequence} is not a valid chunk: ${entry.problem}`);
    const { header, sequence, size } = entry;
    const where = `chunk ${header.chunkIndex} (message ${sequence})`;
    if (header.tenantId !== upload.tenantId || header.uploadId !== upload.uploadId) {
      throw inconsistent(upload, `${where} belongs to tenant ${header.tenantId}, upload ${header.uploadId}`);
    }
    if (header.contentId !== upload.contentId) {
      throw inconsistent(upload, `${where} is a chunk of object ${header.contentId}`);
    }
    if (header.chunkCount !== upload.chunkCount) {
      throw inconsistent(
        upload,
        `${where} says the upload has ${header.chunkCount} chunks, the commit says ${upload.chunkCount}`,
      );
    }
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw inconsistent(upload, `${where} has no bytes`);
    }
    if (header.offset + size > upload.sealedSize) {
      throw inconsistent(
        upload,
        `${where} ends at byte ${header.offset + size}, beyond the sealed size ${upload.sealedSize} of the commit`,
      );
    }
    const other = byIndex.get(header.chunkIndex);
    if (other && (other.header.offset !== header.offset || other.size !== size)) {
      throw inconsistent(
        upload,
        `two different copies of chunk ${header.chunkIndex}: messages ${other.sequence} (offset ${other.header.offset}, ${other.size} bytes) and ${sequence} (offset ${header.offset}, ${size} bytes)`,
      );
    }
    if (!other || sequence > other.sequence) byIndex.set(header.chunkIndex, entry);
  }

  const missing: number[] = [];
  for (let index = 0; index < upload.chunkCount; index++) if (!byIndex.has(index)) missing.push(index);
  if (missing.length > 0) return { complete: false, missing, present: byIndex.size };

  const chunks: PlannedChunk[] = [];
  let expectedOffset = 0;
  for (let index = 0; index < upload.chunkCount; index++) {
    const found = byIndex.get(index) as FoundChunk;
    if (found.header.offset !== expectedOffset) {
      throw inconsistent(
        upload,
        `chunk ${index} starts at byte ${found.header.offset}, but the chunks before it end at byte ${expectedOffset}`,
      );
    }
    chunks.push({ index, offset: found.header.offset, size: found.size, sequence: found.sequence });
    expectedOffset += found.size;
  }
  if (expectedOffset !== upload.sealedSize) {
    throw inconsistent(upload, `the chunks hold ${expectedOffset} bytes, the commit says ${upload.sealedSize}`);
  }
  return { complete: true, chunks };
}

/**
 * Until when missing chunks may still show up: chunks are published before their commit, and the
 * chunk stream drops them `retentionMs` after that, so once the commit is older than that, a chunk
 * that is not there will never be.
 */
export function missingChunksDeadline(commitPublishedAt: Date, retentionMs: number): Date {
  return new Date(commitPublishedAt.getTime() + retentionMs);
}
