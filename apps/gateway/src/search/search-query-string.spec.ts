import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { searchQuerySchema } from '@mlr/contracts';
import { parseHttp, type BadRequestBody } from '../http/validation.js';
import { searchQueryFromQueryString } from './search-query-string.js';

const parse = (query: Record<string, unknown>) =>
  parseHttp('query', searchQuerySchema, searchQueryFromQueryString(query));

function refusal(query: Record<string, unknown>): BadRequestBody {
  try {
    parse(query);
  } catch (error) {
    if (error instanceof BadRequestException) return error.getResponse() as BadRequestBody;
    throw error;
  }
  throw new Error('expected 400');
}

describe('search query strings', () => {
  it('types booleans, integers and lists like the JSON body', () => {
    expect(
      parse({
        from: 'alice@example.com',
        mailboxes: 'a@example.com',
        seen: 'false',
        hasAttachment: 'true',
        minSize: '10',
        limit: '20',
        text: 'budget',
      }),
    ).toEqual({
      from: 'alice@example.com',
      mailboxes: ['a@example.com'],
      seen: false,
      hasAttachment: true,
      minSize: 10,
      limit: 20,
      text: 'budget',
    });
    expect(parse({ mailboxes: ['a', 'b'] }).mailboxes).toEqual(['a', 'b']);
    expect(
      parse({ itemType: 'phone_message', callback: 'true', urgent: 'false', phone: '+49 221 555-0199' }),
    ).toMatchObject({
      itemType: 'phone_message',
      callback: true,
      urgent: false,
      phone: '+49 221 555-0199',
    });
    expect(parse({ recurring: 'true', startsFrom: '2026-12-01T00:00:00Z' })).toMatchObject({ recurring: true });
    expect(parse({}).limit).toBe(50);
  });

  it.each([
    [{ seen: 'yes' }, 'seen', /expected boolean/],
    [{ limit: 'ten' }, 'limit', /expected number/],
    [{ limit: '1000' }, 'limit', /500/],
    [{ from: ['a@example.com', 'b@example.com'] }, 'from', /expected string/],
    [{ fromDate: '2024-02-01T00:00:00Z', toDate: '2024-01-01T00:00:00Z' }, 'toDate', /toDate is before fromDate/],
    [{ to: 'not an address' }, 'to', /e-mail address/],
    [{ itemType: 'mail', location: 'Köln' }, 'location', /do not apply to items of kind mail/],
    [{ callback: 'maybe' }, 'callback', /expected boolean/],
  ])('refuses %j naming %s', (query, field, message) => {
    const body = refusal(query);
    expect(body.field).toBe(field);
    expect(body.message).toContain(`${field}:`);
    expect(body.message).toMatch(message);
  });

  it('refuses an unknown parameter by name', () => {
    expect(refusal({ colour: 'red' }).message).toMatch(/colour/);
  });
});
