import { z } from 'zod';
import { contentIdSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { FORMS_OF_KIND, ITEM_FORMS, kindFieldsSchema, type ItemForm } from './kind-fields.js';

export * from './kind-fields.js';

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
 * What the index knows about one sighting of an item: an item in one folder of one mailbox.
 * Built by the connector from the item; fields the item does not have are null/empty, and
 * `parseProblems` says what could not be parsed (the bytes are backed up regardless). Items other than
 * mail fill the common fields too (subject: an appointment's summary or a contact's name; message date:
 * a start, due or modification time; from/to: organizer/attendees), so that every search and ordering
 * works across kinds; `kindFields` holds the rest.
 */
export const indexRecordFieldsSchema = z.strictObject({
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
  /** What the stored bytes are (RFC 5322, iCalendar, vCard): what a restore target must accept. */
  form: z.enum(ITEM_FORMS).default('rfc5322'),
  /** The fields of the item's kind (appointment, task, note, contact, phone message); null for others. */
  kindFields: kindFieldsSchema.nullable().default(null),
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

/** Kind, form and kind fields agree: a contact's fields on a contact stored as vCard or RFC 5322. */
export function kindMismatch(record: {
  itemType: ItemType;
  form: ItemForm;
  kindFields: { kind: string } | null;
}): { path: string; message: string } | null {
  const forms: readonly ItemForm[] = FORMS_OF_KIND[record.itemType];
  if (!forms.includes(record.form)) {
    return { path: 'form', message: `an item of kind ${record.itemType} is not stored as ${record.form}` };
  }
  if (record.kindFields !== null && record.kindFields.kind !== record.itemType) {
    return {
      path: 'kindFields',
      message: `fields of kind ${record.kindFields.kind} on an item of kind ${record.itemType}`,
    };
  }
  return null;
}

export const indexRecordSchema = indexRecordFieldsSchema.superRefine((record, ctx) => {
  const mismatch = kindMismatch(record);
  if (mismatch) ctx.addIssue({ code: 'custom', path: [mismatch.path], message: mismatch.message });
});

export type IndexRecord = z.infer<typeof indexRecordSchema>;
export type Importance = (typeof IMPORTANCE)[number];
export type ItemType = (typeof ITEM_TYPES)[number];
