import { z } from 'zod';
import { contentIdSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { indexRecordSchema } from '../index-records/index-record.js';

/** NATS max_payload is 1 MiB by default: chunks stay well below it, headers included. */
export const MAX_CHUNK_BYTES = 512 * 1024;

/**
 * Header of one chunk of an encrypted message object, on `mlr.<tenant>.objects`; the chunk's bytes
 * travel as the message body. The last chunk carries the index record: storage forwards it to
 * indexing only once every chunk is durably in S3.
 */
export const objectChunkHeaderSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    jobId: jobIdSchema,
    contentId: contentIdSchema,
    /** Size of the whole sealed object, and of the original message. */
    sealedSize: z.number().int().positive(),
    plainSize: z.number().int().nonnegative(),
    keyId: z.string().min(1).max(64),
    chunkIndex: z.number().int().nonnegative(),
    chunkCount: z.number().int().positive(),
    /** Byte offset of this chunk in the sealed object. */
    offset: z.number().int().nonnegative(),
    record: indexRecordSchema.optional(),
  })
  .superRefine((header, ctx) => {
    if (header.chunkIndex >= header.chunkCount) {
      ctx.addIssue({ code: 'custom', path: ['chunkIndex'], message: 'chunkIndex must be below chunkCount' });
    }
    if (header.offset >= header.sealedSize) {
      ctx.addIssue({ code: 'custom', path: ['offset'], message: 'offset lies beyond sealedSize' });
    }
    if (header.record && header.record.tenantId !== header.tenantId) {
      ctx.addIssue({ code: 'custom', path: ['record', 'tenantId'], message: 'record belongs to another tenant' });
    }
  });

export type ObjectChunkHeader = z.infer<typeof objectChunkHeaderSchema>;

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
  recordId: z.string().min(1),
});

export type IndexedEvent = z.infer<typeof indexedEventSchema>;
