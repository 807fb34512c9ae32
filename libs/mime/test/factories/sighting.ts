import { createHash } from 'node:crypto';
import type { MessageSighting } from '../../src/index.js';

/** A valid sighting of `raw` in bob's INBOX; override what a test is about. */
export function aSighting(raw: Buffer | string = '', overrides: Partial<MessageSighting> = {}): MessageSighting {
  return {
    tenantId: 'acme',
    mailbox: 'bob@acme.example',
    folder: 'INBOX',
    sourceKey: { source: 'imap', epoch: '1700000000', id: '42' },
    contentId: createHash('sha256').update(raw).digest('hex'),
    internalDate: new Date('2024-03-01T10:00:00Z'),
    flags: ['\\Seen'],
    keywords: [],
    observedAt: new Date('2024-03-02T07:30:00.123Z'),
    backupJobId: 'job-1',
    ...overrides,
  };
}
