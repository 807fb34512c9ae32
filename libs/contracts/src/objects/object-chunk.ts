import { z } from 'zod';
import { contentIdSchema, idSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { indexRecordSchema } from '../index-records/index-record.js';

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
 * The commit of one message sighting, on `mlr.<tenant>.objects`: which sealed object (and, when it
 * was uploaded, which upload holds its chunks) plus the index record. Storage makes the object
 * durable first and only then forwards the record to indexing.
 * `upload: null` re-sends a record whose object the platform already stores (flag changes).
 */
export const objectCommitSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    jobId: jobIdSchema,
    contentId: contentIdSchema,
    keyId: z.string().regex(/^[0-9a-f]{16}$/, 'key id must be 16 lower-case hex characters'),
    plainSize: z.number().int().nonnegative(),
    upload: z
      .strictObject({
        uploadId: uploadIdSchema,
        chunkCount: z.number().int().positive(),
        sealedSize: z.number().int().positive(),
      })
      .nullable(),
    record: indexRecordSchema,
  })
  .superRefine((commit, ctx) => {
    if (commit.record.tenantId !== commit.tenantId) {
      ctx.addIssue({ code: 'custom', path: ['record', 'tenantId'], message: 'record belongs to another tenant' });
    }
    if (commit.record.contentId !== commit.contentId) {
      ctx.addIssue({ code: 'custom', path: ['record', 'contentId'], message: 'record names another content id' });
    }
  });

export type ObjectCommit = z.infer<typeof objectCommitSchema>;

/**
 * From storage to indexing, on `mlr.<tenant>.records`: the record of a sighting whose object is
 * durably stored. Connectors cannot publish here.
 */
export const storedRecordSchema = z.strictObject({
  tenantId: tenantIdSchema,
  jobId: jobIdSchema,
  /** The stored object (storage's id) the record points at. */
  objectId: z.string().min(1),
  objectStored: z.enum(['new', 'deduplicated']),
  record: indexRecordSchema,
});

export type StoredRecord = z.infer<typeof storedRecordSchema>;

/** Published by indexing on `mlr.<tenant>.indexed` once a record is durably stored: the end-to-end ack. */
export const indexedEventSchema = z.strictObject({
  tenantId: tenantIdSchema,
  jobId: jobIdSchema,
  contentId: contentIdSchema,
  mailbox: z.string().min(1),
  folder: z.string().min(1),
  uidValidity: z.string().regex(/^\d+$/),
  uid: z.number().int().positive(),
  objectStored: z.enum(['new', 'deduplicated']),
  /**
   * Whether this sighting was new to the index, or an update of a known one (flags, keywords);
   * 'unchanged' when the index already held these facts, or those of a later observation.
   */
  recordStored: z.enum(['new', 'updated', 'unchanged']),
  recordId: z.string().min(1),
});

export type IndexedEvent = z.infer<typeof indexedEventSchema>;
