import { createHash } from 'node:crypto';
import type { IndexedEvent, StoredRecord } from '@mlr/contracts';
import type { IndexRow } from './index-row.js';

export type RecordStored = IndexedEvent['recordStored'];

/** The end-to-end acknowledgement of one stored sighting. */
export function indexedEventOf(
  stored: StoredRecord,
  row: IndexRow,
  outcome: { recordStored: RecordStored; recordId: string },
): IndexedEvent {
  return {
    tenantId: stored.tenantId,
    jobId: stored.jobId,
    contentId: row.contentId,
    mailbox: stored.record.mailbox,
    folder: stored.record.folder,
    uidValidity: stored.record.sourceKey.uidValidity,
    uid: row.uid,
    objectStored: stored.objectStored,
    recordStored: outcome.recordStored,
    recordId: outcome.recordId,
  };
}

/**
 * Deduplication id of the IndexedEvent: the sighting plus the state its record carries (and the job
 * waiting for it). A redelivered record — whose upsert now answers 'unchanged' — therefore publishes
 * under the same id and the stream keeps one event; another state (flags, keywords, a later
 * observation, another job) is a new event. A record older than what the index holds also answers
 * 'unchanged', under an id of its own: the job that sent it waits for its acknowledgement.
 */
export function indexedEventMsgId(stored: StoredRecord, row: IndexRow): string {
  const state = JSON.stringify([
    row.tenantId,
    row.mailbox,
    row.folder,
    row.uidValidity,
    row.uid,
    row.contentId,
    row.objectId,
    stored.jobId,
    row.seen,
    row.answered,
    row.flagged,
    row.draft,
    row.deleted,
    row.followUp,
    row.keywords,
    row.backupJobId,
    row.observedAt,
  ]);
  return `indexed-${createHash('sha256').update(state).digest('hex')}`;
}
