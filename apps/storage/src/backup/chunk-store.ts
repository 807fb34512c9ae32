import type { JsMsg } from '@nats-io/jetstream';
import { subjects, type ObjectChunk } from '@mlr/contracts';
import {
  decodeMessage,
  PLATFORM_STREAMS,
  platformValidator,
  type MessagingConnection,
  type StreamSpec,
} from '@mlr/messaging';
import type { ChunkListing, FoundChunk, InvalidChunk } from './chunk-plan.js';

/** One chunk with its bytes. */
export interface ChunkBody {
  header: ObjectChunk;
  data: Uint8Array;
}

/** Where the connector's chunks wait for their commit. */
export interface ChunkStore {
  /** How long chunks are kept after they were published. */
  readonly retentionMs: number;
  /** Headers (not bodies) of every chunk stored for the upload, in stream order. */
  list(tenantId: string, uploadId: string): Promise<ChunkListing>;
  /** The chunk stored at `sequence` for the upload; null when it is gone (purged or expired). */
  read(tenantId: string, uploadId: string, sequence: number): Promise<ChunkBody | InvalidChunk | null>;
  /** Drops every chunk of the upload; returns how many were dropped. */
  purge(tenantId: string, uploadId: string): Promise<number>;
}

/** JetStream header with the body size of a message delivered headers-only. */
const MESSAGE_SIZE_HEADER = 'Nats-Msg-Size';
const LIST_BATCH = 256;
const LIST_WAIT_MS = 5_000;

function validateChunk(subject: string, data: Uint8Array, header: (name: string) => string | undefined) {
  const decoded = decodeMessage(data, header);
  return platformValidator.parse('chunks', subject, decoded.payload);
}

/**
 * The chunk stream (MLR_CHUNKS) as a ChunkStore. Listing reads headers only through an ephemeral
 * ordered consumer filtered to the upload's subject, so no chunk body is transferred twice; bodies
 * are then read one by one by sequence, in object order, whatever order they were published in.
 */
export class JetStreamChunkStore implements ChunkStore {
  readonly retentionMs: number;

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly stream: StreamSpec = PLATFORM_STREAMS.chunks,
  ) {
    this.retentionMs = stream.maxAgeMs ?? Number.POSITIVE_INFINITY;
  }

  async list(tenantId: string, uploadId: string): Promise<ChunkListing> {
    const subject = subjects.chunks(tenantId, uploadId);
    const jsm = await this.messaging.manager();
    const info = await jsm.streams.info(this.stream.name, { subjects_filter: subject });
    let pending = info.state.subjects?.[subject] ?? 0;
    if (pending === 0) return [];
    const consumer = await this.messaging.js.consumers.get(this.stream.name, {
      filter_subjects: subject,
      headers_only: true,
    });
    const listing: Array<FoundChunk | InvalidChunk> = [];
    try {
      while (pending > 0) {
        const batch = await consumer.fetch({ max_messages: Math.min(pending, LIST_BATCH), expires: LIST_WAIT_MS });
        let received = 0;
        for await (const message of batch) {
          received++;
          listing.push(this.headerOf(message));
          pending = message.info.pending;
        }
        // Nothing came: what the stream info counted has expired or been purged meanwhile.
        if (received === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    return listing;
  }

  async read(tenantId: string, uploadId: string, sequence: number): Promise<ChunkBody | InvalidChunk | null> {
    const subject = subjects.chunks(tenantId, uploadId);
    const jsm = await this.messaging.manager();
    const stored = await jsm.streams.getMessage(this.stream.name, { seq: sequence });
    if (stored === null || stored.subject !== subject) return null;
    const header = (name: string) => (stored.header?.has(name) ? stored.header.get(name) : undefined);
    try {
      return { header: validateChunk(stored.subject, stored.data, header), data: stored.data };
    } catch (error) {
      return { sequence, problem: (error as Error).message };
    }
  }

  async purge(tenantId: string, uploadId: string): Promise<number> {
    const jsm = await this.messaging.manager();
    const response = await jsm.streams.purge(this.stream.name, { filter: subjects.chunks(tenantId, uploadId) });
    return response.purged;
  }

  private headerOf(message: JsMsg): FoundChunk | InvalidChunk {
    const header = (name: string) => (message.headers?.has(name) ? message.headers.get(name) : undefined);
    try {
      const chunk = validateChunk(message.subject, message.data, header);
      const size = Number(header(MESSAGE_SIZE_HEADER));
      if (!Number.isSafeInteger(size)) {
        return { sequence: message.seq, problem: `the stream reported no ${MESSAGE_SIZE_HEADER} for it` };
      }
      return { sequence: message.seq, size, header: chunk };
    } catch (error) {
      return { sequence: message.seq, problem: (error as Error).message };
    }
  }
}
