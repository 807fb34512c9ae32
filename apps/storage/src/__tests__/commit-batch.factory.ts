import type { IndexRecord, ObjectCommitItem } from '@mlr/contracts';

/** An index record as a connector would build it, for `contentId` seen in `mailbox`. */
export function buildIndexRecord(
  tenantId: string,
  contentId: string,
  sighting: { mailbox?: string; folder?: string; epoch?: string; uid?: number } = {},
): IndexRecord {
  return {
    tenantId,
    mailbox: sighting.mailbox ?? 'alice@example.test',
    folder: sighting.folder ?? 'INBOX',
    sourceKey: { source: 'imap', epoch: sighting.epoch ?? '1700000000', id: String(sighting.uid ?? 1) },
    contentId,
    messageId: `<${contentId.slice(0, 12)}@example.test>`,
    submissionDate: '2026-02-03T10:15:00.000Z',
    internalDate: '2026-02-03T10:15:02.000Z',
    from: { address: 'carol@example.test', name: 'Carol' },
    to: [{ address: sighting.mailbox ?? 'alice@example.test' }],
    cc: [],
    bcc: [],
    subject: 'Quarterly figures',
    attachmentNames: ['figures.xlsx'],
    hasAttachment: true,
    importance: 'normal',
    followUp: false,
    itemType: 'mail',
    form: 'rfc5322',
    kindFields: null,
    flags: { seen: true, answered: false, flagged: false, draft: false, deleted: false },
    keywords: [],
    observedAt: '2026-02-03T11:00:00.000Z',
    size: 4242,
    parseProblems: [],
    backupJobId: null,
  };
}

/** A commit item for `contentId` whose sealed bytes are at `sealed`, seen in `sighting`. */
export function buildCommitItem(
  tenantId: string,
  contentId: string,
  sealed: ObjectCommitItem['sealed'],
  sighting: { mailbox?: string; folder?: string; epoch?: string; uid?: number } = {},
  keyId = '0123456789abcdef',
): ObjectCommitItem {
  return { contentId, keyId, plainSize: 4242, sealed, record: buildIndexRecord(tenantId, contentId, sighting) };
}
