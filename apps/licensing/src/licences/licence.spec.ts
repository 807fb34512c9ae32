import { describe, expect, it } from 'vitest';
import { licenceStatus } from './licence.js';

const DAY = 86_400_000;
const expiresAt = new Date('2027-01-01T00:00:00.000Z');
const at = (offsetMs: number) => new Date(expiresAt.getTime() + offsetMs);

describe('licence status and grace period', () => {
  const licence = { expiresAt, graceDays: 14 };

  it('is valid before expiry, with the days left rounded up', () => {
    expect(licenceStatus(licence, at(-30 * DAY))).toMatchObject({
      state: 'valid',
      daysLeft: 30,
      graceDaysLeft: 44,
      graceEndsAt: '2027-01-15T00:00:00.000Z',
    });
    expect(licenceStatus(licence, at(-2 * 3_600_000))).toMatchObject({ state: 'valid', daysLeft: 1 });
    expect(licenceStatus(licence, at(-1)).state).toBe('valid');
  });

  it('is in grace from the instant of expiry until the grace period ends', () => {
    expect(licenceStatus(licence, at(0))).toMatchObject({ state: 'in_grace', daysLeft: 0, graceDaysLeft: 14 });
    const late = licenceStatus(licence, at(13 * DAY + 1));
    expect(late).toMatchObject({ state: 'in_grace', daysLeft: 0, graceDaysLeft: 1 });
    expect(late.message).toMatch(
      /grace period until 2027-01-15T00:00:00.000Z \(1 days left\): import the renewed licence/,
    );
    expect(licenceStatus(licence, at(14 * DAY - 1)).state).toBe('in_grace');
  });

  it('is expired once the grace period has ended', () => {
    const ended = licenceStatus(licence, at(14 * DAY));
    expect(ended).toMatchObject({ state: 'expired', daysLeft: 0, graceDaysLeft: 0 });
    expect(ended.message).toBe(
      'expired on 2027-01-01T00:00:00.000Z; its grace period ended on 2027-01-15T00:00:00.000Z: import a renewed licence',
    );
  });

  it('without grace days goes straight from valid to expired', () => {
    const strict = { expiresAt, graceDays: 0 };
    expect(licenceStatus(strict, at(-1)).state).toBe('valid');
    expect(licenceStatus(strict, at(0)).state).toBe('expired');
  });
});
