import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds and peak resident memory of one process, read from /proc. */
export interface ProcessStats {
  pid: number;
  name: string;
  cpuSeconds: number;
  peakRssMiB: number;
}

const TICKS_PER_SECOND = 100;

export function processStats(pid: number, name: string): ProcessStats | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { pid, name, cpuSeconds, peakRssMiB: hwm ? Number(hwm[1]) / 1024 : 0 };
  } catch {
    return undefined;
  }
}

/** Processes whose command line mentions `marker` (e.g. the directory of a local infrastructure). */
export function processesMentioning(marker: string): Array<{ pid: number; name: string }> {
  const found: Array<{ pid: number; name: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (cmdline.some((part) => part.includes(marker))) {
        const executable = (cmdline[0] ?? '').split('/').pop() ?? 'process';
        found.push({ pid: Number(entry), name: executable });
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/**
 * Prints CPU seconds, CPU share and peak RSS per process role between two snapshots, and which
 * stage was the busiest (several processes of one name, e.g. postgres backends, make one stage).
 */
export function printProcessReport(
  before: ReadonlyMap<number, ProcessStats | undefined>,
  after: readonly ProcessStats[],
  seconds: number,
): void {
  // Group by role: several processes (postgres backends, ceph daemons) make one stage.
  const byName = new Map<string, { cpu: number; rss: number; processes: number }>();
  for (const stats of after) {
    const cpu = stats.cpuSeconds - (before.get(stats.pid)?.cpuSeconds ?? 0);
    const entry = byName.get(stats.name) ?? { cpu: 0, rss: 0, processes: 0 };
    entry.cpu += cpu;
    entry.rss = Math.max(entry.rss, stats.peakRssMiB);
    entry.processes++;
    byName.set(stats.name, entry);
  }
  const rows = [...byName.entries()].sort((a, b) => b[1].cpu - a[1].cpu);
  console.log('\nprocess              CPU s   CPU share   peak RSS (largest process)');
  for (const [name, entry] of rows) {
    console.log(
      `${`${name}${entry.processes > 1 ? ` x${entry.processes}` : ''}`.padEnd(20)} ${entry.cpu.toFixed(1).padStart(6)}   ${`${((entry.cpu / seconds) * 100).toFixed(0)}%`.padStart(9)}   ${entry.rss.toFixed(0).padStart(5)} MiB`,
    );
  }
  const totalCpu = rows.reduce((n, [, e]) => n + e.cpu, 0);
  const top = rows[0];
  console.log(
    `\nall processes used ${totalCpu.toFixed(1)} CPU s in ${seconds.toFixed(1)} s (${((totalCpu / seconds / 2) * 100).toFixed(0)}% of 2 cores);` +
      (top ? ` the busiest stage is ${top[0]} (${((top[1].cpu / totalCpu) * 100).toFixed(0)}% of all CPU time).` : ''),
  );
}
