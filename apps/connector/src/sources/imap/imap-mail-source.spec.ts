import { describe, expect, it } from 'vitest';
import type { ImapSourceConfig } from '../../config/connector-config.js';
import { imapCursor, ImapMailSource, PUBLIC_FOLDERS_MAILBOX, readImapCursor } from './imap-mail-source.js';

const config = (withServiceAccount: boolean): ImapSourceConfig => ({
  kind: 'imap',
  host: 'imap.example',
  port: 143,
  secure: false,
  allowSelfSigned: false,
  ...(withServiceAccount ? { serviceAccount: { user: 'backup', password: 'secret' } } : {}),
  mailboxes: [{ address: 'alice@example.com' }, { address: 'bob@example.com', password: 'own' }],
});

describe('ImapMailSource', () => {
  it('names every configured mailbox for a job of all, and the public folders once with a service account', () => {
    const source = new ImapMailSource(config(true));
    expect(source.mailboxes({ kind: 'all' }, { publicFolders: true })).toEqual([
      { name: 'alice@example.com', scope: 'personal' },
      { name: 'bob@example.com', scope: 'personal' },
      { name: PUBLIC_FOLDERS_MAILBOX, scope: 'public' },
    ]);
    expect(source.mailboxes({ kind: 'all' }, { publicFolders: false })).toHaveLength(2);
    expect(new ImapMailSource(config(false)).mailboxes({ kind: 'all' }, { publicFolders: true })).toHaveLength(2);
  });

  it('opens the public folders named in a list as public folders, and refuses them without a service account', async () => {
    const opened: unknown[] = [];
    const source = new ImapMailSource(config(false), async (_config, login) => {
      opened.push(login);
      throw new Error('not reached');
    });
    expect(
      source.mailboxes(
        { kind: 'list', mailboxes: [PUBLIC_FOLDERS_MAILBOX, 'carol@example.com'] },
        { publicFolders: true },
      ),
    ).toEqual([
      { name: PUBLIC_FOLDERS_MAILBOX, scope: 'public' },
      { name: 'carol@example.com', scope: 'personal' },
    ]);
    await expect(source.open({ name: PUBLIC_FOLDERS_MAILBOX, scope: 'public' })).rejects.toThrow(
      /public folders can only be reached with a service account/,
    );
    // Never someone's own mailbox under the name of the public folders.
    expect(opened).toEqual([]);
  });
});

describe('IMAP cursors', () => {
  it('write UIDVALIDITY, last UID and HIGHESTMODSEQ as the imap v1 cursor, and read them back', () => {
    const state = { uidValidity: '4294967295', lastUid: 4294967295, highestModSeq: '9223372036854775807' };
    const cursor = imapCursor(state);
    expect(cursor).toEqual({
      source: 'imap',
      version: 1,
      epoch: '4294967295',
      position: '4294967295',
      changes: '9223372036854775807',
      state: null,
    });
    expect(readImapCursor(cursor)).toEqual(state);
  });

  it('go on from no cursor of another source or version, nor from one out of IMAP range', () => {
    const cursor = imapCursor({ uidValidity: '7', lastUid: 42, highestModSeq: null });
    expect(readImapCursor(undefined)).toBeNull();
    expect(readImapCursor({ ...cursor, source: 'graph' })).toBeNull();
    expect(readImapCursor({ ...cursor, version: 2 })).toBeNull();
    expect(readImapCursor({ ...cursor, position: '4294967296' })).toBeNull();
    expect(readImapCursor({ ...cursor, epoch: 'delta' })).toBeNull();
  });
});
