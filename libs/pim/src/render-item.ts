import { kindFieldsSchema, type ItemForm, type KindFields } from '@mlr/contracts';
import { cut, extractMessageFacts, type MailAddress, type MessageFacts } from '@mlr/mime';
import { sortedAttendees } from './icalendar-writer.js';
import { writeAppointment, writeNote, writeTask } from './icalendar-writer.js';
import { writeNotification, writePhoneMessage } from './message-writer.js';
import {
  structuredItemSchema,
  type AppointmentItem,
  type ContactItem,
  type PhoneMessageItem,
  type StructuredItem,
  type TaskItem,
} from './structured-item.js';
import { writeContact } from './vcard-writer.js';

/** An item that cannot be written: which field and why (the item fails; nothing is stored). */
export class InvalidItemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidItemError';
  }
}

/** A structured item in its canonical form, with what the index records of it. */
export interface RenderedItem {
  raw: Buffer;
  form: ItemForm;
  facts: MessageFacts;
}

function cutOrNull(value: string | null, max: number): string | null {
  return value === null || value === '' ? null : cut(value, max);
}

function person(p: { address: string; name?: string | undefined }): MailAddress {
  return p.name ? { address: p.address.toLowerCase(), name: p.name } : { address: p.address.toLowerCase() };
}

const LIST = 500;

function appointmentFields(item: AppointmentItem): KindFields {
  return {
    kind: 'appointment',
    uid: cut(item.uid, 1024),
    start: item.allDay ? `${item.start.slice(0, 10)}T00:00:00.000Z` : new Date(item.start).toISOString(),
    end:
      item.end === null
        ? null
        : item.allDay
          ? `${item.end.slice(0, 10)}T00:00:00.000Z`
          : new Date(item.end).toISOString(),
    allDay: item.allDay,
    timeZone: item.timeZone,
    location: cutOrNull(item.location, 2048),
    organizer: item.organizer
      ? { ...person(item.organizer), ...(item.organizer.name ? { name: cut(item.organizer.name, 998) } : {}) }
      : null,
    attendees: sortedAttendees(item.attendees)
      .slice(0, LIST)
      .map((a) => ({
        address: a.address.toLowerCase(),
        ...(a.name ? { name: cut(a.name, 998) } : {}),
        role: a.role,
        status: a.status,
      })),
    recurrence: item.recurrence?.rule ?? null,
    status: item.status,
  };
}

function taskFields(item: TaskItem): KindFields {
  const iso = (value: string | null) => (value === null ? null : new Date(value).toISOString());
  return {
    kind: 'task',
    uid: cut(item.uid, 1024),
    start: iso(item.start),
    due: iso(item.due),
    completedAt: iso(item.completedAt),
    status: item.status,
    percentComplete: item.percentComplete,
    recurrence: item.recurrence?.rule ?? null,
  };
}

function contactFields(item: ContactItem): KindFields {
  const typed = (list: ContactItem['emails'], max: number) =>
    list.slice(0, LIST).map((e) => ({ value: cut(e.value, max), ...(e.type ? { type: e.type.toLowerCase() } : {}) }));
  return {
    kind: 'contact',
    uid: cut(item.uid, 1024),
    displayName: cut(item.displayName, 998),
    givenName: cutOrNull(item.givenName, 998),
    familyName: cutOrNull(item.familyName, 998),
    organization: cutOrNull(item.organization, 998),
    jobTitle: cutOrNull(item.jobTitle, 998),
    emails: typed(item.emails, 998),
    phones: typed(item.phones, 128),
    addresses: item.addresses.slice(0, LIST).map((a) => ({
      ...(a.type ? { type: a.type.toLowerCase() } : {}),
      street: cut(a.street, 1024),
      locality: cut(a.locality, 256),
      region: cut(a.region, 256),
      postalCode: cut(a.postalCode, 64),
      country: cut(a.country, 256),
    })),
    birthday: item.birthday,
    isGroup: item.isGroup,
    members: [...new Set(item.members.map((m) => m.toLowerCase()))].sort().slice(0, LIST),
  };
}

function phoneFields(item: PhoneMessageItem): KindFields {
  return {
    kind: 'phone_message',
    caller: cutOrNull(item.caller, 998),
    company: cutOrNull(item.company, 998),
    number: cutOrNull(item.number, 128),
    callback: item.callback,
    willCallAgain: item.willCallAgain,
    returnedCall: item.returnedCall,
    urgent: item.urgent,
    durationSeconds: item.durationSeconds,
  };
}

/** Facts of an item stored as iCalendar or vCard: the common fields filled from the item's own. */
function pimFacts(
  item: StructuredItem,
  raw: Buffer,
  fields: {
    subject: string;
    date: string | null;
    from: MailAddress | null;
    to: MailAddress[];
    importance?: MessageFacts['importance'];
  },
): MessageFacts {
  return {
    messageId: null,
    submissionDate: fields.date === null ? null : new Date(fields.date).toISOString(),
    from: fields.from,
    to: fields.to.slice(0, 1000),
    cc: [],
    bcc: [],
    subject: fields.subject,
    attachmentNames: [],
    hasAttachment: false,
    importance: fields.importance ?? 'normal',
    followUp: null,
    itemType: item.kind,
    form: item.kind === 'contact' ? 'vcard' : 'icalendar',
    kindFields: null,
    size: raw.length,
    lineEnding: 'crlf',
    parseProblems: [],
  };
}

function render(item: StructuredItem): RenderedItem {
  switch (item.kind) {
    case 'appointment': {
      const raw = writeAppointment(item);
      const facts = pimFacts(item, raw, {
        subject: item.summary,
        date: item.start,
        from: item.organizer ? person(item.organizer) : null,
        to: sortedAttendees(item.attendees).map(person),
        importance: item.importance,
      });
      return { raw, form: 'icalendar', facts: { ...facts, kindFields: appointmentFields(item) } };
    }
    case 'task': {
      const raw = writeTask(item);
      const facts = pimFacts(item, raw, {
        subject: item.summary,
        date: item.due ?? item.start ?? item.modifiedAt,
        from: null,
        to: [],
        importance: item.importance,
      });
      return { raw, form: 'icalendar', facts: { ...facts, kindFields: taskFields(item) } };
    }
    case 'note': {
      const raw = writeNote(item);
      const facts = pimFacts(item, raw, {
        subject: item.summary,
        date: item.createdAt ?? item.modifiedAt,
        from: null,
        to: [],
      });
      return {
        raw,
        form: 'icalendar',
        facts: {
          ...facts,
          kindFields: { kind: 'note', uid: cut(item.uid, 1024), modifiedAt: new Date(item.modifiedAt).toISOString() },
        },
      };
    }
    case 'contact': {
      const raw = writeContact(item);
      const facts = pimFacts(item, raw, {
        subject: item.displayName,
        date: item.modifiedAt,
        from: null,
        to: item.isGroup
          ? [...new Set(item.members.map((m) => m.toLowerCase()))].sort().map((address) => ({ address }))
          : [],
      });
      return { raw, form: 'vcard', facts: { ...facts, kindFields: contactFields(item) } };
    }
    case 'phone_message': {
      const raw = writePhoneMessage(item);
      return {
        raw,
        form: 'rfc5322',
        facts: { ...extractMessageFacts(raw), itemType: 'phone_message', kindFields: phoneFields(item) },
      };
    }
    case 'notification': {
      const raw = writeNotification(item);
      return {
        raw,
        form: 'rfc5322',
        facts: { ...extractMessageFacts(raw), itemType: 'notification', kindFields: null },
      };
    }
  }
}

/** Most bytes of an item's kind fields as JSON: they travel in the index record of every commit. */
export const KIND_FIELDS_MAX_BYTES = 64 * 1024;

/**
 * The kind fields within KIND_FIELDS_MAX_BYTES: the longest list is halved until they fit (a list of
 * thousands of attendees keeps its first ones), noted as a problem of the item. The bytes stored are
 * whole regardless.
 */
function boundedFields(fields: KindFields, problems: string[]): KindFields {
  let bounded = fields;
  const size = () => Buffer.byteLength(JSON.stringify(bounded));
  while (size() > KIND_FIELDS_MAX_BYTES) {
    const lists = Object.entries(bounded).filter(
      (entry): entry is [string, unknown[]] => Array.isArray(entry[1]) && entry[1].length > 0,
    );
    const longest = lists.sort((a, b) => b[1].length - a[1].length)[0];
    if (!longest) break;
    const [name, list] = longest;
    bounded = { ...bounded, [name]: list.slice(0, Math.floor(list.length / 2)) } as KindFields;
    problems.push(
      `index fields: ${name} cut to ${Math.floor(list.length / 2)} of ${list.length} entries (the item is stored whole)`,
    );
  }
  return bounded;
}

/**
 * Validates a source's structured item and writes its canonical form: iCalendar for appointments,
 * tasks and notes, vCard for contacts, RFC 5322 for phone messages and notifications. A pure function
 * of the item: the same item gives the same bytes (and so the same content id) on every run.
 */
export function renderStructuredItem(input: unknown): RenderedItem {
  const parsed = structuredItemSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidItemError(
      `the source's item cannot be written: ${issue?.path.join('.') || 'item'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const item = parsed.data;
  for (const [field, later, earlier] of [
    ['end', item.kind === 'appointment' ? item.end : null, item.kind === 'appointment' ? item.start : null],
    ['due', item.kind === 'task' ? item.due : null, item.kind === 'task' ? item.start : null],
  ] as const) {
    if (later !== null && earlier !== null && Date.parse(later) < Date.parse(earlier)) {
      throw new InvalidItemError(`the source's item cannot be written: ${field}: is before start`);
    }
  }
  if (
    item.kind === 'appointment' &&
    item.allDay &&
    item.end !== null &&
    item.end.slice(0, 10) <= item.start.slice(0, 10)
  ) {
    throw new InvalidItemError(
      `the source's item cannot be written: end: an all-day event ends on a later day than it starts`,
    );
  }
  const rendered = render(item);
  const fields =
    rendered.facts.kindFields === null ? null : boundedFields(rendered.facts.kindFields, rendered.facts.parseProblems);
  rendered.facts.kindFields = fields;
  if (fields !== null) {
    const checked = kindFieldsSchema.safeParse(fields);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new InvalidItemError(
        `the item's index fields are invalid: ${issue?.path.join('.') || 'fields'}: ${issue?.message ?? 'invalid'}`,
      );
    }
  }
  return rendered;
}
