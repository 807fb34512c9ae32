/** The time, behind a port so that schedule and job logic can be tested at any instant. */
export interface Clock {
  now(): Date;
}

export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = { now: () => new Date() };
