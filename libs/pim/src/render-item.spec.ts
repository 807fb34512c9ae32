import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ITEM_FORM_FILES, kindMismatch } from '@mlr/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { fold } from './content-lines.js';
import { InvalidItemError, renderStructuredItem } from './render-item.js';
import type { StructuredItemInput } from './structured-item.js';
import { sampleItemsOfEveryKind } from './testing/sample-items.js';

const samples = sampleItemsOfEveryKind();
const names = [
  'appointment-recurring',
  'appointment-all-day',
  'task',
  'task-completed',
  'note',
  'contact',
  'contact-group',
  'phone-message',
  'notification',
];

/** Debian's python3 with python3-icalendar and python3-vobject (deploy/local/setup.sh installs them). */
const PYTHON = '/usr/bin/python3';
const PARSER = join(import.meta.dirname, '..', 'test', 'parse_items.py');

/** What parse_items.py prints of one file (its shape depends on the form). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document checked field by field below
type Parsed = any;

const dir = mkdtempSync(join(tmpdir(), 'mlr-pim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function physicalLines(raw: Buffer): string[] {
  const text = raw.toString('utf8');
  expect(text.endsWith('\r\n')).toBe(true);
  expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  return text.slice(0, -2).split('\r\n');
}

describe('renderStructuredItem', () => {
  it('writes each kind in its canonical form, byte for byte as the golden files', async () => {
    for (const [index, item] of samples.entries()) {
      const rendered = renderStructuredItem(item);
      const file = `${names[index]}.${ITEM_FORM_FILES[rendered.form].extension}`;
      await expect(rendered.raw.toString('utf8')).toMatchFileSnapshot(
        join(import.meta.dirname, '..', 'test', 'golden', file),
      );
      expect(
        kindMismatch({ itemType: rendered.facts.itemType, form: rendered.form, kindFields: rendered.facts.kindFields }),
      ).toBeNull();
      expect(rendered.facts.itemType).toBe(item.kind);
      expect(rendered.facts.size).toBe(rendered.raw.length);
    }
  });

  it('is a pure function of the item: the order a source lists attendees, categories or members in does not matter', () => {
    for (const item of samples) {
      const shuffled = JSON.parse(JSON.stringify(item)) as Record<string, unknown>;
      for (const key of ['attendees', 'categories', 'members']) {
        if (Array.isArray(shuffled[key])) shuffled[key] = [...(shuffled[key] as unknown[])].reverse();
      }
      const a = renderStructuredItem(item);
      const b = renderStructuredItem(shuffled);
      expect(b.raw.equals(a.raw)).toBe(true);
      expect(b.facts).toEqual(a.facts);
    }
  });

  it('folds iCalendar and vCard lines at 75 octets, never inside a character', () => {
    for (const item of samples) {
      const rendered = renderStructuredItem(item);
      if (rendered.form === 'rfc5322') continue;
      for (const line of physicalLines(rendered.raw)) {
        expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(75);
        expect(Buffer.from(line, 'utf8').toString('utf8')).toBe(line);
        expect(line).not.toContain('\ufffd');
      }
    }
    const emoji = fold(`DESCRIPTION:${'📅'.repeat(40)}`);
    for (const line of emoji.split('\r\n')) {
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
      expect(line.replace(/^ /, '')).toMatch(/^(DESCRIPTION:)?(📅)+$/u);
    }
  });

  it('fills the common index fields from the item, so searches and ordering work for every kind', () => {
    const [appointment, , task, , note, contact, group, phone, notification] = samples.map(
      (s) => renderStructuredItem(s).facts,
    );
    expect(appointment).toMatchObject({
      subject: 'Quartalsplanung – Büro Köln; Raum 3, 2. OG',
      submissionDate: '2026-12-14T09:00:00.000Z',
      from: { address: 'alice@example.com', name: 'Alice Doe' },
      importance: 'high',
      form: 'icalendar',
    });
    expect(appointment!.to.map((a) => a.address)).toEqual(['bob@example.com', 'carol@example.net']);
    expect(appointment!.kindFields).toMatchObject({
      kind: 'appointment',
      recurrence: 'FREQ=WEEKLY;BYDAY=MO;COUNT=10',
      timeZone: 'Europe/Berlin',
    });
    expect(task).toMatchObject({ subject: 'Submit expense report', submissionDate: '2026-12-10T17:00:00.000Z' });
    expect(note).toMatchObject({ itemType: 'note', submissionDate: '2026-12-02T07:00:00.000Z' });
    expect(contact).toMatchObject({ itemType: 'contact', form: 'vcard', subject: 'Dr. Zoë Müller-Lüdenscheidt' });
    expect(group!.to.map((a) => a.address)).toEqual(['bob@example.com', 'carol@example.net', 'dave@example.org']);
    expect(phone).toMatchObject({
      itemType: 'phone_message',
      form: 'rfc5322',
      messageId: '<phone-2026-12-03-0915@example.com>',
      subject: 'Phone message from Jörg Weiß (Weiß & Söhne KG)',
      importance: 'high',
      parseProblems: [],
    });
    expect(notification).toMatchObject({
      itemType: 'notification',
      from: { address: 'calendar@example.com' },
      parseProblems: [],
    });
  });

  it('refuses an impossible item with the field and the reason', () => {
    const bad: Array<[StructuredItemInput | Record<string, unknown>, RegExp]> = [
      [
        {
          kind: 'appointment',
          uid: '',
          modifiedAt: '2026-01-01T00:00:00Z',
          summary: 'x',
          start: '2026-01-01T00:00:00Z',
        },
        /uid: must not be empty/,
      ],
      [
        { kind: 'appointment', uid: 'u', modifiedAt: '2026-01-01T00:00:00Z', summary: 'x', start: 'yesterday' },
        /start/,
      ],
      [
        {
          kind: 'appointment',
          uid: 'u',
          modifiedAt: '2026-01-01T00:00:00Z',
          summary: 'x',
          start: '2026-01-01T00:00:00Z',
          timeZone: 'Mars/Olympus',
        },
        /timeZone: must be an IANA time zone/,
      ],
      [
        {
          kind: 'appointment',
          uid: 'u',
          modifiedAt: '2026-01-01T00:00:00Z',
          summary: 'x',
          start: '2026-01-02T00:00:00Z',
          end: '2026-01-01T00:00:00Z',
        },
        /end: is before start/,
      ],
      [
        { kind: 'task', uid: 'u', modifiedAt: '2026-01-01T00:00:00Z', summary: 'x', recurrence: { rule: 'BYDAY=MO' } },
        /recurrence.rule: must name FREQ/,
      ],
      [
        {
          kind: 'task',
          uid: 'u',
          modifiedAt: '2026-01-01T00:00:00Z',
          summary: 'x',
          recurrence: { rule: 'FREQ=DAILY\r\nX:1' },
        },
        /recurrence.rule/,
      ],
      [
        { kind: 'contact', uid: 'u', modifiedAt: '2026-01-01T00:00:00Z', displayName: '' },
        /displayName: must not be empty/,
      ],
      [
        {
          kind: 'contact',
          uid: 'u',
          modifiedAt: '2026-01-01T00:00:00Z',
          displayName: 'x',
          emails: [{ value: 'a@b', type: 'work;X=1' }],
        },
        /emails.0.type/,
      ],
      [{ kind: 'fax', uid: 'u' }, /kind/],
      [
        {
          kind: 'appointment',
          uid: 'u',
          modifiedAt: '2026-01-01T00:00:00Z',
          summary: 'x',
          start: '0000-06-01T10:00:00Z',
        },
        /start: must be a date-time in the years 1 to 9999/,
      ],
      [
        { kind: 'task', uid: 'u', modifiedAt: '9999-12-31T23:30:00-01:00', summary: 'x' },
        /modifiedAt: must be a date-time in the years 1 to 9999/,
      ],
      [
        { kind: 'contact', uid: 'u', modifiedAt: '2026-01-01T00:00:00Z', displayName: 'x', birthday: '2026-13-45' },
        /birthday: must be a day that exists/,
      ],
      [
        {
          kind: 'appointment',
          uid: 'u',
          modifiedAt: '2026-01-01T00:00:00Z',
          summary: 'x',
          allDay: true,
          start: '2026-03-10T00:00:00Z',
          end: '2026-03-10T00:00:00Z',
        },
        /end: an all-day event ends on a later day/,
      ],
    ];
    for (const [item, reason] of bad) {
      let error: unknown;
      try {
        renderStructuredItem(item);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidItemError);
      expect((error as Error).message).toMatch(reason);
    }
  });

  it('gives the same bytes whatever the spelling order of a category, the order of equal attendees or the form of an exception time', () => {
    const base = {
      kind: 'appointment' as const,
      uid: 'u',
      modifiedAt: '2026-01-01T00:00:00Z',
      summary: 'x',
      start: '2026-01-05T09:00:00Z',
      timeZone: 'Europe/Berlin',
      recurrence: { rule: 'FREQ=DAILY', exceptions: ['2026-01-06T09:00:00Z', '2026-01-06T09:00:00.000Z'] },
    };
    const a = renderStructuredItem({
      ...base,
      categories: ['Work', 'work'],
      attendees: [{ address: 'Bob@X.com' }, { address: 'bob@x.com' }],
    });
    const b = renderStructuredItem({
      ...base,
      categories: ['work', 'Work'],
      attendees: [{ address: 'bob@x.com' }, { address: 'Bob@X.com' }],
    });
    expect(b.raw.equals(a.raw)).toBe(true);
    expect(a.raw.toString().match(/^EXDATE/gm)).toHaveLength(1);
    expect(a.raw.toString()).toContain('CATEGORIES:Work\r\n');
  });

  it('keeps every header of a mail-like item within 998 characters, and the index fields within their bound', () => {
    const phone = renderStructuredItem({
      kind: 'phone_message',
      uid: `${'u'.repeat(900)}@example.com`,
      modifiedAt: '2026-01-01T00:00:00Z',
      to: { address: 'kim@example.com', name: 'K'.repeat(5000) },
      receivedAt: '2026-01-01T00:00:00Z',
      caller: 'A'.repeat(8000),
      company: 'B'.repeat(8000),
    });
    for (const line of phone.raw.toString('utf8').split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
    expect(phone.facts.messageId).toMatch(/^<[0-9a-f]{40}@phone-message\.mlr\.invalid>$/);
    expect(phone.facts.kindFields).toMatchObject({ kind: 'phone_message', caller: 'A'.repeat(998) });
    const big = renderStructuredItem({
      kind: 'contact',
      uid: 'u',
      modifiedAt: '2026-01-01T00:00:00Z',
      displayName: 'Big list',
      emails: Array.from({ length: 500 }, (_, i) => ({
        value: `${String(i).padStart(3, '0')}${'x'.repeat(900)}@example.com`,
      })),
    });
    expect(Buffer.byteLength(JSON.stringify(big.facts.kindFields))).toBeLessThanOrEqual(64 * 1024);
    expect(big.facts.parseProblems.join(' ')).toMatch(/emails cut to \d+ of 500 entries/);
    // The stored vCard holds every address.
    expect(big.raw.toString().match(/^EMAIL/gm)).toHaveLength(500);
  });

  it('writes text no content line can break: line breaks and control characters in any field', () => {
    const rendered = renderStructuredItem({
      kind: 'note',
      uid: 'evil\r\nEND:VJOURNAL\r\nBEGIN:VEVENT',
      modifiedAt: '2026-01-01T00:00:00Z',
      summary: 'a\u0000b\u0007c\r\nd',
      description: 'line\rbreak\u2028',
      categories: ['x\ny', 'z,w'],
    });
    const lines = physicalLines(rendered.raw);
    expect(lines.filter((l) => l.startsWith('BEGIN:'))).toEqual(['BEGIN:VCALENDAR', 'BEGIN:VJOURNAL']);
    expect(lines).toContain('UID:evil\\nEND:VJOURNAL\\nBEGIN:VEVENT');
    expect(lines).toContain('SUMMARY:abc\\nd');
    expect(lines).toContain('CATEGORIES:x\\ny,z\\,w');
  });
});

describe('the canonical forms, read back by parsers that did not write them', () => {
  it('Python icalendar, vobject and email read every kind as it was given', () => {
    const files = samples.map((item, index) => {
      const rendered = renderStructuredItem(item);
      const file = join(dir, `${names[index]}.${ITEM_FORM_FILES[rendered.form].extension}`);
      writeFileSync(file, rendered.raw);
      return file;
    });
    const parsed = JSON.parse(execFileSync(PYTHON, [PARSER, ...files], { encoding: 'utf8' })) as Record<string, Parsed>;
    const read = (index: number) => parsed[files[index]!];

    const event = read(0).components[0];
    expect(read(0).prodid).toBe('-//MLR//canonical 1//EN');
    expect(event).toMatchObject({
      type: 'VEVENT',
      uid: '040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5',
      summary: 'Quartalsplanung – Büro Köln; Raum 3, 2. OG',
      location: 'Köln, Raum 3 (2. OG)',
      dtstart: '2026-12-14T10:00:00+01:00',
      dtstart_tzid: 'Europe/Berlin',
      dtend: '2026-12-14T11:30:00+01:00',
      exdate: ['2026-12-28T10:00:00+01:00'],
      status: 'CONFIRMED',
      priority: '1',
      organizer: { uri: 'mailto:Alice@Example.com', cn: 'Alice Doe' },
      categories: ['Blau', 'Planung'],
    });
    expect(event.rrule.split(';').sort()).toEqual(['BYDAY=MO', 'COUNT=10', 'FREQ=WEEKLY']);
    expect(event.description).toBe((samples[0] as { description: string }).description);
    expect(event.attendees).toEqual([
      { uri: 'mailto:bob@example.com', cn: 'Bob Smith, Jr.', role: 'REQ-PARTICIPANT', partstat: 'ACCEPTED' },
      // python3-icalendar 4.0 predates RFC 6868: it leaves the caret escape of the quotes as written.
      { uri: 'mailto:carol@example.net', cn: "Carol ^'CJ^' Jones", role: 'OPT-PARTICIPANT', partstat: 'TENTATIVE' },
    ]);
    expect(read(1).components[0]).toMatchObject({ dtstart: '2026-12-24', dtend: '2026-12-27' });
    expect(read(2).components[0]).toMatchObject({
      type: 'VTODO',
      status: 'IN-PROCESS',
      'percent-complete': '40',
      due: '2026-12-10T17:00:00+00:00',
      dtstart: '2026-12-01T08:00:00+00:00',
    });
    expect(read(3).components[0]).toMatchObject({
      status: 'COMPLETED',
      completed: '2026-11-18T15:42:00+00:00',
      rrule: 'FREQ=YEARLY',
    });
    expect(read(4).components[0]).toMatchObject({
      type: 'VJOURNAL',
      summary: 'Wi-Fi for guests',
      description: 'SSID: guests\nPassword: correct;horse,battery\\staple',
    });
    expect(read(5)).toMatchObject({
      uid: 'urn:uuid:0b5a3f3e-8d1c-4c1e-9d8e-1f2a3b4c5d6e',
      fn: 'Dr. Zoë Müller-Lüdenscheidt',
      n: ['Müller-Lüdenscheidt', 'Zoë'],
      org: ['Beispiel GmbH; Vertrieb'],
      title: 'Leiterin Vertrieb, DACH',
      emails: ['zoe.mueller@beispiel.de', 'zoe@home.example'],
      tels: ['+49 221 1234567', '0171 7654321'],
      bday: '19800229',
      categories: ['Customers'],
    });
    expect(read(5).adrs[0]).toContain('Domstraße 1');
    expect(read(6)).toMatchObject({
      kind: 'group',
      members: ['mailto:bob@example.com', 'mailto:carol@example.net', 'mailto:dave@example.org'],
    });
    expect(read(7)).toMatchObject({
      from: 'Reception <reception@example.com>',
      to: 'Alice Doe <alice@example.com>',
      subject: 'Phone message from Jörg Weiß (Weiß & Söhne KG)',
      item_type: 'phone_message',
      caller: 'Jörg Weiß',
      number: '+49 (221) 555-0199',
      flags: 'callback, urgent',
      defects: [],
    });
    expect(read(7).body).toContain('About the offer of 28 November.');
    expect(read(8)).toMatchObject({
      subject: 'Reminder: Quartalsplanung at 10:00',
      item_type: 'notification',
      body: 'Starts in 15 minutes.',
      defects: [],
    });
  });
});
