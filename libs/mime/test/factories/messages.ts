/** Builds a CRLF message from header lines and a body: the way tests write mail by hand. */
export function mail(headers: string[], body = 'Hello.\r\n'): Buffer {
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`, 'latin1');
}

/** A plain message with the usual headers plus `extra`. */
export function simpleMail(extra: string[] = [], body?: string): Buffer {
  return mail(
    [
      'From: Alice Example <alice@example.com>',
      'To: Bob <bob@example.org>',
      'Subject: Lunch',
      'Date: Tue, 1 Jul 2003 10:52:37 +0200',
      'Message-ID: <lunch-1@example.com>',
      ...extra,
    ],
    body,
  );
}

/** A multipart/mixed message with a text part and the given extra parts (each: header lines + body). */
let boundaries = 0;

export function multipartMail(parts: { headers: string[]; body: string }[], topHeaders: string[] = []): Buffer {
  const boundary = `b${++boundaries}_test_boundary`;
  const lines = [
    'From: alice@example.com',
    'To: bob@example.org',
    'Subject: Parts',
    'Date: Tue, 1 Jul 2003 10:52:37 +0200',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    ...topHeaders,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See attached.',
  ];
  for (const part of parts) lines.push(`--${boundary}`, ...part.headers, '', part.body);
  lines.push(`--${boundary}--`, '');
  return Buffer.from(lines.join('\r\n'), 'utf8');
}
