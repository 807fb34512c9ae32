import { indexRecordSchema } from '@mlr/contracts';
import { describe, expect, it } from 'vitest';
import { mail, multipartMail, simpleMail } from '../test/factories/messages.js';
import { aSighting } from '../test/factories/sighting.js';
import { buildIndexRecord, extractMessageFacts, type MessageFacts } from './index.js';

function expectValidRecord(raw: Buffer | Uint8Array, facts: MessageFacts): void {
  const record = buildIndexRecord(facts, aSighting(Buffer.from(raw)));
  expect(() => indexRecordSchema.parse(record)).not.toThrow();
}

function has(facts: MessageFacts, pattern: RegExp): boolean {
  return facts.parseProblems.some((p) => pattern.test(p));
}

/** Deterministic pseudo-random bytes (xorshift32), so a failing case can be replayed. */
function pseudoRandom(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function nested(depth: number, leaf: string): string {
  let body = leaf;
  for (let d = depth; d > 0; d--) {
    const b = `level${d}`;
    body = `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\n${body}\r\n--${b}--\r\n`;
  }
  return body;
}

describe('extractMessageFacts on a well-formed message', () => {
  it('reads the index fields', () => {
    const facts = extractMessageFacts(simpleMail(['Cc: "Carol, C." <carol@example.net>, dave@example.net']));
    expect(facts).toMatchObject({
      messageId: '<lunch-1@example.com>',
      submissionDate: '2003-07-01T08:52:37.000Z',
      from: { address: 'alice@example.com', name: 'Alice Example' },
      to: [{ address: 'bob@example.org', name: 'Bob' }],
      cc: [{ address: 'carol@example.net', name: 'Carol, C.' }, { address: 'dave@example.net' }],
      bcc: [],
      subject: 'Lunch',
      attachmentNames: [],
      hasAttachment: false,
      importance: 'normal',
      followUp: null,
      itemType: 'mail',
      lineEnding: 'crlf',
      parseProblems: [],
    });
  });

  it('accepts a Uint8Array that is not a Buffer', () => {
    const bytes = new Uint8Array(simpleMail());
    expect(extractMessageFacts(bytes).subject).toBe('Lunch');
  });
});

describe('extractMessageFacts never throws', () => {
  it('on empty input', () => {
    const facts = extractMessageFacts(Buffer.alloc(0));
    expect(facts).toMatchObject({ size: 0, subject: null, from: null, messageId: null, submissionDate: null });
    expect(facts.parseProblems).toEqual(['empty message (0 bytes)']);
    expectValidRecord(Buffer.alloc(0), facts);
  });

  it('on a message that is only a header block (no blank line, no body)', () => {
    const raw = Buffer.from('From: a@example.com\r\nSubject: only headers\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200');
    const facts = extractMessageFacts(raw);
    expect(facts.subject).toBe('only headers');
    expect(facts.parseProblems).toEqual([]);
  });

  it('on text without any header', () => {
    const facts = extractMessageFacts(Buffer.from('Dear Bob,\r\nno headers here.\r\n'));
    expect(facts.parseProblems).toContain('no header fields: not an e-mail message');
    expect(facts.subject).toBeNull();
  });

  it('on binary garbage', () => {
    const next = pseudoRandom(7);
    const raw = Buffer.from(Array.from({ length: 64 * 1024 }, () => Math.floor(next() * 256)));
    const facts = extractMessageFacts(raw);
    expect(facts.size).toBe(raw.length);
    expect(has(facts, /NUL bytes/)).toBe(true);
    expectValidRecord(raw, facts);
  });

  it('on an HTTP request', () => {
    const raw = Buffer.from(
      'POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
    );
    const facts = extractMessageFacts(raw);
    expect(has(facts, /HTTP request line "POST \/upload HTTP\/1\.1": not an e-mail message/)).toBe(true);
    expect(has(facts, /probably not an e-mail message/)).toBe(true);
  });

  it('on NUL bytes in headers and body, which never reach the facts', () => {
    const raw = simpleMail(['Subject: bad\u0000subject'], 'body\u0000\u0000\r\n');
    const facts = extractMessageFacts(raw);
    expect(facts.subject).toBe('Lunch');
    expect(facts.parseProblems).toContain('3 NUL bytes');
    const onlyNul = extractMessageFacts(Buffer.from('Subject: a\u0000b\r\n\r\n'));
    expect(onlyNul.subject).toBe('ab');
  });

  it('on a 24,000-character header line', () => {
    const long = 'x'.repeat(24_000);
    const raw = simpleMail([`X-Long: ${long}`, `Thread-Topic: ${long}`]);
    const facts = extractMessageFacts(raw);
    expect(facts.subject).toBe('Lunch');
    expect(has(facts, /2 lines longer than 998 bytes \(longest 24014\)/)).toBe(true);
  });

  it('on 200 nested multiparts, reporting the nesting it did not examine', () => {
    const raw = Buffer.from(
      `From: a@example.com\r\nSubject: deep\r\n${nested(200, 'Content-Type: text/plain\r\n\r\nleaf')}`,
    );
    const facts = extractMessageFacts(raw);
    expect(facts.subject).toBe('deep');
    expect(has(facts, /MIME nesting deeper than 100 levels/)).toBe(true);
    expectValidRecord(raw, facts);
  });

  it('on 60 nested multiparts, still finding the attachment at the bottom', () => {
    const leaf = 'Content-Type: application/pdf; name="deep.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=';
    const facts = extractMessageFacts(Buffer.from(`Subject: deep\r\n${nested(60, leaf)}`));
    expect(facts.attachmentNames).toEqual(['deep.pdf']);
  });

  it('on messages cut short or with bytes overwritten anywhere', () => {
    const base = multipartMail([
      {
        headers: [
          'Content-Type: application/pdf',
          "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf",
        ],
        body: 'JVBERi0xLjQK',
      },
      { headers: ['Content-Type: message/rfc822'], body: simpleMail().toString('latin1') },
    ]);
    const next = pseudoRandom(42);
    for (let i = 0; i < 2000; i++) {
      const raw = Buffer.from(base.subarray(0, Math.floor(next() * (base.length + 1))));
      for (let k = 0; k < 4; k++) raw[Math.floor(next() * raw.length)] = Math.floor(next() * 256);
      const facts = extractMessageFacts(raw);
      expect(facts.size).toBe(raw.length);
      // Internal failures are caught and reported this way; a mangled message must not cause one.
      expect(facts.parseProblems.filter((p) => /could not be read/.test(p))).toEqual([]);
      expectValidRecord(raw, facts);
    }
  });
});

describe('line endings', () => {
  it('reads bare-LF mail like CRLF mail and says which it was', () => {
    const crlf = simpleMail();
    const lf = Buffer.from(crlf.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const a = extractMessageFacts(crlf);
    const b = extractMessageFacts(lf);
    expect({ ...b, size: a.size, lineEnding: a.lineEnding, parseProblems: a.parseProblems }).toEqual(a);
    expect(b.lineEnding).toBe('lf');
    expect(b.parseProblems).toEqual(['bare LF line endings (no CRLF)']);
  });

  it('reports mixed line endings and bare CRs', () => {
    const facts = extractMessageFacts(Buffer.from('Subject: mixed\r\nFrom: a@b.c\n\nline\rmore\r\n'));
    expect(facts.lineEnding).toBe('mixed');
    expect(facts.parseProblems).toEqual(
      expect.arrayContaining(['mixed line endings (2 CRLF, 2 bare LF)', '1 bare CR character']),
    );
  });
});

describe('header decoding', () => {
  it('decodes RFC 2047 encoded words, joining adjacent ones', () => {
    const facts = extractMessageFacts(
      mail([
        'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_?= =?UTF-8?B?YXVzIEvDtmxu?= und mehr',
        'From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>',
        'Date: Tue, 1 Jul 2003 10:52:37 +0200',
      ]),
    );
    expect(facts.subject).toBe('Grüße aus Köln und mehr');
    expect(facts.from).toEqual({ address: 'PIRARD@vm1.ulg.ac.be', name: 'André Pirard' });
  });

  it('reports bad encoded words but keeps the text', () => {
    const facts = extractMessageFacts(
      mail([
        'Subject: =?x-no-such-charset?Q?abc?= =?utf-8?B?!!!?= =?utf-8?Q?open',
        'Date: Tue, 1 Jul 2003 10:52:37 +0200',
      ]),
    );
    expect(facts.subject).not.toBeNull();
    expect(facts.parseProblems).toEqual(
      expect.arrayContaining([
        'bad encoded word in Subject header: unsupported charset "x-no-such-charset"',
        expect.stringMatching(/invalid base64/),
        'bad encoded word in Subject header: not terminated',
      ]),
    );
  });

  it('reads raw UTF-8 and raw latin-1 header bytes', () => {
    const utf8 = Buffer.concat([Buffer.from('Subject: '), Buffer.from('Café ☕', 'utf8'), Buffer.from('\r\n\r\n')]);
    const latin1 = Buffer.concat([Buffer.from('Subject: '), Buffer.from('Café', 'latin1'), Buffer.from('\r\n\r\n')]);
    const a = extractMessageFacts(utf8);
    const b = extractMessageFacts(latin1);
    expect(a.subject).toBe('Café ☕');
    expect(has(a, /8-bit bytes in Subject header \(read as UTF-8\)/)).toBe(true);
    expect(b.subject).toBe('Café');
    expect(has(b, /8-bit bytes in Subject header are not UTF-8 \(read as windows-1252\)/)).toBe(true);
  });

  it('unfolds folded headers and tidies white space', () => {
    const facts = extractMessageFacts(mail(['Subject: a long\r\n  subject\r\n\tfolded', 'From: a@example.com']));
    expect(facts.subject).toBe('a long subject folded');
  });

  it('keeps the Message-ID in angle brackets, adding them when missing', () => {
    expect(extractMessageFacts(simpleMail()).messageId).toBe('<lunch-1@example.com>');
    const bare = extractMessageFacts(mail(['Message-ID: abc@example.com', 'Date: Tue, 1 Jul 2003 10:52:37 +0200']));
    expect(bare.messageId).toBe('<abc@example.com>');
    expect(has(bare, /Message-ID without angle brackets/)).toBe(true);
  });

  it('reports a second, different Subject and uses the first', () => {
    const facts = extractMessageFacts(simpleMail(['Subject: Dinner']));
    expect(facts.subject).toBe('Lunch');
    expect(facts.parseProblems).toContain('2 different Subject headers (the first is used)');
  });
});

describe('dates', () => {
  const dateOf = (value: string) => extractMessageFacts(mail([`Date: ${value}`, 'From: a@example.com']));

  it.each([
    ['Tue, 1 Jul 2003 10:52:37 +0200', '2003-07-01T08:52:37.000Z'],
    ['1 Jul 2003 10:52 -0000', '2003-07-01T10:52:00.000Z'],
    ['Wed, 11 Feb 98 11:51 CST', '1998-02-11T17:51:00.000Z'],
    ['Fri, 21 Nov 1997 09(comment):   55  :  06 -0600', '1997-11-21T15:55:06.000Z'],
    ['Tue, 1 Jul 2003 10:52:37 +0200 (CEST)', '2003-07-01T08:52:37.000Z'],
  ])('reads %s', (value, iso) => {
    const facts = dateOf(value);
    expect(facts.submissionDate).toBe(iso);
    expect(facts.parseProblems).toEqual([]);
  });

  it.each([
    ['Tue Jul  1 10:52:37 2003', '2003-07-01T10:52:37.000Z', /no time zone/],
    ['2003-07-01T10:52:37+02:00', '2003-07-01T08:52:37.000Z', /ISO 8601/],
    ['Mon, 21 Aug 95 13:30:57 -600', '1995-08-21T19:30:57.000Z', /read leniently/],
  ])('reads %s leniently and notes it', (value, iso, note) => {
    const facts = dateOf(value);
    expect(facts.submissionDate).toBe(iso);
    expect(has(facts, note)).toBe(true);
  });

  it('leaves an unreadable or impossible date null and says so', () => {
    for (const value of ['next Tuesday', 'Mon, 31 Feb 2003 10:00:00 +0000', 'Wed, 15 Dec 2010 59:10 -0500']) {
      const facts = dateOf(value);
      expect(facts.submissionDate).toBeNull();
      expect(has(facts, /^unparseable Date header/)).toBe(true);
    }
  });

  it('reports a missing Date', () => {
    expect(extractMessageFacts(mail(['From: a@example.com'])).parseProblems).toContain('no Date header');
  });
});

describe('addresses', () => {
  const list = (header: string) => extractMessageFacts(mail([`To: ${header}`, 'Date: Tue, 1 Jul 2003 10:52:37 +0200']));

  it('flattens groups and reads comments as names', () => {
    const facts = list(
      'Team: ann@example.com, "Ben B." <ben@example.com>;, carl@example.com (Carl C), undisclosed-recipients:;',
    );
    expect(facts.to).toEqual([
      { address: 'ann@example.com' },
      { address: 'ben@example.com', name: 'Ben B.' },
      { address: 'carl@example.com', name: 'Carl C' },
    ]);
    expect(facts.parseProblems).toEqual([]);
  });

  it('reports a malformed list and keeps what it can', () => {
    const facts = list('"Unclosed <a@example.com>, b@example.com c@example.com');
    expect(has(facts, /^malformed address list in To: unterminated quoted string/)).toBe(true);
  });

  it('splits addresses someone forgot the commas between', () => {
    const facts = list('a@example.com b@example.com');
    expect(facts.to).toEqual([{ address: 'a@example.com' }, { address: 'b@example.com' }]);
    expect(has(facts, /addresses not separated by commas/)).toBe(true);
  });

  it('falls back to Sender when there is no From', () => {
    const facts = extractMessageFacts(mail(['Sender: list@example.com', 'Date: Tue, 1 Jul 2003 10:52:37 +0200']));
    expect(facts.from).toEqual({ address: 'list@example.com' });
  });
});

describe('importance and follow-up', () => {
  const importance = (...headers: string[]) => extractMessageFacts(simpleMail(headers)).importance;

  it('maps Importance, X-Priority, Priority and X-MSMail-Priority', () => {
    expect(importance('Importance: High')).toBe('high');
    expect(importance('Importance: low')).toBe('low');
    expect(importance('X-Priority: 1 (Highest)')).toBe('high');
    expect(importance('X-Priority: 5')).toBe('low');
    expect(importance('X-Priority: 3 (Normal)')).toBe('normal');
    expect(importance('Priority: urgent')).toBe('high');
    expect(importance('Priority: non-urgent')).toBe('low');
    expect(importance('X-MSMail-Priority: Low')).toBe('low');
    expect(importance('Importance: low', 'X-Priority: 1')).toBe('low');
    expect(importance()).toBe('normal');
  });

  it('reads Outlook’s follow-up flag', () => {
    expect(extractMessageFacts(simpleMail(['X-Message-Flag: Follow up'])).followUp).toBe('Follow up');
    expect(extractMessageFacts(simpleMail()).followUp).toBeNull();
  });
});

describe('attachments', () => {
  it('names attachments from Content-Disposition (RFC 2231) and Content-Type name (encoded words)', () => {
    const facts = extractMessageFacts(
      multipartMail([
        {
          headers: [
            'Content-Type: application/pdf',
            "Content-Disposition: attachment; filename*0*=utf-8''r%C3%A9sum%C3%A9; filename*1*=%20final.pdf",
          ],
          body: 'JVBERi0xLjQK',
        },
        { headers: ['Content-Type: image/png; name="=?UTF-8?Q?f=C3=B8to.png?="'], body: 'iVBORw0KGgo=' },
        { headers: ['Content-Type: application/octet-stream', 'Content-Disposition: attachment'], body: 'AAAA' },
        { headers: ['Content-Type: text/plain; name="C:\\\\Users\\\\bob\\\\notes.txt"'], body: 'notes' },
      ]),
    );
    expect(facts.attachmentNames).toEqual(['résumé final.pdf', 'føto.png', 'notes.txt']);
    expect(facts.hasAttachment).toBe(true);
  });

  it('does not count body alternatives, embedded images, signatures or report parts', () => {
    const related = [
      'Content-Type: multipart/related; boundary="rel"',
      '',
      '--rel',
      'Content-Type: text/html',
      '',
      '<img src="cid:logo">',
      '--rel',
      'Content-Type: image/png; name="logo.png"',
      'Content-ID: <logo>',
      '',
      'iVBORw0KGgo=',
      '--rel--',
    ].join('\r\n');
    const facts = extractMessageFacts(
      multipartMail([
        { headers: ['Content-Type: text/html'], body: '<p>hi</p>' },
        { headers: related.split('\r\n').slice(0, 1), body: related.split('\r\n').slice(2).join('\r\n') },
        {
          headers: [
            'Content-Type: application/pkcs7-signature; name=smime.p7s',
            'Content-Disposition: attachment; filename=smime.p7s',
          ],
          body: 'MIAGCSqGSIb3DQEHAqCAMIACAQEx',
        },
      ]),
    );
    expect(facts.attachmentNames).toEqual([]);
    expect(facts.hasAttachment).toBe(false);
  });

  it('includes attached messages and the attachments inside them, even base64-encoded', () => {
    const inner = multipartMail([
      {
        headers: ['Content-Type: application/zip', 'Content-Disposition: attachment; filename=inner.zip'],
        body: 'UEsDBA==',
      },
    ]);
    const facts = extractMessageFacts(
      multipartMail([
        { headers: ['Content-Type: message/rfc822'], body: inner.toString('latin1') },
        {
          headers: [
            'Content-Type: message/rfc822',
            'Content-Transfer-Encoding: base64',
            'Content-Disposition: attachment; filename="fwd.eml"',
          ],
          body: simpleMail().toString('base64'),
        },
      ]),
    );
    expect(facts.attachmentNames).toEqual(['Parts.eml', 'inner.zip', 'fwd.eml']);
  });

  it('finds uuencoded files in a plain-text body', () => {
    const body = 'See below.\r\n\r\nbegin 644 report.txt\r\n%:&5L;&\\`\r\n`\r\nend\r\n';
    expect(extractMessageFacts(simpleMail([], body)).attachmentNames).toEqual(['report.txt']);
  });

  it('reports an unterminated multipart but still reads its parts', () => {
    const raw = Buffer.from(
      'Subject: cut\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: image/gif; name=a.gif\r\n\r\nR0lG',
    );
    const facts = extractMessageFacts(raw);
    expect(facts.attachmentNames).toEqual(['a.gif']);
    expect(facts.parseProblems).toContain('multipart/mixed not terminated: closing boundary missing');
  });

  it('reports a multipart whose boundary never appears, or that has none', () => {
    const missing = extractMessageFacts(
      mail(['Subject: x', 'Content-Type: multipart/mixed; boundary=nope'], 'text\r\n'),
    );
    expect(has(missing, /multipart\/mixed has no parts: boundary "nope" never appears/)).toBe(true);
    const none = extractMessageFacts(mail(['Subject: x', 'Content-Type: multipart/mixed'], 'text\r\n'));
    expect(has(none, /multipart\/mixed without a boundary parameter/)).toBe(true);
  });

  it('does not take a longer boundary that starts with the same text for its own', () => {
    const raw = [
      'Subject: similar',
      'Date: Tue, 1 Jul 2003 10:52:37 +0200',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: multipart/alternative; boundary="b_alt"',
      '',
      '--b_alt',
      'Content-Type: text/plain',
      '',
      'hi',
      '--b_alt--',
      '--b',
      'Content-Type: image/gif; name=x.gif',
      '',
      'R0lG',
      '--b--',
      '',
    ].join('\r\n');
    const facts = extractMessageFacts(Buffer.from(raw));
    expect(facts.attachmentNames).toEqual(['x.gif']);
    expect(facts.parseProblems).toEqual([]);
  });
});

describe('item types', () => {
  const calendar = (method: string, component: string) =>
    multipartMail([
      {
        headers: [`Content-Type: text/calendar; charset=utf-8${method ? `; method=${method}` : ''}`],
        body: `BEGIN:VCALENDAR\r\n${method ? `METHOD:${method}\r\n` : ''}BEGIN:${component}\r\nEND:${component}\r\nEND:VCALENDAR`,
      },
    ]);

  it('maps calendar invitations by their component', () => {
    expect(extractMessageFacts(calendar('REQUEST', 'VEVENT')).itemType).toBe('appointment');
    expect(extractMessageFacts(calendar('CANCEL', 'VEVENT')).itemType).toBe('appointment');
    expect(extractMessageFacts(calendar('REQUEST', 'VTODO')).itemType).toBe('task');
    expect(extractMessageFacts(calendar('PUBLISH', 'VJOURNAL')).itemType).toBe('note');
    // A published event without METHOD is a file someone sent, not an invitation.
    expect(extractMessageFacts(calendar('', 'VEVENT')).itemType).toBe('mail');
  });

  it('does not make a forwarded invitation an appointment', () => {
    const forwarded = multipartMail([
      { headers: ['Content-Type: message/rfc822'], body: calendar('REQUEST', 'VEVENT').toString() },
    ]);
    expect(extractMessageFacts(forwarded).itemType).toBe('mail');
  });

  it('maps reports, Exchange content classes, RFC 3458 contexts, notes and vCards', () => {
    const report = mail(
      ['Subject: Undeliverable', 'Content-Type: multipart/report; report-type=delivery-status; boundary=r'],
      '--r\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--r--\r\n',
    );
    expect(extractMessageFacts(report).itemType).toBe('notification');
    expect(extractMessageFacts(simpleMail(['Content-Class: urn:content-classes:calendarmessage'])).itemType).toBe(
      'appointment',
    );
    expect(extractMessageFacts(simpleMail(['Content-Class: voice-uc'])).itemType).toBe('phone_message');
    // MLR's own mark for mail-like items it wrote; not taken from a message that came through a server.
    expect(extractMessageFacts(simpleMail(['X-MLR-Item-Type: phone_message'])).itemType).toBe('phone_message');
    expect(extractMessageFacts(simpleMail(['X-MLR-Item-Type: Notification'])).itemType).toBe('notification');
    expect(
      extractMessageFacts(
        simpleMail(['Received: from a by b; Mon, 7 Dec 2026 08:00:00 +0000', 'X-MLR-Item-Type: notification']),
      ).itemType,
    ).toBe('mail');
    expect(extractMessageFacts(simpleMail(['Message-Context: voice-message'])).itemType).toBe('phone_message');
    expect(extractMessageFacts(simpleMail(['X-Uniform-Type-Identifier: com.apple.mail-note'])).itemType).toBe('note');
    expect(extractMessageFacts(mail(['Subject: card', 'Content-Type: text/vcard'], 'BEGIN:VCARD')).itemType).toBe(
      'contact',
    );
  });
});
