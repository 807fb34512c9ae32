import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { SearchHit, SearchResult } from '@mlr/contracts';
import { fetchFolder, imapSessionAs, type ImapInfo, type PlatformRunner } from '@mlr/testing';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Accepted {
  jobId: string;
  itemCount: number;
}

/**
 * The demo's second half: search the backup through the gateway, delete a few messages from the
 * mailbox, restore them by the ids the search returned, and show that Dovecot serves the same bytes
 * again; then export the folder to an mbox file on the connector's side.
 */
export async function demoSearchAndRestore(
  platform: PlatformRunner,
  imap: ImapInfo,
  options: { tenantId: string; mailbox: string; folder: string; exportDir: string },
): Promise<void> {
  const { tenantId, mailbox, folder } = options;
  // Messages sent before 2005 (by their Date header), newest first; five with a Message-ID to delete.
  const search = await platform.http<SearchResult>('POST', `/v1/tenants/${tenantId}/search`, {
    mailboxes: [mailbox],
    folder,
    toDate: '2004-12-31T23:59:59Z',
    limit: 20,
  });
  if (search.status !== 200) throw new Error(`search: HTTP ${search.status} ${JSON.stringify(search.body)}`);
  const hits: SearchHit[] = search.body.items.filter((hit) => hit.messageId !== null).slice(0, 5);
  console.log(
    `\nsearch ${mailbox}/${folder} for messages dated before 2005, newest first (POST /v1/tenants/${tenantId}/search):`,
  );
  for (const hit of hits) {
    console.log(
      `  ${(hit.date ?? '(no date)').slice(0, 10)}  ${(hit.from?.address ?? '-').padEnd(30).slice(0, 30)}  ${(hit.subject ?? '(no subject)').slice(0, 50)}`,
    );
  }
  if (hits.length === 0) return;

  // Delete those messages from the mailbox, as a user would by mistake.
  const before = await fetchFolder(imap, mailbox, folder);
  const wanted = new Set(hits.map((hit) => hit.messageId).filter((id): id is string => id !== null));
  const session = await imapSessionAs(imap, mailbox);
  let deleted = 0;
  try {
    await session.mailboxOpen(folder);
    for (const hit of hits) {
      if (!hit.messageId) continue;
      const uids = await session.search({ header: { 'message-id': hit.messageId } }, { uid: true });
      if (uids && uids.length > 0) {
        await session.messageDelete(uids.join(','), { uid: true });
        deleted += uids.length;
      }
    }
  } finally {
    await session.logout().catch(() => undefined);
  }
  console.log(`deleted ${deleted} of them from ${mailbox}/${folder} (${wanted.size} distinct Message-IDs)`);

  const restore = await platform.http<Accepted>('POST', `/v1/tenants/${tenantId}/restores`, {
    recordIds: hits.map((hit) => hit.id),
    target: { kind: 'original' },
  });
  if (restore.status !== 202) throw new Error(`restore: HTTP ${restore.status} ${JSON.stringify(restore.body)}`);
  const job = await platform.waitForJob(tenantId, restore.body.jobId);
  console.log(
    `restore job ${job.id}: ${job.state} — ${job.counters.restored} restored, ${job.counters.skipped} skipped ` +
      `(already there), ${job.counters.failed} failed`,
  );
  const after = await fetchFolder(imap, mailbox, folder);
  const served = new Set([...before.values()].map((message) => sha256(message.bytes)));
  const back = [...after.values()].filter((message) => served.has(sha256(message.bytes))).length;
  console.log(
    `${mailbox}/${folder} holds ${after.size} messages again; ${back} are byte-identical to before the deletion`,
  );

  const fileName = `${mailbox}-${folder.replace(/[^A-Za-z0-9]+/g, '-')}-${Date.now()}.mbox`;
  const exported = await platform.http<Accepted>('POST', `/v1/tenants/${tenantId}/restores`, {
    query: { mailboxes: [mailbox], folder },
    target: { kind: 'export', format: 'mbox', fileName },
  });
  if (exported.status !== 202) throw new Error(`export: HTTP ${exported.status} ${JSON.stringify(exported.body)}`);
  const exportJob = await platform.waitForJob(tenantId, exported.body.jobId);
  console.log(
    `export job ${exportJob.id}: ${exportJob.state} — ${exportJob.counters.restored} messages written to ` +
      `${join(options.exportDir, fileName)} (and its .manifest.json) on the connector's side`,
  );
}
