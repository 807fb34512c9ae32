import { readFileSync } from 'node:fs';

/** The connector's version, reported at enrolment: the version of the MLR package it ships in. */
export const AGENT_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
