import { z } from 'zod';
import { contentIdSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';

export const IMPORTANCE = ['low', 'normal', 'high'] as const;
export const ITEM_TYPES = [
  'mail',
  'appointment',
  'task',
  'note',
  'contact',
  'notification',
  'phone_message',
  'other',
] as const;

export const mailAddressSchema = z.strictObject({
  address: z.string().max(998),
  name: z.string().max(998).optional(),
});

/**
 * The source's own identity of one item in one container: what makes a sighting one. `source` is the
 * adapter ('imap', ...); `epoch` changes when the source renumbers the container (IMAP UIDVALIDITY),
 * and a sighting under a newer epoch replaces the older one of the same message in that container;
 * `id` names the item within the epoch (IMAP: the UID, decimal). The platform compares them, never
 * reads them.
 */
export const sightingKeySchema = z.strictObject({
  source: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'source must be a short lower-case name'),
  epoch: z.string().min(1).max(256),
  id: z.string().min(1).max(512),
});

export type SightingKey = z.infer<typeof sightingKeySchema>;

/** How messages and logs name an item by its sighting key ("UID 27" for IMAP). */
export function sightingLabel(key: SightingKey): string {
  return key.source === 'imap' ? `UID ${key.id}` : `${key.source} item ${key.id}`;
}

/**
 * What the index knows about one sighting of a message: a message in one folder of one mailbox.
 * Built by the connector from the raw bytes; fields the message does not have are null/empty, and
 * `parseProblems` says what could not be parsed (the bytes are backed up regardless).
 */
export const indexRecordSchema = z.strictObject({
  tenantId: tenantIdSchema,
  mailbox: z.string().min(1).max(320),
  folder: z.string().min(1).max(1024),
  /** The source's identity of the item (IMAP: UIDVALIDITY + UID): one record per sighting. */
  sourceKey: sightingKeySchema,
  contentId: contentIdSchema,
  messageId: z.string().max(998).nullable(),
  submissionDate: isoDateSchema.nullable(),
  internalDate: isoDateSchema.nullable(),
  from: mailAddressSchema.nullable(),
  to: z.array(mailAddressSchema),
  cc: z.array(mailAddressSchema),
  bcc: z.array(mailAddressSchema),
  subject: z.string().max(8192).nullable(),
  attachmentNames: z.array(z.string().max(1024)),
  hasAttachment: z.boolean(),
  importance: z.enum(IMPORTANCE),
  /** A follow-up request: Outlook's X-Message-Flag / Flag header, or the IMAP \Flagged mark. */
  followUp: z.boolean(),
  itemType: z.enum(ITEM_TYPES),
  flags: z.strictObject({
    seen: z.boolean(),
    answered: z.boolean(),
    flagged: z.boolean(),
    draft: z.boolean(),
    deleted: z.boolean(),
  }),
  keywords: z.array(z.string().min(1).max(256)),
  /**
   * When the connector read this sighting's flags and keywords from the mail server. JetStream may
   * deliver an older record of a sighting after a newer one; the index keeps the facts of the latest
   * observation, so a late older record changes nothing.
   */
  observedAt: isoDateSchema,
  size: z.number().int().nonnegative(),
  parseProblems: z.array(z.string().max(2048)),
  backupJobId: jobIdSchema.nullable(),
});

export type IndexRecord = z.infer<typeof indexRecordSchema>;
export type Importance = (typeof IMPORTANCE)[number];
export type ItemType = (typeof ITEM_TYPES)[number];
