import { describe, expect, it } from 'vitest';
import { headerFieldValues } from './index.js';

describe('headerFieldValues', () => {
  it('gives every field of that name in the header block, unfolded, and nothing from the body', () => {
    const message = Buffer.from(
      'Message-ID:\r\n <a@example.com>\r\nSubject: x\r\nmessage-id : <b@example.com>\r\n\r\nMessage-ID: <body@x>\r\n',
    );
    expect(headerFieldValues(message, 'message-id')).toEqual([' <a@example.com>', ' <b@example.com>']);
    expect(headerFieldValues(message, 'references')).toEqual([]);
  });

  it('reads header lines as an IMAP server returns them for BODY[HEADER.FIELDS (...)]', () => {
    expect(headerFieldValues(Buffer.from('Message-Id: <c@example.com>\r\n\r\n'), 'message-id')).toEqual([
      ' <c@example.com>',
    ]);
    expect(headerFieldValues(Buffer.from('\r\n'), 'message-id')).toEqual([]);
  });
});
