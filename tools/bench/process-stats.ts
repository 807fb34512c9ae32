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
