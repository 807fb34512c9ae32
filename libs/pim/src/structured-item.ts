import {
  APPOINTMENT_STATUSES,
  ATTENDEE_ROLES,
  ATTENDEE_STATUSES,
  boundedDateSchema as isoDateSchema,
  calendarDateSchema,
  IMPORTANCE,
  TASK_STATUSES,
} from '@mlr/contracts';
import { z } from 'zod';

/*
 * Items that are not mail as a source knows them (an Outlook appointment, a GroupWise phone message, a
 * contact): the fields the core writes their canonical form from. An adapter that has the canonical
 * bytes themselves (an .ics file, a mail) hands those over instead. Validated before writing: a source
 * that gives an impossible item gets a clear error for that item, never a half-written file.
 */

const text = z.string().max(1_000_000);
const line = z.string().max(8192);
const address = z.string().min(1).max(998);
const uid = z.string().min(1, 'must not be empty').max(1024);

/** An IANA zone this runtime knows (a zone it cannot convert into would make the item unwritable). */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const personSchema = z.strictObject({ address, name: line.optional() });

const itemBase = {
  /** The source's stable identity of the item (iCalendar/vCard UID; the Message-ID of a mail-like item). */
  uid,
  /** When the item was last changed at the source: written as DTSTAMP / REV (never "now"). */
  modifiedAt: isoDateSchema,
  createdAt: isoDateSchema.nullable().default(null),
  categories: z.array(line.min(1)).max(500).default([]),
};

/** A repetition: the RRULE value (RFC 5545 §3.3.10) and the start times of the occurrences left out. */
export const recurrenceSchema = z.strictObject({
  rule: z
    .string()
    .min(1)
    .max(1024)
    .regex(
      /^[A-Z-]+=[A-Za-z0-9,+-]+(;[A-Z-]+=[A-Za-z0-9,+-]+)*$/,
      'must be an RRULE value such as FREQ=WEEKLY;BYDAY=MO',
    )
    .refine((rule) => /(^|;)FREQ=[A-Z]+(;|$)/.test(rule), 'must name FREQ'),
  exceptions: z.array(isoDateSchema).max(5000).default([]),
});

export const appointmentItemSchema = z.strictObject({
  kind: z.literal('appointment'),
  ...itemBase,
  summary: line,
  description: text.default(''),
  location: line.nullable().default(null),
  start: isoDateSchema,
  end: isoDateSchema.nullable().default(null),
  /** An all-day event: `start` and `end` are read as dates (the first day, the day after the last). */
  allDay: z.boolean().default(false),
  /** The IANA zone the event was planned in; a repeating event keeps its wall-clock time in it. */
  timeZone: z
    .string()
    .min(1)
    .max(64)
    .refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin')
    .nullable()
    .default(null),
  organizer: personSchema.nullable().default(null),
  attendees: z
    .array(
      z.strictObject({
        address,
        name: line.optional(),
        role: z.enum(ATTENDEE_ROLES).default('required'),
        status: z.enum(ATTENDEE_STATUSES).default('needs-action'),
      }),
    )
    .max(5000)
    .default([]),
  recurrence: recurrenceSchema.nullable().default(null),
  status: z.enum(APPOINTMENT_STATUSES).nullable().default(null),
  /** Free/busy: false for an event that does not block time. */
  busy: z.boolean().default(true),
  importance: z.enum(IMPORTANCE).default('normal'),
});

export const taskItemSchema = z.strictObject({
  kind: z.literal('task'),
  ...itemBase,
  summary: line,
  description: text.default(''),
  start: isoDateSchema.nullable().default(null),
  due: isoDateSchema.nullable().default(null),
  completedAt: isoDateSchema.nullable().default(null),
  status: z.enum(TASK_STATUSES).default('needs-action'),
  percentComplete: z.number().int().min(0).max(100).nullable().default(null),
  recurrence: recurrenceSchema.nullable().default(null),
  importance: z.enum(IMPORTANCE).default('normal'),
});

export const noteItemSchema = z.strictObject({
  kind: z.literal('note'),
  ...itemBase,
  summary: line,
  description: text.default(''),
});

const typedValue = (max: number) =>
  z.strictObject({
    value: z.string().min(1).max(max),
    type: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9-]+$/, 'must be a word such as work or home')
      .optional(),
  });

export const contactItemSchema = z.strictObject({
  kind: z.literal('contact'),
  ...itemBase,
  displayName: line.min(1, 'must not be empty'),
  givenName: line.nullable().default(null),
  familyName: line.nullable().default(null),
  additionalNames: line.nullable().default(null),
  prefix: line.nullable().default(null),
  suffix: line.nullable().default(null),
  organization: line.nullable().default(null),
  jobTitle: line.nullable().default(null),
  emails: z.array(typedValue(998)).max(500).default([]),
  phones: z.array(typedValue(128)).max(500).default([]),
  addresses: z
    .array(
      z.strictObject({
        type: z
          .string()
          .min(1)
          .max(64)
          .regex(/^[A-Za-z0-9-]+$/)
          .optional(),
        street: line.default(''),
        locality: line.default(''),
        region: line.default(''),
        postalCode: line.default(''),
        country: line.default(''),
      }),
    )
    .max(500)
    .default([]),
  birthday: calendarDateSchema.nullable().default(null),
  note: text.default(''),
  /** A distribution list: `members` are its addresses. */
  isGroup: z.boolean().default(false),
  members: z.array(address).max(5000).default([]),
});

/** A message a receptionist took for someone (GroupWise, Outlook "While You Were Out"). */
export const phoneMessageItemSchema = z.strictObject({
  kind: z.literal('phone_message'),
  ...itemBase,
  /** Whom the message is for (the mailbox owner) and who took it. */
  to: personSchema,
  takenBy: personSchema.nullable().default(null),
  receivedAt: isoDateSchema,
  caller: line.nullable().default(null),
  company: line.nullable().default(null),
  number: z.string().max(128).nullable().default(null),
  message: text.default(''),
  callback: z.boolean().default(false),
  willCallAgain: z.boolean().default(false),
  returnedCall: z.boolean().default(false),
  urgent: z.boolean().default(false),
  durationSeconds: z.number().int().nonnegative().nullable().default(null),
});

/** A system notice (delivery report, reminder, alarm) a source holds as an item of its own. */
export const notificationItemSchema = z.strictObject({
  kind: z.literal('notification'),
  ...itemBase,
  from: personSchema,
  to: personSchema,
  sentAt: isoDateSchema,
  subject: line,
  message: text.default(''),
});

export const structuredItemSchema = z.discriminatedUnion('kind', [
  appointmentItemSchema,
  taskItemSchema,
  noteItemSchema,
  contactItemSchema,
  phoneMessageItemSchema,
  notificationItemSchema,
]);

export type StructuredItem = z.infer<typeof structuredItemSchema>;
export type StructuredItemInput = z.input<typeof structuredItemSchema>;
export type AppointmentItem = z.infer<typeof appointmentItemSchema>;
export type TaskItem = z.infer<typeof taskItemSchema>;
export type NoteItem = z.infer<typeof noteItemSchema>;
export type ContactItem = z.infer<typeof contactItemSchema>;
export type PhoneMessageItem = z.infer<typeof phoneMessageItemSchema>;
export type NotificationItem = z.infer<typeof notificationItemSchema>;
