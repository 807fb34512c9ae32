import { readFileSync } from 'node:fs';
import { RgwRequestCounter, type CephInfo, type S3RequestCount } from '@mlr/testing';
import {
  parseMachineCpu,
  processTree,
  readCores,
  readProcTable,
  readTicksPerSecond,
  resetPeakRss,
  treeCpu,
  type Cores,
  type ProcTable,
  type TreeCpu,
} from './process-tree.js';

/** What one timed window of a benchmark used. */
export interface WindowFigures {
  seconds: number;
  cores: Cores;
  /** This process and everything below it: services, connectors, infrastructure daemons. */
  tree: TreeCpu & { shareOfCores: number };
  /** Whether every process's VmHWM was reset at the start, so that windowPeakRssMiB is the window's own. */
  windowPeakRss: boolean;
  /**
   * The whole machine, from /proc/stat: whatever else ran on it shows as the difference; stealSeconds
   * (inside busySeconds) is CPU time the hypervisor gave to other guests while this one wanted it.
   */
  machine: { busySeconds: number; capacitySeconds: number; busyShare: number; stealSeconds: number };
  /** S3 requests counted at the S3 side (RGW's ops log); absent when the bench uses no S3. */
  s3?: S3RequestCount;
}

const SAMPLE_MS = 1_000;

/**
 * A timed window: wall time, CPU of this process's whole tree and of the machine, peak RSS per
 * service, and (given a Ceph with its ops log) the S3 requests. The S3 window is opened before and
 * closed after the timed one, so that its marker requests stay outside the timed part.
 */
export class MeasuredWindow {
  private readonly peaks = new Map<string, number>();
  private readonly sampler: NodeJS.Timeout;

  private constructor(
    private readonly counter: RgwRequestCounter | undefined,
    private readonly ticksPerSecond: number,
    private readonly startTable: ProcTable,
    private readonly startMachine: ReturnType<typeof parseMachineCpu>,
    private readonly started: bigint,
    private readonly nameOf: (pid: number) => string | undefined,
    private readonly peakRssReset: boolean,
  ) {
    // Processes that exit inside the window (postgres backends, imap processes) take their VmHWM
    // with them: sample it while they live.
    this.sampler = setInterval(() => this.sample(), SAMPLE_MS);
    this.sampler.unref();
  }

  static async open(options: {
    s3?: { info: CephInfo; bucket: string };
    nameOf: (pid: number) => string | undefined;
  }): Promise<MeasuredWindow> {
    const counter = options.s3 ? await RgwRequestCounter.start(options.s3.info, options.s3.bucket) : undefined;
    const ticksPerSecond = readTicksPerSecond();
    const startMachine = parseMachineCpu(readFileSync('/proc/stat', 'utf8'));
    const startTable = readProcTable();
    // The lifetime peaks are in startTable; from here on VmHWM is the window's own peak.
    const refused = resetPeakRss(processTree(startTable, process.pid).map((entry) => entry.pid));
    return new MeasuredWindow(
      counter,
      ticksPerSecond,
      startTable,
      startMachine,
      process.hrtime.bigint(),
      options.nameOf,
      refused.length === 0,
    );
  }

  private sample(): void {
    for (const entry of processTree(readProcTable(), process.pid)) {
      const key = `${entry.pid}@${entry.startTime}`;
      if (entry.vmHwmKiB !== undefined) this.peaks.set(key, Math.max(this.peaks.get(key) ?? 0, entry.vmHwmKiB));
    }
  }

  async close(): Promise<WindowFigures> {
    const seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    const endTable = readProcTable();
    const endMachine = parseMachineCpu(readFileSync('/proc/stat', 'utf8'));
    clearInterval(this.sampler);
    const cores = readCores();
    const tree = treeCpu(this.startTable, endTable, process.pid, {
      ticksPerSecond: this.ticksPerSecond,
      nameOf: this.nameOf,
      sampledHwmKiB: this.peaks,
    });
    const capacitySeconds = (endMachine.totalTicks - this.startMachine.totalTicks) / this.ticksPerSecond;
    const busySeconds = (endMachine.busyTicks - this.startMachine.busyTicks) / this.ticksPerSecond;
    const stealSeconds = (endMachine.stealTicks - this.startMachine.stealTicks) / this.ticksPerSecond;
    const s3 = await this.counter?.stop();
    return {
      seconds,
      cores,
      tree: { ...tree, shareOfCores: tree.cpuSeconds / (seconds * cores.effective) },
      windowPeakRss: this.peakRssReset,
      machine: {
        busySeconds,
        capacitySeconds,
        busyShare: capacitySeconds > 0 ? busySeconds / capacitySeconds : 0,
        stealSeconds,
      },
      ...(s3 ? { s3 } : {}),
    };
  }
}
