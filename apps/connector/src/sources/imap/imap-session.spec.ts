import { describe, expect, it } from 'vitest';
import type { ImapSourceConfig } from '../../config/connector-config.js';
import { mailboxLogin, openImapSession } from './imap-session.js';

const source: ImapSourceConfig = {
  kind: 'imap',
  host: '127.0.0.1',
  port: 1,
  secure: false,
  allowSelfSigned: false,
  mailboxes: [
    { address: 'megan@contoso.com', accessToken: 'token' },
    { address: 'bob', password: 'secret' },
  ],
};

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`;
}

describe('IMAP sessions', () => {
  it("opens a mailbox with its owner's own token or password where configured, else for them", () => {
    expect(mailboxLogin(source, 'megan@contoso.com')).toEqual({
      mailbox: 'megan@contoso.com',
      ownAccessToken: 'token',
    });
    expect(mailboxLogin(source, 'bob')).toEqual({ mailbox: 'bob', ownPassword: 'secret' });
    expect(mailboxLogin(source, 'carol')).toEqual({ mailbox: 'carol' });
  });

  it("says so, without asking the server, when the owner's own Microsoft 365 sign-in has expired", async () => {
    const expired = jwt({ upn: 'megan@contoso.com', exp: Math.floor(Date.parse('2026-11-24T09:00:00Z') / 1000) });
    await expect(openImapSession(source, { mailbox: 'megan@contoso.com', ownAccessToken: expired })).rejects.toThrow(
      'the Microsoft 365 sign-in for mailbox megan@contoso.com expired at 2026-11-24T09:00:00.000Z (a sign-in lasts about an hour): run the command again and sign in',
    );
  });

  it('names what is missing when a mailbox has no credentials at all', async () => {
    await expect(openImapSession(source, { mailbox: 'carol' })).rejects.toThrow(
      'no credentials for mailbox carol: configure a service account, a Microsoft 365 app or the mailbox',
    );
  });
});
