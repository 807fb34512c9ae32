import { describe, expect, it } from 'vitest';
import { parseAddressCriterion, SEARCH_LIMIT } from '@mlr/contracts';
import { parseRequest, SearchErrorCode, SearchException, toServiceErrorReply } from './search.exception.js';
import { searchRequestSchema } from '@mlr/contracts';

const base = { tenantId: 'acme', visibleMailboxes: 'all' };

function refusal(request: Record<string, unknown>): SearchException {
  try {
    parseRequest('records.search request', searchRequestSchema, { ...base, ...request });
  } catch (error) {
    if (error instanceof SearchException) return error;
    throw error;
  }
  throw new Error('expected the request to be refused');
}

describe('search criteria', () => {
  it('accepts every criterion at once and defaults the page size', () => {
    const request = parseRequest('records.search request', searchRequestSchema, {
      ...base,
      fromDate: '2024-01-01T00:00:00Z',
      toDate: '2024-12-31T23:59:59.999+01:00',
      from: 'Alice@Example.com',
      to: '@example.org',
      subject: ' budget ',
      attachmentName: 'report.pdf',
      mailboxes: ['alice@example.com'],
      folder: 'INBOX/Projects',
      itemType: 'phone_message',
      seen: false,
      answered: true,
      flagged: true,
      followUp: true,
      importance: 'high',
      minSize: 0,
      maxSize: 10_000,
      hasAttachment: true,
      backupJobId: 'job-1',
      text: 'budget -draft',
    });
    expect(request.limit).toBe(SEARCH_LIMIT.default);
    expect(request.subject).toBe('budget');
  });

  it.each([
    [{ colour: 'red' }, '', /Unrecognized key.*colour/],
    [{ fromDate: '2024-02-01T00:00:00Z', toDate: '2024-01-01T00:00:00Z' }, 'toDate', /toDate is before fromDate/],
    [{ minSize: 10, maxSize: 5 }, 'maxSize', /maxSize is smaller than minSize/],
    [{ fromDate: 'yesterday' }, 'fromDate', /ISO 8601/],
    [{ from: 'alice smith@example.com' }, 'from', /e-mail address .* or a domain/],
    [{ from: 'alice@' }, 'from', /e-mail address/],
    [{ to: 'a@b@example.com' }, 'to', /e-mail address/],
    [{ to: 'alice' }, 'to', /find partial names with text/],
    [{ limit: 0 }, 'limit', />=1|too small/i],
    [{ limit: 501 }, 'limit', /<=500|too big/i],
    [{ limit: 2.5 }, 'limit', /integer|int/i],
    [{ mailboxes: [] }, 'mailboxes', /at least one mailbox/],
    [{ importance: 'urgent' }, 'importance', /low|normal|high/],
    [{ itemType: 'fax' }, 'itemType', /mail/],
    [{ seen: 'yes' }, 'seen', /boolean/],
    [{ text: '!!!' }, 'text', /at least one word/],
    [{ subject: '   ' }, 'subject', /must not be empty/],
    [{ backupJobId: 'Job.1' }, 'backupJobId', /job id must be/],
    [{ visibleMailboxes: 'some' }, 'visibleMailboxes', /./],
    [{ tenantId: 'ACME' }, 'tenantId', /tenant id must be/],
    [{ itemType: 'mail', dueFrom: '2026-01-01T00:00:00Z' }, 'dueFrom', /dueFrom do not apply to items of kind mail/],
    [{ location: 'Köln', name: 'Zoë' }, 'name', /location, name apply to different kinds of items/],
    [{ itemType: 'contact', callback: true }, 'callback', /do not apply to items of kind contact/],
    [
      { startsFrom: '2026-02-01T00:00:00Z', startsTo: '2026-01-01T00:00:00Z' },
      'startsTo',
      /startsTo is before startsFrom/,
    ],
    [{ phone: '12345' }, 'phone', /at least 6 digits/],
    [{ phone: '+49 221 abc 1234567' }, 'phone', /phone number/],
    [{ taskStatus: 'done' }, 'taskStatus', /needs-action/],
    [{ form: 'pst' }, 'form', /rfc5322/],
    [{ attendee: 'bob' }, 'attendee', /e-mail address/],
  ])('refuses %j naming %s', (change, field, message) => {
    const error = refusal(change);
    expect(error.code).toBe(SearchErrorCode.INVALID_QUERY);
    expect(error.field).toBe(field || undefined);
    expect(error.message).toMatch(message);
    if (field) expect(error.message).toContain(`${field}:`);
    expect(toServiceErrorReply(error)).toMatchObject({ code: 'invalid_request', message: error.message });
  });
});

describe('address criteria', () => {
  it.each([
    ['Alice@Example.COM', { kind: 'address', address: 'alice@example.com' }],
    ['  bob.smith+tag@mail.example.org ', { kind: 'address', address: 'bob.smith+tag@mail.example.org' }],
    ['example.com', { kind: 'domain', domain: 'example.com' }],
    ['@Example.com', { kind: 'domain', domain: 'example.com' }],
    ['@localhost', { kind: 'domain', domain: 'localhost' }],
    ['bücher.de', { kind: 'domain', domain: 'bücher.de' }],
    ['my-company.co.uk', { kind: 'domain', domain: 'my-company.co.uk' }],
  ])('reads %j', (text, expected) => {
    expect(parseAddressCriterion(text)).toEqual(expected);
  });

  it.each([
    '',
    '@',
    'alice',
    'alice@',
    'a b@example.com',
    'a@b@example.com',
    '-x.com',
    'x..com',
    '@ex_ample.com',
    'a@-x.com',
  ])('refuses %j', (text) => {
    expect(parseAddressCriterion(text)).toBeNull();
  });
});
