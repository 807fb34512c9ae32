import { z } from 'zod';
import { contentIdSchema, idSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { indexRecordSchema, sightingKeySchema } from '../index-records/index-record.js';

/** NATS max_payload is 1 MiB by default: chunks stay well below it, headers included. */
export const MAX_CHUNK_BYTES = 512 * 1024;

/** Names one upload of one sealed object (random per upload; a retry of the same upload reuses it). */
export const uploadIdSchema = idSchema('upload id');

/**
 * One chunk of a sealed message object, on `mlr.<tenant>.chunks.<uploadId>`; the chunk's bytes are
 * the message body, this header travels beside them. Chunks are kept (not consumed) until the
 * commit of their upload has been stored.
 */
export const objectChunkSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    uploadId: uploadIdSchema,
    contentId: contentIdSchema,
    chunkIndex: z.number().int().nonnegative(),
    chunkCount: z.number().int().positive(),
    /** Byte offset of this chunk in the sealed object. */
    offset: z.number().int().nonnegative(),
  })
  .superRefine((chunk, ctx) => {
    if (chunk.chunkIndex >= chunk.chunkCount) {
      ctx.addIssue({ code: 'custom', path: ['chunkIndex'], message: 'chunkIndex must be below chunkCount' });
    }
  });

export type ObjectChunk = z.infer<typeof objectChunkSchema>;

/**
 * Sealed objects up to this size travel inline, inside their commit batch; larger ones go as chunks
 * first. Small enough that a batch still holds several, large enough for nearly all mail.
 */
export const INLINE_SEALED_MAX_BYTES = 256 * 1024;
/**
 * A whole commit batch (framing, JSON meta and inline bytes) stays below this: NATS refuses messages
 * above its `max_payload` (1 MiB by default), headers included.
 */
export const COMMIT_BATCH_MAX_BYTES = 512 * 1024;
/** Items of one commit batch at most (and so records and acknowledgements per message downstream). */
export const COMMIT_BATCH_MAX_ITEMS = 512;

const byteCount = z.number().int().nonnegative();

/** Where the sealed bytes of one commit item are. */
export const sealedBytesSchema = z.discriminatedUnion('kind', [
  /** In the commit batch's body: `length` bytes from `offset`. */
  z.strictObject({ kind: z.literal('inline'), offset: byteCount, length: byteCount.min(1) }),
  /**
   * In the chunk stream, published before the commit: every chunk by its stream sequence (from the
   * PubAck), so that storage reads each with one direct get and no consumer.
   */
  z.strictObject({
    kind: z.literal('chunks'),
    uploadId: uploadIdSchema,
    sealedSize: byteCount.min(1),
    chunks: z
      .array(z.strictObject({ sequence: z.number().int().positive(), offset: byteCount, length: byteCount.min(1) }))
      .min(1)
      .max(65_536),
  }),
]);

export type SealedBytes = z.infer<typeof sealedBytesSchema>;

/** One message sighting of a commit batch: its sealed object and its index record. */
export const objectCommitItemSchema = z
  .strictObject({
    contentId: contentIdSchema,
    keyId: z.string().regex(/^[0-9a-f]{16}$/, 'key id must be 16 lower-case hex characters'),
    plainSize: byteCount,
    sealed: sealedBytesSchema,
    record: indexRecordSchema,
  })
  .superRefine((item, ctx) => {
    if (item.record.contentId !== item.contentId) {
      ctx.addIssue({ code: 'custom', path: ['record', 'contentId'], message: 'record names another content id' });
    }
    if (item.sealed.kind === 'chunks') {
      let expected = 0;
      for (const [index, chunk] of item.sealed.chunks.entries()) {
        if (chunk.offset !== expected) {
          ctx.addIssue({
            code: 'custom',
            path: ['sealed', 'chunks', index, 'offset'],
            message: `chunk ${index} starts at byte ${chunk.offset}, but the chunks before it end at byte ${expected}`,
          });
          return;
        }
        expected += chunk.length;
      }
      if (expected !== item.sealed.sealedSize) {
        ctx.addIssue({
          code: 'custom',
          path: ['sealed', 'sealedSize'],
          message: `the chunks hold ${expected} bytes, not ${item.sealed.sealedSize}`,
        });
      }
    }
  });

export type ObjectCommitItem = z.infer<typeof objectCommitItemSchema>;

/**
 * A batch of message sightings of one job, on `mlr.<tenant>.objects` (a framed message: this JSON,
 * then the inline sealed bytes as its data). Storage makes every object durable (packed with others,
 * or one S3 object each) and records it before it forwards the records to indexing. Each item
 * succeeds or fails on its own; a bad item is answered with its reason and its batch-mates are stored.
 */
export const objectCommitBatchSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    jobId: jobIdSchema,
    /** Random per batch; a retried publish of the same batch reuses it. */
    batchId: idSchema('batch id'),
    items: z.array(objectCommitItemSchema).max(COMMIT_BATCH_MAX_ITEMS),
    /**
     * The connector has read everything for now: storage writes the tenant's open pack (with this
     * batch's items) at once instead of waiting for it to fill. A batch without items only asks that.
     */
    flush: z.literal(true).optional(),
  })
  .superRefine((batch, ctx) => {
    if (batch.items.length === 0 && !batch.flush) {
      ctx.addIssue({ code: 'custom', path: ['items'], message: 'a batch without items must ask for a flush' });
    }
    for (const [index, item] of batch.items.entries()) {
      if (item.record.tenantId !== batch.tenantId) {
        ctx.addIssue({
          code: 'custom',
          path: ['items', index, 'record', 'tenantId'],
          message: 'record belongs to another tenant',
        });
      }
    }
  });

export type ObjectCommitBatch = z.infer<typeof objectCommitBatchSchema>;

/** The record of a sighting whose object is durably stored: storage's word to indexing. */
export const storedRecordSchema = z.strictObject({
  tenantId: tenantIdSchema,
  jobId: jobIdSchema,
  /** The stored object (storage's id) the record points at. */
  objectId: z.string().min(1),
  objectStored: z.enum(['new', 'deduplicated']),
  record: indexRecordSchema,
});

export type StoredRecord = z.infer<typeof storedRecordSchema>;

/**
 * From storage to indexing, on `mlr.<tenant>.records`: the records of one commit batch whose objects
 * are durably stored. Connectors cannot publish here.
 */
export const storedRecordBatchSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    jobId: jobIdSchema,
    records: z.array(storedRecordSchema).min(1).max(COMMIT_BATCH_MAX_ITEMS),
  })
  .superRefine((batch, ctx) => {
    for (const [index, stored] of batch.records.entries()) {
      if (stored.tenantId !== batch.tenantId || stored.record.tenantId !== batch.tenantId) {
        ctx.addIssue({
          code: 'custom',
          path: ['records', index, 'tenantId'],
          message: 'record belongs to another tenant',
        });
      }
      if (stored.jobId !== batch.jobId) {
        ctx.addIssue({ code: 'custom', path: ['records', index, 'jobId'], message: 'record belongs to another job' });
      }
    }
  });

export type StoredRecordBatch = z.infer<typeof storedRecordBatchSchema>;

const sightingFields = {
  contentId: contentIdSchema,
  mailbox: z.string().min(1),
  folder: z.string().min(1),
  sourceKey: sightingKeySchema,
};

/** What became of one sighting: stored and indexed, or refused for good with the reason. */
export const sightingResultSchema = z.discriminatedUnion('outcome', [
  z.strictObject({
    ...sightingFields,
    outcome: z.literal('stored'),
    objectStored: z.enum(['new', 'deduplicated']),
    /**
     * Whether this sighting was new to the index, or an update of a known one (flags, keywords);
     * 'unchanged' when the index already held these facts, or those of a later observation.
     */
    recordStored: z.enum(['new', 'updated', 'unchanged']),
    recordId: z.string().min(1),
  }),
  z.strictObject({
    ...sightingFields,
    outcome: z.literal('rejected'),
    /** Which service refused it. */
    stage: z.enum(['storage', 'indexing']),
    reason: z.string().min(1).max(2048),
  }),
]);

export type SightingResult = z.infer<typeof sightingResultSchema>;

/**
 * On `mlr.<tenant>.indexed`, to the connector: the end-to-end acknowledgement of sightings of one
 * job. Indexing publishes a stored result once a record is durably indexed (its object was stored
 * before); storage or indexing publish a rejected one for a sighting that can never be stored, so the
 * connector reports it at once instead of waiting and sending it again.
 */
export const indexedBatchSchema = z.strictObject({
  tenantId: tenantIdSchema,
  jobId: jobIdSchema,
  results: z.array(sightingResultSchema).min(1).max(COMMIT_BATCH_MAX_ITEMS),
});

export type IndexedBatch = z.infer<typeof indexedBatchSchema>;

/** Most sightings one `sightings.status` call asks about. */
export const SIGHTING_STATUS_MAX = 500;

/**
 * `mlr.<tenant>.sightings` (served by indexing): what became of sightings whose acknowledgement the
 * connector did not receive (it was cut off from NATS, or the platform restarted meanwhile). The
 * connector asks before it sends one again or reports it failed, so that a message that was stored
 * is never reported failed and its folder's checkpoint can move past it.
 */
export const sightingStatusRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  sightings: z.array(z.strictObject(sightingFields)).min(1).max(SIGHTING_STATUS_MAX),
  /**
   * The sequences (in the commit stream MLR_OBJECTS, from their PubAcks) of the commit batches the
   * sightings were last sent in: the answer says which of them storage has not taken yet.
   */
  commits: z.array(z.number().int().positive()).max(SIGHTING_STATUS_MAX).optional(),
});

/**
 * Per sighting asked about, in the same order: `indexed` when the index holds a record of that
 * message at that place with that content (its object was stored first), with the job that
 * recorded it; `unknown` when it does not (not stored, or not yet). `waitingCommits`: those of the
 * commits asked about that still wait for storage (it cannot write, e.g. S3 is down, or is behind):
 * their sightings are on their way, and sending them again would only queue them twice.
 */
export const sightingStatusResponseSchema = z.strictObject({
  waitingCommits: z.array(z.number().int().positive()).optional(),
  sightings: z.array(
    z.discriminatedUnion('state', [
      z.strictObject({
        ...sightingFields,
        state: z.literal('indexed'),
        recordId: z.string().min(1),
        backupJobId: z.string().nullable(),
      }),
      z.strictObject({ ...sightingFields, state: z.literal('unknown') }),
    ]),
  ),
});

export type SightingStatusRequest = z.infer<typeof sightingStatusRequestSchema>;
export type SightingStatusResponse = z.infer<typeof sightingStatusResponseSchema>;
