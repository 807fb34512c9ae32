import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';

/** One process as /proc shows it. CPU times are in clock ticks. */
export interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
  utime: number;
  stime: number;
  /** CPU time of children this process has waited for (exited and reaped), and of theirs. */
  cutime: number;
  cstime: number;
  /** Ticks since boot when the process started: with the pid, it tells a recycled pid apart. */
  startTime: number;
  vmHwmKiB?: number;
}

export type ProcTable = ReadonlyMap<number, ProcEntry>;

/** Parses /proc/<pid>/stat (proc(5)); the command name may itself contain spaces and parentheses. */
export function parseProcPidStat(text: string): Omit<ProcEntry, 'vmHwmKiB'> {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  // Fields from the 3rd (state) on; proc(5) numbers them from 1, so field n is at n - 3.
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const field = (n: number) => Number(fields[n - 3]);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    startTime: field(22),
  };
}

/** The peak resident set size (VmHWM) from /proc/<pid>/status; absent for zombies and kernel threads. */
export function parseVmHwmKiB(status: string): number | undefined {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

/** Every process of the machine now. Processes that end while being read are left out. */
export function readProcTable(procRoot = '/proc'): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const entry: ProcEntry = parseProcPidStat(readFileSync(join(procRoot, name, 'stat'), 'utf8'));
      const hwm = parseVmHwmKiB(readFileSync(join(procRoot, name, 'status'), 'utf8'));
      if (hwm !== undefined) entry.vmHwmKiB = hwm;
      table.set(entry.pid, entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return table;
}

/** `root` and every process below it, by parent pid. */
export function processTree(table: ProcTable, root: number): ProcEntry[] {
  const children = new Map<number, ProcEntry[]>();
  for (const entry of table.values()) {
    const siblings = children.get(entry.ppid) ?? [];
    siblings.push(entry);
    children.set(entry.ppid, siblings);
  }
  const top = table.get(root);
  if (top === undefined) return [];
  const tree: ProcEntry[] = [];
  const queue = [top];
  for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
    tree.push(entry);
    // pid 0 is the kernel's, and init (pid 1) would list itself as its own descendant otherwise.
    if (entry.pid > 1) queue.push(...(children.get(entry.pid) ?? []));
  }
  return tree;
}

/**
 * Resets the peak RSS (VmHWM) of `pids` to their current RSS (proc(5), clear_refs "5"), so that
 * VmHWM read later is the peak since now. Returns the pids where that was not allowed.
 */
export function resetPeakRss(pids: readonly number[], procRoot = '/proc'): number[] {
  const refused: number[] = [];
  for (const pid of pids) {
    try {
      writeFileSync(join(procRoot, String(pid), 'clear_refs'), '5');
    } catch (error) {
      // A process that has ended meanwhile has no peak left to measure.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') refused.push(pid);
    }
  }
  return refused;
}

export interface ProcessGroupCpu {
  /** The service: a direct child of the root and everything below it (or the root itself). */
  name: string;
  /** The pid of that child (or of the root). */
  pid: number;
  /** Processes of the group seen at the start or end of the window. */
  processes: number;
  cpuSeconds: number;
  /** Largest VmHWM of one process of the group since it started (the service's peak RSS). */
  peakRssMiB: number;
  /** The same within the window, when the window reset VmHWM at its start (see resetPeakRss). */
  windowPeakRssMiB: number;
}

export interface TreeCpu {
  cpuSeconds: number;
  groups: ProcessGroupCpu[];
}

const identity = (entry: ProcEntry) => `${entry.pid}@${entry.startTime}`;
/** Everything a process and the children it reaped have used since it started. */
const lifetimeTicks = (entry: ProcEntry) => entry.utime + entry.stime + entry.cutime + entry.cstime;

/**
 * CPU used between two snapshots by `root` and every process below it. A process's own time plus
 * the time of the children it has reaped (cutime, cstime) is everything its part of the tree has
 * used since it started, so the tree's lifetime total at the end minus that at the start is what the
 * window used, including processes that started and exited inside it (postgres backends, dovecot
 * imap processes), which their parent reaped. A process that was alive at the start and is reaped
 * during the window adds its whole lifetime to its parent, and the subtraction takes its start share
 * off again. Grouped by the root's direct children (one per service); `nameOf` names a group.
 */
export function treeCpu(
  start: ProcTable,
  end: ProcTable,
  root: number,
  options: {
    ticksPerSecond: number;
    nameOf?: (pid: number) => string | undefined;
    /**
     * Peak VmHWM seen by sampling during the window, by process identity (`pid@startTime`): it
     * keeps the peak of processes that exited before the end.
     */
    sampledHwmKiB?: ReadonlyMap<string, number>;
  },
): TreeCpu {
  const startTree = processTree(start, root);
  const endTree = processTree(end, root);
  const groupOf = (table: ProcTable) => {
    const groups = new Map<string, number>();
    for (const entry of processTree(table, root)) {
      let top = entry;
      while (top.pid !== root && top.ppid !== root) {
        const parent = table.get(top.ppid);
        if (parent === undefined) break;
        top = parent;
      }
      groups.set(identity(entry), top.pid);
    }
    return groups;
  };
  const startGroups = groupOf(start);
  const endGroups = groupOf(end);
  const groups = new Map<
    number,
    { ticks: number; processes: Set<string>; hwm: number; windowHwm: number; comm: string }
  >();
  const add = (entry: ProcEntry, group: number, ticks: number, atEnd: boolean) => {
    const current = groups.get(group) ?? { ticks: 0, processes: new Set<string>(), hwm: 0, windowHwm: 0, comm: '' };
    current.ticks += ticks;
    current.processes.add(identity(entry));
    const hwm = entry.vmHwmKiB ?? 0;
    const sampled = options.sampledHwmKiB?.get(identity(entry)) ?? 0;
    current.hwm = Math.max(current.hwm, hwm, sampled);
    // VmHWM at the start is the peak before the window; at the end and in samples, within it.
    if (atEnd) current.windowHwm = Math.max(current.windowHwm, hwm, sampled);
    else current.windowHwm = Math.max(current.windowHwm, sampled);
    if (entry.pid === group) current.comm = entry.comm;
    groups.set(group, current);
  };
  for (const entry of endTree) add(entry, endGroups.get(identity(entry)) ?? root, lifetimeTicks(entry), true);
  for (const entry of startTree) add(entry, startGroups.get(identity(entry)) ?? root, -lifetimeTicks(entry), false);

  const result = [...groups.entries()].map(([pid, group]) => ({
    name: options.nameOf?.(pid) ?? (group.comm || `pid ${pid}`),
    pid,
    processes: group.processes.size,
    cpuSeconds: group.ticks / options.ticksPerSecond,
    peakRssMiB: group.hwm / 1024,
    windowPeakRssMiB: group.windowHwm / 1024,
  }));
  result.sort((a, b) => b.cpuSeconds - a.cpuSeconds || a.name.localeCompare(b.name));
  return { cpuSeconds: result.reduce((sum, group) => sum + group.cpuSeconds, 0), groups: result };
}

/**
 * Ticks of the whole machine from the `cpu` line of /proc/stat: all of them, the busy ones, and of
 * those the ones the hypervisor gave to someone else (steal: the virtual CPU wanted to run and could not).
 */
export function parseMachineCpu(procStat: string): { totalTicks: number; busyTicks: number; stealTicks: number } {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('no cpu line in /proc/stat');
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice).
  const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const at = (i: number) => values[i] ?? 0;
  const totalTicks = values.reduce((sum, value) => sum + value, 0);
  return { totalTicks, busyTicks: totalTicks - at(3) - at(4), stealTicks: at(7) };
}

export interface Cores {
  /** CPUs the kernel has online. */
  online: number;
  /** CPUs this process may run on (affinity): os.availableParallelism(). */
  available: number;
  /** The cgroup's CPU quota in cores (cpu.max, or cpu.cfs_quota_us / cpu.cfs_period_us), if limited. */
  cgroupQuota: number | null;
  /** What the benchmark can use: the smallest of the above. */
  effective: number;
}

/**
 * The tightest CPU quota on this process's cgroup path (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`),
 * in cores, walking up to the root since every ancestor's limit applies; null when none is set.
 * `read` returns a file's text, or undefined when it does not exist.
 */
export function cgroupCpuQuota(procSelfCgroup: string, read: (path: string) => string | undefined): number | null {
  let quota: number | null = null;
  const tighten = (cores: number) => {
    if (Number.isFinite(cores) && cores > 0) quota = quota === null ? cores : Math.min(quota, cores);
  };
  for (const line of procSelfCgroup.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (controllers === undefined || path === undefined) continue;
    const v2 = controllers === '';
    const v1 = controllers.split(',').includes('cpu');
    if (!v2 && !v1) continue;
    const base = v2 ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${controllers}`;
    for (let dir = path; ; dir = dir.slice(0, dir.lastIndexOf('/')) || '/') {
      const at = `${base}${dir === '/' ? '' : dir}`;
      if (v2) {
        const [max, period] = (read(`${at}/cpu.max`) ?? '').trim().split(/\s+/);
        if (max !== undefined && max !== 'max' && max !== '' && period !== undefined)
          tighten(Number(max) / Number(period));
      } else {
        const max = Number((read(`${at}/cpu.cfs_quota_us`) ?? '').trim());
        const period = Number((read(`${at}/cpu.cfs_period_us`) ?? '').trim());
        if (max > 0 && period > 0) tighten(max / period);
      }
      if (dir === '/') break;
    }
  }
  return quota;
}

const readIfExists = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** The cores of this machine as the kernel and the cgroup say, never assumed. */
export function readCores(): Cores {
  const online = cpus().length;
  const available = availableParallelism();
  const cgroupQuota = cgroupCpuQuota(readIfExists('/proc/self/cgroup') ?? '', readIfExists);
  return { online, available, cgroupQuota, effective: Math.min(online, available, cgroupQuota ?? Infinity) };
}

/** Clock ticks per second of /proc's CPU times (sysconf(_SC_CLK_TCK)), read from getconf. */
export function readTicksPerSecond(): number {
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(ticks) || ticks <= 0) throw new Error(`getconf CLK_TCK answered ${ticks}`);
  return ticks;
}
