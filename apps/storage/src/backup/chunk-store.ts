import type { StoredMsg } from '@nats-io/jetstream';
import { subjects, tenantChunksStream, type ObjectChunk } from '@mlr/contracts';
import { decodeMessage, isStreamNotFound, platformValidator, type MessagingConnection } from '@mlr/messaging';

/** One chunk with its bytes. */
export interface ChunkBody {
  header: ObjectChunk;
  data: Uint8Array;
}

/** Where the connector's chunks of large sealed objects wait for their commit. */
export interface ChunkStore {
  /**
   * The message stored at `sequence` if it is a chunk of the upload; `{ problem }` when the message
   * there is something else; null when it is gone (purged after its object was stored, or expired).
   */
  read(tenantId: string, uploadId: string, sequence: number): Promise<ChunkBody | { problem: string } | null>;
  /** Drops every chunk of the upload; returns how many were dropped. */
  purge(tenantId: string, uploadId: string): Promise<number>;
}

/**
 * The tenants' chunk streams (`MLR_CHUNKS_<tenant>`) as a ChunkStore: each chunk is read by the
 * sequence in its tenant's stream that its commit names (the connector has it from the PubAck), with
 * one direct get and no consumer.
 */
export class JetStreamChunkStore implements ChunkStore {
  constructor(private readonly messaging: MessagingConnection) {}

  async read(tenantId: string, uploadId: string, sequence: number): Promise<ChunkBody | { problem: string } | null> {
    const subject = subjects.chunks(tenantId, uploadId);
    const jsm = await this.messaging.manager();
    let stored: StoredMsg | null;
    try {
      stored = await jsm.streams.getMessage(tenantChunksStream(tenantId).name, { seq: sequence });
    } catch (error) {
      // No chunk stream, no chunk: the tenant's stream was removed (or never made) since the upload.
      if (isStreamNotFound(error)) return null;
      throw error;
    }
    if (stored === null) return null;
    if (stored.subject !== subject) return { problem: `it is a message of ${stored.subject}, not of ${subject}` };
    const header = (name: string) => (stored.header?.has(name) ? stored.header.get(name) : undefined);
    try {
      const decoded = decodeMessage(stored.data, header);
      return { header: platformValidator.parse('chunks', stored.subject, decoded.payload), data: stored.data };
    } catch (error) {
      return { problem: (error as Error).message };
    }
  }

  async purge(tenantId: string, uploadId: string): Promise<number> {
    const jsm = await this.messaging.manager();
    const stream = tenantChunksStream(tenantId).name;
    try {
      return (await jsm.streams.purge(stream, { filter: subjects.chunks(tenantId, uploadId) })).purged;
    } catch (error) {
      if (isStreamNotFound(error)) return 0;
      throw error;
    }
  }
}
