import type { BenchResult } from './bench-result.js';
import type { WindowFigures } from './measured-window.js';

/** The issue's targets (figures from the benchmarks; reported beside them, never enforced here). */
export const RSS_TARGET_MIB = 250;
export const S3_PER_THOUSAND_TARGET = 20;

const n = (value: number, digits = 0) =>
  value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const percent = (share: number) => `${n(share * 100)}%`;

/** The CPU part of a result; `mlr` tells which groups are MLR's own processes (the RSS target applies). */
export function cpuResult(figures: WindowFigures, isMlr: (name: string) => boolean): BenchResult['cpu'] {
  return {
    treeSeconds: figures.tree.cpuSeconds,
    shareOfCores: figures.tree.shareOfCores,
    machineBusySeconds: figures.machine.busySeconds,
    machineBusyShare: figures.machine.busyShare,
    machineStealSeconds: figures.machine.stealSeconds,
    groups: figures.tree.groups.map((group) => ({
      name: group.name,
      processes: group.processes,
      cpuSeconds: group.cpuSeconds,
      shareOfCores: group.cpuSeconds / (figures.seconds * figures.cores.effective),
      peakRssMiB: group.peakRssMiB,
      windowPeakRssMiB: figures.windowPeakRss ? group.windowPeakRssMiB : null,
      mlr: isMlr(group.name),
    })),
  };
}

/** The S3 part of a result, per 1,000 of the `items` the benchmark achieved. */
export function s3Result(figures: WindowFigures, items: number): BenchResult['s3'] {
  const s3 = figures.s3;
  if (s3 === undefined) return null;
  return {
    total: s3.total,
    perThousand: items > 0 ? (s3.total / items) * 1000 : 0,
    byKind: s3.byKind,
    failed: s3.failed,
    bytesReceived: s3.bytesReceived,
    bytesSent: s3.bytesSent,
    rgwRequests: s3.rgwRequests ?? null,
  };
}

/** The issue's S3 target: requests per 1,000 messages backed up, counted at RGW. */
export function s3Target(s3: BenchResult['s3']): BenchResult['targets'] {
  if (s3 === null) return [];
  return [
    {
      name: 'S3 requests per 1,000 messages (at RGW)',
      target: `≤ ${S3_PER_THOUSAND_TARGET}`,
      actual: n(s3.perThousand, 1),
      met: s3.perThousand <= S3_PER_THOUSAND_TARGET,
    },
  ];
}

/** The issue's memory target for every MLR process (services and connectors), by VmHWM since start. */
export function rssTargets(cpu: BenchResult['cpu']): BenchResult['targets'] {
  return cpu.groups
    .filter((g) => g.mlr)
    .map((group) => ({
      name: `peak RSS of ${group.name}`,
      target: `< ${RSS_TARGET_MIB} MiB`,
      actual: `${n(group.peakRssMiB)} MiB`,
      met: group.peakRssMiB < RSS_TARGET_MIB,
    }));
}

/** Prints a result: everything the JSON file holds, in the order a reader wants it. */
export function printResult(result: BenchResult): void {
  const lines: string[] = [];
  const out = (line = '') => lines.push(line);
  out();
  out(`── ${result.bench} ${result.scenario}: ${result.title}`);
  out(
    result.ok
      ? `achieved: ${n(result.achieved.items)} of ${n(result.achieved.expected)} ${result.achieved.unit}${result.jobs.length > 0 ? ', every job succeeded' : ''}`
      : `FAILED — the figure below counts only what was achieved:\n${result.failures.map((f) => `  - ${f}`).join('\n')}`,
  );
  if (!result.settings.durable) out('!!! --fast: NOT DURABLE (PostgreSQL fsync off, Ceph memstore)');
  out(
    `${result.headline.label}: ${n(result.headline.value, 1)} ${result.headline.unit}` +
      (result.mbPerSecond !== null ? `, ${n(result.mbPerSecond, 1)} MB/s` : '') +
      ` (${n(result.achieved.items)} ${result.achieved.unit} in ${n(result.seconds, 2)} s)`,
  );
  if (result.ceilings.length > 0) {
    out('ceilings of the same run (measured outside the timed window, on the same servers):');
    for (const c of result.ceilings) {
      const rate = `${n(c.value, c.value < 100 ? 1 : 0)} ${c.unit}`;
      const mb = c.mbPerSecond !== undefined ? `${n(c.mbPerSecond, 1)} MB/s` : '';
      out(`  ${c.name.padEnd(16)} ${rate.padStart(18)} ${mb.padStart(12)}   ${c.what}`);
    }
  }
  if (result.s3) {
    const s3 = result.s3;
    out(
      `S3 requests at RGW over the timed window (ops log): ${n(s3.total)} = ${n(s3.perThousand, 1)} per 1,000 ${result.achieved.unit}`,
    );
    out(
      `  ${Object.entries(s3.byKind)
        .map(([kind, count]) => `${kind} ${n(count)}`)
        .join(' · ')}${s3.failed > 0 ? `; answered ≥ 400: ${n(s3.failed)}` : ''}`,
    );
    out(
      s3.rgwRequests === null
        ? "  RGW's request counter could not be read: requests the ops log leaves out (ListBuckets, refused logins) are unknown"
        : s3.rgwRequests === s3.total
          ? `  RGW's own request counter agrees: ${n(s3.rgwRequests)}`
          : `  RGW's own request counter says ${n(s3.rgwRequests)}: ${n(s3.rgwRequests - s3.total)} not in the ops log (ListBuckets or refused at authentication)`,
    );
  }
  const cores = result.machine.cores;
  out(
    `CPU over the timed window, whole process tree of this benchmark (${n(cores.effective)} cores: ${cores.online} online, ` +
      `${cores.available} available to this process, cgroup quota ${cores.cgroupQuota === null ? 'none' : n(cores.cgroupQuota, 2)}):`,
  );
  out(
    `  ${'process'.padEnd(28)} ${'CPU s'.padStart(8)} ${'of cores'.padStart(9)} ${'peak RSS'.padStart(10)} ${'in window'.padStart(10)}`,
  );
  for (const g of result.cpu.groups) {
    const rss = `${n(g.peakRssMiB)} MiB`;
    const inWindow = g.windowPeakRssMiB === null ? '?' : `${n(g.windowPeakRssMiB)} MiB`;
    const target = g.mlr
      ? g.peakRssMiB < RSS_TARGET_MIB
        ? `  < ${RSS_TARGET_MIB} MiB ✓`
        : `  ≥ ${RSS_TARGET_MIB} MiB ✗`
      : '';
    const name = `${g.name}${g.processes > 1 ? ` (${g.processes} processes)` : ''}`;
    out(
      `  ${name.padEnd(28)} ${n(g.cpuSeconds, 2).padStart(8)} ${percent(g.shareOfCores).padStart(9)} ${rss.padStart(10)} ${inWindow.padStart(10)}${target}`,
    );
  }
  out(
    `  (peak RSS: the largest VmHWM of one process since it started, start-up included; in window: since the timed window began)`,
  );
  out(
    `  ${'all of the tree'.padEnd(28)} ${n(result.cpu.treeSeconds, 2).padStart(8)} ${percent(result.cpu.shareOfCores).padStart(9)}`,
  );
  out(
    `  the machine was busy ${n(result.cpu.machineBusySeconds, 2)} CPU s (${percent(result.cpu.machineBusyShare)} of its cores, /proc/stat): ` +
      `${n(Math.max(0, result.cpu.machineBusySeconds - result.cpu.treeSeconds), 2)} CPU s were not this benchmark's`,
  );
  if (result.cpu.machineStealSeconds !== undefined) {
    out(
      `  the hypervisor took ${n(result.cpu.machineStealSeconds, 2)} CPU s from this machine's cores while they had work (steal; ` +
        `${percent(result.cpu.machineStealSeconds / (result.seconds * Math.max(1, result.machine.cores.online)))} of its cores over the window)`,
    );
  }
  for (const job of result.jobs) {
    out(
      `job ${job.tenantId}/${job.jobId}: ${job.state}, ${Object.entries(job.counters)
        .filter(([, value]) => value !== 0)
        .map(([name, value]) => `${name} ${n(value)}`)
        .join(', ')} (${n(job.seconds, 2)} s)`,
    );
  }
  for (const v of result.verification) {
    out(`check: ${v.check}: ${n(v.actual)} of ${n(v.expected)} ${v.ok ? '✓' : '✗'}`);
  }
  for (const t of result.targets) {
    out(`target: ${t.name} ${t.target}: ${t.actual} — ${t.met ? 'met' : 'NOT met'}`);
  }
  out(
    `settings: ${result.settings.durable ? 'durable' : 'NOT DURABLE (--fast)'}; PostgreSQL ${Object.entries(
      result.settings.postgres,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}` +
      (result.settings.s3 ? `; Ceph ${result.settings.s3.objectStore}` : '') +
      `; node ${result.machine.node}; commit ${result.git.commit.slice(0, 12)}${result.git.dirty ? ' (with uncommitted changes)' : ''}`,
  );
  console.log(lines.join('\n'));
}
