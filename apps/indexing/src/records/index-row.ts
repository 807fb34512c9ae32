import type { Importance, ItemForm, ItemType, KindFields, StoredRecord } from '@mlr/contracts';
import { Importance as ImportanceColumn, ItemForm as ItemFormColumn, ItemType as ItemTypeColumn } from '@mlr/db';
import { kindColumns, type KindColumns } from './kind-columns.js';

/**
 * Contract value → database enum value. Spelled out (not cast) so that a value added on either side
 * without the other fails to compile instead of failing at insert time.
 */
const IMPORTANCE_COLUMN: Record<Importance, ImportanceColumn> = {
  low: ImportanceColumn.low,
  normal: ImportanceColumn.normal,
  high: ImportanceColumn.high,
};

const ITEM_TYPE_COLUMN: Record<ItemType, ItemTypeColumn> = {
  mail: ItemTypeColumn.mail,
  appointment: ItemTypeColumn.appointment,
  task: ItemTypeColumn.task,
  note: ItemTypeColumn.note,
  contact: ItemTypeColumn.contact,
  notification: ItemTypeColumn.notification,
  phone_message: ItemTypeColumn.phone_message,
  other: ItemTypeColumn.other,
};

const FORM_COLUMN: Record<ItemForm, ItemFormColumn> = {
  rfc5322: ItemFormColumn.rfc5322,
  icalendar: ItemFormColumn.icalendar,
  vcard: ItemFormColumn.vcard,
};

/** A record the index can never store as it is; redelivering it would fail the same way. */
export class UnstorableRecord extends Error {
  override readonly name = 'UnstorableRecord';
}

/** One row of `index_records`, as the ingest path writes it (the facts of one sighting). */
export interface IndexRow extends KindColumns {
  tenantId: string;
  mailbox: string;
  folder: string;
  /** The source's identity of the item (`sightingKeySchema`), compared as given, never read. */
  sightingSource: string;
  sightingEpoch: string;
  sightingId: string;
  contentId: string;
  objectId: string;
  messageId: string | null;
  /** ISO 8601 in UTC, millisecond precision (the column's precision). */
  submissionDate: string | null;
  internalDate: string | null;
  /** Lower case. */
  sender: string | null;
  senderName: string | null;
  /** Lower case. */
  toAddresses: string[];
  ccAddresses: string[];
  bccAddresses: string[];
  subject: string | null;
  attachmentNames: string[];
  hasAttachment: boolean;
  followUp: boolean;
  importance: ImportanceColumn;
  itemType: ItemTypeColumn;
  form: ItemFormColumn;
  /** The kind's fields as the connector sent them (texts cleaned); null for mail. */
  kindFields: KindFields | null;
  seen: boolean;
  answered: boolean;
  flagged: boolean;
  draft: boolean;
  deleted: boolean;
  /** Sorted, without duplicates: IMAP keywords are a set, so their order must not look like a change. */
  keywords: string[];
  /**
   * When the connector read the flags and keywords (ISO 8601 in UTC, millisecond precision): the
   * mutable facts above are replaced only by those of an observation at least as recent.
   */
  observedAt: string;
  size: number;
  parseProblems: string[];
  backupJobId: string | null;
}

// Lone UTF-16 surrogates cannot be encoded as UTF-8, and PostgreSQL text cannot hold U+0000: both
// would make the whole statement fail.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Makes a text storable. Message headers are attacker-controlled bytes; a NUL in a subject must not
 * keep the message out of the index (its bytes are backed up regardless), so the character is
 * replaced and the replacement is recorded as a parse problem.
 */
class TextCleaner {
  readonly problems: string[] = [];
  private readonly noted = new Set<string>();

  text(field: string, value: string): string {
    const cleaned = value.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
    if (cleaned !== value && !this.noted.has(field)) {
      this.noted.add(field);
      this.problems.push(`${field}: characters that cannot be stored (NUL or unpaired surrogate) replaced by U+FFFD`);
    }
    return cleaned;
  }

  nullable(field: string, value: string | null): string | null {
    return value === null ? null : this.text(field, value);
  }

  address(field: string, value: string): string {
    return this.text(field, value).toLowerCase();
  }
}

function utcMillis(field: string, value: string): string;
function utcMillis(field: string, value: string | null): string | null;
function utcMillis(field: string, value: string | null): string | null {
  if (value === null) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new UnstorableRecord(`${field} "${value}" is not a date`);
  return date.toISOString();
}

/** Maps a validated StoredRecord to the row the index stores for its sighting. */
export function toIndexRow(stored: StoredRecord): IndexRow {
  const record = stored.record;
  if (record.tenantId !== stored.tenantId)
    throw new UnstorableRecord(`record of tenant "${record.tenantId}" arrived for tenant "${stored.tenantId}"`);
  const clean = new TextCleaner();
  // Texts of the kind's fields get the same cleaning as the others (JSON cannot hold a lone surrogate
  // either, and PostgreSQL's jsonb refuses \u0000).
  const kindFields =
    record.kindFields === null
      ? null
      : (JSON.parse(JSON.stringify(record.kindFields), (_key, value: unknown) =>
          typeof value === 'string' ? clean.text('kindFields', value) : value,
        ) as KindFields);
  const kind = kindColumns(kindFields);
  const row: IndexRow = {
    tenantId: stored.tenantId,
    mailbox: clean.text('mailbox', record.mailbox),
    folder: clean.text('folder', record.folder),
    sightingSource: record.sourceKey.source,
    sightingEpoch: clean.text('sourceKey.epoch', record.sourceKey.epoch),
    sightingId: clean.text('sourceKey.id', record.sourceKey.id),
    contentId: record.contentId,
    objectId: stored.objectId,
    messageId: clean.nullable('messageId', record.messageId),
    submissionDate: utcMillis('submissionDate', record.submissionDate),
    internalDate: utcMillis('internalDate', record.internalDate),
    sender: record.from === null ? null : clean.address('from', record.from.address),
    senderName: clean.nullable('from name', record.from?.name ?? null),
    toAddresses: record.to.map((a) => clean.address('to', a.address)),
    ccAddresses: record.cc.map((a) => clean.address('cc', a.address)),
    bccAddresses: record.bcc.map((a) => clean.address('bcc', a.address)),
    subject: clean.nullable('subject', record.subject),
    attachmentNames: record.attachmentNames.map((name) => clean.text('attachmentNames', name)),
    hasAttachment: record.hasAttachment,
    followUp: record.followUp,
    importance: IMPORTANCE_COLUMN[record.importance],
    itemType: ITEM_TYPE_COLUMN[record.itemType],
    form: FORM_COLUMN[record.form],
    kindFields,
    startsAt: kind.startsAt,
    endsAt: kind.endsAt,
    dueAt: kind.dueAt,
    completedAt: kind.completedAt,
    taskStatus: kind.taskStatus,
    kindKeys: kind.kindKeys,
    kindText: kind.kindText,
    seen: record.flags.seen,
    answered: record.flags.answered,
    flagged: record.flags.flagged,
    draft: record.flags.draft,
    deleted: record.flags.deleted,
    keywords: [...new Set(record.keywords.map((k) => clean.text('keywords', k)))].sort(),
    observedAt: utcMillis('observedAt', record.observedAt),
    size: record.size,
    parseProblems: [],
    backupJobId: record.backupJobId,
  };
  row.parseProblems = [...record.parseProblems.map((p) => clean.text('parseProblems', p)), ...clean.problems];
  return row;
}

/** The sighting a row describes: the table's unique key. */
export function sightingKey(
  row: Pick<IndexRow, 'tenantId' | 'mailbox' | 'folder' | 'sightingSource' | 'sightingEpoch' | 'sightingId'>,
): string {
  // Cleaned texts hold no NUL, so it separates the parts unambiguously.
  return [row.tenantId, row.mailbox, row.folder, row.sightingSource, row.sightingEpoch, row.sightingId].join('\u0000');
}

/**
 * Splits rows into rounds whose sighting keys are unique, keeping arrival order: one
 * `INSERT ... ON CONFLICT DO UPDATE` may not touch the same row twice, and a later delivery of a
 * sighting must be applied after the earlier one.
 */
export function roundsOfUniqueSightings<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const rounds: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const key = keyOf(item);
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    (rounds[round] ??= []).push(item);
  }
  return rounds;
}
