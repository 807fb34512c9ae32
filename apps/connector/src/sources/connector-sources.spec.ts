import { describe, expect, it } from 'vitest';
import type { NamedSourceConfig } from '../config/connector-config.js';
import { connectorMailSource, sourceIndexOf, UnroutedMailbox } from './connector-sources.js';
import { PUBLIC_FOLDERS_MAILBOX } from './imap/imap-mail-source.js';

const source = (name: string, more: Partial<NamedSourceConfig> = {}): NamedSourceConfig => ({
  name,
  kind: 'imap',
  host: `${name}.example.com`,
  port: 143,
  secure: false,
  allowSelfSigned: false,
  mailboxes: [],
  ...more,
});

const onprem = source('onprem', {
  serviceAccount: { user: 'backup', password: 'x' },
  mailboxes: [{ address: 'alice@corp.example' }],
});
const cloud = source('cloud', {
  microsoft365App: {
    tenant: 't',
    clientId: 'c',
    clientSecret: 's',
    authorityHost: 'https://login.microsoftonline.com',
    scope: 'https://outlook.office365.com/.default',
  },
  mailboxes: [{ address: 'bob@corp.example' }],
});
const homes = source('homes', { mailboxes: [{ address: 'carol@home.example', password: 'own' }] });

describe('which source holds a mailbox', () => {
  it('is the source that lists it (without case), else the one source that opens any mailbox', () => {
    expect(sourceIndexOf([onprem, cloud, homes], 'BOB@corp.example')).toBe(1);
    expect(sourceIndexOf([onprem, cloud, homes], 'carol@home.example')).toBe(2);
    expect(sourceIndexOf([onprem, homes], 'dave@corp.example')).toBe(0);
    // One source: it decides itself whether it can open the mailbox.
    expect(sourceIndexOf([homes], 'dave@corp.example')).toBe(0);
  });

  it('is none, saying why, for an unlisted mailbox no source or several sources could open', () => {
    expect(() => sourceIndexOf([onprem, cloud], 'dave@corp.example')).toThrow(
      /dave@corp\.example is listed in no source of this connector, and several \(onprem, cloud\) could open it/,
    );
    expect(() => sourceIndexOf([homes, source('other')], 'dave@corp.example')).toThrow(UnroutedMailbox);
    expect(() => sourceIndexOf([homes, source('other')], 'dave@corp.example')).toThrow(
      /no source has a service account/,
    );
  });

  it('puts the public folders on the first source with a service account and a mailbox', () => {
    expect(sourceIndexOf([homes, cloud, onprem], PUBLIC_FOLDERS_MAILBOX)).toBe(2);
    expect(() => sourceIndexOf([homes, cloud], PUBLIC_FOLDERS_MAILBOX)).toThrow(/public folders can only be reached/);
  });
});

describe('the connector as one mail source', () => {
  it("names every source's mailboxes for a job of all, public folders once", () => {
    const second = source('second', {
      serviceAccount: { user: 'backup2', password: 'y' },
      mailboxes: [{ address: 'erin@branch.example' }],
    });
    const mailboxes = connectorMailSource([homes, onprem, second]).mailboxes({ kind: 'all' }, { publicFolders: true });
    expect(mailboxes).toEqual([
      { name: 'carol@home.example', scope: 'personal' },
      { name: 'alice@corp.example', scope: 'personal' },
      { name: PUBLIC_FOLDERS_MAILBOX, scope: 'public' },
      { name: 'erin@branch.example', scope: 'personal' },
    ]);
  });

  it('names a listed mailbox no source holds, and opening it fails with the reason', async () => {
    const routed = connectorMailSource([homes, source('other')]);
    const [mailbox] = routed.mailboxes({ kind: 'list', mailboxes: ['dave@corp.example'] }, { publicFolders: true });
    expect(mailbox).toEqual({ name: 'dave@corp.example', scope: 'personal' });
    await expect(routed.open(mailbox!)).rejects.toThrow(/listed in no source of this connector/);
  });
});
