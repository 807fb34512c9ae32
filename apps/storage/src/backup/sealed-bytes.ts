import { EnvelopeError, EnvelopeWalker, expectEnvelope } from '@mlr/envelope';
import { sightingLabel, type ObjectCommitItem } from '@mlr/contracts';
import type { ChunkStore } from './chunk-store.js';
import { CommitRejection } from './commit-rejection.js';
import type { MemberToStore } from './writers/object-writer.js';

type ChunkedBytes = Extract<ObjectCommitItem['sealed'], { kind: 'chunks' }>;

function where(item: ObjectCommitItem): string {
  const { mailbox, folder, sourceKey } = item.record;
  return `${mailbox} / ${folder} ${sightingLabel(sourceKey)} (object ${item.contentId})`;
}

/** Reads the item's chunks in object order, checking each against what the commit promised. */
async function* chunksOf(
  tenantId: string,
  item: ObjectCommitItem,
  sealed: ChunkedBytes,
  store: ChunkStore,
): AsyncGenerator<Buffer> {
  for (const [index, chunk] of sealed.chunks.entries()) {
    const found = await store.read(tenantId, sealed.uploadId, chunk.sequence);
    const what = `${where(item)}: chunk ${index} (stream sequence ${chunk.sequence}) of upload ${sealed.uploadId}`;
    if (found === null) {
      throw new CommitRejection(
        'chunk-missing',
        `${what} is no longer in the chunk stream (expired or purged); the connector must send the message again`,
      );
    }
    if ('problem' in found) throw new CommitRejection('chunk-inconsistent', `${what} is not valid: ${found.problem}`);
    const { header } = found;
    const mismatch =
      header.uploadId !== sealed.uploadId
        ? `belongs to upload ${header.uploadId}`
        : header.contentId !== item.contentId
          ? `is a chunk of object ${header.contentId}`
          : header.chunkIndex !== index || header.chunkCount !== sealed.chunks.length
            ? `is chunk ${header.chunkIndex} of ${header.chunkCount}, not ${index} of ${sealed.chunks.length}`
            : header.offset !== chunk.offset || found.data.byteLength !== chunk.length
              ? `holds ${found.data.byteLength} bytes at offset ${header.offset}, not ${chunk.length} at ${chunk.offset}`
              : undefined;
    if (mismatch) throw new CommitRejection('chunk-inconsistent', `${what} ${mismatch}`);
    yield Buffer.from(found.data.buffer, found.data.byteOffset, found.data.byteLength);
  }
}

function checkShape(item: ObjectCommitItem, walker: EnvelopeWalker, size: number): void {
  try {
    expectEnvelope(walker.finish(), { contentId: item.contentId, keyId: item.keyId, size });
  } catch (error) {
    if (!(error instanceof EnvelopeError)) throw error;
    throw new CommitRejection('not-a-sealed-object', `${where(item)}: ${error.message}`);
  }
}

function walk(item: ObjectCommitItem, walker: EnvelopeWalker, piece: Buffer): void {
  try {
    walker.push(piece);
  } catch (error) {
    if (!(error instanceof EnvelopeError)) throw error;
    throw new CommitRejection('not-a-sealed-object', `${where(item)}: ${error.message}`);
  }
}

/**
 * The sealed object of `item`, ready to be stored: its slice of the batch's inline data, or its
 * chunks read by sequence — held in memory up to `holdUpToBytes`, else read again piece by piece
 * while it is written. Either way the bytes must be exactly one sealed object whose header names the
 * item's content id and key id (checked without a key, before anything is written): bytes that are
 * no sealed object, or belong to another message, are refused here rather than found out at restore.
 * Throws CommitRejection for what can never succeed; other errors (NATS unreachable) are worth a retry.
 */
export async function sealedObjectOf(
  tenantId: string,
  item: ObjectCommitItem,
  data: Uint8Array,
  chunks: ChunkStore,
  holdUpToBytes: number,
): Promise<MemberToStore> {
  const facts = { contentId: item.contentId, keyId: item.keyId, plainSize: item.plainSize };
  const walker = new EnvelopeWalker();
  if (item.sealed.kind === 'inline') {
    const { offset, length } = item.sealed;
    if (offset + length > data.byteLength) {
      throw new CommitRejection(
        'inline-out-of-range',
        `${where(item)}: its inline bytes ${offset}..${offset + length} run past the ${data.byteLength} bytes the batch carries`,
      );
    }
    const bytes = Buffer.from(data.buffer, data.byteOffset + offset, length);
    walk(item, walker, bytes);
    checkShape(item, walker, length);
    return { ...facts, sealedSize: length, bytes };
  }
  const sealed = item.sealed;
  const hold = sealed.sealedSize <= holdUpToBytes;
  const parts: Buffer[] = [];
  for await (const piece of chunksOf(tenantId, item, sealed, chunks)) {
    walk(item, walker, piece);
    if (hold) parts.push(piece);
  }
  checkShape(item, walker, sealed.sealedSize);
  if (hold) return { ...facts, sealedSize: sealed.sealedSize, bytes: Buffer.concat(parts, sealed.sealedSize) };
  // Checked once above; read again while it is written, so that it is never whole in memory.
  return { ...facts, sealedSize: sealed.sealedSize, read: () => chunksOf(tenantId, item, sealed, chunks) };
}
