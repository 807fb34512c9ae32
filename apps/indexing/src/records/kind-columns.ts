import { phoneDigits, type KindFields } from '@mlr/contracts';

/**
 * The searchable columns of an item's kind fields (`index_records` starts_at ... kind_text): derived
 * here, from the fields the connector sent, so that what a search can find is the index's own rule.
 */
export interface KindColumns {
  startsAt: string | null;
  endsAt: string | null;
  dueAt: string | null;
  completedAt: string | null;
  taskStatus: string | null;
  /** Sorted, without repeats; null for an item without kind fields (kept out of the partial index). */
  kindKeys: string[] | null;
  kindText: string | null;
}

/**
 * Keys a phone number is found by: its last 6, 7, 8 and 9 digits (`tel:`), and all of them as one
 * (`telfull:`), so that a search with more digits than the stored number (the country code before a
 * national number) still finds it, and one with fewer finds every number ending so.
 */
export function phoneKeys(number: string): string[] {
  const digits = phoneDigits(number);
  if (digits.length < 6) return [];
  const keys: string[] = [`telfull:${digits}`];
  for (let n = 6; n <= digits.length; n++) keys.push(`tel:${digits.slice(-n)}`);
  return keys;
}

/**
 * The keys a phone criterion matches (any of them): numbers ending in its digits, and numbers whose
 * every digit ends the criterion's (at least 6 of them).
 */
export function phoneCriterionKeys(number: string): string[] {
  const digits = phoneDigits(number);
  const keys = [`tel:${digits}`];
  for (let n = 6; n <= digits.length; n++) keys.push(`telfull:${digits.slice(-n)}`);
  return keys;
}

/** An address and its domain as keys under `prefix` (`attendee:bob@example.com`, `attendee:@example.com`). */
function addressKeys(prefix: string, address: string): string[] {
  const lower = address.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  return at > 0 ? [`${prefix}:${lower}`, `${prefix}:@${lower.slice(at + 1)}`] : [`${prefix}:${lower}`];
}

function text(parts: Array<string | null | undefined>): string | null {
  const lines = parts.filter((p): p is string => typeof p === 'string' && p.trim() !== '').map((p) => p.toLowerCase());
  return lines.length > 0 ? lines.join('\n') : null;
}

const iso = (value: string | null) => (value === null ? null : new Date(value).toISOString());

export function kindColumns(fields: KindFields | null): KindColumns {
  const none: KindColumns = {
    startsAt: null,
    endsAt: null,
    dueAt: null,
    completedAt: null,
    taskStatus: null,
    kindKeys: null,
    kindText: null,
  };
  if (fields === null) return none;
  const keys: string[] = [];
  let columns: KindColumns = none;
  switch (fields.kind) {
    case 'appointment':
      if (fields.organizer) keys.push(...addressKeys('attendee', fields.organizer.address));
      for (const attendee of fields.attendees) keys.push(...addressKeys('attendee', attendee.address));
      if (fields.recurrence) keys.push('recurring');
      columns = { ...none, startsAt: iso(fields.start), endsAt: iso(fields.end), kindText: text([fields.location]) };
      break;
    case 'task':
      if (fields.recurrence) keys.push('recurring');
      columns = {
        ...none,
        startsAt: iso(fields.start),
        dueAt: iso(fields.due),
        completedAt: iso(fields.completedAt),
        taskStatus: fields.status,
      };
      break;
    case 'note':
      break;
    case 'contact':
      for (const email of fields.emails) keys.push(...addressKeys('email', email.value));
      for (const member of fields.members) keys.push(...addressKeys('email', member));
      for (const phone of fields.phones) keys.push(...phoneKeys(phone.value));
      columns = {
        ...none,
        kindText: text([fields.displayName, fields.givenName, fields.familyName, fields.organization, fields.jobTitle]),
      };
      break;
    case 'phone_message':
      if (fields.number) keys.push(...phoneKeys(fields.number));
      if (fields.callback) keys.push('callback');
      if (fields.urgent) keys.push('urgent');
      columns = { ...none, kindText: text([fields.caller, fields.company]) };
      break;
  }
  return { ...columns, kindKeys: [...new Set(keys)].sort() };
}
