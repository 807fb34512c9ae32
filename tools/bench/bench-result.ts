import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { z } from 'zod';
import { REPO_ROOT } from '@mlr/testing';

/** Where the latest result of each benchmark and scenario is kept (committed, rendered into the README). */
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
/** Every run's result, failed ones and --fast ones included (not committed). */
export const RUNS_DIR = join(REPO_ROOT, 'tmp', 'bench-results');

const ceilingSchema = z.strictObject({
  name: z.string(),
  /** What exactly was timed, in words. */
  what: z.string(),
  value: z.number(),
  unit: z.string(),
  items: z.number().optional(),
  bytes: z.number().optional(),
  seconds: z.number().optional(),
  mbPerSecond: z.number().optional(),
});

const groupSchema = z.strictObject({
  name: z.string(),
  processes: z.number(),
  cpuSeconds: z.number(),
  /** CPU seconds / (wall seconds × effective cores). */
  shareOfCores: z.number(),
  /** Largest VmHWM of one process of the group since it started: what the RSS target is judged by. */
  peakRssMiB: z.number(),
  /** The same within the timed window (VmHWM reset at its start); null if the reset was not allowed. */
  windowPeakRssMiB: z.number().nullable(),
  /** A process of MLR (service or connector), to which the RSS target applies. */
  mlr: z.boolean(),
});

export const benchResultSchema = z.strictObject({
  version: z.literal(1),
  bench: z.enum(['backup', 'restore', 'search']),
  /** Short id of the workload, part of the file name: `1x2000x50KiB` (tenants × messages × size). */
  scenario: z.string(),
  title: z.string(),
  /** False when anything was not achieved: a job not `succeeded`, a failure, a count that differs. */
  ok: z.boolean(),
  failures: z.array(z.string()),
  startedAt: z.string(),
  git: z.strictObject({ commit: z.string(), dirty: z.boolean() }),
  machine: z.strictObject({
    node: z.string(),
    cpuModel: z.string(),
    memoryMiB: z.number(),
    cores: z.strictObject({
      online: z.number(),
      available: z.number(),
      cgroupQuota: z.number().nullable(),
      effective: z.number(),
    }),
  }),
  settings: z.strictObject({
    durable: z.boolean(),
    /** As the server reports them (pg_settings). */
    postgres: z.strictObject({ fsync: z.string(), synchronous_commit: z.string(), full_page_writes: z.string() }),
    /** As the OSD reports it (ceph osd metadata); null when the bench uses no S3. */
    s3: z.strictObject({ objectStore: z.string(), requestCounting: z.string() }).nullable(),
    nats: z.string(),
  }),
  workload: z.record(z.string(), z.union([z.number(), z.string()])),
  /** The figure of the benchmark. */
  headline: z.strictObject({ label: z.string(), value: z.number(), unit: z.string() }),
  achieved: z.strictObject({ items: z.number(), expected: z.number(), unit: z.string() }),
  seconds: z.number(),
  mbPerSecond: z.number().nullable(),
  /** Measured in the same run, outside the timed window, on the same servers. */
  ceilings: z.array(ceilingSchema),
  s3: z
    .strictObject({
      total: z.number(),
      perThousand: z.number(),
      byKind: z.record(z.string(), z.number()),
      failed: z.number(),
      bytesReceived: z.number(),
      bytesSent: z.number(),
      /** RGW's own request counter over the window; more than `total` means requests the ops log does not show. */
      rgwRequests: z.number().nullable(),
    })
    .nullable(),
  cpu: z.strictObject({
    treeSeconds: z.number(),
    shareOfCores: z.number(),
    machineBusySeconds: z.number(),
    machineBusyShare: z.number(),
    /** CPU s the hypervisor gave to other guests while this machine wanted them (absent in older files). */
    machineStealSeconds: z.number().optional(),
    groups: z.array(groupSchema),
  }),
  jobs: z.array(
    z.strictObject({
      tenantId: z.string(),
      jobId: z.string(),
      state: z.string(),
      counters: z.record(z.string(), z.number()),
      seconds: z.number(),
    }),
  ),
  /** Checks made independently of the job's counters (database, mailbox). */
  verification: z.array(
    z.strictObject({ check: z.string(), expected: z.number(), actual: z.number(), ok: z.boolean() }),
  ),
  /** The targets beside the figures; a target not met does not fail the benchmark. */
  targets: z.array(z.strictObject({ name: z.string(), target: z.string(), actual: z.string(), met: z.boolean() })),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export type BenchResult = z.infer<typeof benchResultSchema>;

/** The commit the benchmark ran on, and whether the tree had other changes than results. */
export function gitState(): BenchResult['git'] {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  return {
    commit: git('rev-parse', 'HEAD'),
    dirty: git('status', '--porcelain', '--', '.', ':(exclude)bench/results').length > 0,
  };
}

export function machineState(cores: BenchResult['machine']['cores']): BenchResult['machine'] {
  return {
    node: process.version,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    cores,
  };
}

/** The file name of a result: `<bench>-<scenario>`. */
export function resultName(result: Pick<BenchResult, 'bench' | 'scenario'>): string {
  return `${result.bench}-${result.scenario}`;
}

/**
 * Writes the result: always a time-stamped copy under tmp/bench-results, and, for a durable run that
 * achieved everything, `bench/results/<bench>-<scenario>-latest.json` (what the README table shows).
 * Returns the files written.
 */
export async function writeResult(result: BenchResult): Promise<string[]> {
  const checked = benchResultSchema.parse(result);
  const text = await formatJson(checked);
  const stamp = checked.startedAt.replace(/[:.]/g, '-');
  const files = [join(RUNS_DIR, `${resultName(checked)}-${stamp}.json`)];
  if (checked.ok && checked.settings.durable) files.push(join(RESULTS_DIR, `${resultName(checked)}-latest.json`));
  for (const file of files) {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
  }
  return files;
}

/** JSON as `prettier --check` wants it, so that committed results pass the format check. */
export async function formatJson(value: unknown): Promise<string> {
  const options = (await prettier.resolveConfig(join(RESULTS_DIR, 'x.json'))) ?? {};
  return prettier.format(JSON.stringify(value), { ...options, parser: 'json' });
}
