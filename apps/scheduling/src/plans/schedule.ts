import { Cron } from 'croner';
import { isIanaTimeZone, type PlanSchedule } from '@mlr/contracts';
import { SchedulingErrorCode, SchedulingException } from '../common/scheduling.exception.js';

function compile(schedule: PlanSchedule, field: string): Cron {
  if (!isIanaTimeZone(schedule.timezone)) {
    throw new SchedulingException(
      SchedulingErrorCode.INVALID_SCHEDULE,
      `${field}.timezone: "${schedule.timezone}" is not an IANA time zone (e.g. "Europe/Berlin" or "UTC")`,
      `${field}.timezone`,
    );
  }
  try {
    // Five fields, minute precision; day-of-month and day-of-week combine with OR, as in Vixie cron.
    return new Cron(schedule.cron, { timezone: schedule.timezone, mode: '5-part', paused: true, domAndDow: false });
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern:\s*/, '');
    throw new SchedulingException(
      SchedulingErrorCode.INVALID_SCHEDULE,
      `${field}.cron: "${schedule.cron}" is not a five-field cron expression (minute hour day-of-month month day-of-week): ${reason}`,
      `${field}.cron`,
    );
  }
}

/**
 * The first time strictly after `after` at which the schedule fires, in UTC. Local times follow the
 * zone's daylight saving time: a fixed time that falls in the spring gap runs at the first valid time
 * after it, and one that occurs twice in autumn runs once.
 */
export function nextRunAfter(schedule: PlanSchedule, after: Date, field = 'schedule'): Date {
  const next = compile(schedule, field).nextRun(after);
  if (!next) {
    throw new SchedulingException(
      SchedulingErrorCode.INVALID_SCHEDULE,
      `${field}.cron: "${schedule.cron}" never fires (no such date)`,
      `${field}.cron`,
    );
  }
  return next;
}

/** Refuses a schedule that cannot be parsed or never fires; returns its first run after `now`. */
export function validateSchedule(schedule: PlanSchedule, now: Date, field = 'schedule'): Date {
  return nextRunAfter(schedule, now, field);
}
