import { indexRecordSchema } from '@mlr/contracts';
import { describe, expect, it } from 'vitest';
import { buildIndexRecord, extractMessageFacts, type MessageFacts } from '../src/index.js';
import { corpusEntries, readCorpusFile } from './corpus.js';
import { aSighting } from './factories/sighting.js';

const entries = corpusEntries('eml');

function factsOf(path: string): MessageFacts {
  return extractMessageFacts(readCorpusFile(path));
}

function problemsMatching(facts: MessageFacts, pattern: RegExp): string[] {
  return facts.parseProblems.filter((p) => pattern.test(p));
}

describe('every RFC 5322 file of the corpus', () => {
  it('is the whole eml kind of the manifest', () => {
    expect(entries.length).toBeGreaterThanOrEqual(400);
  });

  it.each(entries.map((e) => e.path))('%s: extracts without throwing and builds a valid record', (path) => {
    const raw = readCorpusFile(path);
    const facts = extractMessageFacts(raw);
    expect(facts.size).toBe(raw.length);
    const record = buildIndexRecord(facts, aSighting(raw));
    expect(() => indexRecordSchema.parse(record)).not.toThrow();
  });
});

describe('known corpus messages', () => {
  it('decodes encoded-word subjects and RFC 2231 file names (nodemailer fixture)', () => {
    const facts = factsOf('nodemailer-mailparser/test/fixtures/nodemailer.eml');
    expect(facts.subject).toBe('Nodemailer is unicode friendly ✔ (1476358788189)');
    expect(facts.from).toEqual({ address: 'andris@kreata.ee', name: 'Andris Kreata' });
    expect(facts.to).toEqual([
      { address: 'andris+123@kreata.ee', name: 'Andris Reinman' },
      { address: 'andris.reinman@gmail.com' },
    ]);
    expect(facts.attachmentNames).toEqual(['image.png', 'nyan cat ✔.gif', 'notes.txt']);
    expect(facts.submissionDate).toBe('2016-10-13T11:39:48.000Z');
    expect(facts.parseProblems).toEqual([]);
  });

  it('joins RFC 2231 filename*0*/filename*1* continuations (Japanese long name)', () => {
    const facts = factsOf('ruby-mail/emails/multi_charset/japanese_attachment_long_name.eml');
    expect(facts.attachmentNames).toEqual(['かきくけこかきくけこかきくけこかきくけこかきくけこ.txt']);
    expect(facts.subject).toBe('まみむめも'.repeat(10));
  });

  it('decodes an ISO-2022-JP encoded-word display name', () => {
    const facts = factsOf('ruby-mail/emails/multi_charset/japanese.eml');
    expect(facts.subject).toBe('まみむめも');
    expect(facts.to).toEqual([{ address: 'raasdnil@gmail.com', name: 'みける' }]);
  });

  it('names attachments with encoded words in a quoted parameter (Cyrillic)', () => {
    const facts = factsOf('james-mime4j/testmsgs/russian-headers.msg');
    expect(facts.attachmentNames).toEqual(['Список.doc']);
    expect(facts.hasAttachment).toBe(true);
  });

  it('classifies a delivery status report as a notification', () => {
    const facts = factsOf('ruby-mail/emails/multipart_report_emails/report_422.eml');
    expect(facts.itemType).toBe('notification');
    expect(facts.subject).toBe('Warning: could not send message for past 8 hours');
    // The returned headers (text/rfc822-headers) are protocol data, not an attachment.
    expect(facts.hasAttachment).toBe(false);
  });

  it('classifies a bounce carrying the original message as a notification with that message attached', () => {
    const facts = factsOf('nodemailer-mailparser/test/fixtures/delivery-status.eml');
    expect(facts.itemType).toBe('notification');
    expect(facts.attachmentNames).toEqual(['Example Subject.eml']);
  });

  it('classifies a text/calendar METHOD:REQUEST invitation as an appointment', () => {
    const facts = factsOf('php-mime-mail-parser/mails/m0020');
    expect(facts.itemType).toBe('appointment');
    expect(facts.hasAttachment).toBe(false);
  });

  it('reads raw 8-bit latin-1 headers in the charset the message declares, and says so', () => {
    const facts = factsOf('hunnysoft-zbateson/emails/m0001.txt');
    expect(facts.subject).toBe('Die Hasen und die Frösche (Microsoft Outlook 00)');
    expect(facts.to).toEqual([{ address: 'schmuergen@example.com', name: 'Jürgen Schmürgen' }]);
    expect(problemsMatching(facts, /8-bit bytes in Subject header are not UTF-8/)).toHaveLength(1);
  });

  it('reads raw 8-bit bytes inside an encoded word in the word’s charset', () => {
    const facts = factsOf('hunnysoft-zbateson/emails/m2004.txt');
    expect(facts.subject).toBe('Die Hasen und die Frösche');
    expect(facts.to[0]?.name).toBe('Heinz Müller');
    expect(facts.importance).toBe('high');
  });

  it('reads raw UTF-8 headers (RFC 6532)', () => {
    const facts = factsOf('ruby-mail/emails/rfc6532/utf8_headers.eml');
    expect(facts.subject).toBe('Säying Hello');
    expect(facts.from).toEqual({ address: 'jdöe@mächine.example', name: 'Jöhn Doe' });
  });

  it('reports the raw HTTP POST in the mailsplit fixtures as not being mail', () => {
    const facts = factsOf('andris9-mailsplit/test/fixtures/form-data.eml');
    expect(facts.from).toBeNull();
    expect(facts.subject).toBeNull();
    expect(facts.submissionDate).toBeNull();
    expect(problemsMatching(facts, /HTTP request line "POST \/ HTTP\/1\.1": not an e-mail message/)).toHaveLength(1);
    expect(problemsMatching(facts, /probably not an e-mail message/)).toHaveLength(1);
    expect(problemsMatching(facts, /NUL bytes/)).toHaveLength(1);
    expect(problemsMatching(facts, /mixed line endings/)).toHaveLength(1);
    expect(facts.lineEnding).toBe('mixed');
  });

  it('reads msg_35, whose header has no blank line after it, and reports the missing separator', () => {
    const facts = factsOf('cpython-test_email/msg_35.txt');
    expect(facts.from).toEqual({ address: 'aperson@dom.ain' });
    expect(facts.subject).toBe("here's something interesting");
    expect(problemsMatching(facts, /^no blank line between header and body \(line 4/)).toHaveLength(1);
  });

  it('finds attachments inside nested messages of the MIME torture test (depth 6)', () => {
    const facts = factsOf('andris9-mailsplit/test/fixtures/mimetorture.eml');
    expect(facts.attachmentNames).toEqual(
      expect.arrayContaining(['foo.gz', 'blah.gz', 'blah1.gz', 'htmlfile.html', 'dot.gif', 'plain jane message.eml']),
    );
    expect(facts.parseProblems).toEqual(['bare LF line endings (no CRLF)']);
  });

  it('reports an unsupported encoded-word charset and a missing Date', () => {
    const facts = factsOf('ruby-mail/emails/error_emails/bad_encoded_subject.eml');
    expect(facts.parseProblems).toEqual([
      'bad encoded word in Subject header: unsupported charset "NONE"',
      'no Date header',
    ]);
  });

  it('keeps an unparseable Date as null with the value quoted', () => {
    const facts = factsOf('ruby-mail/emails/plain_emails/raw_email_with_bad_date.eml');
    expect(facts.submissionDate).toBeNull();
    expect(facts.parseProblems).toContain('unparseable Date header "Pn, 29 paX 2007 21:13:00 +0100"');
  });

  it('reads the RFC 2822 obsolete-syntax example (comments, spaces before colons, folded address)', () => {
    const facts = factsOf('ruby-mail/emails/rfc2822/example13.eml');
    expect(facts.from).toEqual({ address: 'jdoe@machine.example', name: 'John Doe' });
    expect(facts.subject).toBe('Saying Hello');
    expect(facts.submissionDate).toBe('1997-11-21T15:55:06.000Z');
    expect(facts.messageId).toBe('<1234@local.machine.example>');
  });

  it('reads header fields that follow folded lines which lost their leading white space', () => {
    const facts = factsOf('php-mime-mail-parser/mails/issue84');
    expect(facts.subject).toBe('Re: [PHP-DEV] [RFC] Remove PHP 4 Constructors');
    expect(facts.from).toEqual({ address: 'tyra3l@gmail.com', name: 'Ferenc Kovacs' });
    expect(problemsMatching(facts, /^malformed header line \d+ skipped/).length).toBeGreaterThan(0);
  });
});
