// `npm run bench:memory`: peak RSS (VmHWM) of every service and of the connector, started as they
// ship (compiled, with the image's command lines), once idle and once after backing up the bench
// mailbox (2,000 messages of ~50 KiB; --messages, --size). The services are meant to stay below
// 250 MiB idle. The processes run on the Node that runs this script: run it with the image's Node
// (node --import @swc-node/register/esm-register tools/bench/memory.bench.ts) for the image's figures.
import { setTimeout as sleep } from 'node:timers/promises';
import { runBench, startBenchPlatform } from './bench-platform.js';
import { processStats } from './process-stats.js';

const IDLE_TARGET_MIB = 250;
/** Long enough for the first health checks, consumer set-up and the first scheduling ticks. */
const SETTLE_MS = 10_000;

runBench(async () => {
  const bench = await startBenchPlatform({ name: 'bench-memory', tenantId: 'bench-memory' });
  try {
    const { platform, tenantId, planId, count } = bench;
    const peaks = () =>
      new Map([...platform.apps.values()].map((app) => [app.name, processStats(app.pid, app.name)?.peakRssMiB]));
    await sleep(SETTLE_MS);
    const idle = peaks();
    const job = await platform.waitForJob(tenantId, await platform.runPlan(tenantId, planId), { timeoutMs: 1_800_000 });
    if (job.state !== 'succeeded') throw new Error(`the backup ended ${job.state}: ${JSON.stringify(job.counters)}`);
    const afterBackup = peaks();

    const mib = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(0)} MiB`);
    console.log(`\nNode ${process.version}; backup of ${job.counters.seen} of ${count} messages ${job.state}`);
    console.log('process      peak RSS idle   after the backup');
    for (const [name, idlePeak] of idle) {
      const over =
        name !== 'connector' && (idlePeak ?? 0) > IDLE_TARGET_MIB ? `   over ${IDLE_TARGET_MIB} MiB idle` : '';
      console.log(
        `${name.padEnd(12)} ${mib(idlePeak).padStart(13)}   ${mib(afterBackup.get(name)).padStart(16)}${over}`,
      );
    }
  } finally {
    await bench.stop();
  }
});
