import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDovecotUser, startDovecot, type ImapInfo } from './dovecot.js';
import { startTestIdentityProvider, type TestIdentityProvider } from './identity-provider.js';
import type { ServiceHandle } from './types.js';

const CRLF_MESSAGE = '/work/shared/corpus/cpython-test_email/msg_26.txt';
const MASTER = { name: 'mlr-backup', password: 'receive-as-secret' };
const ALICE = { name: 'alice', password: 'alice-secret' };
const BOB = { name: 'bob', password: 'bob-secret' };

async function messageCount(client: ImapFlow, path: string): Promise<number | undefined> {
  const status = await client.status(path, { messages: true });
  return status === false ? undefined : status.messages;
}

/** Logs in to the instance; the session is added to `open` (closed after the tests). */
async function loginTo(info: ImapInfo, auth: ImapFlowOptions['auth'], open: ImapFlow[]): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: info.host,
    port: info.port,
    secure: info.secure,
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

describe('startDovecot', () => {
  let dir: string;
  let dovecot: ServiceHandle<ImapInfo>;
  const open: ImapFlow[] = [];

  const login = (auth: ImapFlowOptions['auth']) => loginTo(dovecot.info, auth, open);

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

/** The untagged greeting: before login it lists the SASL mechanisms (imapflow's view is after login). */
function readGreetingLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('no greeting')));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.slice(0, data.indexOf('\r\n')));
      }
    });
  });
}

describe("startDovecot with oauth2 (XOAUTH2 with app-only and users' own tokens, as Exchange Online takes them)", () => {
  const ALICE_MAILBOX = { name: 'alice@example.com', password: 'alice-secret' };
  const BOB_MAILBOX = { name: 'bob@example.com', password: 'bob-secret' };
  const BACKUP_APP = { clientId: 'mlr-backup-app', clientSecret: 'backup-app-secret', roles: ['IMAP.AccessAsApp'] };
  const BARE_APP = { clientId: 'mlr-bare-app', clientSecret: 'bare-app-secret', roles: [] };
  const SCOPE = 'https://outlook.office365.com/.default';
  const OWN_MAILBOX_SCOPE = 'https://outlook.office365.com/IMAP.AccessAsUser.All offline_access';
  let dir: string;
  let idp: TestIdentityProvider;
  let dovecot: ServiceHandle<ImapInfo>;
  const open: ImapFlow[] = [];

  const login = (auth: ImapFlowOptions['auth']) => loginTo(dovecot.info, auth, open);

  async function accessToken(app: { clientId: string; clientSecret: string }): Promise<string> {
    const response = await fetch(`${idp.authorityHost}/${idp.tenant}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
        scope: SCOPE,
      }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  /** A user's own token: the device code flow, with `user` signing in at once. */
  async function userToken(user: string, scope = OWN_MAILBOX_SCOPE): Promise<string> {
    const endpoint = `${idp.authorityHost}/${idp.tenant}/oauth2/v2.0`;
    idp.signInWithDeviceCode(() => ({ user }));
    const code = await fetch(`${endpoint}/devicecode`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: BACKUP_APP.clientId, scope }),
    });
    expect(code.status).toBe(200);
    const { device_code: deviceCode } = (await code.json()) as { device_code: string };
    const response = await fetch(`${endpoint}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        client_id: BACKUP_APP.clientId,
        device_code: deviceCode,
      }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mlr-dovecot-oauth2-'));
    idp = await startTestIdentityProvider({ apps: [BACKUP_APP, BARE_APP] });
    dovecot = await startDovecot({
      dir,
      users: [ALICE_MAILBOX, BOB_MAILBOX],
      oauth2: { introspectionUrl: idp.introspectionUrl, requiredScope: 'IMAP.AccessAsApp' },
    });
  });

  afterAll(async () => {
    await Promise.allSettled(open.map((client) => client.logout()));
    await dovecot?.stop();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers XOAUTH2 but not OAUTHBEARER (as Exchange Online), and records the settings', async () => {
    const greeting = await readGreetingLine(dovecot.info.port);
    expect(greeting).toContain('AUTH=XOAUTH2');
    expect(greeting).not.toContain('AUTH=OAUTHBEARER');
    expect(dovecot.info.oauth2).toEqual({
      introspectionUrl: idp.introspectionUrl,
      requiredScope: 'IMAP.AccessAsApp',
      delegatedScope: 'IMAP.AccessAsUser.All',
    });
  });

  it("opens bob's and alice's own mailboxes with a token of an app holding IMAP.AccessAsApp", async () => {
    const mail = (to: string) => Buffer.from(`From: carol@example.com\r\nTo: ${to}\r\nSubject: hi\r\n\r\nHi.\r\n`);
    const bobByPassword = await login({ user: BOB_MAILBOX.name, pass: BOB_MAILBOX.password });
    await bobByPassword.append('INBOX', mail(BOB_MAILBOX.name));
    const aliceByPassword = await login({ user: ALICE_MAILBOX.name, pass: ALICE_MAILBOX.password });
    await aliceByPassword.append('INBOX', mail(ALICE_MAILBOX.name));
    await aliceByPassword.append('INBOX', mail(ALICE_MAILBOX.name));

    // One token for every mailbox, as the connector caches it.
    const token = await accessToken(BACKUP_APP);
    const bob = await login({ user: BOB_MAILBOX.name, accessToken: token });
    expect(await messageCount(bob, 'INBOX')).toBe(1);
    const alice = await login({ user: ALICE_MAILBOX.name, accessToken: token });
    expect(await messageCount(alice, 'INBOX')).toBe(2);
  });

  it('refuses a token of an app without roles and a garbage token', async () => {
    const bare = await accessToken(BARE_APP);
    await expect(login({ user: BOB_MAILBOX.name, accessToken: bare })).rejects.toMatchObject({
      authenticationFailed: true,
    });
    await expect(login({ user: BOB_MAILBOX.name, accessToken: 'not-a-token' })).rejects.toMatchObject({
      authenticationFailed: true,
    });
  });

  it("opens a user's own mailbox with the user's own token, whatever the case of its UPN, and no other", async () => {
    const bobByPassword = await login({ user: BOB_MAILBOX.name, pass: BOB_MAILBOX.password });
    const bobCount = await messageCount(bobByPassword, 'INBOX');

    const bobToken = await userToken(BOB_MAILBOX.name);
    const bob = await login({ user: BOB_MAILBOX.name, accessToken: bobToken });
    expect(await messageCount(bob, 'INBOX')).toBe(bobCount);
    const mixedCase = await login({ user: BOB_MAILBOX.name, accessToken: await userToken('Bob@Example.com') });
    expect(mixedCase.usable).toBe(true);

    // Bob signed in to an app that holds IMAP.AccessAsApp: his token still opens only his mailbox.
    await expect(login({ user: ALICE_MAILBOX.name, accessToken: bobToken })).rejects.toMatchObject({
      authenticationFailed: true,
    });
  });

  it("refuses a user's own token without IMAP.AccessAsUser.All, and one for a mailbox that does not exist", async () => {
    const popOnly = await userToken(BOB_MAILBOX.name, 'https://outlook.office365.com/POP.AccessAsUser.All');
    await expect(login({ user: BOB_MAILBOX.name, accessToken: popOnly })).rejects.toMatchObject({
      authenticationFailed: true,
    });
    const mallory = 'mallory@example.com';
    await expect(login({ user: mallory, accessToken: await userToken(mallory) })).rejects.toMatchObject({
      authenticationFailed: true,
    });
  });

  it('refuses a valid token for a mailbox that does not exist', async () => {
    await expect(
      login({ user: 'mallory@example.com', accessToken: await accessToken(BACKUP_APP) }),
    ).rejects.toMatchObject({ authenticationFailed: true });
  });

  it('still takes passwords, and not a token as password', async () => {
    const alice = await login({ user: ALICE_MAILBOX.name, pass: ALICE_MAILBOX.password });
    expect(alice.usable).toBe(true);
    await expect(login({ user: ALICE_MAILBOX.name, pass: await accessToken(BACKUP_APP) })).rejects.toMatchObject({
      authenticationFailed: true,
    });
  });

  it('reuses the instance only with the same oauth2 settings', async () => {
    const oauth2 = { introspectionUrl: idp.introspectionUrl, requiredScope: 'IMAP.AccessAsApp' };
    const again = await startDovecot({ dir, users: [ALICE_MAILBOX, BOB_MAILBOX], oauth2 });
    expect(again.reused).toBe(true);
    expect(again.info.oauth2).toEqual({ ...oauth2, delegatedScope: 'IMAP.AccessAsUser.All' });
    const explicit = { ...oauth2, delegatedScope: 'IMAP.AccessAsUser.All' };
    expect((await startDovecot({ dir, users: [ALICE_MAILBOX], oauth2: explicit })).reused).toBe(true);
    await expect(
      startDovecot({ dir, users: [ALICE_MAILBOX], oauth2: { ...oauth2, requiredScope: 'IMAP.Other' } }),
    ).rejects.toThrow(/oauth2/);
    await expect(
      startDovecot({ dir, users: [ALICE_MAILBOX], oauth2: { ...oauth2, delegatedScope: 'IMAP.Other' } }),
    ).rejects.toThrow(/oauth2/);
    await expect(startDovecot({ dir, users: [ALICE_MAILBOX] })).rejects.toThrow(/oauth2/);
  });
});
