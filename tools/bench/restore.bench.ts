// `npm run bench:restore`: backs up 2,000 messages of ~50 KiB (not timed), deletes them from the
// mailbox, then restores all of them through the platform (gateway → scheduling → connector, which
// pages the items, fetches every sealed object from storage/Ceph, opens and verifies it, checks the
// target folder for duplicates and APPENDs it to Dovecot with its flags and INTERNALDATE), and prints
// restored messages/s, MB/s, and CPU time and peak RSS per process. No pass/fail: figures only.
import { fetchFolder, imapSessionAs, required } from '@mlr/testing';
import { BENCH_MAILBOX, measure, runBench, startBenchPlatform } from './bench-platform.js';

runBench(async () => {
  const bench = await startBenchPlatform({
    name: 'bench-restore',
    tenantId: 'bench-restore',
    seed: (i) => ({
      flags: i % 2 === 0 ? ['\\Seen'] : ['$Label1'],
      internalDate: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
    }),
  });
  try {
    const { platform, tenantId, planId, totalBytes } = bench;
    const imap = required(bench.infra, 'imap');
    const backup = await platform.waitForJob(tenantId, await platform.runPlan(tenantId, planId), {
      timeoutMs: 1_800_000,
    });
    console.log(`backed up ${backup.counters.seen} messages (${backup.state}); deleting them from the mailbox`);
    const session = await imapSessionAs(imap, BENCH_MAILBOX);
    await session.mailboxOpen('INBOX');
    await session.messageDelete('1:*');
    await session.logout();

    const measuring = measure(bench);
    const accepted = await platform.http<{ jobId: string; itemCount: number }>(
      'POST',
      `/v1/tenants/${tenantId}/restores`,
      { query: { mailboxes: [BENCH_MAILBOX], folder: 'INBOX' }, target: { kind: 'original' } },
    );
    if (accepted.status !== 202) {
      throw new Error(`restore refused: HTTP ${accepted.status} ${JSON.stringify(accepted.body)}`);
    }
    const job = await platform.waitForJob(tenantId, accepted.body.jobId, { timeoutMs: 1_800_000 });
    const { seconds, report } = measuring.finish();
    const inMailbox = (await fetchFolder(imap, BENCH_MAILBOX, 'INBOX')).size;
    console.log(
      `\nrestore job ${job.state}: ${accepted.body.itemCount} items, ${job.counters.restored} restored, ` +
        `${job.counters.skipped} skipped, ${job.counters.failed} failed; ${inMailbox} messages in the mailbox now`,
    );
    console.log(
      `end to end: ${seconds.toFixed(1)} s = ${(job.counters.restored / seconds).toFixed(0)} messages/s, ` +
        `${(totalBytes / 1e6 / seconds).toFixed(1)} MB/s`,
    );
    report();
  } finally {
    await bench.stop();
  }
});
