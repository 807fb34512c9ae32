import { describe, expect, it } from 'vitest';
import { containsPattern, escapeLike, searchStatement, type SearchFilter } from './search-sql.js';

const MESSAGE_DATE = `coalesce(r.submission_date, r.internal_date, '-infinity'::timestamptz)`;

describe('search statements', () => {
  it('binds every value of every criterion as a parameter', () => {
    const hostile = `x'; DROP TABLE index_records; --`;
    const filter: SearchFilter = {
      tenantId: 'acme',
      mailboxes: [hostile, 'b@example.com'],
      fromDate: '2024-01-01T00:00:00.000Z',
      toDate: '2024-12-31T00:00:00.000Z',
      sender: hostile,
      participantKeys: [`to:${hostile}`],
      subjectPattern: containsPattern(hostile),
      attachmentPattern: containsPattern(hostile),
      folder: hostile,
      itemType: 'mail',
      seen: true,
      answered: false,
      flagged: true,
      followUp: false,
      importance: 'high',
      minSize: 1,
      maxSize: 2,
      hasAttachment: true,
      backupJobId: 'job-1',
      text: hostile,
    };
    const statement = searchStatement(filter, { date: '2024-06-01T00:00:00.000Z', id: hostile }, 51);
    expect(statement.text).not.toContain('DROP');
    expect(statement.text).not.toContain('acme');
    expect(statement.text).not.toContain('2024');
    expect(statement.values).toContain(hostile);
    expect(statement.values).toContain('acme');
    expect(statement.values).toContain(51);
    // Each criterion adds its condition.
    for (const fragment of [
      'r.tenant_id = $1',
      'r.mailbox = ANY(',
      `${MESSAGE_DATE} >= `,
      `${MESSAGE_DATE} <= `,
      'r.sender = ',
      'r.participant_keys @> ',
      'r.subject ILIKE ',
      'mlr_search_words(r.attachment_names) ILIKE ',
      'unnest(r.attachment_names)',
      'r.folder = ',
      '::item_type',
      'r.seen = ',
      'r.answered = ',
      'r.flagged = ',
      'r.follow_up = ',
      '::importance',
      'r.size >= ',
      'r.size <= ',
      'r.has_attachment = ',
      'r.backup_job_id = ',
      `r.search_vector @@ websearch_to_tsquery('simple', `,
      `(${MESSAGE_DATE}, r.id) < (`,
      `ORDER BY ${MESSAGE_DATE} DESC, r.id DESC`,
    ]) {
      expect(statement.text).toContain(fragment);
    }
  });

  it('scopes to the tenant alone when nothing else is asked, newest first', () => {
    const statement = searchStatement({ tenantId: 'acme' }, null, 51);
    expect(statement.text).toMatch(/WHERE r\.tenant_id = \$1\s+ORDER BY/);
    expect(statement.values).toEqual(['acme', 51]);
  });

  it('compares one mailbox by equality (index order) and several with ANY', () => {
    expect(searchStatement({ tenantId: 'acme', mailboxes: ['a'] }, null, 2).text).toContain('r.mailbox = $2');
    const many = searchStatement({ tenantId: 'acme', mailboxes: ['a', 'b'] }, null, 2);
    expect(many.text).toContain('r.mailbox = ANY($2::text[])');
    expect(many.values[1]).toEqual(['a', 'b']);
  });

  it('keeps undated records out of an upper date bound alone', () => {
    const upper = searchStatement({ tenantId: 'acme', toDate: '2024-01-01T00:00:00.000Z' }, null, 2).text;
    expect(upper).toContain(`${MESSAGE_DATE} > '-infinity'::timestamptz`);
    const both = searchStatement(
      { tenantId: 'acme', fromDate: '2023-01-01T00:00:00.000Z', toDate: '2024-01-01T00:00:00.000Z' },
      null,
      2,
    ).text;
    expect(both).not.toContain(`> '-infinity'`);
  });

  it('continues after an undated record at -infinity', () => {
    const statement = searchStatement({ tenantId: 'acme' }, { date: null, id: 'r-9' }, 2);
    expect(statement.values).toEqual(['acme', '-infinity', 'r-9', 2]);
  });

  it('escapes LIKE wildcards so that the text matches literally', () => {
    expect(escapeLike('100%_a\\b')).toBe('100\\%\\_a\\\\b');
    expect(containsPattern('50%')).toBe('%50\\%%');
  });
});
