import { createHash } from 'node:crypto';
import type { ObjectCommit } from '@mlr/contracts';

/**
 * The `Nats-Msg-Id` of the StoredRecord that storage publishes for one commit message.
 *
 * Built from the sighting (tenant, mailbox, folder, UIDVALIDITY, UID, content id), the job and the
 * commit's stream sequence: a redelivery of the same commit (crash before the ack) yields the same
 * id, so the records stream keeps one copy. A commit the connector sends again (its acknowledgement
 * got lost, or a flag change of the same sighting) is a new message with a new sequence, and must
 * reach indexing again — with an id from the sighting alone it would be dropped as a duplicate
 * within the stream's duplicate window, and the connector would never get its acknowledgement.
 */
export function storedRecordMsgId(commit: ObjectCommit, commitSequence: number): string {
  const { record } = commit;
  const identity = JSON.stringify([
    commit.tenantId,
    record.mailbox,
    record.folder,
    record.sourceKey.uidValidity,
    record.sourceKey.uid,
    commit.contentId,
    commit.jobId,
    commitSequence,
  ]);
  return `stored-${createHash('sha256').update(identity).digest('hex')}`;
}
