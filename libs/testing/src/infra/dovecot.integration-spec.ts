import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDovecotUser, startDovecot, type ImapInfo } from './dovecot.js';
import type { ServiceHandle } from './types.js';

const CRLF_MESSAGE = '/work/shared/corpus/cpython-test_email/msg_26.txt';
const MASTER = { name: 'mlr-backup', password: 'receive-as-secret' };
const ALICE = { name: 'alice', password: 'alice-secret' };
const BOB = { name: 'bob', password: 'bob-secret' };

async function messageCount(client: ImapFlow, path: string): Promise<number | undefined> {
  const status = await client.status(path, { messages: true });
  return status === false ? undefined : status.messages;
}

describe('startDovecot', () => {
  let dir: string;
  let dovecot: ServiceHandle<ImapInfo>;
  const open: ImapFlow[] = [];

  async function login(auth: ImapFlowOptions['auth']): Promise<ImapFlow> {
    const client = new ImapFlow({
      host: dovecot.info.host,
      port: dovecot.info.port,
      secure: dovecot.info.secure,
      auth,
      logger: false,
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
    });
    client.on('error', () => undefined);
    await client.connect();
    open.push(client);
    return client;
  }

  const bobMessage = Buffer.from(
    [
      'From: Carol <carol@example.com>',
      'To: Bob <bob@example.com>',
      'Subject: for bob only',
      'Message-ID: <bob-1@example.com>',
      '',
      'Hello Bob.',
      '',
    ].join('\r\n'),
  );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mlr-dovecot-'));
    dovecot = await startDovecot({ dir, users: [ALICE, BOB], masterUser: MASTER });
  });

  afterAll(async () => {
    await Promise.allSettled(open.map((client) => client.logout()));
    await dovecot?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips a CRLF message byte for byte with flags and INTERNALDATE', async () => {
    const raw = readFileSync(CRLF_MESSAGE);
    expect(raw.includes('\r\n')).toBe(true);
    const internalDate = new Date('2021-03-04T05:06:07Z');
    const alice = await login({ user: ALICE.name, pass: ALICE.password });

    const appended = await alice.append('INBOX', raw, ['\\Seen', 'mlr-archived'], internalDate);
    expect(appended).toBeTruthy();
    const lock = await alice.getMailboxLock('INBOX');
    try {
      const uid = appended && appended.uid !== undefined ? appended.uid : '*';
      const fetched = await alice.fetchOne(
        String(uid),
        { source: true, flags: true, internalDate: true },
        { uid: true },
      );
      expect(fetched).toBeTruthy();
      if (!fetched) return;
      expect(fetched.source?.equals(raw)).toBe(true);
      expect([...(fetched.flags ?? [])].filter((flag) => flag !== '\\Recent').sort()).toEqual([
        '\\Seen',
        'mlr-archived',
      ]);
      expect(new Date(fetched.internalDate ?? 0).getTime()).toBe(internalDate.getTime());
    } finally {
      lock.release();
    }
  });

  it('lets the master user act as bob (SASL authzid and LOGIN user*master) and create folders', async () => {
    const bob = await login({ user: BOB.name, pass: BOB.password });
    await bob.append('INBOX', bobMessage);

    const asBob = await login({ user: MASTER.name, pass: MASTER.password, authzid: BOB.name });
    expect(await messageCount(asBob, 'INBOX')).toBe(1);
    const lock = await asBob.getMailboxLock('INBOX');
    try {
      const fetched = await asBob.fetchOne('1', { source: true });
      expect(fetched && fetched.source?.equals(bobMessage)).toBe(true);
    } finally {
      lock.release();
    }
    await asBob.mailboxCreate('Restored/2024');

    const viaLogin = await login({ user: `${BOB.name}*${MASTER.name}`, pass: MASTER.password });
    const seenByLogin = (await viaLogin.list()).map((box) => box.path);
    expect(seenByLogin).toContain('Restored/2024');

    // The folder is in bob's own mailbox, not in some master-user mailbox.
    const bobsView = (await bob.list()).map((box) => box.path);
    expect(bobsView).toContain('Restored/2024');
  });

  it('lets the master user list, open and append to the public folder', async () => {
    const asBob = await login({ user: MASTER.name, pass: MASTER.password, authzid: BOB.name });
    const folder = `${dovecot.info.publicPrefix}Announcements`;
    expect((await asBob.list()).map((box) => box.path)).toContain(folder);

    const mailbox = await asBob.mailboxOpen(folder);
    expect(mailbox.path).toBe(folder);
    expect(mailbox.readOnly).toBe(false);
    const notice = Buffer.from('From: it@example.com\r\nSubject: maintenance\r\n\r\nTonight.\r\n');
    await asBob.append(folder, notice, ['\\Seen']);
    await asBob.mailboxClose();
    expect(await messageCount(asBob, folder)).toBe(1);
  });

  it('offers CONDSTORE and QRESYNC', async () => {
    const alice = await login({ user: ALICE.name, pass: ALICE.password });
    expect(alice.capabilities.has('CONDSTORE')).toBe(true);
    expect(alice.capabilities.has('QRESYNC')).toBe(true);
  });

  it('refuses a wrong password', async () => {
    await expect(login({ user: ALICE.name, pass: 'not-the-password' })).rejects.toMatchObject({
      authenticationFailed: true,
    });
  });

  it('accepts a user added while running', async () => {
    const carol = { name: 'carol', password: 'carol-secret' };
    await addDovecotUser(dovecot, carol);
    expect(dovecot.info.users.map((u) => u.name)).toContain('carol');
    const client = await login({ user: carol.name, pass: carol.password });
    expect(await messageCount(client, 'INBOX')).toBe(0);
  });

  it('reuses the running instance for the same dir', async () => {
    const again = await startDovecot({ dir, users: [ALICE, BOB], masterUser: MASTER });
    expect(again.reused).toBe(true);
    expect(again.info.port).toBe(dovecot.info.port);
    expect(again.info.users.map((u) => u.name).sort()).toEqual(['alice', 'bob', 'carol']);
  });
});
