import { z } from 'zod';

/** Largest value a PostgreSQL bigint holds (positions and change counters are stored as bigint). */
const MAX_BIGINT = 9_223_372_036_854_775_807n;

const counter = (what: string) =>
  z
    .string()
    .regex(/^(0|[1-9]\d{0,18})$/, `${what} must be a decimal number without leading zeros`)
    .refine((value) => !/^\d+$/.test(value) || BigInt(value) <= MAX_BIGINT, `${what} must be below 2^63`);

/**
 * Where the backup of one container stands, in the terms of the source that wrote it, versioned. The
 * platform keeps it and hands it back with the next job; it never interprets `epoch`, `position`,
 * `changes` or `state`, it only keeps a cursor from moving backwards:
 * - within one `epoch` (same source and version), the highest `position` and the highest `changes`
 *   win, and `state` goes with the reading that moved the cursor;
 * - another epoch (or source, or version) replaces the cursor, but only from the newest event of its
 *   job, so that a straggler cannot undo a reset.
 * IMAP (`imap` v1): epoch = UIDVALIDITY, position = the last UID of which every message up to it is
 * stored and indexed, changes = the HIGHESTMODSEQ up to which flag changes are, state = null.
 */
export const sourceCursorSchema = z.strictObject({
  /** The adapter that wrote it ('imap', later 'graph', 'pst', ...). */
  source: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'source must be a short lower-case name'),
  /** The version of the adapter's cursor format. */
  version: z.number().int().min(1).max(1000),
  /** A change voids every position before it (IMAP UIDVALIDITY): the container is read again. */
  epoch: z.string().min(1).max(512),
  /** Everything up to this position, in the source's own order, is stored and indexed. */
  position: counter('position'),
  /** The source's counter of attribute changes that are stored (IMAP HIGHESTMODSEQ), if it has one. */
  changes: counter('changes').nullable(),
  /** Whatever else the source needs to go on (a delta link), opaque to the platform. */
  state: z.string().max(8192).nullable(),
});

export type SourceCursor = z.infer<typeof sourceCursorSchema>;

export const folderCheckpointSchema = z.strictObject({
  mailbox: z.string().min(1),
  folder: z.string().min(1),
  cursor: sourceCursorSchema,
});

/**
 * A checkpoint as connectors released before source-neutral cursors report it (IMAP only): read
 * into the cursor form, so that their job events are still taken.
 */
const legacyImapCheckpointSchema = z
  .strictObject({
    mailbox: z.string().min(1),
    folder: z.string().min(1),
    uidValidity: z.string().regex(/^\d{1,20}$/, 'uidValidity must be a decimal number'),
    lastUid: z.number().int().nonnegative(),
    highestModSeq: z
      .string()
      .regex(/^\d{1,20}$/, 'highestModSeq must be a decimal number')
      .nullable(),
  })
  .transform(({ mailbox, folder, uidValidity, lastUid, highestModSeq }): z.input<typeof folderCheckpointSchema> => ({
    mailbox,
    folder,
    cursor: {
      source: 'imap',
      version: 1,
      epoch: BigInt(uidValidity).toString(),
      position: String(lastUid),
      changes: highestModSeq === null ? null : BigInt(highestModSeq).toString(),
      state: null,
    },
  }))
  .pipe(folderCheckpointSchema);

/** A checkpoint a connector reports in a job event: the cursor form, or the IMAP form of earlier connectors. */
export const reportedCheckpointSchema = z.union([folderCheckpointSchema, legacyImapCheckpointSchema]);

export type FolderCheckpoint = z.infer<typeof folderCheckpointSchema>;
