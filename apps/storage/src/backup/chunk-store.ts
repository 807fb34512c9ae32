import { subjects, type ObjectChunk } from '@mlr/contracts';
import {
  decodeMessage,
  PLATFORM_STREAMS,
  platformValidator,
  type MessagingConnection,
  type StreamSpec,
} from '@mlr/messaging';

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
 * The chunk stream (MLR_CHUNKS) as a ChunkStore: each chunk is read by the stream sequence its
 * commit names (the connector has it from the PubAck), with one direct get and no consumer.
 */
export class JetStreamChunkStore implements ChunkStore {
  constructor(
    private readonly messaging: MessagingConnection,
    private readonly stream: StreamSpec = PLATFORM_STREAMS.chunks,
  ) {}

  async read(tenantId: string, uploadId: string, sequence: number): Promise<ChunkBody | { problem: string } | null> {
    const subject = subjects.chunks(tenantId, uploadId);
    const jsm = await this.messaging.manager();
    const stored = await jsm.streams.getMessage(this.stream.name, { seq: sequence });
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
    const response = await jsm.streams.purge(this.stream.name, { filter: subjects.chunks(tenantId, uploadId) });
    return response.purged;
  }
}
