import { createHash } from 'node:crypto';
import type { IndexedBatch, SightingResult, StoredRecord } from '@mlr/contracts';
import type { IndexRow } from './index-row.js';

export type RecordStored = Extract<SightingResult, { outcome: 'stored' }>['recordStored'];

/** The sighting a record names, as results name it. */
export function sightingOf(
  stored: StoredRecord,
): Pick<SightingResult, 'contentId' | 'mailbox' | 'folder' | 'sourceKey'> {
  return {
    contentId: stored.record.contentId,
    mailbox: stored.record.mailbox,
    folder: stored.record.folder,
    sourceKey: stored.record.sourceKey,
  };
}

/** The end-to-end acknowledgement of one stored sighting. */
export function storedResultOf(
  stored: StoredRecord,
  outcome: { recordStored: RecordStored; recordId: string },
): SightingResult {
  return {
    ...sightingOf(stored),
    outcome: 'stored',
    objectStored: stored.objectStored,
    recordStored: outcome.recordStored,
    recordId: outcome.recordId,
  };
}

/**
 * What a result acknowledges, for deduplication: the sighting plus the state its record carries
 * (and the job waiting for it), or the refusal's reason. A redelivered record — whose upsert now
 * answers 'unchanged' — gives the same state, so a redelivered batch publishes under the same id and
 * the stream keeps one acknowledgement; another state (flags, keywords, a later observation, another
 * job) is a new one. A record older than what the index holds also answers 'unchanged', under a
 * state of its own: the job that sent it waits for its acknowledgement.
 */
export function resultState(stored: StoredRecord, row: IndexRow | undefined, result: SightingResult): unknown[] {
  if (result.outcome === 'rejected' || !row) return [stored.jobId, sightingOf(stored), result];
  return [
    row.tenantId,
    row.mailbox,
    row.folder,
    row.sightingSource,
    row.sightingEpoch,
    row.sightingId,
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
  ];
}

/** Deduplication id of the acknowledgement of a whole records batch: the states of its results. */
export function indexedBatchMsgId(batch: IndexedBatch, states: readonly unknown[][]): string {
  const hash = createHash('sha256').update(JSON.stringify([batch.tenantId, batch.jobId]));
  for (const state of states) hash.update(JSON.stringify(state));
  return `indexed-${hash.digest('hex')}`;
}
