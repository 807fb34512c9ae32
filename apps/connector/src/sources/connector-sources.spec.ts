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
  it('is the source that lists it (without case); with one source, that source', () => {
    expect(sourceIndexOf({ sources: [onprem, cloud, homes] }, 'BOB@corp.example')).toBe(1);
    expect(sourceIndexOf({ sources: [onprem, cloud, homes] }, 'carol@home.example')).toBe(2);
    // One source: it decides itself whether it can open the mailbox.
    expect(sourceIndexOf({ sources: [homes] }, 'dave@corp.example')).toBe(0);
  });

  it("is the operator's default source for an unlisted mailbox, else none: mail systems share names", () => {
    expect(sourceIndexOf({ sources: [onprem, homes], defaultSource: 'onprem' }, 'dave@corp.example')).toBe(0);
    expect(() => sourceIndexOf({ sources: [onprem, homes] }, 'info@corp.example')).toThrow(UnroutedMailbox);
    expect(() => sourceIndexOf({ sources: [onprem, cloud] }, 'info@corp.example')).toThrow(
      /info@corp\.example is listed in no source of this connector \(onprem, cloud\): list it in the source that holds it, or name a defaultSource/,
    );
  });

  it('puts the public folders on the one source that can read them, or the one the operator names', () => {
    const second = source('second', {
      serviceAccount: { user: 'backup2', password: 'y' },
      mailboxes: [{ address: 'erin@branch.example' }],
    });
    expect(sourceIndexOf({ sources: [homes, cloud, onprem] }, PUBLIC_FOLDERS_MAILBOX)).toBe(2);
    expect(sourceIndexOf({ sources: [onprem, second], publicFoldersSource: 'second' }, PUBLIC_FOLDERS_MAILBOX)).toBe(1);
    expect(() => sourceIndexOf({ sources: [onprem, second] }, PUBLIC_FOLDERS_MAILBOX)).toThrow(/several sources/);
    expect(() => sourceIndexOf({ sources: [homes, cloud] }, PUBLIC_FOLDERS_MAILBOX)).toThrow(
      /public folders can only be reached/,
    );
  });
});

describe('the connector as one mail source', () => {
  it("names every source's mailboxes for a job of all, the public folders of the chosen source once", () => {
    const second = source('second', {
      serviceAccount: { user: 'backup2', password: 'y' },
      mailboxes: [{ address: 'erin@branch.example' }],
    });
    const mailboxes = connectorMailSource({
      sources: [homes, onprem, second],
      publicFoldersSource: 'second',
    }).mailboxes({ kind: 'all' }, { publicFolders: true });
    expect(mailboxes).toEqual([
      { name: 'carol@home.example', scope: 'personal' },
      { name: 'alice@corp.example', scope: 'personal' },
      { name: 'erin@branch.example', scope: 'personal' },
      { name: PUBLIC_FOLDERS_MAILBOX, scope: 'public' },
    ]);
  });

  it('names a listed mailbox no source holds, and opening it fails with the reason', async () => {
    const routed = connectorMailSource({ sources: [homes, source('other')] });
    const [mailbox] = routed.mailboxes({ kind: 'list', mailboxes: ['dave@corp.example'] }, { publicFolders: true });
    expect(mailbox).toEqual({ name: 'dave@corp.example', scope: 'personal' });
    await expect(routed.open(mailbox!)).rejects.toThrow(/listed in no source of this connector/);
  });
});
