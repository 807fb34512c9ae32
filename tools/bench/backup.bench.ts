// `npm run bench:backup`: backs up 2,000 messages of ~50 KiB end to end on this machine (Dovecot →
// connector → NATS → storage → Ceph S3 / PostgreSQL → indexing) with its own infrastructure, and
// prints messages/s, MB/s, and CPU time and peak RSS per process. No pass/fail: figures only.
import { measure, runBench, startBenchPlatform } from './bench-platform.js';

runBench(async () => {
  const bench = await startBenchPlatform({ name: 'bench-backup', tenantId: 'bench' });
  try {
    const { platform, tenantId, planId, count, totalBytes } = bench;
    const measuring = measure(bench);
    const job = await platform.waitForJob(tenantId, await platform.runPlan(tenantId, planId), { timeoutMs: 1_800_000 });
    const { seconds, report } = measuring.finish();
    console.log(
      `\njob ${job.state}: ${job.counters.seen} messages, ${job.counters.new} new objects, ${job.counters.failed} failed`,
    );
    console.log(
      `end to end: ${seconds.toFixed(1)} s = ${(count / seconds).toFixed(0)} messages/s, ${(totalBytes / 1e6 / seconds).toFixed(1)} MB/s`,
    );
    report();
  } finally {
    await bench.stop();
  }
});
