import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ImapFlow } from 'imapflow';
import { contentId, deriveTenantKeys, generateRootKey, type TenantKeys } from '@mlr/crypto';
import { extractMessageFacts } from '@mlr/mime';
import { addDovecotUser, corpusMessages, imapSessionAs, seedFolder } from '@mlr/testing';
import { FolderListings, ImapMailboxWriter, messageIdField } from './imap-mailbox-writer.js';

const USER = { name: 'dup-check', password: 'dup-check-secret' };

/**
 * The restore's duplicate check on the real Dovecot: a listing of the folder read once and brought up
 * to date before each check, and the SEARCH it falls back to for folders too large to list.
 */
describe('ImapMailboxWriter duplicate check against Dovecot', () => {
  const infra = inject('infra');
  const imap = infra.imap!;
  let keys: TenantKeys;
  let messages: Buffer[];
  const sessions: ImapFlow[] = [];

  const writer = async (listingLimit?: number) => {
    const session = await imapSessionAs(imap, USER.name);
    sessions.push(session);
    return new ImapMailboxWriter(session, keys, listingLimit === undefined ? {} : { listingLimit });
  };
  const check = (w: ImapMailboxWriter, folder: string, raw: Buffer) =>
    w
      .findCopies(folder, [{ raw, contentId: contentId(keys, raw), messageId: extractMessageFacts(raw).messageId }])
      .then(([uid]) => uid ?? null);
  const append = async (folder: string, raw: Buffer, flags: string[] = []) =>
    (await seedFolder(imap, USER.name, folder, [{ bytes: raw, flags }]))[0]?.uid;

  beforeAll(async () => {
    await addDovecotUser(join(infra.dir, 'dovecot'), USER);
    keys = deriveTenantKeys(generateRootKey());
    const corpus = corpusMessages().filter((m) => m.bytes.length < 100_000);
    const withId = corpus.filter((m) => extractMessageFacts(m.bytes).messageId !== null).slice(0, 4);
    const withoutId = corpus.filter((m) => extractMessageFacts(m.bytes).messageId === null).slice(0, 1);
    // With CRLF line ends, as IMAP serves (and a backup stores) them: Dovecot serves bare LF as CRLF.
    messages = [...withId, ...withoutId].map((m) =>
      Buffer.from(m.bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'),
    );
    expect(messages).toHaveLength(5);
  });

  afterAll(async () => {
    for (const session of sessions) await session.logout().catch(() => undefined);
  });

  for (const [how, limit] of [
    ['listing', undefined],
    ['SEARCH (folder above the listing limit)', 0],
  ] as const) {
    it(`finds copies, also ones added after its first look, and nothing else (${how})`, async () => {
      const folder = `Dup/${limit === undefined ? 'Listed' : 'Searched'}`;
      const [a, b, c, , noId] = messages as [Buffer, Buffer, Buffer, Buffer, Buffer];
      const uidA = await append(folder, a);
      const uidNoId = await append(folder, noId);
      const w = await writer(limit);

      expect(await check(w, folder, a)).toBe(uidA);
      expect(await check(w, folder, noId)).toBe(uidNoId);
      expect(await check(w, folder, b)).toBeNull();

      // Another session adds b after the writer looked: the next check sees it.
      const uidB = await append(folder, b);
      expect(await check(w, folder, b)).toBe(uidB);

      // Same size and Message-ID as c, other bytes: not a copy (the content id decides).
      const forged = Buffer.from(c);
      let letter = forged.indexOf('\r\n\r\n') + 4;
      while (!/[a-z]/i.test(String.fromCharCode(forged[letter]!))) letter++;
      forged[letter] = forged[letter]! ^ 0x20; // the first letter of the body in the other case
      const uidForged = await append(folder, forged);
      expect(uidForged).toBeDefined();
      expect(await check(w, folder, c)).toBeNull();
      expect(await check(w, folder, forged)).toBe(uidForged);
    });

    it(`does not count a copy marked \\Deleted (${how})`, async () => {
      const folder = `Dup/Deleted-${limit === undefined ? 'listed' : 'searched'}`;
      const d = messages[3]!;
      await append(folder, d, ['\\Deleted']);
      const w = await writer(limit);
      expect(await check(w, folder, d)).toBeNull();
      const uid = await append(folder, d);
      expect(await check(w, folder, d)).toBe(uid);
    });

    it(`checks a batch in one go: each candidate gets its own copy, or none (${how})`, async () => {
      const folder = `Dup/Batch-${limit === undefined ? 'listed' : 'searched'}`;
      const [a, b, c, d, noId] = messages as [Buffer, Buffer, Buffer, Buffer, Buffer];
      const uidA = await append(folder, a);
      const uidNoId = await append(folder, noId);
      await append(folder, c, ['\\Deleted']);
      const w = await writer(limit);
      const candidate = (raw: Buffer) => ({
        raw,
        contentId: contentId(keys, raw),
        messageId: extractMessageFacts(raw).messageId,
      });
      expect(await w.findCopies(folder, [a, b, c, noId, d, a].map(candidate))).toEqual([
        uidA,
        null,
        null,
        uidNoId,
        null,
        uidA,
      ]);
      expect(await w.findCopies(folder, [])).toEqual([]);
      // Dovecot allows a user ten sessions: the file's other tests need theirs.
      await w.close();
    });
  }

  it('finds a copy whose header has a line of blanks, where Dovecot and our parser disagree on the Message-ID', async () => {
    // Real mail (the shared corpus has one): a line of blanks inside the header. Our parser ends the
    // header there (and says so in the record's parse problems), Dovecot reads the line as folding and
    // serves the Message-ID below it. Restored into a folder that held it, it was written again.
    const odd = corpusMessages()
      .map((m) => Buffer.from(m.bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'))
      .find((raw) => /^[ \t]+\r\n/.test(raw.toString('latin1', 0, 4096)));
    expect(odd, 'a corpus message whose first line is blanks').toBeDefined();
    // A header line above it, as any relay adds one: the blanks are now inside the header.
    const raw = Buffer.concat([Buffer.from('Received: by relay.example; Sun, 16 Mar 2014 15:12:00 +0100\r\n'), odd!]);
    expect(messageIdField(raw)).toBe('');
    expect(raw.toString('latin1')).toMatch(/\r\nMessage-ID: <[^>]+@mail\.gmail\.com>\r\n/);
    for (const [how, limit] of [
      ['listing', undefined],
      ['SEARCH', 0],
    ] as const) {
      const folder = `Dup/Blank-line-${how}`;
      const uid = await append(folder, raw);
      const w = await writer(limit);
      expect(await check(w, folder, raw), how).toBe(uid);
      // Dovecot allows a user 10 sessions from one address: give this one back.
      await sessions.pop()?.logout();
    }
  });

  it('starts the listing again when the folder was recreated (new UIDVALIDITY)', async () => {
    const folder = 'Dup/Recreated';
    const other = 'Dup/Other';
    const [a, b, c] = messages as [Buffer, Buffer, Buffer];
    await append(folder, a);
    await append(other, c);
    const w = await writer();
    expect(await check(w, folder, a)).not.toBeNull();
    // The writer moves on to another folder, and meanwhile the first one is deleted and created anew.
    expect(await check(w, other, c)).not.toBeNull();
    const admin = await imapSessionAs(imap, USER.name);
    try {
      await admin.mailboxDelete(folder);
      await admin.mailboxCreate(folder);
    } finally {
      await admin.logout();
    }
    const uidB = await append(folder, b);
    // Its old listing (a, under the old UIDVALIDITY) is not used: the new folder holds b only.
    expect(await check(w, folder, a)).toBeNull();
    expect(await check(w, folder, b)).toBe(uidB);
  });

  it('checks an empty folder without a copy', async () => {
    const folder = 'Dup/Empty';
    const admin = await imapSessionAs(imap, USER.name);
    try {
      await admin.mailboxCreate(folder);
    } finally {
      await admin.logout();
    }
    const w = await writer();
    expect(await check(w, folder, messages[0]!)).toBeNull();
  });

  it('shares one listing between sessions: an APPEND of one is a copy for the next check of another, at once', async () => {
    const folder = 'Dup/Shared';
    const [a, b, c] = messages as [Buffer, Buffer, Buffer];
    await append(folder, a);
    const listings = new FolderListings(60_000);
    const sessionOf = async () => {
      const session = await imapSessionAs(imap, USER.name);
      sessions.push(session);
      return new ImapMailboxWriter(session, keys, { listings, mailbox: USER.name });
    };
    const [one, two] = [await sessionOf(), await sessionOf()];
    expect(await check(one, folder, a)).not.toBeNull();
    expect(await check(two, folder, b)).toBeNull();
    // Session two appends b; session one, on the folder with a listing it trusts, still finds it.
    const uid = await two.append({ folder, raw: b, flags: [], internalDate: null });
    expect(uid).toBeDefined();
    expect(await check(one, folder, b)).toBe(uid);
    expect(listings.size).toBe(1);

    // What someone else adds is seen once the listing is no longer trusted (here: at once).
    const strict = new FolderListings(0);
    const own = await imapSessionAs(imap, USER.name);
    sessions.push(own);
    const three = new ImapMailboxWriter(own, keys, { listings: strict, mailbox: USER.name });
    expect(await check(three, folder, c)).toBeNull();
    const uidC = await append(folder, c);
    expect(await check(three, folder, c)).toBe(uidC);
  });
});
