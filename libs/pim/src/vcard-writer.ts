import { basicDate, clean, escapeText, serialise, structured, utcDateTime, type ContentLine } from './content-lines.js';
import { CANONICAL_PRODID, sortedCategories } from './icalendar-writer.js';
import type { ContactItem } from './structured-item.js';

/**
 * A contact as a vCard 4.0 (RFC 6350), properties in a fixed order; e-mail addresses, phone numbers
 * and postal addresses in the source's order (the first is the preferred one, PREF=1), categories and
 * a list's members sorted. A distribution list is `KIND:group` with a MEMBER per address.
 */
export function writeContact(item: ContactItem): Buffer {
  const lines: ContentLine[] = [
    { name: 'BEGIN', value: 'VCARD' },
    { name: 'VERSION', value: '4.0' },
    { name: 'PRODID', value: CANONICAL_PRODID },
    { name: 'UID', value: escapeText(item.uid) },
  ];
  if (item.isGroup) lines.push({ name: 'KIND', value: 'group' });
  lines.push({ name: 'FN', value: escapeText(item.displayName) });
  const name = [item.familyName, item.givenName, item.additionalNames, item.prefix, item.suffix];
  if (name.some((part) => part)) lines.push({ name: 'N', value: structured(name.map((part) => part ?? '')) });
  if (item.organization) lines.push({ name: 'ORG', value: escapeText(item.organization) });
  if (item.jobTitle) lines.push({ name: 'TITLE', value: escapeText(item.jobTitle) });
  item.emails.forEach((email, index) =>
    lines.push({
      name: 'EMAIL',
      params: { PREF: index === 0 && item.emails.length > 1 ? '1' : undefined, TYPE: email.type?.toLowerCase() },
      value: escapeText(email.value),
    }),
  );
  item.phones.forEach((phone, index) =>
    lines.push({
      name: 'TEL',
      params: {
        PREF: index === 0 && item.phones.length > 1 ? '1' : undefined,
        TYPE: phone.type?.toLowerCase(),
        VALUE: 'text',
      },
      value: escapeText(phone.value),
    }),
  );
  for (const address of item.addresses) {
    lines.push({
      name: 'ADR',
      params: { TYPE: address.type?.toLowerCase() },
      value: structured([
        '',
        '',
        address.street,
        address.locality,
        address.region,
        address.postalCode,
        address.country,
      ]),
    });
  }
  if (item.birthday) lines.push({ name: 'BDAY', params: { VALUE: 'date' }, value: basicDate(item.birthday) });
  if (item.isGroup) {
    for (const member of [...new Set(item.members.map((m) => m.toLowerCase()))].sort()) {
      lines.push({ name: 'MEMBER', value: `mailto:${clean(member).replace(/\s/g, '')}` });
    }
  }
  if (item.note) lines.push({ name: 'NOTE', value: escapeText(item.note) });
  const categories = sortedCategories(item.categories);
  if (categories.length > 0) lines.push({ name: 'CATEGORIES', value: categories.map(escapeText).join(',') });
  lines.push({ name: 'REV', value: utcDateTime(new Date(item.modifiedAt)) });
  lines.push({ name: 'END', value: 'VCARD' });
  return serialise(lines);
}
