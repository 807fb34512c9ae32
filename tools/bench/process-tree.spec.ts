import { describe, expect, it } from 'vitest';
import {
  cgroupCpuQuota,
  parseMachineCpu,
  parseProcPidStat,
  parseVmHwmKiB,
  processTree,
  treeCpu,
  type ProcEntry,
} from './process-tree.js';

/** A /proc/<pid>/stat line of Linux 6 with the fields that matter set and the others as a kernel writes them. */
function statLine(p: {
  pid: number;
  comm: string;
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  start: number;
}): string {
  return (
    `${p.pid} (${p.comm}) S ${p.ppid} ${p.pid} ${p.pid} 0 -1 4194560 1200 0 0 0 ` +
    `${p.utime} ${p.stime} ${p.cutime} ${p.cstime} 20 0 11 0 ${p.start} 1257000960 51234 18446744073709551615 ` +
    '1 1 0 0 0 0 0 4096 134234626 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0'
  );
}

type Proc = Omit<ProcEntry, 'startTime'> & { startTime?: number };
const table = (...procs: Proc[]) =>
  new Map(procs.map((p) => [p.pid, { startTime: 1_000 + p.pid, ...p } satisfies ProcEntry]));
const proc = (pid: number, ppid: number, comm: string, times: Partial<ProcEntry> = {}): Proc => ({
  pid,
  ppid,
  comm,
  utime: 0,
  stime: 0,
  cutime: 0,
  cstime: 0,
  ...times,
});

describe('process tree CPU accounting', () => {
  it('reads /proc/<pid>/stat, also when the command name holds spaces and parentheses', () => {
    expect(
      parseProcPidStat(
        statLine({
          pid: 4242,
          comm: 'node (gateway) x',
          ppid: 7,
          utime: 150,
          stime: 30,
          cutime: 12,
          cstime: 3,
          start: 98765,
        }),
      ),
    ).toEqual({
      pid: 4242,
      comm: 'node (gateway) x',
      ppid: 7,
      utime: 150,
      stime: 30,
      cutime: 12,
      cstime: 3,
      startTime: 98765,
    });
  });

  it('reads the peak RSS from /proc/<pid>/status, and none for a zombie', () => {
    expect(parseVmHwmKiB('Name:\tnode\nVmPeak:\t 1234 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 102400 kB\n')).toBe(204800);
    expect(parseVmHwmKiB('Name:\tpostgres\nState:\tZ (zombie)\n')).toBeUndefined();
  });

  it('finds every process below the root by parent pid, and nothing outside it', () => {
    const procs = table(
      proc(1, 0, 'init'),
      proc(10, 1, 'bench'),
      proc(11, 10, 'postgres'),
      proc(12, 11, 'postgres'),
      proc(13, 12, 'postgres'),
      proc(20, 1, 'other engineer'),
      proc(21, 20, 'tsc'),
    );
    expect(
      processTree(procs, 10)
        .map((p) => p.pid)
        .sort(),
    ).toEqual([10, 11, 12, 13]);
    expect(processTree(procs, 99)).toEqual([]);
  });

  it('counts the window only, per service, including children that started and exited inside it', () => {
    const start = table(
      proc(10, 1, 'node', { utime: 500, stime: 100 }),
      proc(11, 10, 'postgres', { utime: 40, stime: 10, cutime: 300, cstime: 100 }),
      // A backend that lives through the window.
      proc(12, 11, 'postgres', { utime: 20, stime: 5 }),
      proc(30, 10, 'node', { utime: 900, stime: 100 }),
      proc(40, 1, 'someone else', { utime: 5_000 }),
    );
    const end = table(
      proc(10, 1, 'node', { utime: 520, stime: 110 }),
      // Backends that started and exited inside the window (120 + 30 ticks) were reaped into cutime.
      proc(11, 10, 'postgres', { utime: 50, stime: 12, cutime: 420, cstime: 130 }),
      proc(12, 11, 'postgres', { utime: 70, stime: 15 }),
      proc(30, 10, 'node', { utime: 1_200, stime: 150 }),
      proc(40, 1, 'someone else', { utime: 9_000 }),
    );
    const cpu = treeCpu(start, end, 10, {
      ticksPerSecond: 100,
      nameOf: (pid) => ({ 10: 'bench (this process)', 30: 'storage' })[pid],
    });
    expect(cpu.groups.map((g) => [g.name, g.cpuSeconds, g.processes])).toEqual([
      ['storage', 3.5, 1],
      // 12 ticks of the postmaster, 150 of exited backends, 60 of the live one.
      ['postgres', 2.22, 2],
      ['bench (this process)', 0.3, 1],
    ]);
    expect(cpu.cpuSeconds).toBeCloseTo(6.02, 10);
  });

  it('does not count the life before the window of a process reaped inside it', () => {
    // Worker 12 had used 200 ticks before the window and 50 in it, then exited; its parent reaped it.
    const start = table(
      proc(10, 1, 'bench'),
      proc(11, 10, 'dovecot', { utime: 10 }),
      proc(12, 11, 'imap', { utime: 200 }),
    );
    const end = table(proc(10, 1, 'bench'), proc(11, 10, 'dovecot', { utime: 10, cutime: 250 }));
    const cpu = treeCpu(start, end, 10, { ticksPerSecond: 100 });
    expect(cpu.groups.find((g) => g.name === 'dovecot')?.cpuSeconds).toBeCloseTo(0.5, 10);
  });

  it('tells a recycled pid from the process that had it', () => {
    // pid 12 exited (reaped: 100 ticks) and a new process got the same pid, 30 ticks so far.
    const start = table(proc(10, 1, 'bench'), proc(11, 10, 'dovecot'), {
      ...proc(12, 11, 'imap', { utime: 60 }),
      startTime: 5,
    });
    const end = table(proc(10, 1, 'bench'), proc(11, 10, 'dovecot', { cutime: 100 }), {
      ...proc(12, 11, 'imap', { utime: 30 }),
      startTime: 900,
    });
    const cpu = treeCpu(start, end, 10, { ticksPerSecond: 100 });
    expect(cpu.groups.find((g) => g.name === 'dovecot')?.cpuSeconds).toBeCloseTo(0.7, 10);
    expect(cpu.groups.find((g) => g.name === 'dovecot')?.processes).toBe(3);
  });

  it('takes the largest VmHWM of a group, sampled peaks of exited processes included, and the window peak apart', () => {
    const start = table(
      proc(10, 1, 'bench'),
      { ...proc(11, 10, 'postgres'), vmHwmKiB: 300 * 1024 },
      proc(12, 11, 'postgres'),
    );
    const end = table(proc(10, 1, 'bench'), { ...proc(11, 10, 'postgres'), vmHwmKiB: 40 * 1024 });
    const cpu = treeCpu(start, end, 10, {
      ticksPerSecond: 100,
      sampledHwmKiB: new Map([[`12@${1_000 + 12}`, 90 * 1024]]),
    });
    const postgres = cpu.groups.find((g) => g.name === 'postgres');
    expect(postgres?.peakRssMiB).toBe(300);
    expect(postgres?.windowPeakRssMiB).toBe(90);
  });

  it('reads busy, stolen and all ticks of the machine from /proc/stat', () => {
    expect(parseMachineCpu('cpu  78277 10 20807 101379 931 0 516 436 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n')).toEqual({
      totalTicks: 78277 + 10 + 20807 + 101379 + 931 + 516 + 436,
      busyTicks: 78277 + 10 + 20807 + 516 + 436,
      stealTicks: 436,
    });
  });
});

describe('cgroup CPU quota', () => {
  const files = (entries: Record<string, string>) => (path: string) => entries[path];

  it('is none on this kind of machine (cgroup v1, no quota)', () => {
    const cgroup = '4:memory:/process_api/47c6\n2:cpuacct:/\n1:cpu:/\n0::/\n';
    expect(
      cgroupCpuQuota(
        cgroup,
        files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }),
      ),
    ).toBeNull();
  });

  it('reads cgroup v2 cpu.max, the tightest of the path and its parents', () => {
    const read = files({
      '/sys/fs/cgroup/ci/job/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/ci/cpu.max': '150000 100000\n',
      '/sys/fs/cgroup/cpu.max': 'max 100000\n',
    });
    expect(cgroupCpuQuota('0::/ci/job\n', read)).toBe(1.5);
  });

  it('reads cgroup v1 cpu.cfs_quota_us under a joint cpu,cpuacct hierarchy', () => {
    const read = files({
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '50000',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000',
    });
    expect(cgroupCpuQuota('3:cpu,cpuacct:/docker/abc\n', read)).toBe(0.5);
  });
});
