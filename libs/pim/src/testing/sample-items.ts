import type { StructuredItemInput } from '../structured-item.js';

/*
 * Items of every kind, as a source would hand them over, with the awkward parts real data has:
 * non-ASCII text, characters iCalendar and vCard must escape, lines far beyond 75 octets, a repeating
 * event in a zone with daylight saving, an all-day event, a distribution list. Used by the unit tests
 * here, the runners' tests and the end-to-end test of every kind.
 */
export function sampleItemsOfEveryKind(owner = 'alice@example.com'): StructuredItemInput[] {
  return [
    {
      kind: 'appointment',
      uid: '040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5',
      modifiedAt: '2026-11-30T08:15:00.000Z',
      createdAt: '2026-11-02T10:00:00.000Z',
      summary: 'Quartalsplanung – Büro Köln; Raum 3, 2. OG',
      description:
        'Agenda:\n1. Zahlen, Ziele; Budget\n2. Personal\n\n' +
        'Bitte die Unterlagen vorher lesen. '.repeat(8) +
        '\nEmoji-Test: 📅✅',
      location: 'Köln, Raum 3 (2. OG)',
      start: '2026-12-14T09:00:00.000Z',
      end: '2026-12-14T10:30:00.000Z',
      timeZone: 'Europe/Berlin',
      organizer: { address: 'Alice@Example.com', name: 'Alice Doe' },
      attendees: [
        { address: 'carol@example.net', name: 'Carol "CJ" Jones', role: 'optional', status: 'tentative' },
        { address: 'bob@example.com', name: 'Bob Smith, Jr.', role: 'required', status: 'accepted' },
      ],
      recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=10', exceptions: ['2026-12-28T09:00:00.000Z'] },
      status: 'confirmed',
      categories: ['Planung', 'Blau'],
      importance: 'high',
    },
    {
      kind: 'appointment',
      uid: 'holiday-2026-12-24@example.com',
      modifiedAt: '2026-10-01T00:00:00.000Z',
      summary: 'Office closed',
      start: '2026-12-24T00:00:00.000Z',
      end: '2026-12-27T00:00:00.000Z',
      allDay: true,
      busy: false,
    },
    {
      kind: 'task',
      uid: 'task-7f3a@example.com',
      modifiedAt: '2026-12-01T12:00:00.000Z',
      summary: 'Submit expense report',
      description: 'Receipts for November, scanned.',
      start: '2026-12-01T08:00:00.000Z',
      due: '2026-12-10T17:00:00.000Z',
      status: 'in-process',
      percentComplete: 40,
      categories: ['Finance'],
    },
    {
      kind: 'task',
      uid: 'task-done-01@example.com',
      modifiedAt: '2026-11-20T09:00:00.000Z',
      summary: 'Renew certificates',
      due: '2026-11-19T00:00:00.000Z',
      completedAt: '2026-11-18T15:42:00.000Z',
      status: 'completed',
      percentComplete: 100,
      recurrence: { rule: 'FREQ=YEARLY' },
    },
    {
      kind: 'note',
      uid: 'note-0001@example.com',
      modifiedAt: '2026-12-02T07:30:00.000Z',
      createdAt: '2026-12-02T07:00:00.000Z',
      summary: 'Wi-Fi for guests',
      description: 'SSID: guests\nPassword: correct;horse,battery\\staple',
      categories: ['Yellow'],
    },
    {
      kind: 'contact',
      uid: 'urn:uuid:0b5a3f3e-8d1c-4c1e-9d8e-1f2a3b4c5d6e',
      modifiedAt: '2026-09-15T11:00:00.000Z',
      displayName: 'Dr. Zoë Müller-Lüdenscheidt',
      givenName: 'Zoë',
      familyName: 'Müller-Lüdenscheidt',
      prefix: 'Dr.',
      organization: 'Beispiel GmbH; Vertrieb',
      jobTitle: 'Leiterin Vertrieb, DACH',
      emails: [
        { value: 'zoe.mueller@beispiel.de', type: 'work' },
        { value: 'zoe@home.example', type: 'home' },
      ],
      phones: [
        { value: '+49 221 1234567', type: 'work' },
        { value: '0171 7654321', type: 'cell' },
      ],
      addresses: [
        {
          type: 'work',
          street: 'Domstraße 1',
          locality: 'Köln',
          region: 'NRW',
          postalCode: '50667',
          country: 'Deutschland',
        },
      ],
      birthday: '1980-02-29',
      note: 'Met at the trade fair; prefers e-mail.',
      categories: ['Customers'],
    },
    {
      kind: 'contact',
      uid: 'list-sales@example.com',
      modifiedAt: '2026-08-01T00:00:00.000Z',
      displayName: 'Sales team',
      isGroup: true,
      members: ['Bob@example.com', 'carol@example.net', 'dave@example.org'],
    },
    {
      kind: 'phone_message',
      uid: 'phone-2026-12-03-0915@example.com',
      modifiedAt: '2026-12-03T09:15:00.000Z',
      to: { address: owner, name: 'Alice Doe' },
      takenBy: { address: 'reception@example.com', name: 'Reception' },
      receivedAt: '2026-12-03T09:15:00.000Z',
      caller: 'Jörg Weiß',
      company: 'Weiß & Söhne KG',
      number: '+49 (221) 555-0199',
      message: 'About the offer of 28 November. Please call before Friday.',
      callback: true,
      urgent: true,
      durationSeconds: 95,
    },
    {
      kind: 'notification',
      uid: 'reminder-2026-12-04@example.com',
      modifiedAt: '2026-12-04T06:00:00.000Z',
      from: { address: 'calendar@example.com', name: 'Calendar' },
      to: { address: owner },
      sentAt: '2026-12-04T06:00:00.000Z',
      subject: 'Reminder: Quartalsplanung at 10:00',
      message: 'Starts in 15 minutes.',
    },
  ];
}
