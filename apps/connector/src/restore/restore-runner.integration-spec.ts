import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  jobEventSchema,
  type JobEvent,
  type JobEventState,
  type RestoreItem,
  type RestoreItemResult,
  type RestoreTarget,
} from '@mlr/contracts';
import { contentId, deriveTenantKeys, generateRootKey, sealMessage, type TenantKeys } from '@mlr/crypto';
import { extractMessageFacts } from '@mlr/mime';
import { createLogger } from '@mlr/telemetry';
import {
  REPO_ROOT,
  addDovecotUser,
  corpusMessages,
  emptyFolder,
  fetchFolder,
  folderFingerprints,
  imapSessionAs,
  messageFingerprint,
  seedFolder,
  type ServedMessage,
} from '@mlr/testing';
import { JobReporter } from '../backup/job-reporter.js';
import type { PlatformPublisher } from '../backup/commit-batcher.js';
import type { ImapSourceConfig } from '../config/connector-config.js';
import { openImapSession } from '../sources/imap/imap-session.js';
import {
  readMboxrd,
  RestoreItemsError,
  RestoreRunner,
  SessionBudget,
  TargetLocks,
  type RestoreItemSource,
  type SealedObjectSource,
} from '@mlr/connector-core';
import { DEFAULT_TRUST_MS, FolderListings } from '../sources/imap/imap-mailbox-writer.js';
import { ImapMailTarget } from '../sources/imap/imap-mail-target.js';

const TENANT = 'restore-it';
const ANN = { name: 'rst-ann', password: 'rst-ann-secret' };
const BEN = { name: 'rst-ben', password: 'rst-ben-secret' };
const FOLDER = 'Projects/2026';

type Served = ServedMessage;

/** Sealed objects by content id, as storage would serve them. */
class MemoryObjects implements SealedObjectSource {
  constructor(readonly objects = new Map<string, Buffer>()) {}
  async fetchSealed(id: string): Promise<Buffer> {
    const sealed = this.objects.get(id);
    if (!sealed) throw new Error(`no object ${id}`);
    return sealed;
  }
  with(id: string, sealed: Buffer): MemoryObjects {
    return new MemoryObjects(new Map([...this.objects, [id, sealed]]));
  }
}

/** Scheduling's `restore.items`, from memory. */
function memoryItems(items: RestoreItem[]): RestoreItemSource {
  return {
    page: async (after, limit) => ({ items: items.filter((i) => i.seq > after).slice(0, limit), total: items.length }),
  };
}

describe('RestoreRunner against Dovecot', () => {
  const infra = inject('infra');
  const imap = infra.imap!;
  const exportDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'restore-it-'));
  const logger = createLogger({ service: 'restore-it', level: 'silent' });
  let keys: TenantKeys;
  let objects: MemoryObjects;
  /** Ann's folder and Bob's inbox as backed up: what IMAP served, and the items a restore of them gets. */
  let annServed: Served[];
  let benServed: Served[];
  let annItems: RestoreItem[];
  let benItems: RestoreItem[];

  const source = (): ImapSourceConfig => ({
    kind: 'imap',
    host: imap.host,
    port: imap.port,
    secure: false,
    allowSelfSigned: false,
    serviceAccount: { user: imap.masterUser.name, password: imap.masterUser.password },
    mailboxes: [{ address: ANN.name }, { address: BEN.name }],
  });

  async function run(
    items: RestoreItem[],
    target: RestoreTarget,
    options: {
      duplicate?: boolean;
      objects?: SealedObjectSource;
      itemSource?: RestoreItemSource;
      openSession?: typeof openImapSession;
      sessionsPerMailbox?: number;
      locks?: TargetLocks;
      sessionBudget?: SessionBudget;
      listings?: FolderListings;
    } = {},
  ): Promise<{
    state: JobEventState;
    results: RestoreItemResult[];
    events: JobEvent[];
    counters: JobReporter['counters'];
  }> {
    const events: JobEvent[] = [];
    const publisher = {
      publish: async (_channel: string, _subject: string, event: JobEvent) => {
        events.push(jobEventSchema.parse(event));
      },
    } as unknown as PlatformPublisher;
    const jobId = `job-${randomUUID().slice(0, 8)}`;
    const reporter = new JobReporter(publisher, { tenantId: TENANT, jobId, connectorId: 'imap-1', kind: 'restore' });
    const runner = new RestoreRunner({
      target: new ImapMailTarget(source(), keys, {
        // A job alone may trust its listings for a moment; beside others (shared locks) only shared ones.
        listings: options.listings ?? new FolderListings(options.locks ? 0 : DEFAULT_TRUST_MS),
        ...(options.openSession ? { openSession: options.openSession } : {}),
      }),
      keys,
      items: options.itemSource ?? memoryItems(items),
      objects: options.objects ?? objects,
      exportDir,
      reporter,
      logger,
      concurrency: 4,
      ...(options.sessionsPerMailbox ? { sessionsPerMailbox: options.sessionsPerMailbox } : {}),
      ...(options.locks ? { locks: options.locks } : {}),
      ...(options.sessionBudget ? { sessionBudget: options.sessionBudget } : {}),
    });
    const state = await runner.run({
      kind: 'restore',
      jobId,
      tenantId: TENANT,
      connectorId: 'imap-1',
      requestedAt: new Date().toISOString(),
      requestedBy: 'admin@example.com',
      itemCount: items.length,
      target,
      duplicate: options.duplicate ?? false,
    });
    const results = events.flatMap((e) => e.items).sort((a, b) => a.seq - b.seq);
    expect(events.at(-1)?.state).toBe(state);
    return { state, results, events, counters: reporter.counters };
  }

  const fingerprints = (user: string, folder: string, drop: string[] = []) =>
    folderFingerprints(imap, user, folder, drop);
  /** The folder as the backup saw it, as a restore must recreate it (never with \Deleted). */
  const expected = (served: Served[]) => served.map((m) => messageFingerprint(m, ['\\Deleted'])).sort();

  /** What the backup would index for the messages of a folder: one item per message, sealed into `objects`. */
  async function backUp(
    user: string,
    folder: string,
    firstSeq: number,
  ): Promise<{ served: Served[]; items: RestoreItem[] }> {
    const served = [...(await fetchFolder(imap, user, folder)).entries()].sort(([a], [b]) => a - b).map(([, m]) => m);
    const items: RestoreItem[] = [];
    for (const [i, message] of served.entries()) {
      const sealed = await sealMessage(keys, message.bytes);
      objects.objects.set(sealed.contentId, sealed.sealed);
      const has = (flag: string) => message.flags.includes(flag);
      items.push({
        seq: firstSeq + i,
        recordId: `rec-${user}-${i}`,
        contentId: sealed.contentId,
        mailbox: user,
        folder,
        messageId: extractMessageFacts(message.bytes).messageId,
        subject: null,
        internalDate: message.internalDate?.toISOString() ?? null,
        flags: {
          seen: has('\\Seen'),
          answered: has('\\Answered'),
          flagged: has('\\Flagged'),
          draft: has('\\Draft'),
          deleted: has('\\Deleted'),
        },
        keywords: message.flags.filter((flag) => !flag.startsWith('\\')),
        size: message.bytes.length,
        itemType: 'mail',
        form: 'rfc5322',
      });
    }
    return { served, items };
  }

  beforeAll(async () => {
    const dovecotDir = join(infra.dir, 'dovecot');
    await addDovecotUser(dovecotDir, ANN);
    await addDovecotUser(dovecotDir, BEN);
    keys = deriveTenantKeys(generateRootKey());
    objects = new MemoryObjects();

    // Messages with and without a Message-ID (the duplicate check searches by one or by size).
    const corpus = corpusMessages().filter((m) => m.bytes.length < 200_000);
    const withId = corpus.filter((m) => extractMessageFacts(m.bytes).messageId !== null).slice(0, 9);
    const withoutId = corpus.filter((m) => extractMessageFacts(m.bytes).messageId === null).slice(0, 3);
    expect(withoutId.length).toBeGreaterThan(0);
    const annMessages = [...withId.slice(0, 6), ...withoutId];
    const seeded = await seedFolder(
      imap,
      ANN.name,
      FOLDER,
      annMessages.map((m, i) => ({
        bytes: m.bytes,
        flags: [
          ...(i % 2 === 0 ? ['\\Seen'] : []),
          ...(i % 3 === 0 ? ['\\Flagged'] : []),
          ...(i % 4 === 1 ? ['\\Answered', '$Forwarded'] : []),
          ...(i === 2 ? ['\\Draft', 'Work'] : []),
          ...(i === 5 ? ['\\Deleted'] : []),
        ],
        internalDate: new Date(Date.UTC(2023, i, 1 + i, i, 2 * i, 0)),
      })),
    );
    expect(seeded.every((s) => s.uid !== undefined)).toBe(true);
    await seedFolder(
      imap,
      BEN.name,
      'INBOX',
      withId
        .slice(6)
        .map((m) => ({ bytes: m.bytes, flags: ['\\Seen', '$Label1'], internalDate: new Date('2024-02-29T10:00:00Z') })),
    );
    ({ served: annServed, items: annItems } = await backUp(ANN.name, FOLDER, 0));
    ({ served: benServed, items: benItems } = await backUp(BEN.name, 'INBOX', annItems.length));
    expect(annItems.some((item) => item.flags.deleted)).toBe(true);
  });

  afterAll(() => logger.flush());

  it('restores deleted messages into their folders: same bytes, flags, keywords and INTERNALDATE, never \\Deleted', async () => {
    await emptyFolder(imap, ANN.name, FOLDER);
    await emptyFolder(imap, BEN.name, 'INBOX');
    expect(await fingerprints(ANN.name, FOLDER)).toEqual([]);

    const { state, results, counters, events } = await run([...annItems, ...benItems], { kind: 'original' });
    expect(events.flatMap((e) => e.errors)).toEqual([]);
    expect(state).toBe('succeeded');
    expect(results.map((r) => r.outcome)).toEqual(Array(annItems.length + benItems.length).fill('restored'));
    expect(results.filter((r) => r.targetMailbox === ANN.name).every((r) => r.targetFolder === FOLDER)).toBe(true);
    expect(results.filter((r) => r.targetMailbox === BEN.name).every((r) => r.targetFolder === 'INBOX')).toBe(true);
    expect(counters).toMatchObject({ seen: results.length, restored: results.length, skipped: 0, failed: 0 });

    expect(await fingerprints(ANN.name, FOLDER)).toEqual(expected(annServed));
    expect(await fingerprints(BEN.name, 'INBOX')).toEqual(expected(benServed));
    const restored = [...(await fetchFolder(imap, ANN.name, FOLDER)).values()];
    expect(restored.some((m) => m.flags.includes('\\Deleted'))).toBe(false);
    expect(restored.some((m) => m.flags.includes('Work') && m.flags.includes('\\Draft'))).toBe(true);
  });

  it('run again, creates no copies: what is there is skipped, what is missing is restored', async () => {
    const again = await run([...annItems, ...benItems], { kind: 'original' });
    expect(again.state).toBe('succeeded');
    expect(again.results.every((r) => r.outcome === 'skipped')).toBe(true);
    expect(again.results.find((r) => r.seq === 0)?.reason).toBe(`already in ${FOLDER}`);
    expect(await fingerprints(ANN.name, FOLDER)).toEqual(expected(annServed));
    expect(await fingerprints(BEN.name, 'INBOX')).toEqual(expected(benServed));

    // One message with and one without a Message-ID deleted again: only those two come back.
    const current = [...(await fetchFolder(imap, ANN.name, FOLDER)).entries()];
    const byContent = new Map(current.map(([uid, m]) => [contentId(keys, m.bytes), uid]));
    const gone = [annItems[0]!, annItems.at(-1)!];
    expect(gone.map((i) => i.messageId === null)).toEqual([false, true]);
    await emptyFolder(imap, ANN.name, FOLDER, gone.map((i) => byContent.get(i.contentId)).join(','));
    const third = await run(annItems, { kind: 'original' });
    expect(third.state).toBe('succeeded');
    expect(third.counters).toMatchObject({ restored: 2, skipped: annItems.length - 2 });
    expect(await fingerprints(ANN.name, FOLDER)).toEqual(expected(annServed));

    // A copy marked \Deleted but not yet expunged is not a copy: the restore puts one back beside it.
    const session = await imapSessionAs(imap, ANN.name);
    const victim = [...(await fetchFolder(imap, ANN.name, FOLDER)).entries()].find(
      ([, m]) => contentId(keys, m.bytes) === annItems[1]!.contentId,
    )!;
    await session.mailboxOpen(FOLDER);
    await session.messageFlagsAdd(String(victim[0]), ['\\Deleted'], { uid: true });
    await session.logout();
    const fourth = await run(annItems, { kind: 'original' });
    expect(fourth.counters).toMatchObject({ restored: 1, skipped: annItems.length - 1 });
    await emptyFolder(imap, ANN.name, FOLDER, String(victim[0]));
    expect(await fingerprints(ANN.name, FOLDER)).toEqual(expected(annServed));
  });

  it('restores into another, nested folder (created and subscribed), and duplicates only when asked', async () => {
    const folder = 'Restored/2026/November';
    const { state, results } = await run(annItems, { kind: 'folder', folder });
    expect(state).toBe('succeeded');
    expect(
      results.every((r) => r.outcome === 'restored' && r.targetMailbox === ANN.name && r.targetFolder === folder),
    ).toBe(true);
    expect(await fingerprints(ANN.name, folder)).toEqual(expected(annServed));
    const session = await imapSessionAs(imap, ANN.name);
    const listed = await session.list();
    await session.logout();
    for (const path of ['Restored', 'Restored/2026', folder]) {
      expect(listed.find((f) => f.path === path)?.subscribed, path).toBe(true);
    }

    const twice = await run(annItems, { kind: 'folder', folder }, { duplicate: true });
    expect(twice.state).toBe('succeeded');
    expect(twice.counters.restored).toBe(annItems.length);
    expect(await fingerprints(ANN.name, folder)).toEqual([...expected(annServed), ...expected(annServed)].sort());
  });

  it('restores into another mailbox, into the given folder or else the original one', async () => {
    const intoFolder = await run(annItems, { kind: 'mailbox', mailbox: BEN.name, folder: 'From Ann' });
    expect(intoFolder.state).toBe('succeeded');
    expect(intoFolder.results.every((r) => r.targetMailbox === BEN.name && r.targetFolder === 'From Ann')).toBe(true);
    expect(await fingerprints(BEN.name, 'From Ann')).toEqual(expected(annServed));

    const sameFolder = await run(annItems, { kind: 'mailbox', mailbox: BEN.name });
    expect(sameFolder.state).toBe('succeeded');
    expect(await fingerprints(BEN.name, FOLDER)).toEqual(expected(annServed));
    // Ann's own folder is untouched.
    expect(await fingerprints(ANN.name, FOLDER)).toEqual(expected(annServed));
  });

  it('fails an object that is tampered, of another message or under another key, loudly, and restores the rest', async () => {
    const [tamperedItem, swappedItem, foreignItem] = annItems;
    const tampered = Buffer.from(objects.objects.get(tamperedItem!.contentId)!);
    tampered[tampered.length - 20]! ^= 0x01;
    const otherKeys = deriveTenantKeys(generateRootKey());
    const foreign = await sealMessage(otherKeys, annServed[2]!.bytes);
    const served = objects
      .with(tamperedItem!.contentId, tampered)
      .with(swappedItem!.contentId, objects.objects.get(annItems[3]!.contentId)!)
      .with(foreignItem!.contentId, foreign.sealed);

    const folder = 'Tamper Check';
    const { state, results, counters } = await run(annItems, { kind: 'folder', folder }, { objects: served });
    expect(state).toBe('partially_failed');
    expect(counters).toMatchObject({ failed: 3, restored: annItems.length - 3 });
    const failed = results.filter((r) => r.outcome === 'failed');
    expect(failed.map((r) => r.seq)).toEqual([0, 1, 2]);
    expect(failed[0]?.reason).toMatch(/^object does not match its content id: tampered or wrong key/);
    expect(failed[1]?.reason).toMatch(/^object does not match its content id: tampered or wrong key/);
    expect(failed[2]?.reason).toMatch(/tenant key/);
    const restored = [...(await fetchFolder(imap, ANN.name, folder)).values()];
    expect(restored.map((m) => contentId(keys, m.bytes)).sort()).toEqual(
      annItems
        .slice(3)
        .map((i) => i.contentId)
        .sort(),
    );
  });

  it('opens the session again when the server drops it, and tries the item once more without making a copy', async () => {
    const folder = 'Dropped Session';
    let sessions = 0;
    let drops = 0;
    // The first session lands the first APPEND and then loses its connection before the reply is read.
    const flaky: typeof openImapSession = async (...args) => {
      const client = await openImapSession(...args);
      if (++sessions === 1) {
        const append = client.append.bind(client);
        client.append = async (...appendArgs: Parameters<typeof client.append>) => {
          await append(...appendArgs);
          drops++;
          client.close();
          throw new Error('Connection closed');
        };
      }
      return client;
    };
    const { state, results } = await run(
      annItems.slice(0, 3),
      { kind: 'folder', folder },
      { openSession: flaky, sessionsPerMailbox: 1 },
    );
    expect(drops).toBe(1);
    expect(sessions).toBe(2);
    expect(state).toBe('succeeded');
    // The item whose APPEND landed before the drop is found on the new session: restored, no second copy.
    expect(results.map((r) => r.outcome)).toEqual(['restored', 'restored', 'restored']);
    expect(await fingerprints(ANN.name, folder)).toEqual(expected(annServed.slice(0, 3)));
  });

  it('writes one mailbox over several sessions, and goes on with fewer when the server refuses some', async () => {
    const folder = 'Many Sessions';
    let opened = 0;
    let refused = 0;
    // The server takes two sessions of the mailbox and refuses the others (its limit per user).
    const limited: typeof openImapSession = async (...args) => {
      if (++opened > 2) {
        refused++;
        throw new Error('Maximum number of connections from user+IP exceeded');
      }
      return openImapSession(...args);
    };
    const items = annItems.filter((item) => !item.flags.deleted);
    const { state, results, events } = await run(
      items,
      { kind: 'folder', folder },
      { openSession: limited, sessionsPerMailbox: 4 },
    );
    expect(events.flatMap((e) => e.errors)).toEqual([]);
    expect(state).toBe('succeeded');
    expect(refused).toBe(2);
    expect(results.map((r) => r.outcome)).toEqual(Array(items.length).fill('restored'));
    const kept = annServed.filter((m) => !m.flags.includes('\\Deleted'));
    expect(await fingerprints(ANN.name, folder)).toEqual(expected(kept));
  });

  it('runs restore jobs of the same messages side by side into one folder without making a copy', async () => {
    const folder = 'Side By Side';
    const locks = new TargetLocks();
    const budget = new SessionBudget(4);
    // As the connector shares them: listings trusted for a while, kept up to date by every APPEND.
    const listings = new FolderListings(DEFAULT_TRUST_MS);
    let open = 0;
    let most = 0;
    let opened = 0;
    const counting: typeof openImapSession = async (...args) => {
      const client = await openImapSession(...args);
      opened++;
      most = Math.max(most, ++open);
      const logout = client.logout.bind(client);
      client.logout = async () => {
        open--;
        return logout();
      };
      return client;
    };
    // Three jobs at once, all of Ann's messages into the same (new) folder, sharing the connector's
    // locks and its four sessions of the mailbox.
    const jobs = await Promise.all(
      [1, 2, 3].map(() =>
        run(annItems, { kind: 'folder', folder }, { locks, sessionBudget: budget, listings, openSession: counting }),
      ),
    );
    for (const job of jobs) {
      expect(job.events.flatMap((e) => e.errors)).toEqual([]);
      expect(job.state).toBe('succeeded');
    }
    // Every message restored by exactly one job, and found there by the other two.
    for (const item of annItems) {
      const outcomes = jobs.map((job) => job.results.find((r) => r.seq === item.seq)?.outcome).sort();
      expect(outcomes, `seq ${item.seq}`).toEqual(['restored', 'skipped', 'skipped']);
    }
    expect(await fingerprints(ANN.name, folder)).toEqual(expected(annServed));
    // Never more than the budget at once; the first job took all four, and gave some back to the others.
    expect(most).toBeLessThanOrEqual(4);
    expect(opened).toBeGreaterThan(4);
    expect(open).toBe(0);
    expect(locks.size).toBe(0);
    expect(budget.held).toBe(0);
  });

  it('restores public-folder items through the service account, creating the folder under the public namespace', async () => {
    const folder = `${imap.publicPrefix}Restore Check`;
    const items = annItems.slice(0, 2).map((item) => ({ ...item, mailbox: '#public', folder }));
    const { state, results, events } = await run(items, { kind: 'original' });
    expect(events.flatMap((e) => e.errors)).toEqual([]);
    expect(state).toBe('succeeded');
    expect(results.every((r) => r.targetMailbox === '#public' && r.targetFolder === folder)).toBe(true);
    // \Seen is private per user in Dovecot's public namespace: it is the writing user's (the first mailbox's).
    expect(await fingerprints(ANN.name, folder)).toEqual(expected(annServed.slice(0, 2)));
    expect(await fingerprints(BEN.name, folder, ['\\Seen'])).toEqual(
      annServed
        .slice(0, 2)
        .map((m) => messageFingerprint(m, ['\\Deleted', '\\Seen']))
        .sort(),
    );
  });

  it('fails items whose object cannot be fetched, and the whole job when every item fails', async () => {
    const { state, results } = await run(
      annItems.slice(0, 2),
      { kind: 'folder', folder: 'Nothing' },
      { objects: new MemoryObjects() },
    );
    expect(state).toBe('failed');
    expect(results.map((r) => r.reason)).toEqual([
      `cannot fetch the sealed object ${annItems[0]!.contentId}: no object ${annItems[0]!.contentId}`,
      `cannot fetch the sealed object ${annItems[1]!.contentId}: no object ${annItems[1]!.contentId}`,
    ]);
  });

  it('fails the job with a job-level error when its items cannot be read, touching no mailbox', async () => {
    const itemSource: RestoreItemSource = {
      page: async () => {
        throw new RestoreItemsError('cannot read the items of restore job j (after seq -1): timeout: no reply');
      },
    };
    const { state, events, counters } = await run(
      annItems,
      { kind: 'folder', folder: 'Never Created' },
      { itemSource },
    );
    expect(state).toBe('failed');
    expect(events.flatMap((e) => e.errors)).toEqual([
      expect.objectContaining({ scope: 'job', message: expect.stringMatching(/timeout: no reply/) }),
    ]);
    expect(counters.seen).toBe(0);
    const session = await imapSessionAs(imap, ANN.name);
    const listed = await session.list();
    await session.logout();
    expect(listed.map((f) => f.path)).not.toContain('Never Created');
  });

  it('reports an unreachable mailbox once and fails its items', async () => {
    const { state, results, events } = await run(annItems.slice(0, 3), { kind: 'mailbox', mailbox: 'rst-nobody' });
    expect(state).toBe('failed');
    expect(
      results.every((r) => r.outcome === 'failed' && /mailbox rst-nobody is unreachable/.test(r.reason ?? '')),
    ).toBe(true);
    expect(events.flatMap((e) => e.errors)).toEqual([
      expect.objectContaining({ scope: 'mailbox', target: 'rst-nobody' }),
    ]);
  });

  it('exports into an mbox file, byte for byte, and refuses to overwrite an existing file', async () => {
    const items = [...annItems, ...benItems];
    const { state, results } = await run(items, { kind: 'export', format: 'mbox', fileName: 'case-17.mbox' });
    expect(state).toBe('succeeded');
    expect(results.every((r) => r.outcome === 'restored' && r.targetFolder === 'case-17.mbox')).toBe(true);
    const messages = await readMboxrd(join(exportDir, 'case-17.mbox'));
    expect(messages.map((m) => contentId(keys, m)).sort()).toEqual(items.map((i) => i.contentId).sort());

    const again = await run(items, { kind: 'export', format: 'mbox', fileName: 'case-17.mbox' });
    expect(again.state).toBe('failed');
    expect(again.results.every((r) => r.outcome === 'failed' && /cannot create export file/.test(r.reason ?? ''))).toBe(
      true,
    );
    expect(again.events.flatMap((e) => e.errors)).toEqual([expect.objectContaining({ scope: 'job' })]);
    expect(await readMboxrd(join(exportDir, 'case-17.mbox'))).toHaveLength(items.length);
  });
});
