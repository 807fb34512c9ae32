import type { Importance } from '@mlr/contracts';
import {
  basicDate,
  byCodeUnits,
  clean,
  escapeText,
  serialise,
  utcDateTime,
  zonedDateTime,
  type ContentLine,
} from './content-lines.js';
import type { AppointmentItem, NoteItem, TaskItem } from './structured-item.js';

/** Names the writer and its version: a change of the bytes it writes is a new version. */
export const CANONICAL_PRODID = '-//MLR//canonical 1//EN';

const ROLE = {
  chair: 'CHAIR',
  required: 'REQ-PARTICIPANT',
  optional: 'OPT-PARTICIPANT',
  'non-participant': 'NON-PARTICIPANT',
} as const;

const PRIORITY: Record<Importance, string | null> = { high: '1', normal: null, low: '9' };

/** The attendees in the order they are written (and indexed): by address, then name. */
export function sortedAttendees<T extends { address: string; name?: string | undefined }>(list: readonly T[]): T[] {
  // Ties broken on every field, so that no order of the source's list shows through.
  return [...list].sort(
    (a, b) =>
      byCodeUnits(a.address.toLowerCase(), b.address.toLowerCase()) ||
      byCodeUnits(a.address, b.address) ||
      byCodeUnits(a.name ?? '', b.name ?? '') ||
      byCodeUnits(JSON.stringify(a), JSON.stringify(b)),
  );
}

/** Categories as written: trimmed, without repeats (ignoring case), in code-unit order. */
export function sortedCategories(categories: readonly string[]): string[] {
  // Of two spellings of one category (Work, work) the smaller in code-unit order is kept, whatever
  // the source's order.
  const seen = new Map<string, string>();
  for (const raw of categories) {
    const category = clean(raw).trim();
    const known = seen.get(category.toLowerCase());
    if (category && (known === undefined || byCodeUnits(category, known) < 0))
      seen.set(category.toLowerCase(), category);
  }
  return [...seen.values()].sort(byCodeUnits);
}

function mailto(address: string): string {
  return `mailto:${clean(address).replace(/\s/g, '')}`;
}

/** A date-time property: UTC, a wall-clock time in `timeZone`, or a date for all-day items. */
function timeLine(name: string, iso: string, how: { allDay?: boolean; timeZone?: string | null }): ContentLine {
  const date = new Date(iso);
  if (how.allDay) return { name, params: { VALUE: 'DATE' }, value: basicDate(iso.slice(0, 10)) };
  if (how.timeZone) return { name, params: { TZID: how.timeZone }, value: zonedDateTime(date, how.timeZone) };
  return { name, value: utcDateTime(date) };
}

function common(item: { uid: string; modifiedAt: string; createdAt: string | null }): ContentLine[] {
  const lines: ContentLine[] = [
    { name: 'UID', value: escapeText(item.uid) },
    { name: 'DTSTAMP', value: utcDateTime(new Date(item.modifiedAt)) },
  ];
  if (item.createdAt) lines.push({ name: 'CREATED', value: utcDateTime(new Date(item.createdAt)) });
  lines.push({ name: 'LAST-MODIFIED', value: utcDateTime(new Date(item.modifiedAt)) });
  return lines;
}

function trailing(item: { categories: readonly string[]; importance?: Importance }): ContentLine[] {
  const lines: ContentLine[] = [];
  const priority = item.importance ? PRIORITY[item.importance] : null;
  if (priority) lines.push({ name: 'PRIORITY', value: priority });
  const categories = sortedCategories(item.categories);
  if (categories.length > 0) lines.push({ name: 'CATEGORIES', value: categories.map(escapeText).join(',') });
  return lines;
}

function text(name: string, value: string | null): ContentLine[] {
  return value ? [{ name, value: escapeText(value) }] : [];
}

function wrap(component: string, lines: ContentLine[]): Buffer {
  return serialise([
    { name: 'BEGIN', value: 'VCALENDAR' },
    { name: 'VERSION', value: '2.0' },
    { name: 'PRODID', value: CANONICAL_PRODID },
    { name: 'BEGIN', value: component },
    ...lines,
    { name: 'END', value: component },
    { name: 'END', value: 'VCALENDAR' },
  ]);
}

/**
 * An appointment as an iCalendar object with one VEVENT (no METHOD: a stored event, not a message).
 * Times are UTC, except a repeating event planned in a time zone: its times are wall-clock times in
 * that zone (TZID with the IANA name, RFC 7809 "time zones by reference"), so that its occurrences
 * stay at the same hour across daylight-saving changes.
 */
export function writeAppointment(item: AppointmentItem): Buffer {
  const zone = item.recurrence && item.timeZone && !item.allDay ? item.timeZone : null;
  const lines: ContentLine[] = [
    ...common(item),
    timeLine('DTSTART', item.start, { allDay: item.allDay, timeZone: zone }),
  ];
  if (item.end) lines.push(timeLine('DTEND', item.end, { allDay: item.allDay, timeZone: zone }));
  lines.push(
    ...text('SUMMARY', item.summary),
    ...text('DESCRIPTION', item.description),
    ...text('LOCATION', item.location),
  );
  if (item.organizer) {
    lines.push({ name: 'ORGANIZER', params: { CN: item.organizer.name }, value: mailto(item.organizer.address) });
  }
  for (const attendee of sortedAttendees(item.attendees)) {
    lines.push({
      name: 'ATTENDEE',
      params: { CN: attendee.name, PARTSTAT: attendee.status.toUpperCase(), ROLE: ROLE[attendee.role] },
      value: mailto(attendee.address),
    });
  }
  if (item.recurrence) {
    lines.push({ name: 'RRULE', value: item.recurrence.rule });
    // By instant: 09:00:00Z and 09:00:00.000Z are one exception.
    const instants = [...new Set(item.recurrence.exceptions.map((e) => new Date(e).toISOString()))].sort(byCodeUnits);
    for (const exception of instants) {
      lines.push(timeLine('EXDATE', exception, { allDay: item.allDay, timeZone: zone }));
    }
  }
  if (item.status) lines.push({ name: 'STATUS', value: item.status.toUpperCase() });
  if (!item.busy) lines.push({ name: 'TRANSP', value: 'TRANSPARENT' });
  lines.push(...trailing(item));
  return wrap('VEVENT', lines);
}

/** A task as an iCalendar object with one VTODO; times in UTC. */
export function writeTask(item: TaskItem): Buffer {
  const lines: ContentLine[] = [...common(item)];
  if (item.start) lines.push(timeLine('DTSTART', item.start, {}));
  if (item.due) lines.push(timeLine('DUE', item.due, {}));
  if (item.completedAt) lines.push(timeLine('COMPLETED', item.completedAt, {}));
  lines.push(...text('SUMMARY', item.summary), ...text('DESCRIPTION', item.description));
  lines.push({ name: 'STATUS', value: item.status.toUpperCase() });
  if (item.percentComplete !== null) lines.push({ name: 'PERCENT-COMPLETE', value: String(item.percentComplete) });
  if (item.recurrence) lines.push({ name: 'RRULE', value: item.recurrence.rule });
  lines.push(...trailing(item));
  return wrap('VTODO', lines);
}

/** A note as an iCalendar object with one VJOURNAL, dated when it was written. */
export function writeNote(item: NoteItem): Buffer {
  const lines: ContentLine[] = [
    ...common(item),
    timeLine('DTSTART', item.createdAt ?? item.modifiedAt, {}),
    ...text('SUMMARY', item.summary),
    ...text('DESCRIPTION', item.description),
    ...trailing(item),
  ];
  return wrap('VJOURNAL', lines);
}
