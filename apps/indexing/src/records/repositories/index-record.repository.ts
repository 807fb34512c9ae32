import { Prisma, uuidV7, type PrismaClient } from '@mlr/db';
import { roundsOfUniqueSightings, sightingKey, type IndexRow } from '../index-row.js';
import type { RecordStored } from '../indexed-event.js';
import { isTransactionConflict } from './postgres-errors.js';

/** What became of one row of a batch. */
export type SightingOutcome = {
  kind: 'stored';
  recordStored: RecordStored;
  recordId: string;
  /** The content id the index holds for the sighting (differs from the row's only on a reused UID). */
  storedContentId: string;
};

export interface IndexRecordRepository {
  /**
   * Upserts the rows (any tenants) in one transaction, with a reference change (+1) in the outbox
   * for every sighting that is new to the index (-1 for one it supersedes). Returns one outcome per
   * row, in order. Throws when the transaction failed as a whole (nothing was written) — a row
   * naming an object storage does not have fails it with the foreign key's violation (23503).
   */
  upsertBatch(rows: readonly IndexRow[]): Promise<SightingOutcome[]>;
}

interface UpsertResultRow {
  ord: number;
  /** An older reading of a message the index holds under a newer epoch (UIDVALIDITY) of its folder. */
  stale: boolean;
  record_id: string | null;
  inserted: boolean | null;
  stored_content_id: string | null;
}

interface ExistingRow {
  ord: number;
  record_id: string;
  stored_content_id: string;
}

/** The row as the JSON document that `jsonb_to_recordset` reads (keys are the column names). */
function toJsonRow(row: IndexRow, ord: number, id: string): Record<string, unknown> {
  return {
    ord,
    id,
    tenant_id: row.tenantId,
    mailbox: row.mailbox,
    folder: row.folder,
    sighting_source: row.sightingSource,
    sighting_epoch: row.sightingEpoch,
    sighting_id: row.sightingId,
    content_id: row.contentId,
    object_id: row.objectId,
    message_id: row.messageId,
    submission_date: row.submissionDate,
    internal_date: row.internalDate,
    sender: row.sender,
    sender_name: row.senderName,
    to_addresses: row.toAddresses,
    cc_addresses: row.ccAddresses,
    bcc_addresses: row.bccAddresses,
    subject: row.subject,
    attachment_names: row.attachmentNames,
    has_attachment: row.hasAttachment,
    follow_up: row.followUp,
    importance: row.importance,
    item_type: row.itemType,
    form: row.form,
    kind_fields: row.kindFields,
    starts_at: row.startsAt,
    ends_at: row.endsAt,
    due_at: row.dueAt,
    completed_at: row.completedAt,
    task_status: row.taskStatus,
    kind_keys: row.kindKeys,
    kind_text: row.kindText,
    seen: row.seen,
    answered: row.answered,
    flagged: row.flagged,
    draft: row.draft,
    deleted: row.deleted,
    keywords: row.keywords,
    observed_at: row.observedAt,
    size: row.size,
    parse_problems: row.parseProblems,
    backup_job_id: row.backupJobId,
  };
}

/**
 * Every sighting of one message (`alias`'s tenant and content id), whatever its mailbox and folder:
 * the lookups by content id read these and filter them. `OFFSET 0` keeps the planner from pushing
 * the mailbox and folder conditions down, so it always walks the (tenant_id, content_id) index. Left
 * to its estimates it may instead take an index that starts with (tenant_id, mailbox) — on a table
 * whose statistics lag behind a first large backup, that reads every record of the mailbox for every
 * record written, and an ingest of 20,000 messages spent a minute of database CPU doing it.
 */
const BY_CONTENT = (alias: string) =>
  Prisma.raw(`SELECT id, mailbox, folder, sighting_source, sighting_epoch, observed_at, content_id FROM index_records
    WHERE tenant_id = ${alias}.tenant_id AND content_id = ${alias}.content_id OFFSET 0`);

/*
 * One statement per round of unique sightings. The whole round travels as ONE bound jsonb parameter
 * (never values spliced into SQL): the statement text is the same for every batch size, and no batch
 * can run into PostgreSQL's 65,535-parameter limit.
 *
 * - `checked`: which rows are stale. Whether the object exists is the foreign key's to say (indexing
 *   reads none of storage's tables): records reach indexing only from storage, which has just stored
 *   or found the object, and the collector removes nothing of a tenant whose records are on their way.
 * - `upserted`: a conflicting sighting is updated only when a mutable fact differs, so an identical
 *   redelivery writes nothing and is not returned; `xmax = 0` tells a fresh insert from an update.
 *   Rows go in key order so that two transactions with overlapping sightings lock them in one order.
 *   The mutable facts are those of the latest observation (`observed_at`, when the connector read
 *   them): JetStream may deliver a record of an earlier backup after that of a later one, and the
 *   earlier record then writes nothing — not its flags, nor its job id — and answers 'unchanged'
 *   like a redelivery. An equally recent record applies (a redelivery of the same record still
 *   differs in nothing); a later one with the same facts moves `observed_at` on, so that an
 *   observation made between the two and delivered last cannot take over.
 * - `superseded`: after a change of epoch (a new UIDVALIDITY; or another source reading the folder)
 *   the folder is scanned again and its messages come back under new keys; a new sighting replaces
 *   the record of another epoch of the same message in the same folder, so the index keeps one record per sighting. Records of messages not seen again stay
 *   (deleted mail remains restorable). A reading from before the reset that is delivered after the
 *   new sighting (`stale` in `checked`: the index, or the same round, holds the message in that folder
 *   under another epoch, observed later) is not inserted and supersedes nothing.
 * - `referenced`: real inserts add, superseded records remove references to their object — as
 *   changes in indexing's outbox (reference_changes), written in the same statement and thus the
 *   same transaction, so the changes stay exact under redelivery. Storage, which owns the counts,
 *   applies them when the relay brings them (ReferenceRelay).
 */
const UPSERT_ROUND = (rows: string) => Prisma.sql`
WITH input AS (
  SELECT * FROM jsonb_to_recordset(${rows}::jsonb) AS t(
    ord int, id text, tenant_id text, mailbox text, folder text,
    sighting_source text, sighting_epoch text, sighting_id text,
    content_id text, object_id text, message_id text, submission_date timestamptz, internal_date timestamptz,
    sender text, sender_name text, to_addresses text[], cc_addresses text[], bcc_addresses text[],
    subject text, attachment_names text[], has_attachment boolean, follow_up boolean,
    importance "importance", item_type "item_type", form "item_form", kind_fields jsonb,
    starts_at timestamptz, ends_at timestamptz, due_at timestamptz, completed_at timestamptz, task_status text,
    kind_keys text[], kind_text text, seen boolean, answered boolean, flagged boolean,
    draft boolean, deleted boolean, keywords text[], observed_at timestamptz, size bigint, parse_problems text[],
    backup_job_id text)
),
checked AS (
  SELECT i.*,
    EXISTS (
      SELECT 1 FROM (${BY_CONTENT('i')}) o
      WHERE o.mailbox = i.mailbox AND o.folder = i.folder
        AND (o.sighting_source, o.sighting_epoch) <> (i.sighting_source, i.sighting_epoch)
        AND o.observed_at > i.observed_at
    ) OR EXISTS (
      SELECT 1 FROM input j
      WHERE j.tenant_id = i.tenant_id AND j.mailbox = i.mailbox AND j.folder = i.folder
        AND j.content_id = i.content_id AND j.observed_at > i.observed_at
        AND (j.sighting_source, j.sighting_epoch) <> (i.sighting_source, i.sighting_epoch)
    ) AS stale
  FROM input i
),
upserted AS (
  INSERT INTO index_records AS r (
    id, tenant_id, mailbox, folder, sighting_source, sighting_epoch, sighting_id, content_id, object_id,
    message_id, submission_date, internal_date, sender, sender_name, to_addresses, cc_addresses, bcc_addresses,
    subject, attachment_names, has_attachment, follow_up, importance, item_type, form, kind_fields,
    starts_at, ends_at, due_at, completed_at, task_status, kind_keys, kind_text,
    seen, answered, flagged, draft, deleted, keywords, observed_at, size, parse_problems, backup_job_id, updated_at)
  SELECT
    id, tenant_id, mailbox, folder, sighting_source, sighting_epoch, sighting_id, content_id, object_id,
    message_id, submission_date, internal_date, sender, sender_name, to_addresses, cc_addresses, bcc_addresses,
    subject, attachment_names, has_attachment, follow_up, importance, item_type, form, kind_fields,
    starts_at, ends_at, due_at, completed_at, task_status, kind_keys, kind_text,
    seen, answered, flagged, draft, deleted, keywords, observed_at, size, parse_problems, backup_job_id, now()
  FROM checked
  WHERE NOT stale
  ORDER BY tenant_id, mailbox, folder, sighting_source, sighting_epoch, sighting_id
  ON CONFLICT (tenant_id, mailbox, folder, sighting_source, sighting_epoch, sighting_id) DO UPDATE SET
    seen = EXCLUDED.seen,
    answered = EXCLUDED.answered,
    flagged = EXCLUDED.flagged,
    draft = EXCLUDED.draft,
    deleted = EXCLUDED.deleted,
    follow_up = EXCLUDED.follow_up,
    keywords = EXCLUDED.keywords,
    backup_job_id = EXCLUDED.backup_job_id,
    observed_at = EXCLUDED.observed_at,
    updated_at = now()
  WHERE EXCLUDED.observed_at >= r.observed_at
    AND (r.seen, r.answered, r.flagged, r.draft, r.deleted, r.follow_up, r.keywords, r.backup_job_id,
      r.observed_at)
    IS DISTINCT FROM
    (EXCLUDED.seen, EXCLUDED.answered, EXCLUDED.flagged, EXCLUDED.draft, EXCLUDED.deleted,
     EXCLUDED.follow_up, EXCLUDED.keywords, EXCLUDED.backup_job_id, EXCLUDED.observed_at)
  RETURNING r.id, r.tenant_id, r.mailbox, r.folder, r.sighting_source, r.sighting_epoch, r.sighting_id,
    r.object_id, r.content_id,
    (r.xmax = 0) AS inserted
),
superseded AS (
  DELETE FROM index_records o
  WHERE o.id IN (
    SELECT c.id
    FROM (SELECT DISTINCT tenant_id, mailbox, folder, sighting_source, sighting_epoch, content_id
          FROM upserted WHERE inserted) u
    CROSS JOIN LATERAL (${BY_CONTENT('u')}) c
    WHERE c.mailbox = u.mailbox AND c.folder = u.folder
      AND (c.sighting_source, c.sighting_epoch) <> (u.sighting_source, u.sighting_epoch)
  )
  RETURNING o.tenant_id, o.object_id
),
referenced AS (
  INSERT INTO reference_changes (tenant_id, object_id, delta)
  SELECT tenant_id, object_id, sum(n)::int
  FROM (
    SELECT tenant_id, object_id, 1 AS n FROM upserted WHERE inserted
    UNION ALL
    SELECT tenant_id, object_id, -1 AS n FROM superseded
  ) changes
  GROUP BY tenant_id, object_id
  HAVING sum(n) <> 0
)
SELECT c.ord, c.stale, u.id AS record_id, u.inserted, u.content_id AS stored_content_id
FROM checked c
LEFT JOIN upserted u
  ON u.tenant_id = c.tenant_id AND u.mailbox = c.mailbox AND u.folder = c.folder
  AND u.sighting_source = c.sighting_source AND u.sighting_epoch = c.sighting_epoch
  AND u.sighting_id = c.sighting_id
ORDER BY c.ord`;

/**
 * The record that supersedes each stale sighting: the newest of the same message in the same folder
 * under another UIDVALIDITY (read after the upsert, so it sees one inserted by the same round).
 */
const SUPERSEDING_SIGHTINGS = (keys: string) => Prisma.sql`
SELECT DISTINCT ON (k.ord) k.ord, r.id AS record_id, r.content_id AS stored_content_id
FROM jsonb_to_recordset(${keys}::jsonb) AS k(
  ord int, tenant_id text, mailbox text, folder text, sighting_source text, sighting_epoch text, content_id text)
CROSS JOIN LATERAL (${BY_CONTENT('k')}) r
WHERE r.mailbox = k.mailbox AND r.folder = k.folder
  AND (r.sighting_source, r.sighting_epoch) <> (k.sighting_source, k.sighting_epoch)
ORDER BY k.ord, r.observed_at DESC`;

/** Ids of sightings that the upsert left as they were (not returned by it). */
const EXISTING_SIGHTINGS = (keys: string) => Prisma.sql`
SELECT k.ord, r.id AS record_id, r.content_id AS stored_content_id
FROM jsonb_to_recordset(${keys}::jsonb) AS k(
  ord int, tenant_id text, mailbox text, folder text, sighting_source text, sighting_epoch text, sighting_id text)
JOIN index_records r
  ON r.tenant_id = k.tenant_id AND r.mailbox = k.mailbox AND r.folder = k.folder
  AND r.sighting_source = k.sighting_source AND r.sighting_epoch = k.sighting_epoch
  AND r.sighting_id = k.sighting_id`;

export interface PrismaIndexRecordRepositoryOptions {
  /** Attempts of a transaction that lost a deadlock or serialization race. Default 3. */
  conflictAttempts?: number;
  /** Longest a batch transaction may run. Default 30 s. */
  transactionTimeoutMs?: number;
  /** Id of a new record (the schema's ids are UUIDv7; PostgreSQL 15 cannot make them). */
  newId?: () => string;
}

export class PrismaIndexRecordRepository implements IndexRecordRepository {
  private readonly conflictAttempts: number;
  private readonly transactionTimeoutMs: number;
  private readonly newId: () => string;

  constructor(
    private readonly prisma: PrismaClient,
    options: PrismaIndexRecordRepositoryOptions = {},
  ) {
    this.conflictAttempts = options.conflictAttempts ?? 3;
    this.transactionTimeoutMs = options.transactionTimeoutMs ?? 30_000;
    this.newId = options.newId ?? (() => uuidV7());
  }

  async upsertBatch(rows: readonly IndexRow[]): Promise<SightingOutcome[]> {
    if (rows.length === 0) return [];
    // Used only by rows that turn out to be new; a conflicting sighting keeps its id.
    const candidateIds = rows.map(() => this.newId());
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.prisma.$transaction((tx) => this.upsertRounds(tx, rows, candidateIds), {
          timeout: this.transactionTimeoutMs,
          maxWait: this.transactionTimeoutMs,
        });
      } catch (error) {
        if (attempt >= this.conflictAttempts || !isTransactionConflict(error)) throw error;
      }
    }
  }

  private async upsertRounds(
    tx: Prisma.TransactionClient,
    rows: readonly IndexRow[],
    candidateIds: readonly string[],
  ): Promise<SightingOutcome[]> {
    const outcomes = new Array<SightingOutcome | undefined>(rows.length);
    const ordinals = rows.map((_, ord) => ord);
    for (const round of roundsOfUniqueSightings(ordinals, (ord) => sightingKey(rows[ord] as IndexRow))) {
      const document = JSON.stringify(
        round.map((ord) => toJsonRow(rows[ord] as IndexRow, ord, candidateIds[ord] as string)),
      );
      const results = await tx.$queryRaw<UpsertResultRow[]>(UPSERT_ROUND(document));
      const untouched: number[] = [];
      const stale: number[] = [];
      for (const result of results) {
        if (result.stale) stale.push(result.ord);
        else if (result.record_id === null) untouched.push(result.ord);
        else
          outcomes[result.ord] = {
            kind: 'stored',
            recordStored: result.inserted ? 'new' : 'updated',
            recordId: result.record_id,
            storedContentId: result.stored_content_id ?? '',
          };
      }
      // Rows the upsert left as they were answer with their record; a stale reading (from before
      // the folder's UIDVALIDITY changed, delivered after the message was found again) with the newer
      // sighting, which stays. Both are 'unchanged', so that the job that sent them is not left waiting.
      const lookups: Array<[number[], (keys: string) => Prisma.Sql, (row: IndexRow) => object]> = [
        [untouched, EXISTING_SIGHTINGS, (row) => ({ sighting_id: row.sightingId })],
        [stale, SUPERSEDING_SIGHTINGS, (row) => ({ content_id: row.contentId })],
      ];
      for (const [ords, query, keyOf] of lookups) {
        if (ords.length === 0) continue;
        const keys = JSON.stringify(
          ords.map((ord) => {
            const row = rows[ord] as IndexRow;
            const { tenantId, mailbox, folder, sightingSource, sightingEpoch } = row;
            return {
              ord,
              tenant_id: tenantId,
              mailbox,
              folder,
              sighting_source: sightingSource,
              sighting_epoch: sightingEpoch,
              ...keyOf(row),
            };
          }),
        );
        for (const found of await tx.$queryRaw<ExistingRow[]>(query(keys))) {
          outcomes[found.ord] = {
            kind: 'stored',
            recordStored: 'unchanged',
            recordId: found.record_id,
            storedContentId: found.stored_content_id,
          };
        }
      }
    }
    return outcomes.map((outcome, ord) => {
      // Cannot happen short of a concurrent delete; failing the batch retries it rather than guessing.
      if (!outcome) throw new Error(`sighting ${ord} of the batch was neither stored nor found`);
      return outcome;
    });
  }
}
