// `npm run bench:table`: renders the latest results in bench/results/*.json into the README's
// benchmark table (between the bench-table markers). `npm run bench` runs it after the benchmarks.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { REPO_ROOT } from '@mlr/testing';
import { RESULTS_DIR, benchResultSchema, type BenchResult } from './bench-result.js';

export const TABLE_START = '<!-- bench-table:start (npm run bench:table writes this part) -->';
export const TABLE_END = '<!-- bench-table:end -->';

const BENCH_ORDER: Array<BenchResult['bench']> = ['backup', 'restore', 'search'];
const n = (value: number, digits = 0) =>
  value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const rate = (value: number, unit: string) => `${n(value, value < 100 ? 1 : 0)} ${unit}`;
/** Table cells may not hold a pipe. */
const cell = (text: string) => text.replace(/\|/g, '\\|');

function figure(result: BenchResult): string {
  const mb = result.mbPerSecond !== null ? ` (${n(result.mbPerSecond, 1)} MB/s)` : '';
  return `**${rate(result.headline.value, result.headline.unit)}**${mb}, ${result.headline.label}`;
}

function ceilings(result: BenchResult): string {
  if (result.ceilings.length === 0) return '—';
  return result.ceilings
    .map((c) => {
      const mb = c.mbPerSecond !== undefined ? `, ${n(c.mbPerSecond, c.mbPerSecond < 10 ? 1 : 0)} MB/s` : '';
      return `${c.name}: ${rate(c.value, c.unit)}${mb}`;
    })
    .join('; ');
}

function s3(result: BenchResult): string {
  if (result.s3 === null) return '—';
  const counter =
    result.s3.rgwRequests !== null && result.s3.rgwRequests !== result.s3.total
      ? ` (RGW counted ${n(result.s3.rgwRequests)} requests, the ops log ${n(result.s3.total)})`
      : '';
  return `${n(result.s3.perThousand, 1)}${counter}`;
}

function cpu(result: BenchResult): string {
  const cores = result.machine.cores.effective;
  return (
    `${n(result.cpu.treeSeconds, 1)} CPU s = ${n(result.cpu.shareOfCores * 100)}% of ${cores} cores ` +
    `(machine ${n(result.cpu.machineBusyShare * 100)}% busy` +
    (result.cpu.machineStealSeconds ? `, ${n(result.cpu.machineStealSeconds, 1)} CPU s stolen by the hypervisor)` : ')')
  );
}

function peakRss(result: BenchResult): string {
  const mlr = result.cpu.groups.filter((g) => g.mlr);
  const largest = mlr.reduce<(typeof mlr)[number] | undefined>(
    (top, g) => (top === undefined || g.peakRssMiB > top.peakRssMiB ? g : top),
    undefined,
  );
  return largest ? `${largest.name} ${n(largest.peakRssMiB)} MiB` : '—';
}

function targets(result: BenchResult): string {
  if (result.targets.length === 0) return '—';
  const missed = result.targets.filter((t) => !t.met);
  // One entry for the RSS targets: there is one per MLR process, ten connectors make a long cell.
  const rss = missed.filter((t) => t.name.startsWith('peak RSS of '));
  const names = [
    ...missed.filter((t) => !rss.includes(t)).map((t) => t.name),
    ...(rss.length > 0 ? [`peak RSS of ${rss.length} MLR process${rss.length > 1 ? 'es' : ''}`] : []),
  ];
  return `${result.targets.length - missed.length} of ${result.targets.length}${names.length > 0 ? ` (missed: ${names.join(', ')})` : ''}`;
}

function run(result: BenchResult): string {
  return `${result.startedAt.slice(0, 10)}, \`${result.git.commit.slice(0, 8)}\`${result.git.dirty ? ' + changes' : ''}`;
}

/** The README's table of the latest results, with a note on how they were produced. */
export function renderBenchTable(results: readonly BenchResult[]): string {
  const sorted = [...results].sort(
    (a, b) =>
      BENCH_ORDER.indexOf(a.bench) - BENCH_ORDER.indexOf(b.bench) ||
      a.scenario.localeCompare(b.scenario, 'en', { numeric: true }),
  );
  if (sorted.length === 0) return '_No results yet: run `npm run bench`._';
  const header = [
    'benchmark',
    'workload',
    'figure',
    'ceilings (same run)',
    'S3 requests / 1,000',
    'CPU (process tree)',
    'largest MLR peak RSS',
    'targets met',
    'run',
  ];
  const rows = sorted.map((r) => [
    `${r.bench} \`${r.scenario}\`${r.ok ? '' : ' **FAILED**'}`,
    r.title,
    figure(r),
    ceilings(r),
    s3(r),
    cpu(r),
    peakRss(r),
    targets(r),
    run(r),
  ]);
  const durable = sorted.every((r) => r.settings.durable);
  const machines = [...new Set(sorted.map((r) => `${r.machine.cores.effective} cores (${r.machine.cpuModel})`))];
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
    '',
    `${durable ? 'Every row ran durable: PostgreSQL with fsync, synchronous_commit and full_page_writes on, and Ceph, where the benchmark uses it, on BlueStore (as the servers reported them).' : 'Not every row ran durable: see each result file.'} ` +
      `Machine: ${machines.join('; ')}, shared with other work (the "machine busy" share says how much), a virtual machine whose host may take CPU time from it (what it took is shown as stolen). ` +
      'Rendered by `npm run bench:table` from `bench/results/*-latest.json`, which hold every figure of the run.',
  ].join('\n');
}

/** `readme` with the text between the markers replaced by `table`. */
export function replaceBenchSection(readme: string, table: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`the README has no ${TABLE_START} … ${TABLE_END} section`);
  return `${readme.slice(0, start + TABLE_START.length)}\n\n${table}\n\n${readme.slice(end)}`;
}

export function readLatestResults(dir = RESULTS_DIR): BenchResult[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((file) => file.endsWith('-latest.json'));
  } catch {
    return [];
  }
  return files.map((file) => {
    const parsed = benchResultSchema.safeParse(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    if (!parsed.success) throw new Error(`${join(dir, file)} is not a benchmark result: ${parsed.error.message}`);
    return parsed.data;
  });
}

async function main(): Promise<void> {
  const readmeFile = join(REPO_ROOT, 'README.md');
  const results = readLatestResults();
  const next = replaceBenchSection(readFileSync(readmeFile, 'utf8'), renderBenchTable(results));
  const options = (await prettier.resolveConfig(readmeFile)) ?? {};
  writeFileSync(readmeFile, await prettier.format(next, { ...options, parser: 'markdown' }));
  console.log(`README.md: benchmark table of ${results.length} results from ${RESULTS_DIR}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
