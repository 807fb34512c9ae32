import { describe, expect, it } from 'vitest';
import { messageIdField } from './imap-mailbox-writer.js';

describe('messageIdField (what the duplicate check lists a message by, besides its size)', () => {
  it('reads the Message-ID field of a message, unfolded, white space collapsed, lower-cased', () => {
    const message = Buffer.from(
      'From: a@example.com\r\nMessage-ID:\r\n <AbC.1@Example.COM>\r\nSubject: x\r\n\r\nbody\r\n',
    );
    expect(messageIdField(message)).toBe('<abc.1@example.com>');
  });

  it('gives the same value for the header lines a server returns for that field', () => {
    const message = Buffer.from('Subject: x\r\nMessage-Id: <id-2@example.com>\r\n\r\nMessage-ID: <not-a-header>\r\n');
    const served = Buffer.from('Message-Id: <id-2@example.com>\r\n\r\n');
    expect(messageIdField(message)).toBe('<id-2@example.com>');
    expect(messageIdField(served)).toBe(messageIdField(message));
  });

  it('keeps every Message-ID line of a message that has several, and is empty without one', () => {
    expect(messageIdField(Buffer.from('Message-ID: <a@x>\nMessage-ID: <b@x>\n\nbody'))).toBe('<a@x>\n<b@x>');
    expect(messageIdField(Buffer.from('Subject: none\r\n\r\nMessage-ID: <in@body>'))).toBe('');
    expect(messageIdField(Buffer.alloc(0))).toBe('');
  });
});
