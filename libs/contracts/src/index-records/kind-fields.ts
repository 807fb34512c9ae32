import { z } from 'zod';
import { isoDateSchema } from '../common/ids.js';

/*
 * Item kinds made real (issue 15): what the stored bytes are (`form`) and what the index knows of an
 * item beyond the fields every item has (`kindFields`). Kind and form are separate: an Exchange
 * invitation e-mail is an appointment stored as RFC 5322; a contact is stored as vCard.
 */

/**
 * The canonical stored forms: RFC 5322 (mail, notifications, phone messages: mail-like items),
 * iCalendar (RFC 5545: appointments, tasks, notes) and vCard 4.0 (RFC 6350: contacts).
 */
export const ITEM_FORMS = ['rfc5322', 'icalendar', 'vcard'] as const;
export type ItemForm = (typeof ITEM_FORMS)[number];

/** The file extension and media type an export gives each form. */
export const ITEM_FORM_FILES: Record<ItemForm, { extension: string; mediaType: string }> = {
  rfc5322: { extension: 'eml', mediaType: 'message/rfc822' },
  icalendar: { extension: 'ics', mediaType: 'text/calendar' },
  vcard: { extension: 'vcf', mediaType: 'text/vcard' },
};

const text = (max: number) => z.string().max(max);
const address = z.string().min(1).max(998);

/**
 * An instant of an item of a kind (a start, a due time): an ISO 8601 date-time in the years 1 to 9999,
 * which iCalendar's and vCard's date forms and PostgreSQL's timestamptz all hold.
 */
export const boundedDateSchema = isoDateSchema.refine((value) => {
  const year = new Date(value).getUTCFullYear();
  return year >= 1 && year <= 9999;
}, 'must be a date-time in the years 1 to 9999 (in UTC)');

/** A calendar date (all-day events, birthdays): YYYY-MM-DD, a day that exists. */
export const calendarDateSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((value) => {
    const date = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value && value >= '0001';
  }, 'must be a day that exists (YYYY-MM-DD)');

export const ATTENDEE_ROLES = ['chair', 'required', 'optional', 'non-participant'] as const;
export const ATTENDEE_STATUSES = ['needs-action', 'accepted', 'declined', 'tentative', 'delegated'] as const;
export const APPOINTMENT_STATUSES = ['tentative', 'confirmed', 'cancelled'] as const;
export const TASK_STATUSES = ['needs-action', 'in-process', 'completed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

const participantSchema = z.strictObject({ address, name: text(998).optional() });

export const attendeeSchema = z.strictObject({
  address,
  name: text(998).optional(),
  role: z.enum(ATTENDEE_ROLES),
  status: z.enum(ATTENDEE_STATUSES),
});

/** Limits of list fields: an item with more entries is indexed with the first ones. */
export const KIND_LIST_MAX = 500;

export const appointmentFieldsSchema = z.strictObject({
  kind: z.literal('appointment'),
  /** The iCalendar UID: the same event in every calendar and every invitation. */
  uid: text(1024),
  /** Start and end as instants; an all-day event starts at 00:00 UTC of its first day. */
  start: boundedDateSchema,
  end: boundedDateSchema.nullable(),
  allDay: z.boolean(),
  /** The IANA time zone the event was planned in (recurring events keep their wall-clock time in it). */
  timeZone: text(64).nullable(),
  location: text(2048).nullable(),
  organizer: participantSchema.nullable(),
  attendees: z.array(attendeeSchema).max(KIND_LIST_MAX),
  /** The recurrence rule (RFC 5545 RRULE value), null for a single event. */
  recurrence: text(1024).nullable(),
  status: z.enum(APPOINTMENT_STATUSES).nullable(),
});

export const taskFieldsSchema = z.strictObject({
  kind: z.literal('task'),
  uid: text(1024),
  start: boundedDateSchema.nullable(),
  due: boundedDateSchema.nullable(),
  completedAt: boundedDateSchema.nullable(),
  status: z.enum(TASK_STATUSES),
  percentComplete: z.number().int().min(0).max(100).nullable(),
  recurrence: text(1024).nullable(),
});

export const noteFieldsSchema = z.strictObject({
  kind: z.literal('note'),
  uid: text(1024),
  modifiedAt: boundedDateSchema.nullable(),
});

const typedValue = (max: number) => z.strictObject({ value: z.string().min(1).max(max), type: text(64).optional() });

export const postalAddressSchema = z.strictObject({
  type: text(64).optional(),
  street: text(1024),
  locality: text(256),
  region: text(256),
  postalCode: text(64),
  country: text(256),
});

export const contactFieldsSchema = z.strictObject({
  kind: z.literal('contact'),
  uid: text(1024),
  displayName: text(998),
  givenName: text(998).nullable(),
  familyName: text(998).nullable(),
  organization: text(998).nullable(),
  jobTitle: text(998).nullable(),
  emails: z.array(typedValue(998)).max(KIND_LIST_MAX),
  phones: z.array(typedValue(128)).max(KIND_LIST_MAX),
  addresses: z.array(postalAddressSchema).max(KIND_LIST_MAX),
  birthday: calendarDateSchema.nullable(),
  /** A distribution list (vCard KIND:group): `members` are its addresses. */
  isGroup: z.boolean(),
  members: z.array(address).max(KIND_LIST_MAX),
});

export const phoneMessageFieldsSchema = z.strictObject({
  kind: z.literal('phone_message'),
  caller: text(998).nullable(),
  company: text(998).nullable(),
  number: text(128).nullable(),
  /** "Please call back", "Will call again", "Returned your call", "Urgent": the marks a receptionist sets. */
  callback: z.boolean(),
  willCallAgain: z.boolean(),
  returnedCall: z.boolean(),
  urgent: z.boolean(),
  durationSeconds: z.number().int().nonnegative().nullable(),
});

/** What the index knows of an item beyond the common fields, by kind (null for mail and others). */
export const kindFieldsSchema = z.discriminatedUnion('kind', [
  appointmentFieldsSchema,
  taskFieldsSchema,
  noteFieldsSchema,
  contactFieldsSchema,
  phoneMessageFieldsSchema,
]);

export type KindFields = z.infer<typeof kindFieldsSchema>;
export type AppointmentFields = z.infer<typeof appointmentFieldsSchema>;
export type TaskFields = z.infer<typeof taskFieldsSchema>;
export type NoteFields = z.infer<typeof noteFieldsSchema>;
export type ContactFields = z.infer<typeof contactFieldsSchema>;
export type PhoneMessageFields = z.infer<typeof phoneMessageFieldsSchema>;
export type Attendee = z.infer<typeof attendeeSchema>;
export type PostalAddress = z.infer<typeof postalAddressSchema>;

/** The forms an item of each kind may be stored in (a mail-like item is always RFC 5322). */
export const FORMS_OF_KIND = {
  mail: ['rfc5322'],
  notification: ['rfc5322'],
  phone_message: ['rfc5322'],
  other: ['rfc5322'],
  appointment: ['rfc5322', 'icalendar'],
  task: ['rfc5322', 'icalendar'],
  note: ['rfc5322', 'icalendar'],
  contact: ['rfc5322', 'vcard'],
} as const satisfies Record<string, readonly ItemForm[]>;
