import { describe, expect, it } from 'vitest';
import { SchedulingErrorCode, SchedulingException } from '../common/scheduling.exception.js';
import { nextRunAfter, validateSchedule } from './schedule.js';

const next = (cron: string, timezone: string, after: string) =>
  nextRunAfter({ cron, timezone }, new Date(after)).toISOString();

function refusal(run: () => unknown): SchedulingException {
  try {
    run();
  } catch (error) {
    if (error instanceof SchedulingException) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('next run of a cron schedule', () => {
  it('reads the expression in the plan time zone', () => {
    expect(next('0 2 * * *', 'UTC', '2026-01-10T12:00:00Z')).toBe('2026-01-11T02:00:00.000Z');
    expect(next('0 2 * * *', 'Europe/Berlin', '2026-01-10T12:00:00Z')).toBe('2026-01-11T01:00:00.000Z');
    expect(next('0 9 * * 1-5', 'America/New_York', '2026-01-09T15:00:00Z')).toBe('2026-01-12T14:00:00.000Z');
  });

  it('is strictly after the given instant', () => {
    expect(next('*/15 * * * *', 'UTC', '2026-01-10T12:15:00Z')).toBe('2026-01-10T12:30:00.000Z');
  });

  it('runs a daily time that falls into the spring-forward gap once, at the first valid time', () => {
    // Europe/Berlin skips 02:00-03:00 local on 29 March 2026.
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z')).toBe('2026-03-29T01:00:00.000Z');
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-03-29T01:00:00Z')).toBe('2026-03-30T00:30:00.000Z');
  });

  it('runs a daily time that occurs twice at fall-back once', () => {
    // 02:30 local happens twice on 25 October 2026 (CEST, then CET).
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z')).toBe('2026-10-25T00:30:00.000Z');
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-10-25T00:30:00Z')).toBe('2026-10-26T01:30:00.000Z');
  });

  it('keeps the local time across the change (UTC offset moves)', () => {
    expect(next('0 9 * * *', 'America/New_York', '2026-03-07T15:00:00Z')).toBe('2026-03-08T13:00:00.000Z');
    expect(next('0 9 * * *', 'America/New_York', '2026-03-06T15:00:00Z')).toBe('2026-03-07T14:00:00.000Z');
  });
});

describe('schedule validation', () => {
  const now = new Date('2026-01-10T12:00:00Z');

  it.each([
    ['61 * * * *', /schedule\.cron: "61 \* \* \* \*" is not a five-field cron expression.*minute/],
    ['* * * *', /schedule\.cron: .*not a five-field cron expression/],
    ['0 0 * * * *', /schedule\.cron: .*5 parts/],
    ['every day', /schedule\.cron/],
    ['0 0 30 2 *', /schedule\.cron: "0 0 30 2 \*" never fires/],
  ])('refuses cron %j naming schedule.cron', (cron, message) => {
    const error = refusal(() => validateSchedule({ cron, timezone: 'UTC' }, now));
    expect(error.code).toBe(SchedulingErrorCode.INVALID_SCHEDULE);
    expect(error.field).toBe('schedule.cron');
    expect(error.message).toMatch(message);
  });

  it.each(['Mars/Olympus', '+01:00', ''])('refuses time zone %j naming schedule.timezone', (timezone) => {
    const error = refusal(() => validateSchedule({ cron: '0 2 * * *', timezone }, now));
    expect(error.field).toBe('schedule.timezone');
    expect(error.message).toMatch(/is not an IANA time zone/);
  });

  it('accepts a valid schedule and tells its first run', () => {
    expect(validateSchedule({ cron: '0 2 * * *', timezone: 'Asia/Tokyo' }, now).toISOString()).toBe(
      '2026-01-10T17:00:00.000Z',
    );
  });
});
