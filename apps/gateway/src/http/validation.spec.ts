import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { planInputSchema, planPatchSchema } from '@mlr/contracts';
import { parseHttp, type BadRequestBody } from './validation.js';

function refusal(schema: Parameters<typeof parseHttp>[1], body: unknown): BadRequestBody {
  try {
    parseHttp('body', schema, body);
  } catch (error) {
    if (error instanceof BadRequestException) return error.getResponse() as BadRequestBody;
    throw error;
  }
  throw new Error('expected 400');
}

const valid = { name: 'nightly', connectorId: 'imap-1', mailboxes: { kind: 'all' } };

describe('plan bodies', () => {
  it('accepts a minimal plan and fills the defaults', () => {
    expect(parseHttp('body', planInputSchema, valid)).toEqual({
      ...valid,
      filter: {},
      schedule: null,
      retentionDays: null,
      enabled: true,
    });
    expect(parseHttp('body', planInputSchema, { ...valid, schedule: { cron: '0 2 * * *' } }).schedule).toEqual({
      cron: '0 2 * * *',
      timezone: 'UTC',
    });
  });

  it.each([
    [
      { filter: { fromDate: '2026-02-01T00:00:00Z', toDate: '2026-01-01T00:00:00Z' } },
      'filter.toDate',
      /toDate is before fromDate/,
    ],
    [{ filter: { minSize: 10, maxSize: 5 } }, 'filter.maxSize', /maxSize is smaller than minSize/],
    [{ filter: { fromDate: 'yesterday' } }, 'filter.fromDate', /ISO 8601/],
    [{ filter: { fromAddress: 'a b@example.com' } }, 'filter.fromAddress', /without spaces/],
    [{ filter: { colour: 'red' } }, 'filter', /colour/],
    [{ schedule: { cron: '0 2 * * *', timezone: 'Mars/Olympus' } }, 'schedule.timezone', /IANA time zone/],
    [{ schedule: { cron: '' } }, 'schedule.cron', /five-field cron/],
    [{ mailboxes: { kind: 'list', mailboxes: [] } }, 'mailboxes.mailboxes', /too_small|at least|>=1/i],
    [{ connectorId: 'Bad.Id' }, 'connectorId', /connector id must be/],
    [{ retentionDays: 0 }, 'retentionDays', />0|greater|too small/i],
    [{ name: '   ' }, 'name', /must not be empty/],
  ])('refuses %j naming %s', (change, field, message) => {
    const body = refusal(planInputSchema, { ...valid, ...change });
    expect(body.statusCode).toBe(400);
    expect(body.field).toBe(field);
    expect(body.message).toContain(`${field}:`);
    expect(body.message).toMatch(message);
  });

  it('names a missing field', () => {
    const body = refusal(planInputSchema, { name: 'x', mailboxes: { kind: 'all' } });
    expect(body.field).toBe('connectorId');
  });

  it('refuses an empty patch', () => {
    expect(refusal(planPatchSchema, {}).message).toMatch(/at least one field to change/);
  });
});
