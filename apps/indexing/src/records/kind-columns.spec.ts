import { describe, expect, it } from 'vitest';
import { kindColumns, phoneCriterionKeys, phoneKeys } from './kind-columns.js';

describe('kindColumns', () => {
  it('is empty for mail', () => {
    expect(kindColumns(null)).toEqual({
      startsAt: null,
      endsAt: null,
      dueAt: null,
      completedAt: null,
      taskStatus: null,
      kindKeys: null,
      kindText: null,
    });
  });

  it('indexes an appointment by its times, its participants and domains, its repetition and location', () => {
    const columns = kindColumns({
      kind: 'appointment',
      uid: 'u',
      start: '2026-12-14T09:00:00.000Z',
      end: '2026-12-14T10:30:00.000Z',
      allDay: false,
      timeZone: 'Europe/Berlin',
      location: 'Köln, Raum 3',
      organizer: { address: 'Alice@Example.com' },
      attendees: [{ address: 'bob@example.com', role: 'required', status: 'accepted' }],
      recurrence: 'FREQ=WEEKLY',
      status: null,
    });
    expect(columns).toMatchObject({
      startsAt: '2026-12-14T09:00:00.000Z',
      endsAt: '2026-12-14T10:30:00.000Z',
      kindText: 'köln, raum 3',
    });
    expect(columns.kindKeys).toEqual([
      'attendee:@example.com',
      'attendee:alice@example.com',
      'attendee:bob@example.com',
      'recurring',
    ]);
  });

  it('indexes a task by its times and status, a contact by its addresses, numbers and names, a phone message by its marks', () => {
    expect(
      kindColumns({
        kind: 'task',
        uid: 'u',
        start: null,
        due: '2026-12-10T17:00:00.000Z',
        completedAt: '2026-12-09T08:00:00.000Z',
        status: 'completed',
        percentComplete: 100,
        recurrence: null,
      }),
    ).toMatchObject({
      dueAt: '2026-12-10T17:00:00.000Z',
      completedAt: '2026-12-09T08:00:00.000Z',
      taskStatus: 'completed',
      kindKeys: [],
    });
    const contact = kindColumns({
      kind: 'contact',
      uid: 'u',
      displayName: 'Zoë Müller',
      givenName: 'Zoë',
      familyName: 'Müller',
      organization: 'Beispiel GmbH',
      jobTitle: null,
      emails: [{ value: 'Zoe@Beispiel.de' }],
      phones: [{ value: '+49 221 1234567' }],
      addresses: [],
      birthday: null,
      isGroup: false,
      members: [],
    });
    // +49 221 1234567: the last 6, 7, 8 and 9 digits.
    expect(contact.kindKeys).toEqual([
      'email:@beispiel.de',
      'email:zoe@beispiel.de',
      'tel:11234567',
      'tel:1234567',
      'tel:211234567',
      'tel:234567',
      'telfull:211234567',
    ]);
    expect(contact.kindText).toBe('zoë müller\nzoë\nmüller\nbeispiel gmbh');
    expect(
      kindColumns({
        kind: 'phone_message',
        caller: 'Jörg',
        company: null,
        number: '0221 555 0199',
        callback: true,
        willCallAgain: false,
        returnedCall: false,
        urgent: false,
        durationSeconds: null,
      }).kindKeys,
    ).toEqual(['callback', ...phoneKeys('0221 555 0199')].sort());
  });

  it('finds a number by its last 6 to 9 digits, whatever the national or international form', () => {
    expect(phoneKeys('+49 (221) 555-0199')).toEqual([
      'telfull:215550199',
      'tel:550199',
      'tel:5550199',
      'tel:15550199',
      'tel:215550199',
    ]);
    expect(phoneKeys('12345')).toEqual([]);
    const matches = (stored: string, asked: string) =>
      phoneCriterionKeys(asked).some((key) => phoneKeys(stored).includes(key));
    // National and international forms of one number; a shorter stored number; but not another
    // number that only shares its last digits.
    expect(matches('0221 5550199', '+49 221 555 0199')).toBe(true);
    expect(matches('+49 221 555 0199', '0221 5550199')).toBe(true);
    expect(matches('555-1234', '+1 212 555 1234')).toBe(true);
    expect(matches('+1 212 555 1234', '5551234')).toBe(true);
    expect(matches('+49 30 1234567', '+49 221 1234567')).toBe(false);
  });
});
